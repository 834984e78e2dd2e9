/*  chat-bench's per-member seq tracking (bench_track). */
#include "bench_track.h"

#include <criterion/criterion.h>
#include <string.h>

static bench_track_t s_track(uint64_t cursor)
{
    bench_track_t t;
    memset(&t, 0, sizeof t);
    bench_track_start(&t, cursor);
    return t;
}

Test(track, an_in_order_stream_is_complete)
{
    bench_track_t t = s_track(5);
    for (uint64_t s = 6; s <= 20; s++)
        cr_expect_eq(bench_track_seq(&t, s), BENCH_SEQ_IN_ORDER);
    cr_expect(bench_track_complete(&t, 20));
    cr_expect_eq(bench_track_missing(&t, 20), 0);
    bench_track_clear(&t);
}

Test(track, what_never_came_up_to_the_rooms_last_seq_is_lost)
{
    bench_track_t t = s_track(0);
    bench_track_seq(&t, 1);
    bench_track_seq(&t, 2);
    cr_expect_not(bench_track_complete(&t, 5));
    cr_expect_eq(bench_track_missing(&t, 5), 3);
    bench_track_clear(&t);
}

Test(track, a_skipped_seq_is_missing_until_it_comes_late)
{
    bench_track_t t = s_track(0);
    bench_track_seq(&t, 1);
    cr_expect_eq(bench_track_seq(&t, 4), BENCH_SEQ_GAP);
    cr_expect_eq(bench_track_missing(&t, 4), 2);
    cr_expect_eq(bench_track_seq(&t, 3), BENCH_SEQ_OUT_OF_ORDER);
    cr_expect_eq(bench_track_seq(&t, 2), BENCH_SEQ_OUT_OF_ORDER);
    cr_expect_eq(bench_track_missing(&t, 4), 0);
    cr_expect(bench_track_complete(&t, 4));
    bench_track_clear(&t);
}

Test(track, a_seq_seen_before_is_a_duplicate)
{
    bench_track_t t = s_track(10);
    bench_track_seq(&t, 11);
    bench_track_seq(&t, 12);
    cr_expect_eq(bench_track_seq(&t, 12), BENCH_SEQ_DUPLICATE);
    cr_expect_eq(bench_track_seq(&t, 11), BENCH_SEQ_DUPLICATE);
    cr_expect_eq(bench_track_seq(&t, 3), BENCH_SEQ_DUPLICATE, "before the join cursor");
    bench_track_clear(&t);
}

Test(track, a_late_seq_delivered_twice_is_out_of_order_then_duplicate)
{
    bench_track_t t = s_track(0);
    bench_track_seq(&t, 3);
    cr_expect_eq(bench_track_seq(&t, 2), BENCH_SEQ_OUT_OF_ORDER);
    cr_expect_eq(bench_track_seq(&t, 2), BENCH_SEQ_DUPLICATE);
    cr_expect_eq(bench_track_missing(&t, 3), 1, "seq 1 still missing");
    bench_track_clear(&t);
}

Test(track, filling_the_middle_of_a_gap_splits_it)
{
    bench_track_t t = s_track(0);
    bench_track_seq(&t, 10); //  1..9 missing
    cr_expect_eq(bench_track_seq(&t, 5), BENCH_SEQ_OUT_OF_ORDER);
    cr_expect_eq(t.n_gaps, 2);
    cr_expect_eq(bench_track_missing(&t, 10), 8);
    cr_expect_eq(bench_track_seq(&t, 1), BENCH_SEQ_OUT_OF_ORDER);
    cr_expect_eq(bench_track_seq(&t, 9), BENCH_SEQ_OUT_OF_ORDER);
    cr_expect_eq(bench_track_missing(&t, 10), 6);
    bench_track_clear(&t);
}

Test(track, too_many_gaps_write_the_oldest_off_as_lost)
{
    bench_track_t t = s_track(0);
    //  Every other seq: 1 missing, 3 missing, ... each its own gap.
    for (uint64_t s = 2; s <= 2 * (BENCH_TRACK_GAPS + 5); s += 2)
        bench_track_seq(&t, s);
    cr_expect_eq(t.n_gaps, BENCH_TRACK_GAPS);
    cr_expect_eq(t.written_off, 5);
    uint64_t last = 2 * (BENCH_TRACK_GAPS + 5);
    cr_expect_eq(bench_track_missing(&t, last), BENCH_TRACK_GAPS + 5);
    //  A written-off seq that arrives late counts as a duplicate: it was
    //  already reported lost, and the run fails either way.
    cr_expect_eq(bench_track_seq(&t, 1), BENCH_SEQ_DUPLICATE);
    cr_expect_not(bench_track_complete(&t, last));
    bench_track_clear(&t);
}

Test(track, splitting_a_gap_when_the_list_is_full_writes_off_the_upper_half)
{
    bench_track_t t = s_track(0);
    for (uint64_t s = 2; s <= 2 * BENCH_TRACK_GAPS - 2; s += 2)
        bench_track_seq(&t, s);                     //  gaps {1}, {3}, ... : 63 of them
    bench_track_seq(&t, 2 * BENCH_TRACK_GAPS + 10); //  one wide gap: the 64th
    cr_assert_eq(t.n_gaps, BENCH_TRACK_GAPS);
    uint64_t before = bench_track_missing(&t, 2 * BENCH_TRACK_GAPS + 10);
    uint64_t mid = 2 * BENCH_TRACK_GAPS + 5;
    cr_expect_eq(bench_track_seq(&t, mid), BENCH_SEQ_OUT_OF_ORDER);
    cr_expect_eq(t.n_gaps, BENCH_TRACK_GAPS);
    cr_expect_eq(bench_track_missing(&t, 2 * BENCH_TRACK_GAPS + 10), before - 1,
                 "one arrived; the rest still counts as missing or written off");
    bench_track_clear(&t);
}

Test(track, can_be_started_again_after_a_gap)
{
    bench_track_t t = s_track(0);
    bench_track_seq(&t, 5);
    bench_track_start(&t, 100);
    cr_expect_null(t.gaps);
    cr_expect_eq(bench_track_seq(&t, 101), BENCH_SEQ_IN_ORDER);
    cr_expect(bench_track_complete(&t, 101));
    bench_track_clear(&t);
}
