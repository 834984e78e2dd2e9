/*  roomd against bad input and time: fencing, dedup, garbage, session
 *  expiry, passivation. Each test starts its own cluster with its flags. */
#include "chat_clock.h"
#include "rd_cluster.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rdt_cluster_t s_cluster;
static bool s_started;

static void s_start(int count, const char *const *extra)
{
    rdt_cluster_start(&s_cluster, count, extra);
    s_started = true;
}

static void s_teardown(void)
{
    if (s_started)
        rdt_cluster_stop(&s_cluster);
    s_started = false;
}

TestSuite(roomd_robust, .fini = s_teardown, .timeout = 120);

static Chat__Status s_send_status(rdt_gw_t *gw, const rdt_place_t *target, const char *instance,
                                  uint64_t *epoch)
{
    Chat__Envelope env;
    rdt_send(&env, target, "alice", gw->id, 1, "hi", NULL);
    Chat__Envelope *reply = rdt_gw_call(gw, instance, &env);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_SEND_REPLY);
    Chat__Status status = reply->send_reply->status;
    if (epoch)
        *epoch = reply->send_reply->epoch;
    chat_envelope_free(&reply);
    return status;
}

Test(roomd_robust, a_stale_or_foreign_grant_is_refused_with_not_owner)
{
    s_start(1, NULL);
    rdt_place_t p;
    rdt_lookup(&s_cluster, "general", &p);
    rdt_gw_t *gw = rdt_gw_new("gw-fence");
    rdt_gw_connect(gw, &p);
    rdt_gw_join(gw, &p, "alice", 1);

    rdt_place_t stale = p;
    stale.epoch = p.epoch - 1;
    uint64_t epoch = 0;
    cr_expect_eq(s_send_status(gw, &stale, p.instance, &epoch), CHAT__STATUS__STATUS_NOT_OWNER);
    cr_expect_eq(epoch, p.epoch, "NOT_OWNER must carry the current epoch");
    stale.epoch = p.epoch + 1;
    cr_expect_eq(s_send_status(gw, &stale, p.instance, NULL), CHAT__STATUS__STATUS_NOT_OWNER);
    stale.epoch = 0;
    cr_expect_eq(s_send_status(gw, &stale, p.instance, NULL), CHAT__STATUS__STATUS_NOT_OWNER,
                 "a write with epoch 0 was accepted");
    rdt_place_t foreign = p;
    snprintf(foreign.instance, sizeof foreign.instance, "%s/999", p.node);
    cr_expect_eq(s_send_status(gw, &foreign, p.instance, NULL), CHAT__STATUS__STATUS_NOT_OWNER);
    rdt_place_t unknown = p;
    snprintf(unknown.room, sizeof unknown.room, "no-such-room");
    cr_expect_eq(s_send_status(gw, &unknown, p.instance, NULL), CHAT__STATUS__STATUS_NOT_OWNER);
    cr_expect_eq(s_send_status(gw, &p, p.instance, NULL), CHAT__STATUS__STATUS_OK);

    //  Reads accept epoch 0 (rdt_history_after sends it).
    uint64_t seqs[4];
    cr_expect_eq(rdt_gw_history(gw, &p, 0, seqs, 4), 2);
    rdt_gw_destroy(&gw);
}

Test(roomd_robust, a_resend_with_the_same_client_msg_id_is_not_doubled)
{
    s_start(1, NULL);
    rdt_place_t p;
    rdt_lookup(&s_cluster, "tech", &p);
    rdt_gw_t *gw = rdt_gw_new("gw-dedup");
    rdt_gw_connect(gw, &p);
    rdt_gw_join(gw, &p, "alice", 1);
    uint64_t first = rdt_gw_say(gw, &p, "alice", 1, "only once", "gw-dedup:1:42");
    //  Two resends pipelined behind a new message: same seq, nothing written.
    Chat__Envelope env;
    rdt_send(&env, &p, "alice", gw->id, 1, "only once", "gw-dedup:1:42");
    uint64_t r1 = rdt_gw_send(gw, p.instance, &env);
    rdt_send(&env, &p, "alice", gw->id, 1, "new", "gw-dedup:1:43");
    rdt_gw_send(gw, p.instance, &env);
    rdt_send(&env, &p, "alice", gw->id, 1, "new", "gw-dedup:1:43");
    uint64_t r3 = rdt_gw_send(gw, p.instance, &env);
    uint64_t seq_of[4] = {0};
    for (int i = 0; i < 3; i++) {
        Chat__Envelope *reply = rdt_gw_recv(gw, 10000);
        cr_assert_not_null(reply);
        cr_assert_eq(reply->send_reply->status, CHAT__STATUS__STATUS_OK);
        seq_of[reply->req_id - r1] = reply->send_reply->seq;
        chat_envelope_free(&reply);
    }
    cr_expect_eq(seq_of[0], first);
    cr_expect_eq(seq_of[1], first + 1);
    cr_expect_eq(seq_of[r3 - r1], first + 1, "a resend in the same batch took a new seq");
    uint64_t seqs[8];
    cr_expect_eq(rdt_gw_history(gw, &p, 0, seqs, 8), 3, "join line + 2 messages");
    rdt_gw_destroy(&gw);
}

