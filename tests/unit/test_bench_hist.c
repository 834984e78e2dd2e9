/*  The latency histogram of chat-bench (bench_hist). */
#include "bench_hist.h"

#include <criterion/criterion.h>

Test(hist, an_empty_histogram_reports_zero)
{
    bench_hist_t h;
    bench_hist_reset(&h);
    cr_expect_eq(bench_hist_percentile(&h, 0.99), 0);
    cr_expect_eq(bench_hist_mean(&h), 0);
}

Test(hist, small_values_are_exact)
{
    bench_hist_t h;
    bench_hist_reset(&h);
    for (uint64_t v = 0; v < 10; v++)
        bench_hist_record(&h, v);
    cr_expect_eq(bench_hist_percentile(&h, 0.0), 0);
    cr_expect_eq(bench_hist_percentile(&h, 0.5), 5);
    cr_expect_eq(bench_hist_percentile(&h, 1.0), 9);
    cr_expect_eq(h.max, 9);
    cr_expect_float_eq(bench_hist_mean(&h), 4.5, 1e-9);
}

Test(hist, percentiles_are_within_one_sixteenth)
{
    bench_hist_t h;
    bench_hist_reset(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        bench_hist_record(&h, v);
    uint64_t p50 = bench_hist_percentile(&h, 0.5);
    uint64_t p99 = bench_hist_percentile(&h, 0.99);
    uint64_t p999 = bench_hist_percentile(&h, 0.999);
    cr_expect(p50 >= 50000 && p50 <= 50000 + 50000 / 16, "p50 %lu", (unsigned long)p50);
    cr_expect(p99 >= 99000 && p99 <= 99000 + 99000 / 16, "p99 %lu", (unsigned long)p99);
    cr_expect(p999 >= 99900 && p999 <= 100000, "p999 %lu is capped at the max",
              (unsigned long)p999);
}

Test(hist, huge_values_land_in_the_last_bucket_without_overflow)
{
    bench_hist_t h;
    bench_hist_reset(&h);
    bench_hist_record(&h, UINT64_MAX);
    bench_hist_record(&h, 1);
    cr_expect_eq(bench_hist_percentile(&h, 1.0), UINT64_MAX);
    cr_expect_eq(h.total, 2);
}

Test(hist, merging_adds_counts)
{
    bench_hist_t a, b;
    bench_hist_reset(&a);
    bench_hist_reset(&b);
    bench_hist_record(&a, 100);
    bench_hist_record(&b, 300);
    bench_hist_merge(&a, &b);
    cr_expect_eq(a.total, 2);
    cr_expect_eq(a.max, 300);
    cr_expect_float_eq(bench_hist_mean(&a), 200.0, 1e-9);
}
