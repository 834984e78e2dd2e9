/*  The RoomActor's logic (rd_room): seq, presence, lines, cursor, dedup,
 *  history windows, limits, bad input, commit and rollback. Messages that
 *  leave memory are read back through a real rd_store. */
#include "chat_test.h"
#include "rd_room.h"
#include "rd_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_dir;
static rd_store_t *s_store;
static rd_room_t *s_room;
static rd_reader_t s_reader;
static rd_msglist_t s_list;

static void s_setup(void)
{
    s_dir = chat_temp_dir("rdroom");
    s_store = rd_store_open(s_dir, 256);
    cr_assert_not_null(s_store);
    s_reader = rd_store_reader(s_store);
    s_room = rd_room_new("general", "general", "General discussion", 1000, 1);
    cr_assert_not_null(s_room);
}

static void s_teardown(void)
{
    rd_msglist_free(&s_list);
    rd_room_destroy(&s_room);
    rd_store_destroy(&s_store);
    chat_remove_tree(s_dir);
    free(s_dir);
}

TestSuite(room, .init = s_setup, .fini = s_teardown);

//  Stores the room's pending messages and commits the room, as roomd's flush does.
static void s_commit(rd_room_t *room)
{
    rd_msglist_t pending = {0};
    cr_assert_eq(rd_room_pending(room, &pending), 0);
    cr_assert_eq(rd_store_begin(s_store), RD_STORE_OK);
    rd_store_write_t w = {.room_id = rd_room_id(room),
                          .epoch = rd_room_epoch(room),
                          .messages = pending.items,
                          .count = pending.count};
    uint64_t stored;
    cr_assert_eq(rd_store_write_room(s_store, &w, &stored), RD_STORE_OK);
    cr_assert_eq(rd_store_commit(s_store), RD_STORE_OK);
    rd_msglist_free(&pending);
    rd_room_commit(room);
}

static void s_join(const char *user, const char *gw, uint64_t conn, rd_join_t *out)
{
    rd_join_t ignored;
    cr_assert_eq(rd_room_join(s_room, user, NULL, gw, conn, false, 5, out ? out : &ignored),
                 CHAT__STATUS__STATUS_OK);
}

static uint64_t s_send(const char *user, const char *gw, uint64_t conn, const char *text,
                       const char *id)
{
    rd_send_t sent;
    cr_assert_eq(rd_room_send(s_room, user, NULL, gw, conn, text, id, 7, &sent),
                 CHAT__STATUS__STATUS_OK);
    return sent.seq;
}

//  Sends n messages from alice (joined on gw-1/1), committing every 100.
static void s_fill(size_t n)
{
    char text[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(text, sizeof text, "m%zu", i);
        s_send("alice", "gw-1", 1, text, text);
        if (i % 100 == 99)
            s_commit(s_room);
    }
    s_commit(s_room);
}

Test(room, messages_take_consecutive_seqs_after_the_join_line)
{
    rd_join_t joined;
    s_join("alice", "gw-1", 1, &joined);
    cr_expect_eq(joined.cursor, 0);
    cr_assert_not_null(joined.line);
    cr_expect_eq(joined.line->pb.seq, 1);
    cr_expect_eq(s_send("alice", "gw-1", 1, "one", "c1"), 2);
    cr_expect_eq(s_send("alice", "gw-1", 1, "two", "c2"), 3);
    cr_expect_eq(s_send("alice", "gw-1", 1, "three", NULL), 4);
    cr_expect_eq(rd_room_last_seq(s_room), 4);
    cr_expect_eq(rd_room_committed_seq(s_room), 0);
    const rd_msg_t *msg = rd_room_msg(s_room, 3);
    cr_assert_not_null(msg);
    cr_expect_str_eq(msg->pb.content, "two");
    cr_expect_str_eq(msg->pb.user_id, "alice");
    cr_expect_str_eq(msg->pb.room_id, "general");
    cr_expect_eq(msg->pb.timestamp, 7);
    cr_expect_eq(msg->pb.type, CHAT__MESSAGE_TYPE__MESSAGE_TEXT);
}

