/*  The host (rd_host): group commit, acks after commit, commit failure,
 *  fencing, grants, session expiry and passivation — driven without sockets
 *  through a sink that records what would be sent. */
#include "chat_test.h"
#include "rd_host.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define INSTANCE "node-a/1"
#define MAX_OUT 4096

typedef struct {
    Chat__Envelope *replies[MAX_OUT]; //  decoded replies, in order
    bool to_registry[MAX_OUT];        //  reply went to the registry
    size_t n_replies;                 //  replies recorded
    Chat__Envelope *events[MAX_OUT];  //  decoded events (ticks included)
    size_t n_events;                  //  events recorded
} s_out_t;

static char *s_dir;
static rd_store_t *s_store;
static rd_host_t *s_host;
static s_out_t s_out;
static rd_sink_t s_sink;
static int64_t s_now = 1000;
static uint64_t s_req;

static void s_reply(void *ctx, const chat_peer_t *peer, const void *data, size_t size)
{
    cr_assert_lt(s_out.n_replies, MAX_OUT);
    s_out.to_registry[s_out.n_replies] = peer == NULL;
    s_out.replies[s_out.n_replies++] = chat_envelope_decode(data, size);
}

static void s_publish(void *ctx, const char *topic, const void *data, size_t size)
{
    cr_assert_lt(s_out.n_events, MAX_OUT);
    Chat__Envelope *env = chat_envelope_decode(data, size);
    cr_assert_not_null(env);
    cr_assert_str_eq(topic, env->room_event->room_id);
    s_out.events[s_out.n_events++] = env;
}

static void s_clear(void)
{
    for (size_t i = 0; i < s_out.n_replies; i++)
        chat_envelope_free(&s_out.replies[i]);
    for (size_t i = 0; i < s_out.n_events; i++)
        chat_envelope_free(&s_out.events[i]);
    s_out.n_replies = 0;
    s_out.n_events = 0;
}

static void s_open(size_t map_mb)
{
    s_store = rd_store_open(s_dir, map_mb);
    cr_assert_not_null(s_store);
    rd_host_opts_t opts = {.idle_ms = 5000, .session_lease_ms = 3000, .tick_ms = 1000};
    s_host = rd_host_new(s_store, &opts);
    cr_assert_not_null(s_host);
    rd_host_set_instance(s_host, INSTANCE);
    s_sink = (rd_sink_t){s_reply, s_publish, NULL};
}

static void s_setup(void)
{
    s_dir = chat_temp_dir("rdhost");
    s_open(64);
}

static void s_teardown(void)
{
    s_clear();
    rd_host_destroy(&s_host);
    rd_store_destroy(&s_store);
    chat_remove_tree(s_dir);
    free(s_dir);
}

TestSuite(host, .init = s_setup, .fini = s_teardown);

static void s_grant(const char *room, uint64_t epoch)
{
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    info.id = (char *)room;
    info.name = (char *)room;
    info.description = "a room";
    Chat__Assignment a = CHAT__ASSIGNMENT__INIT;
    a.room = &info;
    a.epoch = epoch;
    cr_assert_eq(rd_host_grant(s_host, &a), 0);
}

static Chat__RoomTarget s_target(const char *room, uint64_t epoch)
{
    Chat__RoomTarget t = CHAT__ROOM_TARGET__INIT;
    t.room_id = (char *)room;
    t.instance = INSTANCE;
    t.epoch = epoch;
    return t;
}

static void s_request(Chat__Envelope *env)
{
    chat_peer_t peer;
    chat_peer_set(&peer, "gw-test");
    env->req_id = ++s_req;
    rd_host_request(s_host, &peer, env, s_now);
}

static void s_join(const char *room, uint64_t epoch, const char *user, uint64_t conn)
{
    Chat__RoomTarget t = s_target(room, epoch);
    Chat__User u = CHAT__USER__INIT;
    u.id = (char *)user;
    u.name = (char *)user;
    Chat__SessionRef s = CHAT__SESSION_REF__INIT;
    s.gateway = "gw-test";
    s.conn = conn;
    Chat__JoinRequest req = CHAT__JOIN_REQUEST__INIT;
    req.target = &t;
    req.user = &u;
    req.session = &s;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_JOIN;
    env.join = &req;
    s_request(&env);
}

