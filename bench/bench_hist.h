/*  bench_hist: a latency histogram with log-linear buckets.
 *
 *  Values are microseconds from 0 to about 2^40. Each power of two is split
 *  into 16 buckets, so a reported percentile is within 1/16 (6.25 %) of the
 *  true value; recording is a few instructions and never allocates.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB 16
#define BENCH_HIST_BUCKETS (41 * BENCH_HIST_SUB)

typedef struct {
    uint64_t counts[BENCH_HIST_BUCKETS]; //  values per bucket
    uint64_t total;                      //  values recorded
    uint64_t max;                        //  largest value recorded
    double sum;                          //  for the mean
} bench_hist_t;

//  Zeroes the histogram.
void bench_hist_reset(bench_hist_t *hist);

//  Records one value (microseconds).
void bench_hist_record(bench_hist_t *hist, uint64_t value_us);

//  Adds every value of from into into.
void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from);

//  The value below which fraction q (0..1) of the values lie: the upper edge
//  of the bucket that holds it, capped at max. 0 for an empty histogram.
uint64_t bench_hist_percentile(const bench_hist_t *hist, double q);

//  Mean of the values, 0 when empty.
double bench_hist_mean(const bench_hist_t *hist);

#endif
