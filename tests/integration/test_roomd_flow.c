/*  roomd as a gateway sees it: real registry and roomds, ZeroMQ in between. */
#include "chat_clock.h"
#include "rd_cluster.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static rdt_cluster_t s_cluster;

static void s_setup(void)
{
    rdt_cluster_start(&s_cluster, 2, NULL);
}

static void s_teardown(void)
{
    rdt_cluster_stop(&s_cluster);
}

TestSuite(roomd_flow, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test(roomd_flow, rooms_are_spread_over_both_roomds)
{
    int on[2] = {0, 0};
    for (int i = 0; i < 16; i++) {
        char name[32], id[72];
        snprintf(name, sizeof name, "spread %d", i);
        rdt_create_room(&s_cluster, name, id);
        rdt_place_t p;
        rdt_lookup(&s_cluster, id, &p);
        cr_assert_eq(p.epoch, 1);
        if (strcmp(p.node, "node-0") == 0)
            on[0]++;
        else if (strcmp(p.node, "node-1") == 0)
            on[1]++;
        else
            cr_assert_fail("room %s on unknown node %s", id, p.node);
    }
    cr_expect_gt(on[0], 0, "node-0 got no room");
    cr_expect_gt(on[1], 0, "node-1 got no room");
    //  The grants show in node-0's next heartbeat stats.
    Chat__NodeStats stats = CHAT__NODE_STATS__INIT;
    int64_t deadline = chat_mono_ms() + RDT_DEADLINE_MS;
    bool known = false;
    while (!((known = rdt_node_stats(&s_cluster, "node-0", &stats)) &&
             stats.rooms_assigned == (uint32_t)on[0]) &&
           chat_mono_ms() < deadline)
        chat_sleep_ms(100);
    cr_expect(known, "the registry has no stats of node-0");
    cr_expect_eq(stats.rooms_assigned, (uint32_t)on[0],
                 "node-0 reports %u rooms assigned, expected the %d placed on it",
                 stats.rooms_assigned, on[0]);
}

Test(roomd_flow, join_send_and_history_go_through_zeromq)
{
    rdt_place_t p;
    rdt_lookup(&s_cluster, "general", &p);
    rdt_gw_t *gw = rdt_gw_new("gw-flow");
    rdt_gw_subscribe(gw, &p);

    Chat__Envelope env;
    rdt_join(&env, &p, "alice", gw->id, 1);
    Chat__Envelope *reply = rdt_gw_call(gw, p.instance, &env);
    Chat__JoinReply *join = reply->join_reply;
    cr_assert_eq(join->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(join->cursor, 0);
    cr_expect_eq(join->epoch, p.epoch);
    cr_expect_eq(join->n_history, 0);
    cr_assert_not_null(join->room);
    cr_expect_str_eq(join->room->description, "General discussion");
    cr_assert_eq(join->room->n_users, 1);
    cr_expect_str_eq(join->room->users[0]->id, "alice");
    chat_envelope_free(&reply);

    Chat__Envelope *event = rdt_gw_event(gw, RDT_DEADLINE_MS, true);
    cr_assert_not_null(event, "no join event of alice within %d ms", RDT_DEADLINE_MS);
    cr_expect_eq(event->room_event->seq, 1);
    cr_assert_not_null(event->room_event->joined);
    cr_expect_str_eq(event->room_event->joined->id, "alice");
    cr_expect_str_eq(event->room_event->message->content, "alice joined the room");
    cr_expect_eq(event->room_event->message->type, CHAT__MESSAGE_TYPE__MESSAGE_JOIN);
    chat_envelope_free(&event);

    rdt_send(&env, &p, "alice", gw->id, 1, "Hello, world", "gw-flow:1:1");
    reply = rdt_gw_call(gw, p.instance, &env);
    cr_assert_eq(reply->send_reply->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(reply->send_reply->seq, 2);
    cr_expect_str_eq(reply->send_reply->message_id, "general:2");
    chat_envelope_free(&reply);

    event = rdt_gw_event(gw, RDT_DEADLINE_MS, true);
    cr_assert_not_null(event, "no event of seq 2 within %d ms", RDT_DEADLINE_MS);
    cr_expect_eq(event->room_event->seq, 2);
    cr_expect_str_eq(event->room_event->message->content, "Hello, world");
    cr_expect_str_eq(event->room_event->message->user_id, "alice");
    cr_expect_gt(event->room_event->message->timestamp, 1700000000000);
    chat_envelope_free(&event);

    //  A second user joining sees the history up to its cursor.
    rdt_join(&env, &p, "bob", gw->id, 2);
    reply = rdt_gw_call(gw, p.instance, &env);
    join = reply->join_reply;
    cr_assert_eq(join->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(join->cursor, 2);
    cr_assert_eq(join->n_history, 2);
    cr_expect_str_eq(join->history[1]->content, "Hello, world");
    cr_expect_eq(join->room->n_users, 2);
    chat_envelope_free(&reply);

    uint64_t seqs[16];
    cr_expect_eq(rdt_gw_history(gw, &p, 0, seqs, 16), 3);
    cr_expect_eq(seqs[2], 3);

    //  Rooms info sees both users and the last seq.
    Chat__RoomsInfoRequest info = CHAT__ROOMS_INFO_REQUEST__INIT;
    char *ids[] = {"general", "no-such-room"};
    info.room_ids = ids;
    info.n_room_ids = 2;
    chat__envelope__init(&env);
    env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO;
    env.rooms_info = &info;
    reply = rdt_gw_call(gw, p.instance, &env);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY);
    cr_assert_eq(reply->rooms_info_reply->n_rooms, 1);
    cr_expect_eq(reply->rooms_info_reply->rooms[0]->last_seq, 3);
    cr_expect_eq(reply->rooms_info_reply->rooms[0]->n_users, 2);
    chat_envelope_free(&reply);
    //  With active, the rooms in memory come without being named, once
    //  even when named too.
    Chat__RoomsInfoRequest active = CHAT__ROOMS_INFO_REQUEST__INIT;
    active.active = true;
    active.room_ids = ids;
    active.n_room_ids = 1;
    for (int named = 0; named < 2; named++) {
        active.n_room_ids = (size_t)named;
        chat__envelope__init(&env);
        env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO;
        env.rooms_info = &active;
        reply = rdt_gw_call(gw, p.instance, &env);
        cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY);
        cr_assert_eq(reply->rooms_info_reply->n_rooms, 1, "named: %d", named);
        cr_expect_str_eq(reply->rooms_info_reply->rooms[0]->id, "general");
        cr_expect_eq(reply->rooms_info_reply->rooms[0]->n_users, 2);
        chat_envelope_free(&reply);
    }

    //  Leave: the line names the user; leaving twice is NOT_IN_ROOM.
    rdt_leave(&env, &p, "alice", gw->id, 1);
    reply = rdt_gw_call(gw, p.instance, &env);
    cr_expect_eq(reply->leave_reply->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&reply);
    rdt_leave(&env, &p, "alice", gw->id, 1);
    reply = rdt_gw_call(gw, p.instance, &env);
    cr_expect_eq(reply->leave_reply->status, CHAT__STATUS__STATUS_NOT_IN_ROOM);
    chat_envelope_free(&reply);
    int64_t deadline = chat_mono_ms() + RDT_DEADLINE_MS;
    bool left = false;
    while (!left && chat_mono_ms() < deadline) {
        event = rdt_gw_event(gw, 1000, true);
        left = event && event->room_event->left_user_id &&
               strcmp(event->room_event->left_user_id, "alice") == 0;
        if (left)
            cr_expect_str_eq(event->room_event->message->content, "alice left the room");
        chat_envelope_free(&event);
    }
    cr_expect(left, "no leave event");
    rdt_gw_destroy(&gw);
}

//  One scripted gateway per sender, each pipelining its sends.
#define SENDERS 4
#define PER_SENDER 300

Test(roomd_flow, concurrent_senders_get_consecutive_seqs_and_ordered_events)
{
    rdt_place_t p;
    rdt_lookup(&s_cluster, "random", &p);
    rdt_gw_t *watcher = rdt_gw_new("gw-watch");
    rdt_gw_subscribe(watcher, &p);
    rdt_gw_t *gws[SENDERS];
    char user[SENDERS][16];
    uint64_t start = 0;
    for (int i = 0; i < SENDERS; i++) {
        char id[32];
        snprintf(id, sizeof id, "gw-send-%d", i);
        snprintf(user[i], sizeof user[i], "user%d", i);
        gws[i] = rdt_gw_new(id);
        rdt_gw_connect(gws[i], &p);
        start = rdt_gw_join(gws[i], &p, user[i], 1) + 1;
    }
    uint64_t first = start + 1; //  the last join line took start
    static uint8_t acked[SENDERS * PER_SENDER + 64];
    memset(acked, 0, sizeof acked);
    int sent[SENDERS] = {0}, got[SENDERS] = {0};
    int64_t deadline = chat_mono_ms() + 60000;
    int total = 0;
    while (total < SENDERS * PER_SENDER) {
        cr_assert_lt(chat_mono_ms(), deadline, "acks missing: %d of %d", total,
                     SENDERS * PER_SENDER);
        for (int i = 0; i < SENDERS; i++) {
            //  Keep up to 50 sends in flight per gateway.
            while (sent[i] < PER_SENDER && sent[i] - got[i] < 50) {
                char text[128], cid[128];
                snprintf(text, sizeof text, "%s says %d", user[i], sent[i]);
                snprintf(cid, sizeof cid, "%s:%d", gws[i]->id, sent[i]);
                Chat__Envelope env;
                rdt_send(&env, &p, user[i], gws[i]->id, 1, text, cid);
                rdt_gw_send(gws[i], p.instance, &env);
                sent[i]++;
            }
            Chat__Envelope *reply;
            while ((reply = rdt_gw_recv(gws[i], 1)) != NULL) {
                cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_SEND_REPLY);
                cr_assert_eq(reply->send_reply->status, CHAT__STATUS__STATUS_OK);
                uint64_t seq = reply->send_reply->seq;
                cr_assert(seq >= first && seq < first + SENDERS * PER_SENDER,
                          "seq %llu out of range", (unsigned long long)seq);
                cr_assert_eq(acked[seq - first], 0, "seq %llu acked twice",
                             (unsigned long long)seq);
                acked[seq - first] = 1;
                got[i]++;
                total++;
                chat_envelope_free(&reply);
            }
        }
    }
    //  Every seq of the range was acked once: no gap, no duplicate.
    for (int k = 0; k < SENDERS * PER_SENDER; k++)
        cr_assert_eq(acked[k], 1, "seq %llu never acked", (unsigned long long)(first + k));

    //  The watcher saw every event once, in order.
    uint64_t expect = first - SENDERS; //  the join lines come first
    while (expect < first + SENDERS * PER_SENDER) {
        Chat__Envelope *event = rdt_gw_event(watcher, RDT_DEADLINE_MS, true);
        cr_assert_not_null(event, "event %llu missing", (unsigned long long)expect);
        cr_assert_eq(event->room_event->seq, expect, "expected the event of seq %llu, got %llu",
                     (unsigned long long)expect, (unsigned long long)event->room_event->seq);
        chat_envelope_free(&event);
        expect++;
    }
    static uint64_t seqs[SENDERS * PER_SENDER + 64];
    size_t n = rdt_gw_history(watcher, &p, 0, seqs, sizeof seqs / sizeof seqs[0]);
    cr_expect_eq(n, SENDERS * PER_SENDER + SENDERS);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(seqs[k], k + 1);
    for (int i = 0; i < SENDERS; i++)
        rdt_gw_destroy(&gws[i]);
    rdt_gw_destroy(&watcher);
}

//  Runs chatctl against the cluster's registry; returns its exit code, its
//  output (stdout and stderr) in out. Answers may take long on a busy
//  machine: 20 s unless args say otherwise (a later --timeout-ms wins).
static int s_chatctl(const char *args, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "CHAT_REGISTRY=%s %s/chatctl --timeout-ms %d %s 2>&1",
             chat_tcp(s_cluster.port), CHAT_BIN_DIR, RDT_DEADLINE_MS, args);
    FILE *pipe = popen(cmd, "r");
    cr_assert_not_null(pipe);
    size_t n = fread(out, 1, size - 1, pipe);
    out[n] = '\0';
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(roomd_flow, chatctl_probe_tells_a_serving_roomd_from_a_silent_port)
{
    static char out[16384];
    char args[256];
    snprintf(args, sizeof args, "probe %s", chat_tcp(s_cluster.roomd[0].port));
    cr_assert_eq(s_chatctl(args, out, sizeof out), 0, "probe of a live roomd: %s", out);
    cr_expect(strstr(out, "serves requests"), "%s", out);
    snprintf(args, sizeof args, "--timeout-ms 300 probe %s", chat_tcp(chat_free_port()));
    cr_expect_eq(s_chatctl(args, out, sizeof out), 3, "a port nobody serves");
    cr_expect_eq(s_chatctl("probe", out, sizeof out), 2, "usage");
}

Test(roomd_flow, chatctl_reads_a_rooms_history_from_its_roomd)
{
    rdt_place_t p;
    rdt_lookup(&s_cluster, "tech", &p);
    rdt_gw_t *gw = rdt_gw_new("gw-ctl");
    rdt_gw_connect(gw, &p);
    rdt_gw_join(gw, &p, "carol", 1);
    rdt_gw_say(gw, &p, "carol", 1, "visible to chatctl", "gw-ctl:1");
    static char out[16384];
    cr_assert_eq(s_chatctl("--json history tech", out, sizeof out), 0, "chatctl failed: %s", out);
    cr_expect(strstr(out, "\"visible to chatctl\""), "history without the message: %s", out);
    cr_expect(strstr(out, "carol joined the room"), "history without the join line: %s", out);
    cr_assert_eq(s_chatctl("history tech", out, sizeof out), 0);
    cr_expect(strstr(out, "visible to chatctl"), "table without the message: %s", out);
    rdt_gw_destroy(&gw);
}
