/*  The gateway against a scripted registry and roomd (ZeroMQ sockets in
 *  this test): what a real cluster rarely shows on demand — events out of
 *  order, duplicated or lost, replies that never come, NOT_OWNER, a roomd
 *  that forgot its sessions, a join reply that loses the race with events. */
#include "chat_clock.h"
#include "chat_test.h"
#include "chat_wire.h"
#include "chat_ws_client.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_INSTANCE "fake/1"
#define S_MESSAGES 64

//  What the scripted cluster does and saw; guarded by lock.
typedef struct {
    pthread_mutex_t lock;       //  guards everything below
    int reg_port, reg_pub_port; //  registry ROUTER, PUB
    int rd_port, rd_pub_port;   //  roomd ROUTER, PUB
    volatile bool stop;         //  ends the thread
    int lookups;                //  LookupRequests seen
    int snapshots;              //  ListRoomsRequests seen (snapshot re-reads)
    int sends;                  //  SendRequests seen
    char msg_ids[8][80];        //  their client_msg_ids
    int drop_sends;             //  SendRequests to leave unanswered
    int not_owner_sends;        //  SendRequests to answer NOT_OWNER
    uint64_t cursor;            //  JoinReply.cursor
    int joins;                  //  JoinRequests seen (not quiet)
    int quiet_joins;            //  quiet JoinRequests seen
    int heartbeats;             //  GatewayHeartbeats seen
    bool forget_sessions;       //  answer heartbeats with 0 sessions
    bool join_without_room;     //  JoinReply OK but without its room
    int join_line_before_reply; //  publish this seq before answering a join (0 = none)
    uint64_t next_seq;          //  seq of the next send
    uint64_t stored;            //  history holds seq 1..stored
} s_fake_t;

static s_fake_t F;
static pthread_t s_thread;
static char *s_dir;
static chat_proc_t *s_gw;
static int s_port;
static zsock_t *s_room_pub; //  roomd PUB, used by the test thread only
//  Bound on free ports by the test thread, then used by the fake thread only.
static zsock_t *s_reg, *s_reg_pub, *s_rd;

#define S_JOIN_LINE_SEQ 6 //  the stored line of bob's join

//  The stored message seq of room "general".
static void s_message(Chat__ChatMessage *m, uint64_t seq, char *content, size_t cap)
{
    static Chat__User bob = {PROTOBUF_C_MESSAGE_INIT(&chat__user__descriptor), "bob", "Bob"};
    snprintf(content, cap, "m%llu", (unsigned long long)seq);
    chat__chat_message__init(m);
    m->seq = seq;
    m->room_id = "general";
    m->user_id = "alice";
    m->user_name = "Alice";
    m->content = content;
    m->timestamp = 1764370000000 + (int64_t)seq;
    if (seq == S_JOIN_LINE_SEQ) {
        m->user_id = "system";
        m->user_name = "System";
        snprintf(content, cap, "Bob joined the room");
        m->type = CHAT__MESSAGE_TYPE__MESSAGE_JOIN;
        m->subject = &bob;
    }
}

static void s_publish_on(zsock_t *pub, uint64_t seq, bool tick)
{
    Chat__ChatMessage m;
    char content[32];
    s_message(&m, seq, content, sizeof content);
    Chat__RoomEvent ev = CHAT__ROOM_EVENT__INIT;
    ev.room_id = "general";
    ev.epoch = 1;
    ev.seq = seq;
    ev.tick = tick;
    if (!tick)
        ev.message = &m;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_ROOM_EVENT;
    env.room_event = &ev;
    chat_peer_t topic;
    chat_peer_set(&topic, "general");
    cr_assert_eq(chat_wire_send(pub, &topic, &env), 0);
}

static void s_placement(Chat__Placement *p, const char *room, char *cmd, char *pub)
{
    chat__placement__init(p);
    p->room_id = (char *)room;
    p->node = "fake";
    p->instance = S_INSTANCE;
    sprintf(cmd, "tcp://127.0.0.1:%d", F.rd_port);
    sprintf(pub, "tcp://127.0.0.1:%d", F.rd_pub_port);
    p->cmd_endpoint = cmd;
    p->pub_endpoint = pub;
    p->epoch = 1;
}

