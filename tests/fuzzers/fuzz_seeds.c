/*  fuzz_seeds: writes the seed corpora of tests/fuzzers/corpus/<name>/.
 *
 *      fuzz_seeds DIR        (DIR = tests/fuzzers/corpus)
 *
 *  Seeds are what the cluster really sends, built by the code and the
 *  descriptors that build it: client requests as docs/protocol.md writes
 *  them; server frames from gw_json and gw_buf; client frames from
 *  chat_wsframe; envelopes packed by protobuf-c with the fields the gateway
 *  (gw_ops.c), the registry and roomd (rd_registry_link.c) fill in. Files
 *  are named seed-*; inputs the fuzzers found are kept beside them as
 *  found-* (regressions), and this program never touches those.
 */
#include "chat_wire.h"
#include "chat_wsframe.h"
#include "gw_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *s_root;

//  An input being built.
typedef struct {
    uint8_t data[200000]; //  bytes
    size_t len;           //  used
} s_seed_t;

static s_seed_t S;

static void s_reset(void)
{
    S.len = 0;
}

static void s_bytes(const void *data, size_t len)
{
    if (len > sizeof S.data - S.len) {
        fprintf(stderr, "fuzz_seeds: seed too big\n");
        exit(1);
    }
    memcpy(S.data + S.len, data, len);
    S.len += len;
}

