/*  The roomd LMDB store (rd_store): batches, ranges, fencing, identity. */
#include "chat_test.h"
#include "rd_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *s_dir;

static void s_setup(void)
{
    s_dir = chat_temp_dir("rdstore");
    cr_assert_not_null(s_dir);
}

static void s_teardown(void)
{
    chat_remove_tree(s_dir);
    free(s_dir);
}

TestSuite(store, .init = s_setup, .fini = s_teardown);

//  count messages seq first.. of room, "text <seq>", in one array of owned messages.
typedef struct {
    rd_msg_t *msgs[2000];
    Chat__ChatMessage *pbs[2000];
    size_t count;
} s_batch_t;

static void s_make(s_batch_t *b, const char *room, uint64_t first, size_t count)
{
    char content[64];
    for (size_t i = 0; i < count; i++) {
        snprintf(content, sizeof content, "text %llu", (unsigned long long)(first + i));
        rd_msg_fields_t f = {.seq = first + i,
                             .room_id = room,
                             .user_id = "alice",
                             .user_name = "Alice",
                             .content = content,
                             .timestamp = 1000 + (int64_t)i,
                             .client_msg_id = content};
        b->msgs[i] = rd_msg_new(&f);
        b->pbs[i] = &b->msgs[i]->pb;
    }
    b->count = count;
}

static void s_free(s_batch_t *b)
{
    for (size_t i = 0; i < b->count; i++)
        rd_msg_destroy(&b->msgs[i]);
    b->count = 0;
}

//  Writes count messages from first, at epoch, in one batch; returns the room's result.
static int s_write(rd_store_t *store, const char *room, uint64_t epoch, uint64_t first,
                   size_t count)
{
    s_batch_t b;
    s_make(&b, room, first, count);
    cr_assert_eq(rd_store_begin(store), RD_STORE_OK);
    rd_store_write_t w = {.room_id = room, .epoch = epoch, .messages = b.pbs, .count = b.count};
    uint64_t stored_epoch;
    int rc = rd_store_write_room(store, &w, &stored_epoch);
    cr_assert_eq(rd_store_commit(store), RD_STORE_OK);
    s_free(&b);
    return rc;
}

Test(store, a_committed_batch_is_there_after_reopening)
{
    rd_store_t *store = rd_store_open(s_dir, 64);
    cr_assert_not_null(store);
    cr_assert_eq(s_write(store, "general", 3, 1, 5), RD_STORE_OK);
    cr_expect_eq(rd_store_commits(store), 1);
    rd_store_destroy(&store);
    cr_expect_null(store);

    store = rd_store_open(s_dir, 64);
    cr_assert_not_null(store);
    uint64_t last = 0;
    cr_assert_eq(rd_store_last_seq(store, "general", &last), RD_STORE_OK);
    cr_expect_eq(last, 5);
    Chat__RoomdRoomRecord *record = NULL;
    cr_assert_eq(rd_store_room_get(store, "general", &record), RD_STORE_OK);
    cr_expect_eq(record->epoch, 3);
    cr_expect_eq(record->last_seq, 5);
    chat__roomd_room_record__free_unpacked(record, NULL);

    rd_msglist_t list = {0};
    cr_assert_eq(rd_store_range(store, "general", 1, 5, &list), RD_STORE_OK);
    cr_assert_eq(list.count, 5);
    cr_expect_str_eq(list.items[0]->content, "text 1");
    cr_expect_str_eq(list.items[4]->content, "text 5");
    cr_expect_str_eq(list.items[4]->user_name, "Alice");
    cr_expect_str_eq(list.items[4]->room_id, "general");
    rd_msglist_free(&list);
    rd_store_destroy(&store);
}

Test(store, an_aborted_batch_leaves_nothing)
{
    rd_store_t *store = rd_store_open(s_dir, 64);
    s_batch_t b;
    s_make(&b, "general", 1, 3);
    cr_assert_eq(rd_store_begin(store), RD_STORE_OK);
    rd_store_write_t w = {.room_id = "general", .epoch = 1, .messages = b.pbs, .count = b.count};
    uint64_t stored_epoch;
    cr_assert_eq(rd_store_write_room(store, &w, &stored_epoch), RD_STORE_OK);
    rd_store_abort(store);
    s_free(&b);
    uint64_t last = 9;
    cr_assert_eq(rd_store_last_seq(store, "general", &last), RD_STORE_OK);
    cr_expect_eq(last, 0);
    Chat__RoomdRoomRecord *record = NULL;
    cr_expect_eq(rd_store_room_get(store, "general", &record), RD_STORE_NOTFOUND);
    rd_store_destroy(&store);
}