//  Sends raw frames on a socket: parts of the given sizes filled with random bytes.
static void s_garbage(zsock_t *sock, const char *peer, int parts)
{
    zmsg_t *msg = zmsg_new();
    if (peer)
        zmsg_addstr(msg, peer);
    for (int i = 0; i < parts; i++) {
        size_t size = (size_t)(rand() % 64);
        uint8_t bytes[64];
        for (size_t k = 0; k < size; k++)
            bytes[k] = (uint8_t)rand();
        zmsg_addmem(msg, bytes, size);
    }
    zmsg_send(&msg, sock);
}

//  A request envelope of the given body with its fields left empty.
static void s_send_empty(zsock_t *sock, const char *peer, Chat__Envelope__BodyCase body,
                         uint64_t req_id)
{
    Chat__JoinRequest join = CHAT__JOIN_REQUEST__INIT;
    Chat__LeaveRequest leave = CHAT__LEAVE_REQUEST__INIT;
    Chat__SendRequest send = CHAT__SEND_REQUEST__INIT;
    Chat__HistoryRequest history = CHAT__HISTORY_REQUEST__INIT;
    Chat__RoomStateRequest state = CHAT__ROOM_STATE_REQUEST__INIT;
    Chat__GatewayHeartbeat hb = CHAT__GATEWAY_HEARTBEAT__INIT;
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    Chat__RoomEvent event = CHAT__ROOM_EVENT__INIT;
    Chat__AssignRequest assign = CHAT__ASSIGN_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = body;
    switch (body) {
    case CHAT__ENVELOPE__BODY_JOIN:
        env.join = &join;
        break;
    case CHAT__ENVELOPE__BODY_LEAVE:
        env.leave = &leave;
        break;
    case CHAT__ENVELOPE__BODY_SEND:
        env.send = &send;
        break;
    case CHAT__ENVELOPE__BODY_HISTORY:
        env.history = &history;
        break;
    case CHAT__ENVELOPE__BODY_ROOM_STATE:
        env.room_state = &state;
        break;
    case CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT:
        env.gateway_heartbeat = &hb;
        break;
    case CHAT__ENVELOPE__BODY_LOOKUP:
        env.lookup = &lookup;
        break;
    case CHAT__ENVELOPE__BODY_ROOM_EVENT:
        env.room_event = &event;
        break;
    case CHAT__ENVELOPE__BODY_ASSIGN:
        env.assign = &assign;
        break;
    default:
        cr_assert_fail("no such body in this test");
        break;
    }
    chat_peer_t p;
    chat_peer_set(&p, peer ? peer : "");
    cr_assert_eq(chat_wire_send(sock, peer ? &p : NULL, &env), 0);
}

static const Chat__Envelope__BodyCase s_bodies[] = {
    CHAT__ENVELOPE__BODY_JOIN,       CHAT__ENVELOPE__BODY_LEAVE,
    CHAT__ENVELOPE__BODY_SEND,       CHAT__ENVELOPE__BODY_HISTORY,
    CHAT__ENVELOPE__BODY_ROOM_STATE, CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT,
    CHAT__ENVELOPE__BODY_LOOKUP,     CHAT__ENVELOPE__BODY_ROOM_EVENT,
    CHAT__ENVELOPE__BODY_ASSIGN,
};
#define BODIES (sizeof s_bodies / sizeof s_bodies[0])

