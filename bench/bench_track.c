/*  bench_track: see bench_track.h. */
#include "bench_track.h"

#include <stdlib.h>
#include <string.h>

void bench_track_start(bench_track_t *t, uint64_t cursor)
{
    bench_track_clear(t);
    t->next = cursor + 1;
    t->written_off = 0;
}

//  Records lo..hi as missing, writing off the oldest range when full.
static void s_gap_add(bench_track_t *t, uint64_t lo, uint64_t hi)
{
    if (!t->gaps) {
        t->gaps = malloc(BENCH_TRACK_GAPS * sizeof *t->gaps);
        if (!t->gaps)
            abort();
    }
    if (t->n_gaps == BENCH_TRACK_GAPS) {
        t->written_off += t->gaps[0].hi - t->gaps[0].lo + 1;
        memmove(&t->gaps[0], &t->gaps[1], (BENCH_TRACK_GAPS - 1) * sizeof *t->gaps);
        t->n_gaps--;
    }
    t->gaps[t->n_gaps++] = (bench_gap_t){lo, hi};
}

//  Removes seq from the missing ranges; false when it was not missing.
static bool s_gap_fill(bench_track_t *t, uint64_t seq)
{
    for (uint32_t i = 0; i < t->n_gaps; i++) {
        bench_gap_t *g = &t->gaps[i];
        if (seq < g->lo || seq > g->hi)
            continue;
        if (g->lo == g->hi) {
            memmove(g, g + 1, (t->n_gaps - i - 1) * sizeof *g);
            t->n_gaps--;
        } else if (seq == g->lo) {
            g->lo++;
        } else if (seq == g->hi) {
            g->hi--;
        } else {
            //  Split in two; when the list is full the upper half is written off.
            uint64_t hi = g->hi;
            g->hi = seq - 1;
            if (t->n_gaps == BENCH_TRACK_GAPS) {
                t->written_off += hi - seq;
                return true;
            }
            memmove(g + 2, g + 1, (t->n_gaps - i - 1) * sizeof *g);
            g[1] = (bench_gap_t){seq + 1, hi};
            t->n_gaps++;
        }
        return true;
    }
    return false;
}

bench_seq_t bench_track_seq(bench_track_t *t, uint64_t seq)
{
    if (seq == t->next) {
        t->next++;
        return BENCH_SEQ_IN_ORDER;
    }
    if (seq > t->next) {
        s_gap_add(t, t->next, seq - 1);
        t->next = seq + 1;
        return BENCH_SEQ_GAP;
    }
    return s_gap_fill(t, seq) ? BENCH_SEQ_OUT_OF_ORDER : BENCH_SEQ_DUPLICATE;
}

uint64_t bench_track_missing(const bench_track_t *t, uint64_t last)
{
    uint64_t missing = t->written_off;
    for (uint32_t i = 0; i < t->n_gaps; i++)
        missing += t->gaps[i].hi - t->gaps[i].lo + 1;
    if (last >= t->next)
        missing += last - t->next + 1;
    return missing;
}

bool bench_track_complete(const bench_track_t *t, uint64_t last)
{
    return t->n_gaps == 0 && t->written_off == 0 && t->next > last;
}

void bench_track_clear(bench_track_t *t)
{
    free(t->gaps);
    t->gaps = NULL;
    t->n_gaps = 0;
}