Test(store, ranges_stay_inside_their_room)
{
    rd_store_t *store = rd_store_open(s_dir, 64);
    //  "a" sorts right before "a-b" and "ab": keys must not bleed across rooms.
    cr_assert_eq(s_write(store, "a", 1, 1, 300), RD_STORE_OK);
    cr_assert_eq(s_write(store, "a-b", 1, 1, 7), RD_STORE_OK);
    cr_assert_eq(s_write(store, "ab", 1, 1, 2), RD_STORE_OK);

    rd_msglist_t list = {0};
    cr_assert_eq(rd_store_range(store, "a", 250, 1000, &list), RD_STORE_OK);
    cr_assert_eq(list.count, 51);
    cr_expect_eq(list.items[0]->seq, 250);
    cr_expect_eq(list.items[50]->seq, 300);
    for (size_t i = 0; i < list.count; i++)
        cr_assert_str_eq(list.items[i]->room_id, "a");
    rd_msglist_reset(&list);

    cr_assert_eq(rd_store_range(store, "a-b", 3, 4, &list), RD_STORE_OK);
    cr_assert_eq(list.count, 2);
    cr_expect_eq(list.items[0]->seq, 3);
    cr_expect_eq(list.items[1]->seq, 4);
    rd_msglist_reset(&list);

    cr_assert_eq(rd_store_range(store, "nope", 1, 10, &list), RD_STORE_OK);
    cr_expect_eq(list.count, 0);
    cr_assert_eq(rd_store_range(store, "a", 10, 9, &list), RD_STORE_OK);
    cr_expect_eq(list.count, 0);

    uint64_t last;
    rd_store_last_seq(store, "a", &last);
    cr_expect_eq(last, 300);
    rd_store_last_seq(store, "a-b", &last);
    cr_expect_eq(last, 7);
    rd_store_last_seq(store, "ab", &last);
    cr_expect_eq(last, 2);
    rd_store_last_seq(store, "b", &last);
    cr_expect_eq(last, 0);
    rd_msglist_free(&list);
    rd_store_destroy(&store);
}

Test(store, a_batch_that_does_not_follow_the_stored_seq_is_refused)
{
    rd_store_t *store = rd_store_open(s_dir, 64);
    cr_assert_eq(s_write(store, "general", 1, 1, 3), RD_STORE_OK);
    cr_expect_eq(s_write(store, "general", 1, 3, 1), RD_STORE_CONFLICT);
    cr_expect_eq(s_write(store, "general", 1, 5, 1), RD_STORE_CONFLICT);
    cr_expect_eq(s_write(store, "general", 1, 4, 1), RD_STORE_OK);
    uint64_t last;
    rd_store_last_seq(store, "general", &last);
    cr_expect_eq(last, 4);
    rd_store_destroy(&store);
}

Test(store, a_newer_epoch_stored_by_another_process_fences_a_stale_writer)
{
    rd_store_t *store = rd_store_open(s_dir, 64);
    cr_assert_eq(s_write(store, "general", 5, 1, 2), RD_STORE_OK);

    //  A second process opens the same directory and takes the room at epoch 6,
    //  while this one still has it open and believes in epoch 5.
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rd_store_t *other = rd_store_open(s_dir, 64);
        int ok = other && rd_store_begin(other) == RD_STORE_OK;
        rd_store_write_t grant = {.room_id = "general", .epoch = 6};
        uint64_t stored;
        ok = ok && rd_store_write_room(other, &grant, &stored) == RD_STORE_OK && stored == 5;
        ok = ok && rd_store_commit(other) == RD_STORE_OK;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the second writer failed");

    s_batch_t b;
    s_make(&b, "general", 3, 1);
    cr_assert_eq(rd_store_begin(store), RD_STORE_OK);
    rd_store_write_t w = {.room_id = "general", .epoch = 5, .messages = b.pbs, .count = 1};
    uint64_t stored_epoch = 0;
    cr_expect_eq(rd_store_write_room(store, &w, &stored_epoch), RD_STORE_FENCED);
    cr_expect_eq(stored_epoch, 6);
    //  Other rooms of the same batch are not affected.
    rd_store_write_t other = {.room_id = "random", .epoch = 1};
    cr_expect_eq(rd_store_write_room(store, &other, &stored_epoch), RD_STORE_OK);
    cr_assert_eq(rd_store_commit(store), RD_STORE_OK);
    s_free(&b);

    uint64_t last;
    rd_store_last_seq(store, "general", &last);
    cr_expect_eq(last, 2, "the fenced message was stored");
    Chat__RoomdRoomRecord *record = NULL;
    cr_assert_eq(rd_store_room_get(store, "general", &record), RD_STORE_OK);
    cr_expect_eq(record->epoch, 6);
    cr_expect_eq(record->last_seq, 2);
    chat__roomd_room_record__free_unpacked(record, NULL);
    cr_expect_eq(rd_store_room_get(store, "random", &record), RD_STORE_OK);
    chat__roomd_room_record__free_unpacked(record, NULL);
    rd_store_destroy(&store);
}

