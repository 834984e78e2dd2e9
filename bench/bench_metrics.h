/*  bench_metrics: what a gateway's /metrics says about its loop.
 *
 *  The gateway records the busy time of every loop turn (from its poll's
 *  return to its next poll) in the histogram chat_gateway_loop_turn_seconds,
 *  and the CPU time its thread had in it in chat_gateway_loop_turn_cpu_seconds.
 *  Two readings, before and after a phase, give the turns of that phase:
 *  how long a client whose message arrived could have waited for the
 *  gateway itself, apart from the network and from this program; and how
 *  much of that the gateway worked (the rest it waited for a CPU).
 */
#ifndef BENCH_METRICS_H
#define BENCH_METRICS_H

#include "bench_conn.h"

#include <stddef.h>
#include <stdint.h>

//  Most histogram buckets kept.
#define BENCH_TURN_BUCKETS 24

//  A reading of the loop-turn histogram (cumulative, as Prometheus has it).
typedef struct {
    size_t n;                           //  buckets read (0: no histogram)
    double le_s[BENCH_TURN_BUCKETS];    //  upper bound of each, seconds (the last may be +Inf)
    uint64_t count[BENCH_TURN_BUCKETS]; //  turns at or below it so far
} bench_turns_t;

//  GETs http://host:port/metrics of url (plain HTTP, at most timeout_ms)
//  into buf (cap bytes, NUL-ended). Returns the body's length, or -1.
long bench_metrics_fetch(const bench_url_t *url, char *buf, size_t cap, int timeout_ms);

//  The two histograms of loop turns.
#define BENCH_TURNS_WALL "chat_gateway_loop_turn_seconds"
#define BENCH_TURNS_CPU "chat_gateway_loop_turn_cpu_seconds"

//  Reads the histogram called name (BENCH_TURNS_*) out of /metrics text.
//  Returns 0, or -1 when there is none.
int bench_metrics_turns(const char *text, const char *name, bench_turns_t *out);

//  Of the turns between before and after: how many there were, the upper
//  bound (seconds) of the bucket that holds their 99th percentile (-1 for
//  +Inf or none), and how many took longer than over_s.
void bench_metrics_turns_between(const bench_turns_t *before, const bench_turns_t *after,
                                 double over_s, uint64_t *turns, double *p99_le_s, uint64_t *over);

#endif
