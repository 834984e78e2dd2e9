/*  The gateway in a real cluster: registry, two roomds, one or two gateways,
 *  and clients over WebSocket (docs/protocol.md, row by row). */
#include "chat_clock.h"
#include "gw_cluster.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static gwt_cluster_t C;

static void s_one(void)
{
    const char *extra[] = {"--rate", "0", NULL};
    gwt_start(&C, 1, extra);
}

static void s_two(void)
{
    const char *extra[] = {"--rate", "0", NULL};
    gwt_start(&C, 2, extra);
}

static void s_stop(void)
{
    gwt_stop(&C);
}

//  The message object of a messageReceived.
static const cJSON *s_msg(const cJSON *received)
{
    return cJSON_GetObjectItem(received, "message");
}

//  True when room (a Room object) lists user_id exactly `times` times.
static int s_user_count(const cJSON *room, const char *user_id)
{
    int n = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItem(room, "users")) n +=
        strcmp(chat_json_str(u, "id"), user_id) == 0;
    return n;
}

TestSuite(cluster, .init = s_one, .fini = s_stop, .timeout = 120);

Test(cluster, get_rooms_lists_the_three_rooms_of_a_new_cluster)
{
    chat_ws_t *ws = gwt_login(&C, 0, "alice", "Alice");
    cJSON *list = gwt_call(ws, "{\"type\":\"getRooms\",\"ref\":\"g1\"}", "roomsList");
    cr_assert_str_eq(chat_json_str(list, "type"), "roomsList");
    cr_expect_str_eq(chat_json_str(list, "ref"), "g1");
    const char *ids[] = {"general", "random", "tech"};
    const char *descs[] = {"General discussion", "Random chat", "Technology discussions"};
    cJSON *rooms = cJSON_GetObjectItem(list, "rooms");
    cr_assert_eq(cJSON_GetArraySize(rooms), 3);
    for (int i = 0; i < 3; i++) {
        const cJSON *found = NULL, *r;
        cJSON_ArrayForEach(r, rooms) if (strcmp(chat_json_str(r, "id"), ids[i]) == 0) found = r;
        cr_assert_not_null(found, "room %s", ids[i]);
        cr_expect_str_eq(chat_json_str(found, "name"), ids[i]);
        cr_expect_str_eq(chat_json_str(found, "description"), descs[i]);
        cr_expect_gt(chat_json_int(found, "createdAt"), 1600000000000LL);
        cr_expect(cJSON_IsArray(cJSON_GetObjectItem(found, "users")));
        cr_expect_eq(chat_json_int(found, "lastSeq"), 0);
    }
    cJSON_Delete(list);
    chat_ws_destroy(&ws);
}