static void s_send(const char *room, uint64_t epoch, const char *user, const char *content,
                   const char *cid)
{
    Chat__RoomTarget t = s_target(room, epoch);
    Chat__SessionRef s = CHAT__SESSION_REF__INIT;
    s.gateway = "gw-test";
    s.conn = 1;
    Chat__SendRequest req = CHAT__SEND_REQUEST__INIT;
    req.target = &t;
    req.user_id = (char *)user;
    req.session = &s;
    req.content = (char *)content;
    req.client_msg_id = (char *)(cid ? cid : "");
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_SEND;
    env.send = &req;
    s_request(&env);
}

//  Events that carry a message (ticks left out).
static size_t s_message_events(void)
{
    size_t n = 0;
    for (size_t i = 0; i < s_out.n_events; i++)
        n += !s_out.events[i]->room_event->tick;
    return n;
}

Test(host, replies_and_events_wait_for_the_commit)
{
    s_grant("general", 3);
    cr_assert_eq(rd_host_flush(s_host, &s_sink), 0); //  stores the grant
    s_join("general", 3, "alice", 1);
    s_send("general", 3, "alice", "hello", "c1");
    s_send("general", 3, "alice", "world", "c2");
    cr_expect_eq(s_out.n_replies, 0, "a reply left before the commit");
    cr_expect_eq(s_out.n_events, 0, "an event left before the commit");
    cr_assert(rd_host_pending(s_host));
    cr_assert_eq(rd_host_flush(s_host, &s_sink), 0);
    cr_assert_eq(s_out.n_replies, 3);
    cr_expect_eq(s_out.replies[0]->join_reply->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(s_out.replies[1]->send_reply->seq, 2);
    cr_expect_str_eq(s_out.replies[2]->send_reply->message_id, "general:3");
    cr_expect_eq(s_out.replies[2]->send_reply->epoch, 3);
    cr_assert_eq(s_out.n_events, 3);
    for (size_t i = 0; i < 3; i++)
        cr_expect_eq(s_out.events[i]->room_event->seq, i + 1);
    cr_expect_eq(s_out.events[0]->room_event->epoch, 3);
    Chat__NodeStats stats;
    rd_host_stats(s_host, &stats);
    cr_expect_eq(stats.messages, 3);
    cr_expect_eq(stats.commits, 2, "one commit for the grant, one for the turn");
    cr_expect_eq(stats.members, 1);
    cr_expect_eq(stats.rooms_active, 1);
    cr_expect_eq(stats.rooms_assigned, 1);
    uint64_t last;
    rd_store_last_seq(s_store, "general", &last);
    cr_expect_eq(last, 3);
}

Test(host, a_failed_commit_answers_errors_and_rolls_the_room_back)
{
    rd_host_destroy(&s_host);
    rd_store_destroy(&s_store);
    s_open(1); //  a 1 MiB map fills up quickly
    s_grant("general", 1);
    s_join("general", 1, "alice", 1);
    cr_assert_eq(rd_host_flush(s_host, &s_sink), 0);
    s_clear();
    static char big[3000];
    memset(big, 'x', sizeof big - 1);
    uint64_t acked = 1;
    int failed_turn = -1;
    for (int turn = 0; turn < 200 && failed_turn < 0; turn++) {
        for (int i = 0; i < 20; i++)
            s_send("general", 1, "alice", big, NULL);
        if (rd_host_flush(s_host, &s_sink) != 0)
            failed_turn = turn;
        for (size_t i = 0; i < s_out.n_replies; i++) {
            Chat__SendReply *r = s_out.replies[i]->send_reply;
            if (failed_turn < 0) {
                cr_assert_eq(r->status, CHAT__STATUS__STATUS_OK);
                cr_assert_eq(r->seq, acked + 1);
                acked = r->seq;
            } else {
                cr_assert_eq(r->status, CHAT__STATUS__STATUS_INTERNAL,
                             "a send of a failed commit was acknowledged");
            }
        }
        cr_assert_eq(s_message_events(), failed_turn < 0 ? 20 : 0);
        s_clear();
    }
    cr_assert_geq(failed_turn, 0, "the map never filled up");
    uint64_t last;
    rd_store_last_seq(s_store, "general", &last);
    cr_expect_eq(last, acked);
    //  The room is as on disk: a small message takes the next seq after the last ack
    //  (or fails again, but never skips or reuses a seq).
    s_send("general", 1, "alice", "small", NULL);
    rd_host_flush(s_host, &s_sink);
    cr_assert_eq(s_out.n_replies, 1);
    Chat__SendReply *r = s_out.replies[0]->send_reply;
    if (r->status == CHAT__STATUS__STATUS_OK)
        cr_expect_eq(r->seq, acked + 1);
    else
        cr_expect_eq(r->status, CHAT__STATUS__STATUS_INTERNAL);
    //  The member survived the rollback of the sends.
    Chat__NodeStats stats;
    rd_host_stats(s_host, &stats);
    cr_expect_eq(stats.members, 1);
}

Test(host, a_room_taken_by_a_newer_epoch_on_disk_answers_not_owner)
{
    s_grant("general", 5);
    s_join("general", 5, "alice", 1);
    cr_assert_eq(rd_host_flush(s_host, &s_sink), 0);
    s_clear();

    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rd_store_t *other = rd_store_open(s_dir, 64);
        rd_store_write_t grant = {.room_id = "general", .epoch = 6};
        uint64_t stored;
        int ok = other && rd_store_begin(other) == RD_STORE_OK &&
                 rd_store_write_room(other, &grant, &stored) == RD_STORE_OK &&
                 rd_store_commit(other) == RD_STORE_OK;
        _exit(ok ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    s_send("general", 5, "alice", "too late", NULL);
    cr_assert_eq(rd_host_flush(s_host, &s_sink), 0);
    cr_assert_eq(s_out.n_replies, 1);
    cr_expect_eq(s_out.replies[0]->send_reply->status, CHAT__STATUS__STATUS_NOT_OWNER);
    cr_expect_eq(s_out.replies[0]->send_reply->epoch, 6);
    cr_expect_eq(s_message_events(), 0);
    s_clear();
    s_send("general", 5, "alice", "again", NULL);
    rd_host_flush(s_host, &s_sink);
    cr_expect_eq(s_out.replies[0]->send_reply->status, CHAT__STATUS__STATUS_NOT_OWNER);
    uint64_t last;
    rd_store_last_seq(s_store, "general", &last);
    cr_expect_eq(last, 1, "only the join line is stored");
}

Test(host, a_full_grant_list_drops_rooms_not_in_it_and_stale_grants_are_ignored)
{
    s_grant("general", 2);
    s_grant("random", 2);
    rd_host_flush(s_host, &s_sink);
    cr_expect_eq(rd_host_grant_count(s_host), 2);

    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    info.id = "general";
    Chat__Assignment stale = CHAT__ASSIGNMENT__INIT;
    stale.room = &info;
    stale.epoch = 1;
    cr_expect_eq(rd_host_grant(s_host, &stale), -1);

    Chat__Assignment newer = CHAT__ASSIGNMENT__INIT;
    newer.room = &info;
    newer.epoch = 4;
    Chat__Assignment *list[] = {&newer};
    rd_host_grant_all(s_host, list, 1);
    rd_host_flush(s_host, &s_sink);
    cr_expect_eq(rd_host_grant_count(s_host), 1);
    s_clear();
    s_send("random", 2, "alice", "x", NULL);
    s_join("general", 2, "alice", 1);
    s_join("general", 4, "alice", 1);
    rd_host_flush(s_host, &s_sink);
    cr_assert_eq(s_out.n_replies, 3);
    cr_expect_eq(s_out.replies[0]->send_reply->status, CHAT__STATUS__STATUS_NOT_OWNER);
    cr_expect_eq(s_out.replies[1]->join_reply->status, CHAT__STATUS__STATUS_NOT_OWNER);
    cr_expect_eq(s_out.replies[1]->join_reply->epoch, 4);
    cr_expect_eq(s_out.replies[2]->join_reply->status, CHAT__STATUS__STATUS_OK);
    Chat__RoomdRoomRecord *record;
    cr_assert_eq(rd_store_room_get(s_store, "general", &record), RD_STORE_OK);
    cr_expect_eq(record->epoch, 4, "the new grant was not stored");
    chat__roomd_room_record__free_unpacked(record, NULL);
}

Test(host, an_assign_request_is_answered_after_its_epoch_is_stored)
{
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    info.id = "tech";
    info.name = "tech";
    Chat__Assignment a = CHAT__ASSIGNMENT__INIT;
    a.room = &info;
    a.epoch = 7;
    Chat__AssignRequest req = CHAT__ASSIGN_REQUEST__INIT;
    req.instance = INSTANCE;
    req.assignment = &a;
    rd_host_assign(s_host, 99, &req);
    cr_expect_eq(s_out.n_replies, 0);
    rd_host_flush(s_host, &s_sink);
    cr_assert_eq(s_out.n_replies, 1);
    cr_expect(s_out.to_registry[0]);
    cr_expect_eq(s_out.replies[0]->req_id, 99);
    cr_expect_eq(s_out.replies[0]->assign_reply->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(s_out.replies[0]->assign_reply->epoch, 7);
    Chat__RoomdRoomRecord *record;
    cr_assert_eq(rd_store_room_get(s_store, "tech", &record), RD_STORE_OK);
    cr_expect_eq(record->epoch, 7);
    chat__roomd_room_record__free_unpacked(record, NULL);
    s_clear();

    req.instance = "node-a/0"; //  meant for a previous run
    rd_host_assign(s_host, 100, &req);
    rd_host_flush(s_host, &s_sink);
    cr_expect_eq(s_out.replies[0]->assign_reply->status, CHAT__STATUS__STATUS_NOT_OWNER);
}

Test(host, sessions_of_a_silent_gateway_expire_and_idle_rooms_leave_memory)
{
    s_grant("general", 1);
    s_join("general", 1, "alice", 1);
    s_join("general", 1, "bob", 2);
    rd_host_flush(s_host, &s_sink);
    s_clear();
    s_now += 2000;
    rd_host_timers(s_host, s_now, &s_sink);
    rd_host_flush(s_host, &s_sink);
    cr_expect_eq(s_message_events(), 0, "sessions expired before their lease");
    s_clear();
    s_now += 1500; //  3.5 s after the joins: lease (3 s) passed
    rd_host_timers(s_host, s_now, &s_sink);
    rd_host_flush(s_host, &s_sink);
    cr_assert_eq(s_message_events(), 2, "two leave lines expected");
    Chat__NodeStats stats;
    rd_host_stats(s_host, &stats);
    cr_expect_eq(stats.members, 0);
    cr_expect_eq(stats.rooms_active, 1);
    s_clear();
    s_now += 6000; //  idle for longer than 5 s
    rd_host_timers(s_host, s_now, &s_sink);
    rd_host_stats(s_host, &stats);
    cr_expect_eq(stats.rooms_active, 0, "the idle room stayed in memory");
    cr_expect_eq(stats.rooms_assigned, 1, "passivation dropped the grant");
}

Test(host, requests_without_what_they_need_get_bad_request)
{
    s_grant("general", 1);
    Chat__JoinRequest join = CHAT__JOIN_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_JOIN;
    env.join = &join;
    s_request(&env);
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &lookup;
    s_request(&env);
    Chat__HistoryRequest history = CHAT__HISTORY_REQUEST__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_HISTORY;
    env.history = &history;
    s_request(&env);
    rd_host_flush(s_host, &s_sink);
    cr_assert_eq(s_out.n_replies, 3);
    cr_expect_eq(s_out.replies[0]->error->status, CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(s_out.replies[1]->error->status, CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(s_out.replies[2]->history_reply->status, CHAT__STATUS__STATUS_BAD_REQUEST);
}