static void s_registry_request(zsock_t *router, const chat_peer_t *peer, Chat__Envelope *env)
{
    Chat__Envelope out = CHAT__ENVELOPE__INIT;
    out.req_id = env->req_id;
    char cmd[64], pub[64];
    Chat__Placement placement;
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    info.id = "general";
    info.name = "general";
    info.description = "General discussion";
    Chat__LookupReply lookup = CHAT__LOOKUP_REPLY__INIT;
    Chat__CatalogEntry entry = CHAT__CATALOG_ENTRY__INIT;
    Chat__CatalogEntry *entries[] = {&entry};
    Chat__ListRoomsReply list = CHAT__LIST_ROOMS_REPLY__INIT;
    if (env->body_case == CHAT__ENVELOPE__BODY_LOOKUP) {
        pthread_mutex_lock(&F.lock);
        F.lookups++;
        pthread_mutex_unlock(&F.lock);
        const char *room = env->lookup->room_id;
        if (strcmp(room, "general") == 0) {
            s_placement(&placement, room, cmd, pub);
            lookup.placement = &placement;
            lookup.room = &info;
        } else {
            lookup.status = strcmp(room, "down") == 0 ? CHAT__STATUS__STATUS_UNAVAILABLE
                                                      : CHAT__STATUS__STATUS_NOT_FOUND;
        }
        out.body_case = CHAT__ENVELOPE__BODY_LOOKUP_REPLY;
        out.lookup_reply = &lookup;
    } else if (env->body_case == CHAT__ENVELOPE__BODY_LIST_ROOMS) {
        pthread_mutex_lock(&F.lock);
        F.snapshots++;
        pthread_mutex_unlock(&F.lock);
        s_placement(&placement, "general", cmd, pub);
        entry.room = &info;
        entry.placement = &placement;
        entry.live = true;
        list.rooms = entries;
        list.n_rooms = 1;
        out.body_case = CHAT__ENVELOPE__BODY_LIST_ROOMS_REPLY;
        out.list_rooms_reply = &list;
    } else {
        return;
    }
    chat_wire_send(router, peer, &out);
}