//  True when a reply to a malformed request says BAD_REQUEST (typed or ErrorReply).
static bool s_is_bad_request(const Chat__Envelope *reply)
{
    switch (reply->body_case) {
    case CHAT__ENVELOPE__BODY_ERROR:
        return reply->error->status == CHAT__STATUS__STATUS_BAD_REQUEST;
    case CHAT__ENVELOPE__BODY_JOIN_REPLY:
        return reply->join_reply->status == CHAT__STATUS__STATUS_BAD_REQUEST;
    case CHAT__ENVELOPE__BODY_LEAVE_REPLY:
        return reply->leave_reply->status == CHAT__STATUS__STATUS_BAD_REQUEST;
    case CHAT__ENVELOPE__BODY_SEND_REPLY:
        return reply->send_reply->status == CHAT__STATUS__STATUS_BAD_REQUEST;
    case CHAT__ENVELOPE__BODY_HISTORY_REPLY:
        return reply->history_reply->status == CHAT__STATUS__STATUS_BAD_REQUEST;
    case CHAT__ENVELOPE__BODY_ROOM_STATE_REPLY:
        return reply->room_state_reply->status == CHAT__STATUS__STATUS_BAD_REQUEST;
    default:
        return false;
    }
}

Test(roomd_robust, garbage_frames_leave_every_process_alive_and_answering)
{
    s_start(2, NULL);
    srand(7);
    rdt_place_t p;
    rdt_lookup(&s_cluster, "general", &p);
    rdt_gw_t *gw = rdt_gw_new("gw-garbage");
    rdt_gw_connect(gw, &p);
    rdt_gw_join(gw, &p, "alice", 1); //  also makes sure the ROUTER has a route

    //  Through the gateway ROUTER, addressed to the instance.
    for (int i = 0; i < 200; i++)
        s_garbage(gw->router, p.instance, 1 + i % 4);
    //  Through a DEALER (as chatctl): random bytes, wrong frame counts, empty frames.
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    chat_wire_tune(dealer);
    cr_assert_eq(zsock_connect(dealer, "%s", p.cmd), 0);
    for (int i = 0; i < 200; i++)
        s_garbage(dealer, NULL, i % 5);
    //  Valid envelopes with missing fields or bodies roomd does not serve: each is answered.
    for (size_t i = 0; i < BODIES; i++)
        s_send_empty(dealer, NULL, s_bodies[i], 1000 + i);
    s_send_empty(dealer, NULL, CHAT__ENVELOPE__BODY_SEND, 0); //  no req_id
    size_t answered = 0;
    zpoller_t *poller = zpoller_new(dealer, NULL);
    int64_t deadline = chat_mono_ms() + 10000;
    while (answered < BODIES + 1 && chat_mono_ms() < deadline) {
        if (!zpoller_wait(poller, 500))
            continue;
        Chat__Envelope *reply = NULL;
        if (chat_wire_recv(dealer, NULL, &reply) != CHAT_WIRE_GOT)
            continue;
        cr_expect(s_is_bad_request(reply), "request %llu got body %d, not BAD_REQUEST",
                  (unsigned long long)reply->req_id, reply->body_case);
        answered++;
        chat_envelope_free(&reply);
    }
    zpoller_destroy(&poller);
    cr_expect_eq(answered, BODIES + 1, "malformed requests went unanswered");

    //  The registry gets the same treatment.
    zsock_t *reg = zsock_new(ZMQ_DEALER);
    chat_wire_tune(reg);
    cr_assert_eq(zsock_connect(reg, "%s", chat_tcp(s_cluster.port)), 0);
    for (int i = 0; i < 200; i++)
        s_garbage(reg, NULL, i % 5);
    for (size_t i = 0; i < BODIES; i++)
        s_send_empty(reg, NULL, s_bodies[i], 2000 + i);
    size_t refused = 0;
    poller = zpoller_new(reg, NULL);
    deadline = chat_mono_ms() + 10000;
    while (refused < BODIES && chat_mono_ms() < deadline) {
        if (!zpoller_wait(poller, 500))
            continue;
        Chat__Envelope *reply = NULL;
        if (chat_wire_recv(reg, NULL, &reply) != CHAT_WIRE_GOT)
            continue;
        cr_expect_eq(reply->body_case, CHAT__ENVELOPE__BODY_ERROR,
                     "the registry answered request %llu with body %d",
                     (unsigned long long)reply->req_id, reply->body_case);
        refused++;
        chat_envelope_free(&reply);
    }
    zpoller_destroy(&poller);
    cr_expect_eq(refused, BODIES, "the registry left malformed requests unanswered");

    //  Everyone is alive and serves real requests.
    uint64_t seq = rdt_gw_say(gw, &p, "alice", 1, "still here", NULL);
    cr_expect_eq(seq, 2);
    rdt_place_t again;
    rdt_lookup(&s_cluster, "general", &again);
    cr_expect_str_eq(again.instance, p.instance);
    cr_expect(chat_proc_alive(s_cluster.registry));
    for (int i = 0; i < 2; i++)
        cr_expect(chat_proc_alive(s_cluster.roomd[i].proc), "%s died", s_cluster.roomd[i].node);
    //  The roomd counted what it dropped (reported in its heartbeat stats).
    Chat__NodeStats stats = CHAT__NODE_STATS__INIT;
    deadline = chat_mono_ms() + 10000;
    while (chat_mono_ms() < deadline &&
           !(rdt_node_stats(&s_cluster, p.node, &stats) && stats.bad_frames >= 300))
        chat_sleep_ms(100);
    cr_expect_geq(stats.bad_frames, 300, "bad frames not counted: %llu",
                  (unsigned long long)stats.bad_frames);
    zsock_destroy(&reg);
    zsock_destroy(&dealer);
    rdt_gw_destroy(&gw);
}