//  One frame of the harnesses' format (fuzz_support.h): length, bytes.
static void s_frame(const void *data, size_t len)
{
    uint8_t head[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    s_bytes(head, 2);
    s_bytes(data, len);
}

//  A frame whose first byte is control, then data.
static void s_frame_with(uint8_t control, const void *data, size_t len)
{
    uint8_t head[3] = {(uint8_t)((len + 1) >> 8), (uint8_t)(len + 1), control};
    s_bytes(head, 3);
    s_bytes(data, len);
}

static void s_write(const char *name, const char *file)
{
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", s_root, name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/seed-%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(S.data, 1, S.len, f) != S.len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    s_reset();
}

// ------------------------------------------------------------ client JSON

static const char *const s_requests[][2] = {
    {"connect", "{\"type\":\"connect\",\"userId\":\"alice\",\"name\":\"Alice\"}"},
    {"connect-ref", "{\"type\":\"connect\",\"userId\":\"bob.b-2_\",\"ref\":\"r1\"}"},
    {"get-rooms", "{\"type\":\"getRooms\"}"},
    {"create-room",
     "{\"type\":\"createRoom\",\"name\":\"Test Room\",\"description\":\"A test room\"}"},
    {"join", "{\"type\":\"joinRoom\",\"roomId\":\"general\"}"},
    {"join-since", "{\"type\":\"joinRoom\",\"roomId\":\"general\",\"since\":40}"},
    {"leave", "{\"type\":\"leaveRoom\",\"roomId\":\"general\"}"},
    {"send", "{\"type\":\"sendMessage\",\"roomId\":\"general\",\"content\":\"Hello\"}"},
    {"send-unicode",
     "{\"type\":\"sendMessage\",\"content\":\"h\\u00e9llo \\ud83d\\ude00 \xe2\x82\xac\","
     "\"ref\":\"\xc3\xa9\"}"},
    {"history", "{\"type\":\"getHistory\",\"roomId\":\"general\",\"before\":43,\"limit\":50}"},
    {"room-state", "{\"type\":\"getRoomState\",\"roomId\":\"general\"}"},
    {"disconnect", "{\"type\":\"disconnect\"}"},
    {"ping", "{\"type\":\"ping\",\"ref\":\"p\"}"},
    {"bad-json", "{\"type\":\"ping\""},
    {"unknown-type", "{\"type\":\"fly\"}"},
    {"wrong-types", "{\"type\":\"getHistory\",\"roomId\":7,\"limit\":-1.5}"},
    {"trailing", "{\"type\":\"ping\"} x"},
};
#define S_REQUESTS (sizeof s_requests / sizeof s_requests[0])

static void s_gw_request(void)
{
    for (size_t i = 0; i < S_REQUESTS; i++) {
        s_bytes(s_requests[i][1], strlen(s_requests[i][1]));
        s_write("gw_request", s_requests[i][0]);
    }
}

// ------------------------------------------------------------ origins

static void s_gw_origin(void)
{
    static const char *const cases[][4] = {
        {"self", "self", "http://127.0.0.1:8080", "127.0.0.1:8080"},
        {"listed", "self, https://chat.example.com", "https://chat.example.com:443", "gw:8080"},
        {"ipv6", "self", "http://[::1]:9000", "[::1]:9000"},
        {"any", "*", "null", "x"},
        {"foreign", "self", "https://evil.example", "chat.example.com"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int j = 1; j < 4; j++)
            s_frame(cases[i][j], strlen(cases[i][j]));
        s_write("gw_origin", cases[i][0]);
    }
    s_frame("self", 4);
    s_write("gw_origin", "no-origin");
}

// ------------------------------------------------------------ WebSocket frames

static void s_buf(gw_buf_t **buf)
{
    size_t len;
    const uint8_t *frame = gw_buf_frame(*buf, &len);
    s_bytes(frame, len);
    gw_buf_unref(buf);
}

static void s_wsframe(void)
{
    static const uint8_t mask[4] = {1, 2, 3, 4};
    gw_buf_t *buf = gw_json_connected("alice", "Alice", "gw-1-1", "r1");
    s_buf(&buf);
    s_write("wsframe", "connected");

    Chat__User alice = {PROTOBUF_C_MESSAGE_INIT(&chat__user__descriptor), "alice", "Alice"};
    Chat__User *users[] = {&alice};
    Chat__RoomInfo room = CHAT__ROOM_INFO__INIT;
    room.id = "general";
    room.name = "general";
    room.description = "General discussion";
    room.created_at = 1764370000000;
    room.users = users;
    room.n_users = 1;
    room.last_seq = 2;
    Chat__ChatMessage m1 = CHAT__CHAT_MESSAGE__INIT, m2 = CHAT__CHAT_MESSAGE__INIT;
    m1.seq = 1;
    m1.room_id = m2.room_id = "general";
    m1.user_id = "system";
    m1.user_name = "System";
    m1.content = "Alice joined the room";
    m1.type = CHAT__MESSAGE_TYPE__MESSAGE_JOIN;
    m2.seq = 2;
    m2.user_id = "alice";
    m2.user_name = "Alice";
    m2.content = "Hello";
    m2.timestamp = 1764370000123;
    Chat__ChatMessage *history[] = {&m1, &m2};
    buf = gw_json_room_joined(&room, history, 2, false, "r2");
    s_buf(&buf);
    buf = gw_json_message_received(&m2);
    s_buf(&buf);
    buf = gw_json_error(GW_ERR_RATE_LIMITED, NULL, 250, "r3");
    s_buf(&buf);
    s_write("wsframe", "stream");

    buf = gw_buf_new_control(CHAT_WS_OP_PING, "idle", 4);
    s_buf(&buf);
    uint8_t close[125];
    size_t close_len = chat_wsframe_close_payload(close, 1008, "too slow: outgoing queue full");
    buf = gw_buf_new_control(CHAT_WS_OP_CLOSE, close, close_len);
    s_buf(&buf);
    s_write("wsframe", "ping-close");

    static uint8_t big[70000];
    memset(big, 'x', sizeof big);
    uint8_t wire[CHAT_WSFRAME_HEADER_MAX + sizeof big];
    s_bytes(wire, chat_wsframe_encode(wire, CHAT_WS_OP_TEXT, false, big, 300, NULL));
    s_bytes(wire, chat_wsframe_encode(wire, CHAT_WS_OP_CONT, true, big, 70000, NULL));
    s_write("wsframe", "fragments-long");

    const char *text = s_requests[7][1];
    s_bytes(wire, chat_wsframe_encode(wire, CHAT_WS_OP_TEXT, true, text, strlen(text), mask));
    s_write("wsframe", "client-masked");

    char accept[29], head[512];
    chat_wsframe_accept("dGhlIHNhbXBsZSBub25jZQ==", accept);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: chat.v1\r\n\r\n",
                     accept);
    s_bytes(head, (size_t)n);
    s_write("wsframe", "handshake-101");
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\n"
                 "content-length: 19\r\nconnection: close\r\n\r\norigin not allowed\n");
    s_bytes(head, (size_t)n);
    s_write("wsframe", "handshake-403");
}