Test(room, join_and_leave_lines_are_system_messages_naming_the_user)
{
    rd_join_t joined;
    cr_assert_eq(rd_room_join(s_room, "alice", "Alice", "gw-1", 1, false, 5, &joined),
                 CHAT__STATUS__STATUS_OK);
    const rd_msg_t *line = joined.line;
    cr_assert_not_null(line);
    cr_expect_str_eq(line->pb.content, "Alice joined the room");
    cr_expect_str_eq(line->pb.user_id, "system");
    cr_expect_str_eq(line->pb.user_name, "System");
    cr_expect_eq(line->pb.type, CHAT__MESSAGE_TYPE__MESSAGE_JOIN);
    cr_expect_str_eq(line->pb.client_msg_id, "");
    cr_expect_str_eq(line->subject_id, "alice");
    cr_expect_str_eq(line->subject_name, "Alice");

    cr_assert_eq(rd_room_leave(s_room, "alice", "gw-1", 1, 9, &line), CHAT__STATUS__STATUS_OK);
    cr_assert_not_null(line);
    cr_expect_str_eq(line->pb.content, "Alice left the room");
    cr_expect_eq(line->pb.type, CHAT__MESSAGE_TYPE__MESSAGE_LEAVE);
    cr_expect_eq(line->pb.seq, 2);
    cr_expect_str_eq(line->subject_id, "alice");
    cr_expect_null(line->subject_name);
}

Test(room, a_user_with_several_sessions_is_present_once)
{
    rd_join_t a, b, c;
    s_join("alice", "gw-1", 1, &a);
    s_join("alice", "gw-2", 7, &b); //  another gateway
    s_join("alice", "gw-1", 2, &c); //  another tab on the same gateway
    cr_expect_not_null(a.line);
    cr_expect_null(b.line, "a second session announced the user again");
    cr_expect_null(c.line);
    cr_expect(b.session_added && c.session_added);
    cr_expect_eq(rd_room_user_count(s_room), 1);
    cr_expect_eq(rd_room_session_count(s_room), 3);
    Chat__RoomInfo info;
    rd_room_info(s_room, &info);
    cr_assert_eq(info.n_users, 1);
    cr_expect_str_eq(info.users[0]->id, "alice");

    const rd_msg_t *line;
    cr_assert_eq(rd_room_leave(s_room, "alice", "gw-1", 1, 9, &line), CHAT__STATUS__STATUS_OK);
    cr_expect_null(line);
    cr_assert_eq(rd_room_leave(s_room, "alice", "gw-2", 7, 9, &line), CHAT__STATUS__STATUS_OK);
    cr_expect_null(line);
    cr_expect_eq(rd_room_user_count(s_room), 1);
    cr_assert_eq(rd_room_leave(s_room, "alice", "gw-1", 2, 9, &line), CHAT__STATUS__STATUS_OK);
    cr_expect_not_null(line, "the last session left without a leave line");
    cr_expect_eq(rd_room_user_count(s_room), 0);
    cr_expect_eq(rd_room_session_count(s_room), 0);
    cr_expect_eq(rd_room_last_seq(s_room), 2);
}

Test(room, joining_again_on_the_same_session_changes_nothing)
{
    s_join("alice", "gw-1", 1, NULL);
    s_send("alice", "gw-1", 1, "hi", "x");
    rd_join_t again;
    s_join("alice", "gw-1", 1, &again);
    cr_expect_not(again.session_added);
    cr_expect_null(again.line);
    cr_expect_eq(again.cursor, 2);
    cr_expect_eq(rd_room_last_seq(s_room), 2);
    cr_expect_eq(rd_room_session_count(s_room), 1);
}

Test(room, a_quiet_join_adds_the_user_without_a_line)
{
    rd_join_t joined;
    cr_assert_eq(rd_room_join(s_room, "bob", "Bob", "gw-1", 3, true, 5, &joined),
                 CHAT__STATUS__STATUS_OK);
    cr_expect_null(joined.line);
    cr_expect(joined.session_added);
    cr_expect_eq(rd_room_user_count(s_room), 1);
    cr_expect_eq(rd_room_last_seq(s_room), 0);
}

Test(room, the_cursor_is_the_seq_before_the_joins_own_line)
{
    s_join("alice", "gw-1", 1, NULL);
    s_send("alice", "gw-1", 1, "a", NULL);
    s_send("alice", "gw-1", 1, "b", NULL);
    rd_join_t joined;
    s_join("bob", "gw-2", 1, &joined);
    cr_expect_eq(joined.cursor, 3);
    cr_assert_not_null(joined.line);
    cr_expect_eq(joined.line->pb.seq, 4);

    rd_msglist_t *list = &s_list;
    bool truncated = true;
    cr_assert_eq(rd_room_join_history(s_room, &s_reader, joined.cursor, false, 0, list, &truncated),
                 0);
    cr_expect_not(truncated);
    cr_assert_eq(list->count, 3, "history must stop at the cursor");
    cr_expect_eq(list->items[0]->seq, 1);
    cr_expect_eq(list->items[2]->seq, 3);
}