Test(cluster, join_send_leave_follow_the_protocol_rows)
{
    chat_ws_t *alice = gwt_login(&C, 0, "alice", "Alice");
    chat_ws_t *bob = gwt_login(&C, 0, "bob", "Bob");

    //  roomJoined comes before the join line the join caused.
    cJSON *joined = gwt_call(alice, "{\"type\":\"joinRoom\",\"roomId\":\"general\",\"ref\":\"j1\"}",
                             "roomJoined");
    cr_assert_str_eq(chat_json_str(joined, "type"), "roomJoined");
    cr_expect_str_eq(chat_json_str(joined, "ref"), "j1");
    const cJSON *room = cJSON_GetObjectItem(joined, "room");
    cr_expect_str_eq(chat_json_str(room, "id"), "general");
    cr_expect_eq(s_user_count(room, "alice"), 1);
    cr_expect(cJSON_IsArray(cJSON_GetObjectItem(joined, "history")));
    cJSON_Delete(joined);
    cJSON *line = gwt_expect(alice, "messageReceived", 10000);
    cr_expect_str_eq(chat_json_str(s_msg(line), "messageType"), "join");
    cr_expect_str_eq(chat_json_str(s_msg(line), "userId"), "system");
    cr_expect_str_eq(chat_json_str(s_msg(line), "userName"), "System");
    cr_expect_str_eq(chat_json_str(s_msg(line), "content"), "Alice joined the room");
    long long first = gwt_seq(line);
    cJSON_Delete(line);

    //  Bob's join: Alice gets userJoined and the join line; Bob the line too.
    joined = gwt_join(bob, "general");
    cr_expect_eq(s_user_count(cJSON_GetObjectItem(joined, "room"), "bob"), 1);
    cJSON_Delete(joined);
    line = gwt_expect(bob, "messageReceived", 10000);
    cr_expect_str_eq(chat_json_str(s_msg(line), "content"), "Bob joined the room");
    cr_expect_eq(gwt_seq(line), first + 1);
    cJSON_Delete(line);
    cJSON *uj = gwt_expect(alice, "userJoined", 10000);
    cr_expect_str_eq(chat_json_str(uj, "roomId"), "general");
    cr_expect_str_eq(chat_json_str(cJSON_GetObjectItem(uj, "user"), "id"), "bob");
    cr_expect_str_eq(chat_json_str(cJSON_GetObjectItem(uj, "user"), "name"), "Bob");
    cJSON_Delete(uj);

    //  sendMessage: ack to the sender, messageReceived to every member.
    cJSON *ack = gwt_call(
        alice,
        "{\"type\":\"sendMessage\",\"roomId\":\"general\",\"content\":\" Hello \",\"ref\":\"m1\"}",
        "messageAck");
    cr_assert_str_eq(chat_json_str(ack, "type"), "messageAck");
    cr_expect_str_eq(chat_json_str(ack, "ref"), "m1");
    cr_expect_str_eq(chat_json_str(ack, "roomId"), "general");
    long long seq = chat_json_int(ack, "seq");
    char id[64];
    snprintf(id, sizeof id, "general:%lld", seq);
    cr_expect_str_eq(chat_json_str(ack, "id"), id);
    cJSON_Delete(ack);
    chat_ws_t *members[] = {alice, bob};
    for (int i = 0; i < 2; i++) {
        cJSON *m = NULL;
        do {
            cJSON_Delete(m);
            m = gwt_expect(members[i], "messageReceived", 10000);
        } while (gwt_seq(m) < seq);
        const cJSON *msg = s_msg(m);
        cr_expect_eq(gwt_seq(m), seq);
        cr_expect_str_eq(chat_json_str(msg, "id"), id);
        cr_expect_str_eq(chat_json_str(msg, "content"), " Hello ", "stored as sent");
        cr_expect_str_eq(chat_json_str(msg, "userId"), "alice");
        cr_expect_str_eq(chat_json_str(msg, "userName"), "Alice");
        cr_expect_str_eq(chat_json_str(msg, "messageType"), "text");
        cr_expect_str_eq(chat_json_str(msg, "roomId"), "general");
        cr_expect_gt(chat_json_int(msg, "timestamp"), 1600000000000LL);
        cJSON_Delete(m);
    }

    //  Joining again answers roomJoined and broadcasts nothing.
    joined = gwt_join(alice, "general");
    cJSON_Delete(joined);
    cJSON *barrier =
        gwt_call(bob, "{\"type\":\"sendMessage\",\"content\":\"barrier\"}", "messageAck");
    cJSON_Delete(barrier);
    cJSON *next = gwt_expect(alice, "messageReceived", 10000);
    cr_expect_str_eq(chat_json_str(s_msg(next), "content"), "barrier",
                     "no join line for a second join");
    cJSON_Delete(next);

    //  leaveRoom: roomLeft to Bob; userLeft and the leave line to Alice.
    cJSON *left =
        gwt_call(bob, "{\"type\":\"leaveRoom\",\"roomId\":\"general\",\"ref\":\"l\"}", "roomLeft");
    cr_assert_str_eq(chat_json_str(left, "type"), "roomLeft");
    cr_expect_str_eq(chat_json_str(left, "roomId"), "general");
    cr_expect_str_eq(chat_json_str(left, "ref"), "l");
    cJSON_Delete(left);
    cJSON *ul = gwt_expect(alice, "userLeft", 10000);
    cr_expect_str_eq(chat_json_str(ul, "userId"), "bob");
    cJSON_Delete(ul);
    cJSON *bye =
        gwt_call(alice, "{\"type\":\"getHistory\",\"roomId\":\"general\",\"limit\":1}", "history");
    cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(bye, "messages"), 0);
    cr_expect_str_eq(chat_json_str(last, "messageType"), "leave");
    cr_expect_str_eq(chat_json_str(last, "content"), "Bob left the room");
    cJSON_Delete(bye);
    //  Bob gets nothing more from general.
    cJSON *after =
        gwt_call(alice, "{\"type\":\"sendMessage\",\"content\":\"after\"}", "messageAck");
    cJSON_Delete(after);
    gwt_expect_none(bob, "messageReceived", 700);
    chat_ws_destroy(&alice);
    chat_ws_destroy(&bob);
}

Test(cluster, send_without_room_id_goes_to_the_last_joined_room)
{
    chat_ws_t *ws = gwt_login(&C, 0, "carol", NULL);
    cJSON_Delete(gwt_join(ws, "random"));
    cJSON_Delete(gwt_join(ws, "tech"));
    cJSON *ack = gwt_call(ws, "{\"type\":\"sendMessage\",\"content\":\"where?\"}", "messageAck");
    cr_expect_str_eq(chat_json_str(ack, "roomId"), "tech");
    cJSON_Delete(ack);
    cJSON *left = gwt_call(ws, "{\"type\":\"leaveRoom\",\"roomId\":\"tech\"}", "roomLeft");
    cJSON_Delete(left);
    ack = gwt_call(ws, "{\"type\":\"sendMessage\",\"content\":\"now?\"}", "messageAck");
    cr_expect_str_eq(chat_json_str(ack, "roomId"), "random");
    cJSON_Delete(ack);
    chat_ws_destroy(&ws);
}