// ------------------------------------------------------------ gateway sessions

//  A session's frame: a text message (control 0x01), or another kind.
static void s_ws(uint8_t control, const char *payload)
{
    s_frame_with(control, payload, strlen(payload));
}

static void s_origin(const char *headers)
{
    s_frame(headers, strlen(headers));
}

static void s_gw_session(void)
{
    s_origin("Origin: http://gw.test\r\nSec-WebSocket-Protocol: chat.v1\r\n");
    for (size_t i = 0; i < S_REQUESTS; i++)
        if (strcmp(s_requests[i][0], "disconnect") != 0)
            s_ws(0x01, s_requests[i][1]);
    s_ws(0x01, s_requests[11][1]);
    s_write("gw_session", "every-request");

    s_origin("");
    s_ws(0x01, "{\"type\":\"ping\"}");
    s_ws(0x01, s_requests[0][1]);
    s_ws(0x01, s_requests[4][1]);
    s_ws(0x11, "{\"type\":\"sendMessage\",");
    s_ws(0x10, "\"roomId\":\"general\",");
    s_ws(0x09, "ping in between");
    s_ws(0x00, "\"content\":\"in three fragments\"}");
    s_ws(0x0A, "unasked pong");
    s_ws(0x08, "\x03\xe8"
               "bye");
    s_write("gw_session", "fragments-and-control");

    s_origin("Origin: https://evil.example\r\n");
    s_ws(0x01, s_requests[0][1]);
    s_write("gw_session", "foreign-origin");

    s_origin("Origin: https://app.example\r\n");
    s_ws(0x01, s_requests[0][1]);
    s_ws(0x02, "binary");
    s_write("gw_session", "listed-origin-binary");

    s_origin("");
    s_ws(0x01, "{\"type\":\"connect\",\"userId\":\"a\",\"name\":\"\xff\xfe\"}");
    s_write("gw_session", "invalid-utf8");

    s_origin("");
    s_ws(0x01, s_requests[0][1]);
    s_ws(0x21, "{\"type\":\"ping\"}");
    s_write("gw_session", "unmasked");

    //  Over 64 KiB in two fragments (a frame of this format holds < 64 KiB).
    static char big[40000];
    memset(big, 'a', sizeof big - 1);
    s_origin("");
    s_ws(0x11, big);
    s_ws(0x00, big);
    s_write("gw_session", "too-big");

    s_origin("");
    uint8_t raw[] = {0x81, 0xFE, 0x00};
    s_frame_with(0x80, raw, sizeof raw);
    s_write("gw_session", "raw-cut-header");
}

// ------------------------------------------------------------ envelopes

static void s_env(uint8_t control, const Chat__Envelope *env)
{
    uint8_t packed[4096];
    size_t len = chat__envelope__get_packed_size(env);
    if (len > sizeof packed) {
        fprintf(stderr, "fuzz_seeds: envelope too big\n");
        exit(1);
    }
    chat__envelope__pack(env, packed);
    s_frame_with(control, packed, len);
}

