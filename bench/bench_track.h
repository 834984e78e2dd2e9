/*  bench_track: one member's view of one room's seq stream.
 *
 *  The protocol promises every member each message of its room once, in
 *  seq order, without gaps (docs/protocol.md). A tracker starts after the
 *  member's join cursor and classifies each delivered seq:
 *
 *      next expected        in order
 *      past next            a gap opens: the seqs skipped are missing
 *      a missing seq        out of order (it arrived after a later one)
 *      any other older seq  duplicate
 *
 *  Missing seqs are kept as ranges (up to BENCH_TRACK_GAPS of them; past
 *  that the oldest range is written off as lost at once). What is still
 *  missing at the end, plus everything past the last seq received up to
 *  the room's last seq, is lost.
 *
 *  A tracker is a value (arrays of them are common); it allocates only
 *  when a gap opens. bench_track_clear frees that.
 */
#ifndef BENCH_TRACK_H
#define BENCH_TRACK_H

#include <stdbool.h>
#include <stdint.h>

//  Most missing ranges remembered per tracker.
#define BENCH_TRACK_GAPS 64

typedef enum {
    BENCH_SEQ_IN_ORDER,     //  the next one
    BENCH_SEQ_GAP,          //  past the next one: seqs were skipped
    BENCH_SEQ_OUT_OF_ORDER, //  a skipped seq that came late
    BENCH_SEQ_DUPLICATE,    //  seen before (or before the join)
} bench_seq_t;

//  A range of missing seqs, lo..hi inclusive.
typedef struct {
    uint64_t lo; //  first missing
    uint64_t hi; //  last missing
} bench_gap_t;

typedef struct {
    uint64_t next;        //  seq expected next
    bench_gap_t *gaps;    //  missing ranges, oldest first; NULL when none
    uint32_t n_gaps;      //  ranges in gaps
    uint64_t written_off; //  missing seqs dropped when gaps overflowed
} bench_track_t;

//  Starts tracking after cursor: seq cursor + 1 is expected next. t must
//  be zeroed (or cleared) before its first start.
void bench_track_start(bench_track_t *t, uint64_t cursor);

//  Classifies one delivered seq and updates the tracker.
bench_seq_t bench_track_seq(bench_track_t *t, uint64_t seq);

//  Seqs up to last (inclusive) that never arrived: the open gaps, what was
//  written off, and next..last.
uint64_t bench_track_missing(const bench_track_t *t, uint64_t last);

//  True when every seq up to last arrived.
bool bench_track_complete(const bench_track_t *t, uint64_t last);

//  Frees the gap list; the tracker can be started again.
void bench_track_clear(bench_track_t *t);

#endif