//  Sends a GatewayHeartbeat from gw to instance; returns the sessions the roomd holds.
static uint32_t s_heartbeat(rdt_gw_t *gw, const char *instance)
{
    Chat__GatewayHeartbeat hb = CHAT__GATEWAY_HEARTBEAT__INIT;
    hb.gateway = gw->id;
    hb.sessions = 1;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT;
    env.gateway_heartbeat = &hb;
    Chat__Envelope *reply = rdt_gw_call(gw, instance, &env);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT_REPLY);
    cr_expect_str_eq(reply->gateway_heartbeat_reply->instance, instance);
    uint32_t sessions = reply->gateway_heartbeat_reply->sessions;
    chat_envelope_free(&reply);
    return sessions;
}

Test(roomd_robust, sessions_of_a_silent_gateway_leave_with_leave_lines)
{
    const char *extra[] = {"--session-lease-ms", "2500", NULL};
    s_start(1, extra);
    rdt_place_t p;
    rdt_lookup(&s_cluster, "general", &p);
    rdt_gw_t *quiet = rdt_gw_new("gw-quiet");
    rdt_gw_t *alive = rdt_gw_new("gw-alive");
    rdt_gw_subscribe(alive, &p);
    rdt_gw_connect(quiet, &p);
    rdt_gw_join(quiet, &p, "alice", 1);
    rdt_gw_join(quiet, &p, "carol", 2);
    rdt_gw_join(alive, &p, "bob", 1);
    rdt_gw_join(alive, &p, "carol", 3); //  carol is on both gateways
    cr_expect_eq(s_heartbeat(quiet, p.instance), 2);
    cr_expect_eq(s_heartbeat(alive, p.instance), 2);

    //  gw-alive keeps beating; gw-quiet falls silent. Alice must leave, carol stays.
    bool alice_left = false;
    int64_t deadline = chat_mono_ms() + 15000;
    int64_t next_beat = 0;
    while (!alice_left && chat_mono_ms() < deadline) {
        if (chat_mono_ms() >= next_beat) {
            s_heartbeat(alive, p.instance);
            next_beat = chat_mono_ms() + 300;
        }
        Chat__Envelope *event = rdt_gw_event(alive, 100, true);
        if (event && *event->room_event->left_user_id) {
            cr_expect_str_eq(event->room_event->left_user_id, "alice", "the wrong user left");
            cr_expect_str_eq(event->room_event->message->content, "alice left the room");
            alice_left = strcmp(event->room_event->left_user_id, "alice") == 0;
        }
        chat_envelope_free(&event);
    }
    cr_assert(alice_left, "the silent gateway's session never expired");
    cr_expect_eq(s_heartbeat(alive, p.instance), 2, "the live gateway lost sessions");
    cr_expect_eq(s_heartbeat(quiet, p.instance), 0, "the roomd still counts expired sessions");

    Chat__RoomsInfoRequest req = CHAT__ROOMS_INFO_REQUEST__INIT;
    char *ids[] = {"general"};
    req.room_ids = ids;
    req.n_room_ids = 1;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO;
    env.rooms_info = &req;
    Chat__Envelope *reply = rdt_gw_call(alive, p.instance, &env);
    cr_assert_eq(reply->rooms_info_reply->n_rooms, 1);
    Chat__RoomInfo *info = reply->rooms_info_reply->rooms[0];
    cr_expect_eq(info->n_users, 2, "bob and carol remain");
    for (size_t i = 0; i < info->n_users; i++)
        cr_expect_str_neq(info->users[i]->id, "alice");
    chat_envelope_free(&reply);
    rdt_gw_destroy(&quiet);
    rdt_gw_destroy(&alive);
}

