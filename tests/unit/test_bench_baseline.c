/*  The same-run baselines of chat-bench (bench_baseline). */
#include "bench_baseline.h"

#include <criterion/criterion.h>
#include <string.h>

Test(baseline, fanout_delivers_every_frame_to_every_socket)
{
    char frame[200];
    memset(frame, 'f', sizeof frame);
    bench_rate_t rate = {0};
    cr_assert_eq(bench_baseline_fanout(50, 40, frame, sizeof frame, &rate), 0);
    cr_expect_eq(rate.items, 50 * 40);
    cr_expect_gt(rate.seconds, 0);
    cr_expect_gt(rate.per_second, 0);
}

Test(baseline, ingest_commits_every_message)
{
    bench_rate_t rate = {0};
    cr_assert_eq(bench_baseline_ingest("/tmp", 2000, 200, 10, 100, &rate), 0);
    cr_expect_eq(rate.items, 2000);
    cr_expect_gt(rate.per_second, 0);
}