Test(cluster, history_and_room_state_return_the_stored_messages)
{
    chat_ws_t *ws = gwt_login(&C, 0, "dave", NULL);
    cJSON_Delete(gwt_join(ws, "tech"));
    for (int i = 1; i <= 5; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"type\":\"sendMessage\",\"content\":\"m%d\"}", i);
        cJSON_Delete(gwt_call(ws, text, "messageAck"));
    }
    //  tech now holds the join line (1) and m1..m5 (2..6).
    cJSON *h = gwt_call(
        ws, "{\"type\":\"getHistory\",\"roomId\":\"tech\",\"before\":6,\"limit\":2,\"ref\":\"h\"}",
        "history");
    cr_assert_str_eq(chat_json_str(h, "type"), "history");
    cr_expect_str_eq(chat_json_str(h, "ref"), "h");
    cr_expect_str_eq(chat_json_str(h, "roomId"), "tech");
    cJSON *msgs = cJSON_GetObjectItem(h, "messages");
    cr_assert_eq(cJSON_GetArraySize(msgs), 2);
    cr_expect_eq(chat_json_int(cJSON_GetArrayItem(msgs, 0), "seq"), 4, "oldest first");
    cr_expect_eq(chat_json_int(cJSON_GetArrayItem(msgs, 1), "seq"), 5);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(h, "hasMore")));
    cJSON_Delete(h);
    h = gwt_call(ws, "{\"type\":\"getHistory\",\"roomId\":\"tech\"}", "history");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(h, "messages")), 6);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(h, "hasMore")));
    cJSON_Delete(h);

    cJSON *st =
        gwt_call(ws, "{\"type\":\"getRoomState\",\"roomId\":\"tech\",\"ref\":\"s\"}", "roomState");
    cr_assert_str_eq(chat_json_str(st, "type"), "roomState");
    cr_expect_str_eq(chat_json_str(st, "ref"), "s");
    const cJSON *room = cJSON_GetObjectItem(st, "room");
    cr_expect_str_eq(chat_json_str(room, "id"), "tech");
    cr_expect_eq(chat_json_int(room, "lastSeq"), 6);
    cr_expect_eq(s_user_count(room, "dave"), 1);
    cJSON *msgs2 = cJSON_GetObjectItem(st, "messages");
    cr_expect_eq(cJSON_GetArraySize(msgs2), 6);
    cr_expect_str_eq(chat_json_str(cJSON_GetArrayItem(msgs2, 5), "content"), "m5");
    cJSON_Delete(st);

    cJSON *list = gwt_call(ws, "{\"type\":\"getRooms\"}", "roomsList");
    const cJSON *r;
    bool seen = false;
    cJSON_ArrayForEach(
        r, cJSON_GetObjectItem(list, "rooms")) if (strcmp(chat_json_str(r, "id"), "tech") == 0)
    {
        seen = true;
        cr_expect_eq(chat_json_int(r, "lastSeq"), 6);
        cr_expect_eq(s_user_count(r, "dave"), 1);
    }
    cr_expect(seen);
    cJSON_Delete(list);
    chat_ws_destroy(&ws);
}

Test(cluster, join_with_since_replays_what_was_missed)
{
    chat_ws_t *ws = gwt_login(&C, 0, "erin", NULL);
    cJSON_Delete(gwt_join(ws, "random"));
    for (int i = 1; i <= 4; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"type\":\"sendMessage\",\"content\":\"r%d\"}", i);
        cJSON_Delete(gwt_call(ws, text, "messageAck"));
    }
    chat_ws_destroy(&ws);
    //  random: 1 join, 2..5 r1..r4, 6 leave (erin's connection closed).
    chat_ws_t *again = gwt_login(&C, 0, "erin", NULL);
    cJSON *joined =
        gwt_call(again, "{\"type\":\"joinRoom\",\"roomId\":\"random\",\"since\":3,\"ref\":\"s\"}",
                 "roomJoined");
    cr_assert_str_eq(chat_json_str(joined, "type"), "roomJoined");
    cr_expect_str_eq(chat_json_str(joined, "ref"), "s");
    cJSON *history = cJSON_GetObjectItem(joined, "history");
    cr_assert_geq(cJSON_GetArraySize(history), 3);
    cr_expect_eq(chat_json_int(cJSON_GetArrayItem(history, 0), "seq"), 4);
    cr_expect_str_eq(chat_json_str(cJSON_GetArrayItem(history, 0), "content"), "r3");
    long long prev = 3;
    const cJSON *m;
    cJSON_ArrayForEach(m, history)
    {
        cr_expect_eq(chat_json_int(m, "seq"), prev + 1, "no gap, oldest first");
        prev = chat_json_int(m, "seq");
    }
    cr_expect_null(cJSON_GetObjectItem(joined, "truncated"));
    cJSON_Delete(joined);
    chat_ws_destroy(&again);
}

