/*  bench_hist: see bench_hist.h. */
#include "bench_hist.h"

#include <string.h>

//  Bucket of a value: values below 16 have their own buckets; above, the
//  position of the highest bit picks a group of 16 and the next 4 bits the
//  bucket inside it.
static unsigned s_bucket(uint64_t v)
{
    if (v < BENCH_HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63 - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (msb - 4)) & (BENCH_HIST_SUB - 1);
    unsigned bucket = (msb - 3) * BENCH_HIST_SUB + sub;
    return bucket < BENCH_HIST_BUCKETS ? bucket : BENCH_HIST_BUCKETS - 1;
}

//  Largest value that falls in bucket b.
static uint64_t s_upper(unsigned b)
{
    if (b < BENCH_HIST_SUB)
        return b;
    unsigned msb = b / BENCH_HIST_SUB + 3;
    uint64_t sub = b % BENCH_HIST_SUB;
    uint64_t low = (1ULL << msb) | (sub << (msb - 4));
    return low + (1ULL << (msb - 4)) - 1;
}

void bench_hist_reset(bench_hist_t *hist)
{
    memset(hist, 0, sizeof *hist);
}

void bench_hist_record(bench_hist_t *hist, uint64_t value_us)
{
    hist->counts[s_bucket(value_us)]++;
    hist->total++;
    hist->sum += (double)value_us;
    if (value_us > hist->max)
        hist->max = value_us;
}

void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from)
{
    for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++)
        into->counts[b] += from->counts[b];
    into->total += from->total;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t bench_hist_percentile(const bench_hist_t *hist, double q)
{
    if (hist->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)hist->total);
    if (rank >= hist->total)
        rank = hist->total - 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++) {
        seen += hist->counts[b];
        if (seen > rank) {
            if (b == BENCH_HIST_BUCKETS - 1)
                return hist->max; //  the overflow bucket has no upper edge
            uint64_t upper = s_upper(b);
            return upper < hist->max ? upper : hist->max;
        }
    }
    return hist->max;
}

double bench_hist_mean(const bench_hist_t *hist)
{
    return hist->total ? hist->sum / (double)hist->total : 0;
}