static void s_roomd_request(zsock_t *router, zsock_t *pub, const chat_peer_t *peer,
                            Chat__Envelope *env)
{
    Chat__Envelope out = CHAT__ENVELOPE__INIT;
    out.req_id = env->req_id;
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    info.id = "general";
    info.name = "general";
    Chat__JoinReply join = CHAT__JOIN_REPLY__INIT;
    Chat__SendReply send = CHAT__SEND_REPLY__INIT;
    Chat__HistoryReply history = CHAT__HISTORY_REPLY__INIT;
    Chat__GatewayHeartbeatReply hb = CHAT__GATEWAY_HEARTBEAT_REPLY__INIT;
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    Chat__ChatMessage msgs[S_MESSAGES];
    Chat__ChatMessage *ptrs[S_MESSAGES];
    char contents[S_MESSAGES][32];
    pthread_mutex_lock(&F.lock);
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_JOIN:
        if (env->join->quiet)
            F.quiet_joins++;
        else
            F.joins++;
        if (F.join_line_before_reply && !env->join->quiet) {
            //  The join's own line overtakes the reply.
            s_publish_on(pub, (uint64_t)F.join_line_before_reply, false);
            F.join_line_before_reply = 0;
            zclock_sleep(200);
        }
        join.room = F.join_without_room ? NULL : &info;
        join.cursor = F.cursor;
        join.epoch = 1;
        out.body_case = CHAT__ENVELOPE__BODY_JOIN_REPLY;
        out.join_reply = &join;
        break;
    case CHAT__ENVELOPE__BODY_SEND:
        if (F.sends < 8)
            snprintf(F.msg_ids[F.sends], sizeof F.msg_ids[0], "%s", env->send->client_msg_id);
        F.sends++;
        if (F.drop_sends > 0) {
            F.drop_sends--;
            pthread_mutex_unlock(&F.lock);
            return;
        }
        if (F.not_owner_sends > 0) {
            F.not_owner_sends--;
            send.status = CHAT__STATUS__STATUS_NOT_OWNER;
        } else {
            send.seq = F.next_seq++;
        }
        out.body_case = CHAT__ENVELOPE__BODY_SEND_REPLY;
        out.send_reply = &send;
        break;
    case CHAT__ENVELOPE__BODY_HISTORY: {
        uint64_t after = env->history->after;
        size_t n = 0;
        for (uint64_t seq = after + 1; seq <= F.stored && n < 5; seq++) {
            s_message(&msgs[n], seq, contents[n], sizeof contents[n]);
            ptrs[n] = &msgs[n];
            n++;
        }
        history.messages = ptrs;
        history.n_messages = n;
        history.has_more = after + n < F.stored;
        out.body_case = CHAT__ENVELOPE__BODY_HISTORY_REPLY;
        out.history_reply = &history;
        break;
    }
    case CHAT__ENVELOPE__BODY_ROOM_STATE:
        //  As if the gateway had sent something malformed.
        error.status = CHAT__STATUS__STATUS_BAD_REQUEST;
        error.message = "bad request";
        out.body_case = CHAT__ENVELOPE__BODY_ERROR;
        out.error = &error;
        break;
    case CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT:
        F.heartbeats++;
        hb.instance = S_INSTANCE;
        hb.sessions = F.forget_sessions ? 0 : env->gateway_heartbeat->sessions;
        out.body_case = CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT_REPLY;
        out.gateway_heartbeat_reply = &hb;
        break;
    default:
        pthread_mutex_unlock(&F.lock);
        return;
    }
    pthread_mutex_unlock(&F.lock);
    chat_wire_send(router, peer, &out);
}