Test(cluster, join_with_since_truncates_past_1000_messages, .timeout = 240)
{
    chat_ws_t *ws = gwt_login(&C, 0, "frank", NULL);
    cJSON_Delete(gwt_join(ws, "tech"));
    //  Pipelined in windows of 100: 1005 sends, then wait for the last ack.
    int sent = 0, acked = 0;
    int64_t deadline = chat_mono_ms() + 120000;
    while (acked < 1005 && chat_mono_ms() < deadline) {
        while (sent < 1005 && sent - acked < 100) {
            cr_assert_eq(chat_ws_sendf(ws, "{\"type\":\"sendMessage\",\"content\":\"t%d\"}", sent),
                         0);
            sent++;
        }
        cJSON *ack = chat_ws_recv_type(ws, "messageAck", true, 5000);
        if (ack) {
            cr_assert_str_eq(chat_json_str(ack, "type"), "messageAck", "%s",
                             chat_json_str(ack, "code"));
            acked++;
        }
        cJSON_Delete(ack);
    }
    bool done = acked == 1005;
    cr_assert(done, "all sends acknowledged");
    chat_ws_t *other = gwt_login(&C, 0, "gina", NULL);
    cJSON *joined =
        gwt_call(other, "{\"type\":\"joinRoom\",\"roomId\":\"tech\",\"since\":0}", "roomJoined");
    cJSON *history = cJSON_GetObjectItem(joined, "history");
    cr_expect_eq(cJSON_GetArraySize(history), 1000);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(joined, "truncated")));
    //  The newest 1000, oldest first: the last is t1004.
    cr_expect_str_eq(chat_json_str(cJSON_GetArrayItem(history, 999), "content"), "t1004");
    cJSON_Delete(joined);
    chat_ws_destroy(&other);
    chat_ws_destroy(&ws);
}

Test(cluster, create_room_is_answered_to_the_creator_and_pushed_to_the_others)
{
    chat_ws_t *alice = gwt_login(&C, 0, "alice", NULL);
    chat_ws_t *bob = gwt_login(&C, 0, "bob", NULL);
    chat_ws_t *anon = chat_ws_connect(C.gw[0].port, "/ws", NULL, 5000); //  not connected
    cr_assert_not_null(anon);
    cJSON *created = gwt_call(alice,
                              "{\"type\":\"createRoom\",\"name\":\"Test Room\",\"description\":\"A "
                              "test room\",\"ref\":\"c\"}",
                              "roomCreated");
    cr_assert_str_eq(chat_json_str(created, "type"), "roomCreated", "%s",
                     chat_json_str(created, "code"));
    cr_expect_str_eq(chat_json_str(created, "ref"), "c");
    const cJSON *room = cJSON_GetObjectItem(created, "room");
    cr_expect_str_eq(chat_json_str(room, "id"), "test-room");
    cr_expect_str_eq(chat_json_str(room, "name"), "Test Room");
    cr_expect_str_eq(chat_json_str(room, "description"), "A test room");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(room, "users")), 0);
    cJSON_Delete(created);
    cJSON *pushed = gwt_expect(bob, "roomCreated", 10000);
    cr_expect_str_eq(chat_json_str(cJSON_GetObjectItem(pushed, "room"), "id"), "test-room");
    cr_expect_null(cJSON_GetObjectItem(pushed, "ref"));
    cJSON_Delete(pushed);
    gwt_expect_none(alice, "roomCreated", 700);
    gwt_expect_none(anon, "roomCreated", 100);

    cJSON *dup = gwt_call(alice, "{\"type\":\"createRoom\",\"name\":\"test ROOM\",\"ref\":\"d\"}",
                          "roomCreated");
    cr_expect_str_eq(chat_json_str(dup, "code"), "room_exists");
    cr_expect_str_eq(chat_json_str(dup, "ref"), "d");
    cJSON_Delete(dup);
    cJSON_Delete(gwt_join(bob, "test-room"));
    chat_ws_destroy(&anon);
    chat_ws_destroy(&alice);
    chat_ws_destroy(&bob);
}

