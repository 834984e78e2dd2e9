/*  The recent client_msg_id set of a room (rd_dedup). */
#include "rd_dedup.h"

#include <criterion/criterion.h>
#include <stdio.h>

Test(dedup, finds_an_id_it_was_given_with_its_seq)
{
    rd_dedup_t *d = rd_dedup_new(10);
    rd_dedup_add(d, "a", 1);
    rd_dedup_add(d, "b", 2);
    uint64_t seq = 0;
    cr_assert(rd_dedup_find(d, "b", &seq));
    cr_expect_eq(seq, 2);
    cr_expect_not(rd_dedup_find(d, "c", &seq));
    cr_expect_not(rd_dedup_find(d, "", &seq));
    rd_dedup_destroy(&d);
    cr_expect_null(d);
    rd_dedup_destroy(&d);
}

Test(dedup, forgets_ids_that_fall_out_of_the_window)
{
    rd_dedup_t *d = rd_dedup_new(100);
    char id[32];
    for (uint64_t seq = 1; seq <= 1000; seq++) {
        snprintf(id, sizeof id, "id-%llu", (unsigned long long)seq);
        rd_dedup_add(d, id, seq);
    }
    cr_expect_eq(rd_dedup_size(d), 100);
    uint64_t seq = 0;
    cr_expect_not(rd_dedup_find(d, "id-900", &seq));
    for (uint64_t s = 901; s <= 1000; s++) {
        snprintf(id, sizeof id, "id-%llu", (unsigned long long)s);
        cr_assert(rd_dedup_find(d, id, &seq), "%s lost", id);
        cr_assert_eq(seq, s);
    }
    rd_dedup_destroy(&d);
}

Test(dedup, gaps_in_seq_count_against_the_window)
{
    rd_dedup_t *d = rd_dedup_new(10);
    rd_dedup_add(d, "old", 1);
    rd_dedup_add(d, "new", 11); //  seqs 2..10 were join lines without ids
    uint64_t seq;
    cr_expect_not(rd_dedup_find(d, "old", &seq));
    cr_expect(rd_dedup_find(d, "new", &seq));
    rd_dedup_destroy(&d);
}

Test(dedup, forget_above_undoes_the_newest_ids)
{
    rd_dedup_t *d = rd_dedup_new(1000);
    char id[32];
    for (uint64_t seq = 1; seq <= 500; seq++) {
        snprintf(id, sizeof id, "m%llu", (unsigned long long)seq);
        rd_dedup_add(d, id, seq);
    }
    rd_dedup_forget_above(d, 300);
    cr_expect_eq(rd_dedup_size(d), 300);
    uint64_t seq;
    cr_expect_not(rd_dedup_find(d, "m301", &seq));
    cr_expect_not(rd_dedup_find(d, "m500", &seq));
    for (uint64_t s = 1; s <= 300; s++) {
        snprintf(id, sizeof id, "m%llu", (unsigned long long)s);
        cr_assert(rd_dedup_find(d, id, &seq), "%s lost after removals", id);
        cr_assert_eq(seq, s);
    }
    rd_dedup_destroy(&d);
}