//  roomd requests as gw_ops.c builds them (instance fuzz/1, epoch 1).
static void s_roomd(void)
{
    Chat__RoomTarget target = CHAT__ROOM_TARGET__INIT;
    target.room_id = "general";
    target.instance = "fuzz/1";
    target.epoch = 1;
    Chat__RoomTarget read = target;
    read.epoch = 0;
    Chat__User user = {PROTOBUF_C_MESSAGE_INIT(&chat__user__descriptor), "alice", "Alice"};
    Chat__SessionRef session = CHAT__SESSION_REF__INIT;
    session.gateway = "gw-0a1b2c3d4e5f";
    session.conn = 1;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;

    Chat__JoinRequest join = CHAT__JOIN_REQUEST__INIT;
    join.target = &target;
    join.user = &user;
    join.session = &session;
    env.req_id = 1;
    env.body_case = CHAT__ENVELOPE__BODY_JOIN;
    env.join = &join;
    s_env(0x08, &env);
    Chat__SendRequest send = CHAT__SEND_REQUEST__INIT;
    send.target = &target;
    send.user_id = "alice";
    send.user_name = "Alice";
    send.session = &session;
    send.content = "Hello";
    send.client_msg_id = "gw-0a1b2c3d4e5f:1:1";
    env.req_id = 2;
    env.body_case = CHAT__ENVELOPE__BODY_SEND;
    env.send = &send;
    s_env(0x00, &env);
    env.req_id = 3;
    s_env(0x08, &env); //  the same send again: deduplicated
    Chat__HistoryRequest history = CHAT__HISTORY_REQUEST__INIT;
    history.target = &read;
    history.has_before = true;
    history.before = 3;
    history.limit = 50;
    env.req_id = 4;
    env.body_case = CHAT__ENVELOPE__BODY_HISTORY;
    env.history = &history;
    s_env(0x00, &env);
    Chat__RoomStateRequest state = CHAT__ROOM_STATE_REQUEST__INIT;
    state.target = &read;
    env.req_id = 5;
    env.body_case = CHAT__ENVELOPE__BODY_ROOM_STATE;
    env.room_state = &state;
    s_env(0x00, &env);
    char *ids[] = {"general", "random", "tech", "nowhere"};
    Chat__RoomsInfoRequest info = CHAT__ROOMS_INFO_REQUEST__INIT;
    info.room_ids = ids;
    info.n_room_ids = 4;
    env.req_id = 6;
    env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO;
    env.rooms_info = &info;
    s_env(0x02, &env);
    Chat__GatewayHeartbeat heartbeat = CHAT__GATEWAY_HEARTBEAT__INIT;
    heartbeat.gateway = "gw-0a1b2c3d4e5f";
    heartbeat.sessions = 1;
    env.req_id = 7;
    env.body_case = CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT;
    env.gateway_heartbeat = &heartbeat;
    s_env(0x18, &env);
    Chat__LeaveRequest leave = CHAT__LEAVE_REQUEST__INIT;
    leave.target = &target;
    leave.user_id = "alice";
    leave.session = &session;
    env.req_id = 8;
    env.body_case = CHAT__ENVELOPE__BODY_LEAVE;
    env.leave = &leave;
    s_env(0x08, &env);
    s_write("roomd", "gateway-session");

    //  A gateway that goes silent: its session expires, the room idles out.
    env.req_id = 1;
    env.body_case = CHAT__ENVELOPE__BODY_JOIN;
    env.join = &join;
    join.has_since = true;
    join.since = 0;
    s_env(0x08, &env);
    env.req_id = 2;
    env.body_case = CHAT__ENVELOPE__BODY_SEND;
    env.send = &send;
    s_env(0xF8, &env);
    env.req_id = 3;
    env.body_case = CHAT__ENVELOPE__BODY_HISTORY;
    history.has_before = false;
    history.has_after = true;
    history.after = 0;
    history.limit = 1000;
    env.history = &history;
    s_env(0xF8, &env);
    s_write("roomd", "silent-gateway");

    //  From the registry: a grant, a re-registration, a full assignment list.
    Chat__RoomInfo book = CHAT__ROOM_INFO__INIT;
    book.id = "book-club";
    book.name = "Book Club";
    book.description = "What we read";
    book.created_at = 1764370000000;
    Chat__Assignment a = CHAT__ASSIGNMENT__INIT;
    a.room = &book;
    a.epoch = 4;
    Chat__AssignRequest assign = CHAT__ASSIGN_REQUEST__INIT;
    assign.instance = "fuzz/1";
    assign.assignment = &a;
    env.req_id = 11;
    env.body_case = CHAT__ENVELOPE__BODY_ASSIGN;
    env.assign = &assign;
    s_env(0x09, &env);
    join.has_since = false;
    target.room_id = "book-club";
    target.epoch = 4;
    env.req_id = 12;
    env.body_case = CHAT__ENVELOPE__BODY_JOIN;
    env.join = &join;
    s_env(0x08, &env);
    Chat__Assignment *list[] = {&a};
    Chat__HeartbeatReply beat = CHAT__HEARTBEAT_REPLY__INIT;
    beat.full = true;
    beat.assignments = list;
    beat.n_assignments = 1;
    env.req_id = 13;
    env.body_case = CHAT__ENVELOPE__BODY_HEARTBEAT_REPLY;
    env.heartbeat_reply = &beat;
    s_env(0x09, &env);
    Chat__RegisterReply reg = CHAT__REGISTER_REPLY__INIT;
    reg.instance = "fuzz/2";
    reg.boot = 2;
    reg.heartbeat_ms = 1000;
    reg.lease_ms = 5000;
    reg.assignments = list;
    reg.n_assignments = 1;
    env.req_id = 14;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER_REPLY;
    env.register_reply = &reg;
    s_env(0x09, &env);
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    error.status = CHAT__STATUS__STATUS_UNKNOWN_INSTANCE;
    error.message = "register again";
    env.req_id = 15;
    env.body_case = CHAT__ENVELOPE__BODY_ERROR;
    env.error = &error;
    s_env(0x09, &env);
    s_write("roomd", "registry-grants");
}