Test(cluster, errors_that_need_the_cluster)
{
    chat_ws_t *ws = gwt_login(&C, 0, "hal", NULL);
    struct {
        const char *request;
        const char *code;
    } cases[] = {
        {"{\"type\":\"joinRoom\",\"roomId\":\"no-such-room\",\"ref\":\"e\"}", "room_not_found"},
        {"{\"type\":\"getHistory\",\"roomId\":\"no-such-room\",\"ref\":\"e\"}", "room_not_found"},
        {"{\"type\":\"getRoomState\",\"roomId\":\"no-such-room\",\"ref\":\"e\"}", "room_not_found"},
        {"{\"type\":\"sendMessage\",\"roomId\":\"general\",\"content\":\"x\",\"ref\":\"e\"}",
         "not_in_room"},
        {"{\"type\":\"leaveRoom\",\"roomId\":\"general\",\"ref\":\"e\"}", "not_in_room"},
        {"{\"type\":\"createRoom\",\"name\":\"General\",\"ref\":\"e\"}", "room_exists"},
        {"{\"type\":\"createRoom\",\"name\":\"   \",\"ref\":\"e\"}", "invalid_room"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *reply = gwt_call(ws, cases[i].request, "error");
        cr_expect_str_eq(chat_json_str(reply, "type"), "error", "%s", cases[i].request);
        cr_expect_str_eq(chat_json_str(reply, "code"), cases[i].code, "%s", cases[i].request);
        cr_expect_str_eq(chat_json_str(reply, "ref"), "e");
        cJSON_Delete(reply);
    }
    cJSON_Delete(gwt_join(ws, "general"));
    cJSON *empty = gwt_call(ws, "{\"type\":\"sendMessage\",\"content\":\"\\t\"}", "error");
    cr_expect_str_eq(chat_json_str(empty, "code"), "empty_message");
    cJSON_Delete(empty);
    chat_ws_destroy(&ws);
}

Test(cluster, messages_from_several_senders_arrive_in_order_without_gaps, .timeout = 240)
{
    enum { SENDERS = 4, EACH = 150 };
    chat_ws_t *reader = gwt_login(&C, 0, "reader", NULL);
    cJSON *joined = gwt_join(reader, "general");
    cJSON_Delete(joined);
    chat_ws_t *senders[SENDERS];
    for (int s = 0; s < SENDERS; s++) {
        char user[16];
        snprintf(user, sizeof user, "sender%d", s);
        senders[s] = gwt_login(&C, 0, user, NULL);
        cJSON_Delete(gwt_join(senders[s], "general"));
    }
    for (int k = 0; k < EACH; k++)
        for (int s = 0; s < SENDERS; s++)
            cr_assert_eq(
                chat_ws_sendf(senders[s], "{\"type\":\"sendMessage\",\"content\":\"%d:%d\"}", s, k),
                0);
    int next_k[SENDERS] = {0};
    int got = 0;
    long long prev = -1;
    int64_t deadline = chat_mono_ms() + 120000;
    while (got < SENDERS * EACH && chat_mono_ms() < deadline) {
        cJSON *m = chat_ws_recv_type(reader, "messageReceived", false, 5000);
        if (!m)
            continue;
        long long seq = gwt_seq(m);
        if (prev >= 0)
            cr_assert_eq(seq, prev + 1, "gap or duplicate: %lld after %lld", seq, prev);
        prev = seq;
        const cJSON *msg = s_msg(m);
        if (strcmp(chat_json_str(msg, "messageType"), "text") == 0) {
            int s = -1, k = -1;
            sscanf(chat_json_str(msg, "content"), "%d:%d", &s, &k);
            cr_assert(s >= 0 && s < SENDERS);
            cr_assert_eq(k, next_k[s], "sender %d: %d after %d", s, k, next_k[s] - 1);
            next_k[s]++;
            got++;
        }
        cJSON_Delete(m);
    }
    cr_expect_eq(got, SENDERS * EACH);
    for (int s = 0; s < SENDERS; s++)
        chat_ws_destroy(&senders[s]);
    chat_ws_destroy(&reader);
}

Test(cluster, healthz_and_metrics_of_a_working_gateway)
{
    chat_ws_t *ws = gwt_login(&C, 0, "mia", NULL);
    cJSON_Delete(gwt_join(ws, "general"));
    cJSON_Delete(gwt_call(ws, "{\"type\":\"sendMessage\",\"content\":\"m\"}", "messageAck"));
    char body[256];
    cr_expect_eq(gwt_http_get(&C, 0, "/healthz", body, sizeof body), 200);
    static char metrics[1 << 17];
    cr_assert_eq(gwt_http_get(&C, 0, "/metrics", metrics, sizeof metrics), 200);
    cr_expect_not_null(strstr(metrics, "chat_gateway_rooms 1\n"));
    cr_expect_not_null(strstr(metrics, "chat_gateway_registry_up 1\n"));
    cr_expect_null(strstr(metrics, "chat_gateway_request_seconds_count{peer=\"roomd\"} 0\n"));
    cr_expect_null(strstr(metrics, "chat_gateway_deliveries_total 0\n"));
    chat_ws_destroy(&ws);
}

//  ------------------------------------------------------------ two gateways

TestSuite(two_gateways, .init = s_two, .fini = s_stop, .timeout = 120);

Test(two_gateways, users_on_both_gateways_see_each_other)
{
    chat_ws_t *alice = gwt_login(&C, 0, "alice", "Alice");
    chat_ws_t *bob = gwt_login(&C, 1, "bob", "Bob");
    cJSON_Delete(gwt_join(alice, "general"));
    cJSON_Delete(gwt_join(bob, "general"));
    cJSON *uj = gwt_expect(alice, "userJoined", 10000);
    cr_expect_str_eq(chat_json_str(cJSON_GetObjectItem(uj, "user"), "id"), "bob");
    cJSON_Delete(uj);
    cJSON_Delete(
        gwt_call(bob, "{\"type\":\"sendMessage\",\"content\":\"from gw1\"}", "messageAck"));
    cJSON *m = NULL;
    do {
        cJSON_Delete(m);
        m = gwt_expect(alice, "messageReceived", 10000);
    } while (strcmp(chat_json_str(s_msg(m), "messageType"), "text") != 0);
    cr_expect_str_eq(chat_json_str(s_msg(m), "content"), "from gw1");
    cr_expect_str_eq(chat_json_str(s_msg(m), "userId"), "bob");
    cJSON_Delete(m);
    cJSON_Delete(
        gwt_call(alice, "{\"type\":\"sendMessage\",\"content\":\"from gw0\"}", "messageAck"));
    m = NULL;
    do {
        cJSON_Delete(m);
        m = gwt_expect(bob, "messageReceived", 10000);
    } while (strcmp(chat_json_str(s_msg(m), "messageType"), "text") != 0 ||
             strcmp(chat_json_str(s_msg(m), "userId"), "alice") != 0);
    cr_expect_str_eq(chat_json_str(s_msg(m), "content"), "from gw0");
    cJSON_Delete(m);

    //  roomCreated reaches sessions on the other gateway.
    cJSON *created =
        gwt_call(alice, "{\"type\":\"createRoom\",\"name\":\"Both Ways\"}", "roomCreated");
    cJSON_Delete(created);
    cJSON *pushed = gwt_expect(bob, "roomCreated", 10000);
    cr_expect_str_eq(chat_json_str(cJSON_GetObjectItem(pushed, "room"), "id"), "both-ways");
    cJSON_Delete(pushed);
    chat_ws_destroy(&alice);
    chat_ws_destroy(&bob);
}

Test(two_gateways, a_user_on_two_gateways_is_present_once)
{
    chat_ws_t *bob = gwt_login(&C, 1, "bob", "Bob");
    cJSON_Delete(gwt_join(bob, "tech"));
    cJSON_Delete(gwt_expect(bob, "messageReceived", 10000)); //  his own join line
    chat_ws_t *alice0 = gwt_login(&C, 0, "alice", "Alice");
    chat_ws_t *alice1 = gwt_login(&C, 1, "alice", "Alice");
    cJSON_Delete(gwt_join(alice0, "tech"));
    cJSON *joined = gwt_join(alice1, "tech");
    cr_expect_eq(s_user_count(cJSON_GetObjectItem(joined, "room"), "alice"), 1,
                 "alice listed once with two connections");
    cJSON_Delete(joined);
    //  Bob saw one join line for alice, not two.
    cJSON *line = gwt_expect(bob, "messageReceived", 10000);
    cr_expect_str_eq(chat_json_str(s_msg(line), "content"), "Alice joined the room");
    cJSON_Delete(line);
    cJSON_Delete(gwt_call(alice1, "{\"type\":\"sendMessage\",\"content\":\"one\"}", "messageAck"));
    line = gwt_expect(bob, "messageReceived", 10000);
    cr_expect_str_eq(chat_json_str(s_msg(line), "content"), "one", "no second join line");
    cJSON_Delete(line);

    cJSON *list = gwt_call(bob, "{\"type\":\"getRooms\"}", "roomsList");
    const cJSON *r;
    cJSON_ArrayForEach(
        r, cJSON_GetObjectItem(list, "rooms")) if (strcmp(chat_json_str(r, "id"), "tech") == 0)
        cr_expect_eq(s_user_count(r, "alice"), 1);
    cJSON_Delete(list);

    //  One connection closes: alice is still present, nothing is said. Wait
    //  until gateway 0 has seen the close (its connections gauge drops to 0).
    chat_ws_destroy(&alice0);
    static char metrics[1 << 17];
    int64_t deadline = chat_mono_ms() + 20000;
    bool closed = false;
    while (!closed && chat_mono_ms() < deadline) {
        closed = gwt_http_get(&C, 0, "/metrics", metrics, sizeof metrics) == 200 &&
                 strstr(metrics, "\nchat_gateway_connections 0\n");
        if (!closed)
            chat_sleep_ms(50);
    }
    cr_assert(closed, "gateway 0 still counts alice's closed connection after 20 s");
    cJSON_Delete(gwt_call(alice1, "{\"type\":\"sendMessage\",\"content\":\"two\"}", "messageAck"));
    line = gwt_expect(bob, "messageReceived", 10000);
    cr_expect_str_eq(chat_json_str(s_msg(line), "content"), "two", "no leave line yet");
    cJSON_Delete(line);
    //  The last one goes: now the leave line and userLeft.
    chat_ws_send_text(alice1, "{\"type\":\"disconnect\"}");
    cr_expect_eq(chat_ws_expect_close(alice1, 10000), 1000);
    cJSON *ul = gwt_expect(bob, "userLeft", 10000);
    cr_expect_str_eq(chat_json_str(ul, "userId"), "alice");
    cJSON_Delete(ul);
    chat_ws_destroy(&alice1);
    chat_ws_destroy(&bob);
}

Test(two_gateways, readers_on_both_gateways_get_every_message_in_order, .timeout = 240)
{
    enum { SENDERS = 4, EACH = 100 };
    chat_ws_t *readers[2] = {gwt_login(&C, 0, "r0", NULL), gwt_login(&C, 1, "r1", NULL)};
    for (int g = 0; g < 2; g++)
        cJSON_Delete(gwt_join(readers[g], "random"));
    chat_ws_t *senders[SENDERS];
    for (int s = 0; s < SENDERS; s++) {
        char user[16];
        snprintf(user, sizeof user, "s%d", s);
        senders[s] = gwt_login(&C, s % 2, user, NULL);
        cJSON_Delete(gwt_join(senders[s], "random"));
    }
    for (int k = 0; k < EACH; k++)
        for (int s = 0; s < SENDERS; s++)
            chat_ws_sendf(senders[s], "{\"type\":\"sendMessage\",\"content\":\"%d:%d\"}", s, k);
    for (int g = 0; g < 2; g++) {
        int next_k[SENDERS] = {0}, got = 0;
        long long prev = -1;
        int64_t deadline = chat_mono_ms() + 120000;
        while (got < SENDERS * EACH && chat_mono_ms() < deadline) {
            cJSON *m = chat_ws_recv_type(readers[g], "messageReceived", false, 5000);
            if (!m)
                continue;
            long long seq = gwt_seq(m);
            if (prev >= 0)
                cr_assert_eq(seq, prev + 1, "reader %d: %lld after %lld", g, seq, prev);
            prev = seq;
            int s = -1, k = -1;
            if (strcmp(chat_json_str(s_msg(m), "messageType"), "text") == 0 &&
                sscanf(chat_json_str(s_msg(m), "content"), "%d:%d", &s, &k) == 2) {
                cr_assert_eq(k, next_k[s]);
                next_k[s]++;
                got++;
            }
            cJSON_Delete(m);
        }
        cr_expect_eq(got, SENDERS * EACH, "reader %d got every message", g);
    }
    for (int s = 0; s < SENDERS; s++)
        chat_ws_destroy(&senders[s]);
    for (int g = 0; g < 2; g++)
        chat_ws_destroy(&readers[g]);
}

Test(two_gateways, a_killed_roomd_answers_unavailable_then_serves_its_history_again, .timeout = 240)
{
    int victim = gwt_roomd_of(&C, "general");
    cr_assert_geq(victim, 0);
    chat_ws_t *alice = gwt_login(&C, 0, "alice", NULL);
    chat_ws_t *bob = gwt_login(&C, 1, "bob", NULL);
    cJSON_Delete(gwt_join(alice, "general"));
    cJSON_Delete(gwt_join(bob, "general"));
    cJSON *ack = gwt_call(alice, "{\"type\":\"sendMessage\",\"content\":\"before\"}", "messageAck");
    long long before = chat_json_int(ack, "seq");
    cJSON_Delete(ack);

    chat_proc_signal(C.roomd[victim].proc, SIGKILL, 5000);
    chat_proc_stop(&C.roomd[victim].proc);
    //  The room answers unavailable (never silence).
    cJSON *err = gwt_call(alice, "{\"type\":\"sendMessage\",\"content\":\"during\",\"ref\":\"u\"}",
                          "messageAck");
    cr_expect_str_eq(chat_json_str(err, "code"), "unavailable");
    cr_expect_str_eq(chat_json_str(err, "ref"), "u");
    cJSON_Delete(err);
    err = gwt_call(bob, "{\"type\":\"getHistory\",\"roomId\":\"general\"}", "history");
    cr_expect_str_eq(chat_json_str(err, "code"), "unavailable");
    cJSON_Delete(err);

    gwt_roomd_start(&C, victim);
    gwt_wait_live(&C, GWT_ROOMDS);
    //  Serves again: retry until the ack (placement events take a moment).
    int64_t deadline = chat_mono_ms() + 30000;
    long long after = -1;
    while (after < 0 && chat_mono_ms() < deadline) {
        ack = gwt_call(alice, "{\"type\":\"sendMessage\",\"content\":\"after\"}", "messageAck");
        if (strcmp(chat_json_str(ack, "type"), "messageAck") == 0)
            after = chat_json_int(ack, "seq");
        else
            chat_sleep_ms(200);
        cJSON_Delete(ack);
    }
    cr_assert_gt(after, before, "served again after the restart");
    //  Bob, still a member, gets the new message.
    cJSON *m = NULL;
    do {
        cJSON_Delete(m);
        m = gwt_expect(bob, "messageReceived", 15000);
    } while (gwt_seq(m) < after);
    cr_expect_str_eq(chat_json_str(s_msg(m), "content"), "after");
    cJSON_Delete(m);
    //  The history from before the crash is there.
    cJSON *h = gwt_call(bob, "{\"type\":\"getHistory\",\"roomId\":\"general\"}", "history");
    bool found = false;
    const cJSON *msg;
    cJSON_ArrayForEach(msg, cJSON_GetObjectItem(h, "messages")) found |=
        strcmp(chat_json_str(msg, "content"), "before") == 0;
    cr_expect(found, "the message acknowledged before the crash survived");
    cJSON_Delete(h);
    //  Presence comes back (each gateway re-joins its members quietly).
    int alice_n = 0, bob_n = 0;
    deadline = chat_mono_ms() + 20000;
    while ((alice_n != 1 || bob_n != 1) && chat_mono_ms() < deadline) {
        cJSON *st =
            gwt_call(bob, "{\"type\":\"getRoomState\",\"roomId\":\"general\"}", "roomState");
        const cJSON *room = cJSON_GetObjectItem(st, "room");
        alice_n = s_user_count(room, "alice");
        bob_n = s_user_count(room, "bob");
        cJSON_Delete(st);
        if (alice_n != 1 || bob_n != 1)
            chat_sleep_ms(100);
    }
    cr_expect_eq(alice_n, 1, "alice is listed once");
    cr_expect_eq(bob_n, 1, "bob is listed once");
    chat_ws_destroy(&alice);
    chat_ws_destroy(&bob);
}

//  ------------------------------------------------------------ limits

static void s_rate_limited(void)
{
    const char *extra[] = {"--rate", "1", "--burst", "3", NULL};
    gwt_start(&C, 1, extra);
}

TestSuite(limits, .fini = s_stop, .timeout = 180);

Test(limits, sending_faster_than_the_rate_is_refused_with_retry_after, .init = s_rate_limited)
{
    chat_ws_t *ws = gwt_login(&C, 0, "fast", NULL);
    cJSON_Delete(gwt_join(ws, "general"));
    //  Four at once with a burst of three (and one token a second): the
    //  fourth is refused.
    for (int i = 0; i < 4; i++)
        cr_assert_eq(
            chat_ws_sendf(ws, "{\"type\":\"sendMessage\",\"content\":\"m\",\"ref\":\"r%d\"}", i),
            0);
    int acks = 0, limited = 0;
    long long retry = -1;
    for (int i = 0; i < 4; i++) {
        cJSON *reply = chat_ws_recv_type(ws, "messageAck", true, 15000);
        cr_assert_not_null(reply);
        if (strcmp(chat_json_str(reply, "type"), "messageAck") == 0) {
            acks++;
        } else {
            cr_expect_str_eq(chat_json_str(reply, "code"), "rate_limited");
            cr_expect_str_eq(chat_json_str(reply, "ref"), "r3");
            retry = chat_json_int(reply, "retryAfterMs");
            limited++;
        }
        cJSON_Delete(reply);
    }
    cr_expect_eq(acks, 3);
    cr_expect_eq(limited, 1);
    cr_expect(retry > 0 && retry <= 1000, "retryAfterMs %lld", retry);
    chat_sleep_ms((int)retry + 50);
    cJSON *ack = gwt_call(ws, "{\"type\":\"sendMessage\",\"content\":\"later\"}", "messageAck");
    cr_expect_str_eq(chat_json_str(ack, "type"), "messageAck", "allowed after retryAfterMs");
    cJSON_Delete(ack);
    chat_ws_destroy(&ws);
}

static void s_small_queue(void)
{
    const char *extra[] = {"--rate", "0", "--queue-max", "64", NULL};
    gwt_start(&C, 1, extra);
}

Test(limits, a_slow_consumer_is_closed_with_1008_and_the_others_keep_receiving,
     .init = s_small_queue)
{
    enum { COUNT = 1500 };
    chat_ws_client_rcvbuf(4096);
    chat_ws_t *slow = gwt_login(&C, 0, "slow", NULL);
    chat_ws_client_rcvbuf(0);
    chat_ws_t *fast = gwt_login(&C, 0, "fast", NULL);
    chat_ws_t *sender = gwt_login(&C, 0, "sender", NULL);
    cJSON_Delete(gwt_join(slow, "general"));
    cJSON_Delete(gwt_join(fast, "general"));
    cJSON_Delete(gwt_join(sender, "general"));
    //  From here the slow client reads nothing. The sender keeps a window of
    //  unacknowledged messages and reads its own deliveries; the fast client
    //  reads everything.
    enum { WINDOW = 16 };
    static char text[4200];
    char content[4001];
    memset(content, 'x', 4000);
    content[4000] = '\0';
    int sent = 0, acked = 0, got = 0, next = 0;
    int64_t deadline = chat_mono_ms() + 120000;
    while (got < COUNT && chat_mono_ms() < deadline) {
        while (sent < COUNT && sent - acked < WINDOW) {
            snprintf(text, sizeof text, "{\"type\":\"sendMessage\",\"content\":\"%d %s\"}", sent,
                     content + 10);
            cr_assert_eq(chat_ws_send_text(sender, text), 0);
            sent++;
        }
        cJSON *m;
        while ((m = chat_ws_recv_json(sender, 0)) != NULL) {
            acked += strcmp(chat_json_str(m, "type"), "messageAck") == 0;
            cJSON_Delete(m);
        }
        while ((m = chat_ws_recv_json(fast, 2)) != NULL) {
            const cJSON *msg = s_msg(m);
            int i = -1;
            if (strcmp(chat_json_str(msg, "messageType"), "text") == 0 &&
                sscanf(chat_json_str(msg, "content"), "%d", &i) == 1) {
                cr_assert_eq(i, next, "in order");
                next++;
                got++;
            }
            cJSON_Delete(m);
        }
    }
    cr_expect_eq(chat_ws_close_code(sender), 0, "the sender was not closed");
    cr_expect_eq(chat_ws_close_code(fast), 0, "the fast reader was not closed");
    cr_expect_eq(got, COUNT, "the fast client got everything");
    //  The slow one, reading at last, finds the 1008 close after what was sent.
    cr_expect_eq(chat_ws_expect_close(slow, 60000), 1008);
    static char metrics[1 << 17];
    cr_assert_eq(gwt_http_get(&C, 0, "/metrics", metrics, sizeof metrics), 200);
    cr_expect_not_null(strstr(metrics, "chat_gateway_slow_consumers_total 1\n"));
    cr_expect_not_null(strstr(metrics, "chat_gateway_closes_total{code=\"1008\"} 1\n"));
    chat_ws_destroy(&slow);
    chat_ws_destroy(&fast);
    chat_ws_destroy(&sender);
}
