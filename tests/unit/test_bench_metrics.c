/*  chat-bench's reading of a gateway's loop-turn histogram (bench_metrics). */
#include "bench_metrics.h"

#include <criterion/criterion.h>
#include <string.h>

static const char *s_before = "\n# TYPE chat_gateway_loop_turn_seconds histogram\n"
                              "chat_gateway_loop_turn_seconds_bucket{le=\"0.001\"} 100\n"
                              "chat_gateway_loop_turn_seconds_bucket{le=\"0.01\"} 110\n"
                              "chat_gateway_loop_turn_seconds_bucket{le=\"0.05\"} 111\n"
                              "chat_gateway_loop_turn_seconds_bucket{le=\"0.1\"} 111\n"
                              "chat_gateway_loop_turn_seconds_bucket{le=\"+Inf\"} 111\n"
                              "chat_gateway_loop_turn_seconds_sum 0.5\n";

static const char *s_after = "\nchat_gateway_loop_turn_seconds_bucket{le=\"0.001\"} 900\n"
                             "chat_gateway_loop_turn_seconds_bucket{le=\"0.01\"} 1100\n"
                             "chat_gateway_loop_turn_seconds_bucket{le=\"0.05\"} 1109\n"
                             "chat_gateway_loop_turn_seconds_bucket{le=\"0.1\"} 1110\n"
                             "chat_gateway_loop_turn_seconds_bucket{le=\"+Inf\"} 1111\n";

Test(metrics, reads_the_loop_turn_histogram_and_the_turns_between_two_readings)
{
    bench_turns_t before, after;
    cr_assert_eq(bench_metrics_turns(s_before, BENCH_TURNS_WALL, &before), 0);
    cr_assert_eq(before.n, 5);
    cr_expect_float_eq(before.le_s[1], 0.01, 1e-9);
    cr_expect_eq(before.count[4], 111);
    cr_assert_eq(bench_metrics_turns(s_after, BENCH_TURNS_WALL, &after), 0);
    uint64_t turns, over;
    double p99;
    bench_metrics_turns_between(&before, &after, 0.05, &turns, &p99, &over);
    cr_expect_eq(turns, 1000);
    cr_expect_float_eq(p99, 0.01, 1e-9, "990 of 1000 turns took at most 10 ms");
    cr_expect_eq(over, 2, "one turn up to 100 ms, one past it");
    bench_turns_t none;
    cr_expect_eq(bench_metrics_turns("chat_gateway_connections 3\n", BENCH_TURNS_WALL, &none), -1);
    bench_metrics_turns_between(&none, &after, 0.05, &turns, &p99, &over);
    cr_expect_eq(turns, 0, "no reading before: nothing to tell");
    cr_expect_float_eq(p99, -1, 1e-9);
    bench_turns_t cpu;
    cr_expect_eq(bench_metrics_turns(s_after, BENCH_TURNS_CPU, &cpu), -1,
                 "the other histogram is not this one");
}