Test(store, a_grant_keeps_the_stored_catalog_and_last_seq)
{
    rd_store_t *store = rd_store_open(s_dir, 64);
    Chat__RoomInfo catalog = CHAT__ROOM_INFO__INIT;
    catalog.id = "tech";
    catalog.name = "tech";
    catalog.description = "Technology discussions";
    catalog.created_at = 1234;
    cr_assert_eq(rd_store_begin(store), RD_STORE_OK);
    rd_store_write_t w = {.room_id = "tech", .catalog = &catalog, .epoch = 1};
    uint64_t stored;
    cr_assert_eq(rd_store_write_room(store, &w, &stored), RD_STORE_OK);
    cr_expect_eq(stored, 0);
    cr_assert_eq(rd_store_commit(store), RD_STORE_OK);
    cr_assert_eq(s_write(store, "tech", 1, 1, 4), RD_STORE_OK);
    cr_assert_eq(s_write(store, "tech", 2, 5, 0), RD_STORE_OK);

    Chat__RoomdRoomRecord *record = NULL;
    cr_assert_eq(rd_store_room_get(store, "tech", &record), RD_STORE_OK);
    cr_expect_eq(record->epoch, 2);
    cr_expect_eq(record->last_seq, 4);
    cr_assert_not_null(record->room);
    cr_expect_str_eq(record->room->description, "Technology discussions");
    cr_expect_eq(record->room->created_at, 1234);
    chat__roomd_room_record__free_unpacked(record, NULL);
    rd_store_destroy(&store);
}

Test(store, the_node_name_is_stored_once_and_read_back)
{
    rd_store_t *store = rd_store_open(s_dir, 64);
    char *name = NULL;
    cr_expect_eq(rd_store_node_get(store, &name), RD_STORE_NOTFOUND);
    cr_expect_null(name);
    cr_assert_eq(rd_store_node_put(store, "node-a"), RD_STORE_OK);
    rd_store_destroy(&store);

    store = rd_store_open(s_dir, 64);
    cr_assert_eq(rd_store_node_get(store, &name), RD_STORE_OK);
    cr_expect_str_eq(name, "node-a");
    free(name);
    rd_store_destroy(&store);
}

Test(store, a_full_map_fails_the_write_and_keeps_what_was_committed)
{
    rd_store_t *store = rd_store_open(s_dir, 1);
    cr_assert_not_null(store);
    cr_assert_eq(s_write(store, "general", 1, 1, 10), RD_STORE_OK);

    //  Messages of ~4 KB each: a 1 MiB map fills up within a few hundred.
    static char big[4000];
    memset(big, 'x', sizeof big - 1);
    int rc = RD_STORE_OK;
    uint64_t next = 11;
    for (int round = 0; round < 100 && rc == RD_STORE_OK; round++) {
        rd_msg_t *msgs[20];
        Chat__ChatMessage *pbs[20];
        for (int i = 0; i < 20; i++) {
            rd_msg_fields_t f = {.seq = next + (uint64_t)i,
                                 .room_id = "general",
                                 .user_id = "alice",
                                 .content = big};
            msgs[i] = rd_msg_new(&f);
            pbs[i] = &msgs[i]->pb;
        }
        cr_assert_eq(rd_store_begin(store), RD_STORE_OK);
        rd_store_write_t w = {.room_id = "general", .epoch = 1, .messages = pbs, .count = 20};
        uint64_t stored;
        rc = rd_store_write_room(store, &w, &stored);
        if (rc == RD_STORE_OK)
            rc = rd_store_commit(store);
        else
            rd_store_abort(store);
        if (rc == RD_STORE_OK)
            next += 20;
        for (int i = 0; i < 20; i++)
            rd_msg_destroy(&msgs[i]);
    }
    cr_expect_eq(rc, RD_STORE_ERROR, "a 1 MiB map never filled up");
    uint64_t last;
    cr_assert_eq(rd_store_last_seq(store, "general", &last), RD_STORE_OK);
    cr_expect_eq(last, next - 1);
    Chat__RoomdRoomRecord *record = NULL;
    cr_assert_eq(rd_store_room_get(store, "general", &record), RD_STORE_OK);
    cr_expect_eq(record->last_seq, next - 1);
    chat__roomd_room_record__free_unpacked(record, NULL);
    rd_store_destroy(&store);
}