static uint32_t s_active_rooms(const char *node)
{
    Chat__NodeStats stats;
    cr_assert(rdt_node_stats(&s_cluster, node, &stats));
    return stats.rooms_active;
}

static void s_wait_active(const char *node, uint32_t want)
{
    int64_t deadline = chat_mono_ms() + 15000;
    while (s_active_rooms(node) != want) {
        cr_assert_lt(chat_mono_ms(), deadline, "%s never had %u rooms in memory", node, want);
        chat_sleep_ms(100);
    }
}

Test(roomd_robust, an_idle_room_leaves_memory_and_comes_back_intact)
{
    const char *extra[] = {"--idle-ms", "600", NULL};
    s_start(1, extra);
    rdt_place_t p;
    rdt_lookup(&s_cluster, "random", &p);
    rdt_gw_t *gw = rdt_gw_new("gw-idle");
    rdt_gw_connect(gw, &p);
    rdt_gw_join(gw, &p, "alice", 1);
    rdt_gw_say(gw, &p, "alice", 1, "one", "gw-idle:1");
    rdt_gw_say(gw, &p, "alice", 1, "two", "gw-idle:2");
    s_wait_active(p.node, 1);
    chat_sleep_ms(1000);
    cr_expect_eq(s_active_rooms(p.node), 1, "a room with a member left memory");

    Chat__Envelope env;
    rdt_leave(&env, &p, "alice", gw->id, 1);
    Chat__Envelope *reply = rdt_gw_call(gw, p.instance, &env);
    cr_assert_eq(reply->leave_reply->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&reply);
    s_wait_active(p.node, 0);

    //  RoomsInfo answers from disk without loading the room.
    Chat__RoomsInfoRequest req = CHAT__ROOMS_INFO_REQUEST__INIT;
    char *ids[] = {"random"};
    req.room_ids = ids;
    req.n_room_ids = 1;
    chat__envelope__init(&env);
    env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO;
    env.rooms_info = &req;
    reply = rdt_gw_call(gw, p.instance, &env);
    cr_assert_eq(reply->rooms_info_reply->n_rooms, 1);
    cr_expect_eq(reply->rooms_info_reply->rooms[0]->last_seq, 4);
    cr_expect_eq(reply->rooms_info_reply->rooms[0]->n_users, 0);
    cr_expect_str_eq(reply->rooms_info_reply->rooms[0]->description, "Random chat");
    chat_envelope_free(&reply);
    chat_sleep_ms(600); //  a few heartbeats
    cr_expect_eq(s_active_rooms(p.node), 0, "RoomsInfo loaded the room");

    //  The next request loads it: history intact, dedup intact, seq continues.
    uint64_t seqs[8];
    cr_expect_eq(rdt_gw_history(gw, &p, 0, seqs, 8), 4);
    rdt_gw_join(gw, &p, "alice", 1);
    cr_expect_eq(rdt_gw_say(gw, &p, "alice", 1, "two", "gw-idle:2"), 3, "dedup lost on reload");
    cr_expect_eq(rdt_gw_say(gw, &p, "alice", 1, "three", "gw-idle:3"), 6);
    s_wait_active(p.node, 1);
    rdt_gw_destroy(&gw);
}