//  The scripted registry and roomd command side, until F.stop.
static void *s_fake_thread(void *arg)
{
    zsock_t *reg = s_reg, *reg_pub = s_reg_pub, *rd = s_rd;
    zpoller_t *poller = zpoller_new(reg, rd, NULL);
    uint64_t seq = 0;
    int64_t next_beat = 0;
    while (!F.stop) {
        zsock_t *which = zpoller_wait(poller, 50);
        if (zclock_mono() >= next_beat) {
            next_beat = zclock_mono() + 200;
            Chat__RegistryEvent ev = CHAT__REGISTRY_EVENT__INIT;
            ev.boot = 1;
            ev.seq = ++seq;
            ev.kind_case = CHAT__REGISTRY_EVENT__KIND_HEARTBEAT;
            ev.heartbeat = true;
            Chat__Envelope env = CHAT__ENVELOPE__INIT;
            env.body_case = CHAT__ENVELOPE__BODY_REGISTRY_EVENT;
            env.registry_event = &ev;
            chat_peer_t topic;
            chat_peer_set(&topic, "registry");
            chat_wire_send(reg_pub, &topic, &env);
        }
        if (!which)
            continue;
        chat_peer_t peer;
        Chat__Envelope *env = NULL;
        while (chat_wire_recv(which, &peer, &env) != CHAT_WIRE_EMPTY) {
            if (env) {
                if (which == reg)
                    s_registry_request(reg, &peer, env);
                else
                    s_roomd_request(rd, s_room_pub, &peer, env);
            }
            chat_envelope_free(&env);
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&s_reg);
    zsock_destroy(&s_reg_pub);
    zsock_destroy(&s_rd);
    return NULL;
}

static void s_setup(void)
{
    memset(&F, 0, sizeof F);
    pthread_mutex_init(&F.lock, NULL);
    F.next_seq = 1;
    F.stored = S_MESSAGES - 1;
    //  The fakes bind free ports (*) before the gateway starts: nothing to race.
    s_reg = zsock_new(ZMQ_ROUTER);
    s_reg_pub = zsock_new(ZMQ_PUB);
    s_rd = zsock_new(ZMQ_ROUTER);
    s_room_pub = zsock_new(ZMQ_PUB);
    cr_assert(s_reg && s_reg_pub && s_rd && s_room_pub);
    chat_wire_tune(s_reg);
    chat_wire_tune(s_reg_pub);
    zsock_set_identity(s_rd, S_INSTANCE);
    chat_wire_tune(s_rd);
    chat_wire_tune(s_room_pub);
    F.reg_port = chat_bind_free(s_reg);
    F.reg_pub_port = chat_bind_free(s_reg_pub);
    F.rd_port = chat_bind_free(s_rd);
    F.rd_pub_port = chat_bind_free(s_room_pub);
    cr_assert(F.reg_port > 0 && F.reg_pub_port > 0 && F.rd_port > 0 && F.rd_pub_port > 0,
              "the fakes could not bind");
    pthread_create(&s_thread, NULL, s_fake_thread, NULL);

    s_dir = chat_temp_dir("gw-fake");
    const char *args[] = {"--port",
                          "0",
                          "--listen",
                          "127.0.0.1",
                          "--registry",
                          chat_tcp(F.reg_port),
                          "--registry-pub",
                          chat_tcp(F.reg_pub_port),
                          "--www",
                          s_dir,
                          "--request-timeout-ms",
                          "300",
                          "--retry-ms",
                          "3000",
                          "--heartbeat-ms",
                          "200",
                          "--rate",
                          "0",
                          "--log-level",
                          "debug",
                          NULL};
    s_gw = chat_proc_start("gateway", args, s_dir, "gateway");
    cr_assert_not_null(s_gw);
    cr_assert(chat_proc_wait_ready(s_gw, 20000), "the gateway did not listen");
    s_port = chat_proc_ready_port(s_gw, "port");
    //  Healthy = it has the fake registry's events; the snapshot its first
    //  event asks for is then under way, not in the middle of a test.
    int64_t deadline = chat_mono_ms() + 20000;
    char body[256] = "";
    int status = 0;
    while ((status = chat_http_get(s_port, "/healthz", body, sizeof body, 5000)) != 200 &&
           chat_mono_ms() < deadline)
        chat_sleep_ms(50);
    cr_assert_eq(status, 200, "expected /healthz 200 within 20 s, got %d: %s", status, body);
}

static void s_teardown(void)
{
    cr_expect(chat_proc_stop_clean(&s_gw), "the gateway did not exit cleanly");
    F.stop = true;
    pthread_join(s_thread, NULL);
    zsock_destroy(&s_room_pub);
    chat_remove_tree(s_dir);
    free(s_dir);
}

TestSuite(fake_cluster, .init = s_setup, .fini = s_teardown, .timeout = 60);

static chat_ws_t *s_login(const char *user)
{
    chat_ws_t *ws = NULL;
    int64_t deadline = chat_mono_ms() + 10000;
    while (!ws && chat_mono_ms() < deadline) {
        ws = chat_ws_login(s_port, user, NULL, 2000);
        if (!ws)
            chat_sleep_ms(50);
    }
    cr_assert_not_null(ws);
    return ws;
}

static void s_join(chat_ws_t *ws)
{
    cJSON *r =
        chat_ws_call(ws, "{\"type\":\"joinRoom\",\"roomId\":\"general\"}", "roomJoined", 10000);
    cr_assert_not_null(r);
    cr_assert_str_eq(chat_json_str(r, "type"), "roomJoined", "%s", chat_json_str(r, "code"));
    cJSON_Delete(r);
}

//  Waits until the gateway's events flow: publishes seq until it arrives.
static void s_expect_seqs(chat_ws_t *ws, uint64_t from, uint64_t to)
{
    for (uint64_t want = from; want <= to; want++) {
        cJSON *m = chat_ws_recv_type(ws, "messageReceived", false, 10000);
        cr_assert_not_null(m, "seq %llu never came", (unsigned long long)want);
        long long seq = chat_json_int(cJSON_GetObjectItem(m, "message"), "seq");
        cr_assert_eq(seq, (long long)want, "got %lld, wanted %llu", seq, (unsigned long long)want);
        cJSON_Delete(m);
    }
}

//  Publishes seq 1 until the client sees it (the subscription takes a moment).
static void s_prime(chat_ws_t *ws)
{
    int64_t deadline = chat_mono_ms() + 10000;
    cJSON *m = NULL;
    while (!m && chat_mono_ms() < deadline) {
        s_publish_on(s_room_pub, 1, false);
        m = chat_ws_recv_type(ws, "messageReceived", false, 200);
    }
    cr_assert_not_null(m, "events never reached the client");
    cr_assert_eq(chat_json_int(cJSON_GetObjectItem(m, "message"), "seq"), 1);
    cJSON_Delete(m);
}

Test(fake_cluster, events_out_of_order_duplicated_or_lost_arrive_in_order_once)
{
    pthread_mutex_lock(&F.lock);
    F.stored = 12;
    pthread_mutex_unlock(&F.lock);
    chat_ws_t *ws = s_login("alice");
    s_join(ws);
    s_prime(ws);
    //  2 and 3 swapped, duplicates, 6 lost, then a tick says 12 exists.
    uint64_t order[] = {1, 3, 2, 2, 5, 4, 4, 7, 1, 8};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        s_publish_on(s_room_pub, order[i], false);
    s_publish_on(s_room_pub, 12, true);
    s_expect_seqs(ws, 2, 12);
    //  And nothing more: no duplicate trails behind.
    cJSON *extra = chat_ws_recv_type(ws, "messageReceived", false, 700);
    cr_expect_null(extra, "a duplicate was delivered");
    cJSON_Delete(extra);
    static char metrics[1 << 16];
    cr_assert_eq(chat_http_get(s_port, "/metrics", metrics, sizeof metrics, 5000), 200);
    unsigned long long gaps = 0, dups = 0, repaired = 0;
    const char *p = strstr(metrics, "\nchat_gateway_gap_repairs_total ");
    cr_assert_not_null(p);
    sscanf(p, "\nchat_gateway_gap_repairs_total %llu", &gaps);
    p = strstr(metrics, "\nchat_gateway_room_event_duplicates_total ");
    cr_assert_not_null(p);
    sscanf(p, "\nchat_gateway_room_event_duplicates_total %llu", &dups);
    p = strstr(metrics, "\nchat_gateway_repaired_messages_total ");
    cr_assert_not_null(p);
    sscanf(p, "\nchat_gateway_repaired_messages_total %llu", &repaired);
    cr_expect_geq(gaps, 1, "the lost 6 and the tail 9..12 were repaired");
    cr_expect_geq(repaired, 5);
    cr_expect_geq(dups, 3);
    chat_ws_destroy(&ws);
}

Test(fake_cluster, a_join_line_repaired_from_history_still_announces_who_joined)
{
    chat_ws_t *ws = s_login("alice");
    s_join(ws);
    s_prime(ws);
    //  2..6 are lost; 7 reveals the gap and 6, bob's join line, comes from history.
    s_publish_on(s_room_pub, S_JOIN_LINE_SEQ + 1, false);
    bool announced = false;
    long long last_seq = 1;
    while (last_seq < S_JOIN_LINE_SEQ + 1) {
        cJSON *frame = chat_ws_recv_json(ws, 10000);
        cr_assert_not_null(frame, "the repair never finished (last seq %lld)", last_seq);
        const char *type = chat_json_str(frame, "type");
        if (strcmp(type, "userJoined") == 0) {
            cr_expect_eq(last_seq, S_JOIN_LINE_SEQ, "userJoined comes right after its line");
            cr_expect_str_eq(chat_json_str(cJSON_GetObjectItem(frame, "user"), "id"), "bob");
            cr_expect_str_eq(chat_json_str(cJSON_GetObjectItem(frame, "user"), "name"), "Bob");
            announced = true;
        } else if (strcmp(type, "messageReceived") == 0) {
            last_seq = chat_json_int(cJSON_GetObjectItem(frame, "message"), "seq");
        }
        cJSON_Delete(frame);
    }
    cr_expect(announced, "the repaired join line came without userJoined");
    chat_ws_destroy(&ws);
}

Test(fake_cluster, a_join_reply_without_its_room_answers_internal)
{
    pthread_mutex_lock(&F.lock);
    F.join_without_room = true;
    pthread_mutex_unlock(&F.lock);
    chat_ws_t *ws = s_login("alice");
    cJSON *r = chat_ws_call(ws, "{\"type\":\"joinRoom\",\"roomId\":\"general\",\"ref\":\"j\"}",
                            "roomJoined", 10000);
    cr_assert_not_null(r, "the client got no answer");
    cr_expect_str_eq(chat_json_str(r, "type"), "error");
    cr_expect_str_eq(chat_json_str(r, "code"), "internal");
    cr_expect_str_eq(chat_json_str(r, "ref"), "j");
    cJSON_Delete(r);
    chat_ws_destroy(&ws);
}

Test(fake_cluster, a_lost_reply_is_resent_with_the_same_client_msg_id)
{
    chat_ws_t *ws = s_login("alice");
    s_join(ws);
    pthread_mutex_lock(&F.lock);
    F.drop_sends = 1;
    pthread_mutex_unlock(&F.lock);
    cJSON *ack = chat_ws_call(ws, "{\"type\":\"sendMessage\",\"content\":\"hi\",\"ref\":\"a\"}",
                              "messageAck", 10000);
    cr_assert_not_null(ack);
    cr_assert_str_eq(chat_json_str(ack, "type"), "messageAck", "%s", chat_json_str(ack, "code"));
    cr_expect_str_eq(chat_json_str(ack, "ref"), "a");
    cJSON_Delete(ack);
    pthread_mutex_lock(&F.lock);
    cr_expect_eq(F.sends, 2, "sent again after the timeout");
    cr_expect_str_eq(F.msg_ids[0], F.msg_ids[1], "with the same client_msg_id");
    cr_expect_str_neq(F.msg_ids[0], "");
    pthread_mutex_unlock(&F.lock);
    //  The next message has a new id.
    ack = chat_ws_call(ws, "{\"type\":\"sendMessage\",\"content\":\"again\"}", "messageAck", 10000);
    cJSON_Delete(ack);
    pthread_mutex_lock(&F.lock);
    cr_expect_str_neq(F.msg_ids[2], F.msg_ids[0]);
    pthread_mutex_unlock(&F.lock);
    chat_ws_destroy(&ws);
}

Test(fake_cluster, not_owner_makes_the_gateway_look_up_again_and_resend)
{
    chat_ws_t *ws = s_login("alice");
    s_join(ws);
    pthread_mutex_lock(&F.lock);
    F.not_owner_sends = 2;
    int asked = F.lookups + F.snapshots;
    pthread_mutex_unlock(&F.lock);
    cJSON *ack =
        chat_ws_call(ws, "{\"type\":\"sendMessage\",\"content\":\"hi\"}", "messageAck", 10000);
    cr_assert_not_null(ack);
    cr_expect_str_eq(chat_json_str(ack, "type"), "messageAck", "%s", chat_json_str(ack, "code"));
    cJSON_Delete(ack);
    pthread_mutex_lock(&F.lock);
    cr_expect_eq(F.sends, 3);
    //  After each NOT_OWNER the gateway drops the placement and asks the
    //  registry again: a lookup, unless a snapshot it re-read meanwhile (the
    //  fake's heartbeats fall silent on a busy machine) brought the placement.
    cr_expect_geq(F.lookups + F.snapshots - asked, 2,
                  "expected the registry asked again after each of 2 NOT_OWNER, got %d lookups "
                  "and snapshots",
                  F.lookups + F.snapshots - asked);
    cr_expect_str_eq(F.msg_ids[0], F.msg_ids[2]);
    pthread_mutex_unlock(&F.lock);
    chat_ws_destroy(&ws);
}

Test(fake_cluster, a_room_the_registry_calls_unavailable_answers_unavailable_at_once)
{
    chat_ws_t *ws = s_login("alice");
    int64_t start = chat_mono_ms();
    cJSON *r = chat_ws_call(ws, "{\"type\":\"joinRoom\",\"roomId\":\"down\",\"ref\":\"d\"}",
                            "roomJoined", 10000);
    cr_assert_not_null(r);
    cr_expect_str_eq(chat_json_str(r, "code"), "unavailable");
    cr_expect_str_eq(chat_json_str(r, "ref"), "d");
    cr_expect_lt(chat_mono_ms() - start, 2500, "no retries when the registry says so");
    cJSON_Delete(r);
    r = chat_ws_call(ws, "{\"type\":\"getRoomState\",\"roomId\":\"nowhere\"}", "roomState", 10000);
    cr_expect_str_eq(chat_json_str(r, "code"), "room_not_found");
    cJSON_Delete(r);
    chat_ws_destroy(&ws);
}

Test(fake_cluster, a_join_reply_that_loses_the_race_still_comes_before_its_join_line)
{
    chat_ws_t *alice = s_login("alice");
    s_join(alice);
    s_prime(alice);
    for (uint64_t seq = 2; seq <= 4; seq++)
        s_publish_on(s_room_pub, seq, false);
    s_expect_seqs(alice, 2, 4);
    //  Bob's join line (5) is published, and delivered to alice, before
    //  bob's JoinReply (cursor 4) reaches the gateway.
    pthread_mutex_lock(&F.lock);
    F.cursor = 4;
    F.join_line_before_reply = 5;
    pthread_mutex_unlock(&F.lock);
    chat_ws_t *bob = s_login("bob");
    cr_assert_eq(chat_ws_send_text(bob, "{\"type\":\"joinRoom\",\"roomId\":\"general\"}"), 0);
    s_expect_seqs(alice, 5, 5);
    cJSON *first = chat_ws_recv_json(bob, 10000);
    cr_assert_not_null(first);
    cr_expect_str_eq(chat_json_str(first, "type"), "roomJoined", "roomJoined first");
    cJSON_Delete(first);
    s_expect_seqs(bob, 5, 5);
    s_publish_on(s_room_pub, 6, false);
    s_expect_seqs(bob, 6, 6);
    s_expect_seqs(alice, 6, 6);
    chat_ws_destroy(&alice);
    chat_ws_destroy(&bob);
}

Test(fake_cluster, a_roomd_that_forgot_its_sessions_gets_quiet_joins)
{
    chat_ws_t *ws = s_login("alice");
    s_join(ws);
    pthread_mutex_lock(&F.lock);
    F.forget_sessions = true;
    pthread_mutex_unlock(&F.lock);
    int64_t deadline = chat_mono_ms() + 10000;
    int quiet = 0;
    while (quiet == 0 && chat_mono_ms() < deadline) {
        chat_sleep_ms(50);
        pthread_mutex_lock(&F.lock);
        quiet = F.quiet_joins;
        pthread_mutex_unlock(&F.lock);
    }
    cr_expect_gt(quiet, 0, "the gateway re-joined quietly");
    pthread_mutex_lock(&F.lock);
    cr_expect_eq(F.joins, 1, "no loud join");
    cr_expect_gt(F.heartbeats, 0);
    pthread_mutex_unlock(&F.lock);
    //  The client noticed nothing.
    cJSON *m = chat_ws_recv_json(ws, 300);
    cr_expect_null(m);
    cJSON_Delete(m);
    chat_ws_destroy(&ws);
}

Test(fake_cluster, a_request_the_roomd_refuses_as_malformed_answers_internal)
{
    chat_ws_t *ws = s_login("alice");
    cJSON *r = chat_ws_call(ws, "{\"type\":\"getRoomState\",\"roomId\":\"general\",\"ref\":\"i\"}",
                            "roomState", 10000);
    cr_assert_not_null(r);
    cr_expect_str_eq(chat_json_str(r, "type"), "error");
    cr_expect_str_eq(chat_json_str(r, "code"), "internal");
    cr_expect_str_eq(chat_json_str(r, "ref"), "i");
    cJSON_Delete(r);
    chat_ws_destroy(&ws);
}