Test(room, a_join_without_since_gets_the_newest_hundred)
{
    s_join("alice", "gw-1", 1, NULL);
    s_fill(349); //  seqs 2..350, mostly on disk
    rd_join_t joined;
    s_join("bob", "gw-2", 1, &joined);
    bool truncated;
    cr_assert_eq(
        rd_room_join_history(s_room, &s_reader, joined.cursor, false, 0, &s_list, &truncated), 0);
    cr_assert_eq(s_list.count, 100);
    cr_expect_eq(s_list.items[0]->seq, 251);
    cr_expect_eq(s_list.items[99]->seq, 350);
    cr_expect_not(truncated);
}

Test(room, a_join_with_since_gets_what_was_missed_and_is_truncated_past_1000)
{
    s_join("alice", "gw-1", 1, NULL);
    s_fill(1499); //  seqs 2..1500
    bool truncated = true;
    cr_assert_eq(rd_room_join_history(s_room, &s_reader, 1500, true, 1480, &s_list, &truncated), 0);
    cr_expect_not(truncated);
    cr_assert_eq(s_list.count, 20);
    cr_expect_eq(s_list.items[0]->seq, 1481);
    rd_msglist_reset(&s_list);

    cr_assert_eq(rd_room_join_history(s_room, &s_reader, 1500, true, 10, &s_list, &truncated), 0);
    cr_expect(truncated);
    cr_assert_eq(s_list.count, 1000);
    cr_expect_eq(s_list.items[0]->seq, 501, "not the newest 1000");
    cr_expect_eq(s_list.items[999]->seq, 1500);
    for (size_t i = 1; i < s_list.count; i++)
        cr_assert_eq(s_list.items[i]->seq, s_list.items[i - 1]->seq + 1);
    rd_msglist_reset(&s_list);

    cr_assert_eq(rd_room_join_history(s_room, &s_reader, 1500, true, 500, &s_list, &truncated), 0);
    cr_expect_not(truncated, "exactly 1000 missed is not truncated");
    cr_expect_eq(s_list.count, 1000);
    rd_msglist_reset(&s_list);

    cr_assert_eq(rd_room_join_history(s_room, &s_reader, 1500, true, 1500, &s_list, &truncated), 0);
    cr_expect_eq(s_list.count, 0);
    cr_assert_eq(rd_room_join_history(s_room, &s_reader, 1500, true, 99999, &s_list, &truncated),
                 0);
    cr_expect_eq(s_list.count, 0);
    cr_expect_not(truncated);
}

Test(room, history_before_defaults_to_the_newest_fifty_and_caps_at_200)
{
    s_join("alice", "gw-1", 1, NULL);
    s_fill(499); //  seqs 1..500
    bool more = false;
    cr_assert_eq(rd_room_history(s_room, &s_reader, false, 0, false, 0, 0, &s_list, &more), 0);
    cr_assert_eq(s_list.count, 50);
    cr_expect_eq(s_list.items[0]->seq, 451);
    cr_expect_eq(s_list.items[49]->seq, 500);
    cr_expect(more);
    rd_msglist_reset(&s_list);

    cr_assert_eq(rd_room_history(s_room, &s_reader, false, 0, true, 301, 1000, &s_list, &more), 0);
    cr_assert_eq(s_list.count, 200, "limit was not capped at 200");
    cr_expect_eq(s_list.items[0]->seq, 101);
    cr_expect_eq(s_list.items[199]->seq, 300);
    cr_expect(more);
    rd_msglist_reset(&s_list);

    cr_assert_eq(rd_room_history(s_room, &s_reader, false, 0, true, 11, 50, &s_list, &more), 0);
    cr_assert_eq(s_list.count, 10);
    cr_expect_eq(s_list.items[0]->seq, 1);
    cr_expect_not(more);
    rd_msglist_reset(&s_list);

    cr_assert_eq(rd_room_history(s_room, &s_reader, false, 0, true, 1, 50, &s_list, &more), 0);
    cr_expect_eq(s_list.count, 0);
    cr_expect_not(more);
    cr_assert_eq(rd_room_history(s_room, &s_reader, false, 0, true, 0, 50, &s_list, &more), 0);
    cr_expect_eq(s_list.count, 0);
}