//  Registry requests as roomd, gateways and chatctl send them.
static void s_registry(void)
{
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    Chat__RoomInfo held_room = CHAT__ROOM_INFO__INIT;
    held_room.id = "book-club";
    held_room.name = "Book Club";
    held_room.description = "What we read";
    held_room.created_at = 1764370000000;
    Chat__Assignment held = CHAT__ASSIGNMENT__INIT;
    held.room = &held_room;
    held.epoch = 3;
    Chat__Assignment *helds[] = {&held};
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.node = "roomd-1";
    reg.cmd_endpoint = "tcp://roomd-1:5600";
    reg.pub_endpoint = "tcp://roomd-1:5601";
    reg.held = helds;
    reg.n_held = 1;
    env.req_id = 1;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER;
    env.register_ = &reg;
    s_env(0x01, &env);
    Chat__NodeStats stats = CHAT__NODE_STATS__INIT;
    stats.rooms_assigned = 1;
    Chat__HeartbeatRequest beat = CHAT__HEARTBEAT_REQUEST__INIT;
    beat.instance = "roomd-1/1";
    beat.assigned_count = 0;
    beat.stats = &stats;
    env.req_id = 2;
    env.body_case = CHAT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &beat;
    s_env(0x01, &env);
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    lookup.room_id = "general";
    lookup.place = true;
    env.req_id = 3;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &lookup;
    s_env(0x00, &env);
    Chat__AssignReply assigned = CHAT__ASSIGN_REPLY__INIT;
    assigned.room_id = "general";
    assigned.epoch = 1;
    env.req_id = 0;
    env.body_case = CHAT__ENVELOPE__BODY_ASSIGN_REPLY;
    env.assign_reply = &assigned;
    s_env(0x01, &env);
    s_write("registry", "roomd-registers-and-a-room-is-placed");

    Chat__CreateRoomRequest create = CHAT__CREATE_ROOM_REQUEST__INIT;
    create.name = "Test Room";
    create.description = "A test room";
    create.origin_gateway = "gw-0a1b2c3d4e5f";
    create.origin_conn = 1;
    env.req_id = 1;
    env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
    env.create_room = &create;
    s_env(0x00, &env);
    env.req_id = 2;
    s_env(0x00, &env); //  the same name again: room_exists
    Chat__ListRoomsRequest list = CHAT__LIST_ROOMS_REQUEST__INIT;
    env.req_id = 3;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_ROOMS;
    env.list_rooms = &list;
    s_env(0x00, &env);
    Chat__ListNodesRequest nodes = CHAT__LIST_NODES_REQUEST__INIT;
    env.req_id = 4;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_NODES;
    env.list_nodes = &nodes;
    s_env(0x00, &env);
    lookup.room_id = "test-room";
    lookup.place = false;
    env.req_id = 5;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &lookup;
    s_env(0x00, &env);
    s_write("registry", "gateway-and-chatctl");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds CORPUS_DIR\n");
        return 2;
    }
    s_root = argv[1];
    s_gw_request();
    s_gw_origin();
    s_wsframe();
    s_gw_session();
    s_roomd();
    s_registry();
    return 0;
}