Test(room, history_after_reads_forward_and_caps_at_1000)
{
    s_join("alice", "gw-1", 1, NULL);
    s_fill(1999);                                //  seqs 1..2000
    s_send("alice", "gw-1", 1, "pending", NULL); //  2001, not yet committed
    bool more = false;
    cr_assert_eq(rd_room_history(s_room, &s_reader, true, 100, false, 0, 5000, &s_list, &more), 0);
    cr_assert_eq(s_list.count, 1000);
    cr_expect_eq(s_list.items[0]->seq, 101);
    cr_expect_eq(s_list.items[999]->seq, 1100);
    cr_expect(more);
    rd_msglist_reset(&s_list);

    cr_assert_eq(rd_room_history(s_room, &s_reader, true, 1990, false, 0, 100, &s_list, &more), 0);
    cr_assert_eq(s_list.count, 11);
    cr_expect_eq(s_list.items[10]->seq, 2001);
    cr_expect_str_eq(s_list.items[10]->content, "pending");
    cr_expect_not(more);
    rd_msglist_reset(&s_list);

    cr_assert_eq(rd_room_history(s_room, &s_reader, true, 2001, false, 0, 100, &s_list, &more), 0);
    cr_expect_eq(s_list.count, 0);
    cr_expect_not(more);
}

Test(room, a_resend_with_the_same_client_msg_id_gets_the_same_seq)
{
    s_join("alice", "gw-1", 1, NULL);
    cr_expect_eq(s_send("alice", "gw-1", 1, "hello", "c-1"), 2);
    rd_send_t sent;
    cr_assert_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 1, "hello", "c-1", 8, &sent),
                 CHAT__STATUS__STATUS_OK);
    cr_expect(sent.duplicate);
    cr_expect_eq(sent.seq, 2);
    cr_expect_eq(rd_room_last_seq(s_room), 2, "the resend was appended");
    s_commit(s_room);
    cr_assert_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 1, "hello", "c-1", 8, &sent),
                 CHAT__STATUS__STATUS_OK);
    cr_expect(sent.duplicate);
    cr_expect_eq(sent.seq, 2);
    cr_expect_not(rd_room_dirty(s_room));
    //  A different id is a different message even with the same text.
    cr_expect_eq(s_send("alice", "gw-1", 1, "hello", "c-2"), 3);
}

Test(room, dedup_survives_reloading_the_room_from_disk)
{
    s_join("alice", "gw-1", 1, NULL);
    s_fill(600); //  ids m0..m599 at seqs 2..601
    rd_room_t *reloaded = rd_room_new("general", "general", "", 0, 1);
    rd_msglist_t tail = {0};
    cr_assert_eq(rd_store_range(s_store, "general", 1, 601, &tail), RD_STORE_OK);
    cr_assert_eq(rd_room_load(reloaded, &tail), 0);
    rd_msglist_free(&tail);
    cr_expect_eq(rd_room_last_seq(reloaded), 601);
    cr_expect_eq(rd_room_committed_seq(reloaded), 601);
    cr_expect_not_null(rd_room_msg(reloaded, 502));
    cr_expect_null(rd_room_msg(reloaded, 501), "more than 100 messages kept in memory");

    rd_join_t joined;
    cr_assert_eq(rd_room_join(reloaded, "alice", NULL, "gw-1", 1, true, 5, &joined),
                 CHAT__STATUS__STATUS_OK);
    rd_send_t sent;
    cr_assert_eq(rd_room_send(reloaded, "alice", NULL, "gw-1", 1, "again", "m10", 8, &sent),
                 CHAT__STATUS__STATUS_OK);
    cr_expect(sent.duplicate, "an id older than memory was forgotten");
    cr_expect_eq(sent.seq, 12);
    cr_assert_eq(rd_room_send(reloaded, "alice", NULL, "gw-1", 1, "again", "m599", 8, &sent),
                 CHAT__STATUS__STATUS_OK);
    cr_expect(sent.duplicate);
    cr_expect_eq(sent.seq, 601);
    rd_room_destroy(&reloaded);
}

Test(room, bad_sends_are_refused_with_their_reason)
{
    s_join("alice", "gw-1", 1, NULL);
    rd_send_t sent;
    cr_expect_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 1, "  \t\n ", "a", 1, &sent),
                 CHAT__STATUS__STATUS_EMPTY_MESSAGE);
    cr_expect_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 1, "", "a", 1, &sent),
                 CHAT__STATUS__STATUS_EMPTY_MESSAGE);
    char *long_text = malloc(4002);
    memset(long_text, 'x', 4001);
    long_text[4001] = '\0';
    cr_expect_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 1, long_text, "a", 1, &sent),
                 CHAT__STATUS__STATUS_MESSAGE_TOO_LONG);
    long_text[4000] = '\0';
    cr_expect_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 1, long_text, "a", 1, &sent),
                 CHAT__STATUS__STATUS_OK, "4000 characters are allowed");
    free(long_text);
    cr_expect_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 1, "bad \xff utf8", "b", 1, &sent),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(rd_room_send(s_room, "bob", NULL, "gw-1", 1, "hi", "c", 1, &sent),
                 CHAT__STATUS__STATUS_NOT_IN_ROOM);
    cr_expect_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 2, "hi", "c", 1, &sent),
                 CHAT__STATUS__STATUS_NOT_IN_ROOM, "another session of a member may not send");
    cr_expect_eq(rd_room_send(s_room, "al ice", NULL, "gw-1", 1, "hi", "c", 1, &sent),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(rd_room_send(s_room, "alice", NULL, "", 1, "hi", "c", 1, &sent),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(rd_room_last_seq(s_room), 2, "a refused send took a seq");
}

Test(room, bad_joins_and_leaves_are_refused)
{
    rd_join_t joined;
    cr_expect_eq(rd_room_join(s_room, "", NULL, "gw-1", 1, false, 1, &joined),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(rd_room_join(s_room, "a/b", NULL, "gw-1", 1, false, 1, &joined),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(rd_room_join(s_room, "alice", "   ", "gw-1", 1, false, 1, &joined),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(rd_room_join(s_room, "alice", NULL, "", 1, false, 1, &joined),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(rd_room_join(s_room, "alice", NULL, NULL, 1, false, 1, &joined),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(rd_room_user_count(s_room), 0);
    const rd_msg_t *line;
    cr_expect_eq(rd_room_leave(s_room, "alice", "gw-1", 1, 1, &line),
                 CHAT__STATUS__STATUS_NOT_IN_ROOM);
    s_join("alice", "gw-1", 1, NULL);
    cr_expect_eq(rd_room_leave(s_room, "alice", "gw-1", 2, 1, &line),
                 CHAT__STATUS__STATUS_NOT_IN_ROOM);
    cr_expect_eq(rd_room_leave(s_room, "bob", "gw-1", 1, 1, &line),
                 CHAT__STATUS__STATUS_NOT_IN_ROOM);
    cr_expect_eq(rd_room_last_seq(s_room), 1);
}

Test(room, a_name_given_at_join_is_used_in_lines_and_the_user_list)
{
    rd_join_t joined;
    cr_assert_eq(rd_room_join(s_room, "bob", "Bob B.", "gw-1", 1, false, 1, &joined),
                 CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(joined.line->pb.content, "Bob B. joined the room");
    Chat__RoomInfo info;
    rd_room_info(s_room, &info);
    cr_assert_eq(info.n_users, 1);
    cr_expect_str_eq(info.users[0]->name, "Bob B.");
    cr_expect_str_eq(info.description, "General discussion");
    cr_expect_eq(info.created_at, 1000);
    cr_expect_eq(info.last_seq, 1);
    s_join("carol", "gw-1", 2, NULL);
    rd_room_info(s_room, &info);
    cr_expect_eq(info.n_users, 2);
    //  The name defaults to the id.
    const rd_msg_t *carol = rd_room_msg(s_room, 2);
    cr_expect_str_eq(carol->pb.content, "carol joined the room");
}

Test(room, rollback_puts_back_messages_ids_and_members)
{
    s_join("alice", "gw-1", 1, NULL);
    s_join("bob", "gw-1", 2, NULL);
    s_send("alice", "gw-1", 1, "kept", "k");
    s_commit(s_room); //  seqs 1..3 committed

    s_join("carol", "gw-2", 1, NULL);        //  4
    s_send("alice", "gw-1", 1, "lost", "l"); //  5
    const rd_msg_t *line;
    rd_room_leave(s_room, "bob", "gw-1", 2, 1, &line); //  6
    cr_expect_eq(rd_room_last_seq(s_room), 6);
    cr_expect(rd_room_dirty(s_room));

    rd_room_rollback(s_room);
    cr_expect_not(rd_room_dirty(s_room));
    cr_expect_eq(rd_room_last_seq(s_room), 3);
    cr_expect_null(rd_room_msg(s_room, 4));
    cr_expect_eq(rd_room_user_count(s_room), 2);
    cr_expect_eq(rd_room_session_count(s_room), 2);
    Chat__RoomInfo info;
    rd_room_info(s_room, &info);
    for (size_t i = 0; i < info.n_users; i++)
        cr_expect_str_neq(info.users[i]->id, "carol");
    //  Bob is back and can send; the lost id is free again; the kept one is not.
    rd_send_t sent;
    cr_expect_eq(rd_room_send(s_room, "bob", NULL, "gw-1", 2, "back", "l", 1, &sent),
                 CHAT__STATUS__STATUS_OK);
    cr_expect_not(sent.duplicate);
    cr_expect_eq(sent.seq, 4);
    cr_assert_eq(rd_room_send(s_room, "alice", NULL, "gw-1", 1, "kept", "k", 1, &sent),
                 CHAT__STATUS__STATUS_OK);
    cr_expect(sent.duplicate);
    cr_expect_eq(sent.seq, 3);
}

Test(room, dropping_a_gateway_removes_its_sessions_with_leave_lines)
{
    s_join("alice", "gw-1", 1, NULL); //  1
    s_join("alice", "gw-2", 1, NULL); //  alice is also on gw-2
    s_join("bob", "gw-1", 2, NULL);   //  2
    s_join("bob", "gw-1", 3, NULL);   //  bob twice on gw-1
    s_join("carol", "gw-2", 5, NULL); //  3
    cr_expect_eq(rd_room_drop_gateway(s_room, "gw-1", 10), 3);
    cr_expect_eq(rd_room_session_count(s_room), 2);
    cr_expect_eq(rd_room_user_count(s_room), 2);
    cr_expect_eq(rd_room_last_seq(s_room), 4, "exactly bob's leave line");
    const rd_msg_t *line = rd_room_msg(s_room, 4);
    cr_expect_str_eq(line->pb.content, "bob left the room");
    cr_expect_eq(rd_room_drop_gateway(s_room, "gw-9", 10), 0);
}

Test(room, commit_keeps_only_the_newest_hundred_in_memory)
{
    s_join("alice", "gw-1", 1, NULL);
    for (int i = 0; i < 300; i++)
        s_send("alice", "gw-1", 1, "x", NULL);
    cr_expect_not_null(rd_room_msg(s_room, 1), "pending messages must stay in memory");
    s_commit(s_room);
    cr_expect_null(rd_room_msg(s_room, 201));
    cr_expect_not_null(rd_room_msg(s_room, 202));
    cr_expect_not_null(rd_room_msg(s_room, 301));
}

Test(room, a_join_line_keeps_its_subject_through_storage)
{
    rd_msg_fields_t fields = {
        .seq = 3,
        .room_id = "general",
        .user_id = "system",
        .user_name = "System",
        .content = "Bob joined the room",
        .timestamp = 1,
        .type = CHAT__MESSAGE_TYPE__MESSAGE_JOIN,
        .subject_id = "bob",
        .subject_name = "Bob",
    };
    rd_msg_t *line = rd_msg_new(&fields);
    cr_assert_not_null(line);
    uint8_t packed[256];
    size_t len = chat__chat_message__pack(&line->pb, packed);
    Chat__ChatMessage *stored = chat__chat_message__unpack(NULL, len, packed);
    cr_assert_not_null(stored);
    cr_assert_not_null(stored->subject, "the subject is stored with the line");
    cr_expect_str_eq(stored->subject->id, "bob");
    cr_expect_str_eq(stored->subject->name, "Bob");
    rd_msg_t *reloaded = rd_msg_from_pb(stored);
    cr_assert_not_null(reloaded);
    cr_expect_str_eq(reloaded->subject_id, "bob");
    cr_expect_str_eq(reloaded->pb.subject->name, "Bob");
    chat__chat_message__free_unpacked(stored, NULL);
    rd_msg_destroy(&reloaded);
    rd_msg_destroy(&line);

    fields.type = CHAT__MESSAGE_TYPE__MESSAGE_TEXT;
    fields.subject_id = NULL;
    fields.subject_name = NULL;
    rd_msg_t *text = rd_msg_new(&fields);
    cr_expect_null(text->pb.subject, "a text message has no subject");
    rd_msg_destroy(&text);
}
