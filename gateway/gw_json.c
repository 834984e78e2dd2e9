/*  gw_json: see gw_json.h. */
#include "gw_json.h"
#include "chat_error.h"
#include "chat_text.h"
#include "chat_wsframe.h"

#include <math.h>
#include <string.h>

// ------------------------------------------------------------ errors

typedef struct {
    const char *code;    //  protocol error code
    const char *message; //  default human text
} s_err_entry_t;

static const s_err_entry_t s_errors[GW_ERR_COUNT] = {
    [GW_ERR_BAD_JSON] = {"bad_json", "The frame is not one JSON object"},
    [GW_ERR_BAD_REQUEST] = {"bad_request", "Bad request"},
    [GW_ERR_UNKNOWN_TYPE] = {"unknown_type", "Unknown request type"},
    [GW_ERR_CONNECT_REQUIRED] = {"connect_required", "Send connect first"},
    [GW_ERR_ALREADY_CONNECTED] = {"already_connected", "Already connected"},
    [GW_ERR_INVALID_USER] = {"invalid_user", "Invalid user id or name"},
    [GW_ERR_ROOM_NOT_FOUND] = {"room_not_found", "Room not found"},
    [GW_ERR_ROOM_EXISTS] = {"room_exists", "A room with that name exists"},
    [GW_ERR_INVALID_ROOM] = {"invalid_room", "Invalid room name or description"},
    [GW_ERR_NOT_IN_ROOM] = {"not_in_room", "You are not in that room"},
    [GW_ERR_EMPTY_MESSAGE] = {"empty_message", "Message is empty"},
    [GW_ERR_MESSAGE_TOO_LONG] = {"message_too_long", "Message is too long"},
    [GW_ERR_RATE_LIMITED] = {"rate_limited", "Too many messages, slow down"},
    [GW_ERR_UNAVAILABLE] = {"unavailable", "Room is unavailable, try again"},
    [GW_ERR_INTERNAL] = {"internal", "Internal error"},
};

const char *gw_err_code(gw_err_t err)
{
    return err < GW_ERR_COUNT ? s_errors[err].code : "internal";
}

const char *gw_err_message(gw_err_t err)
{
    return err < GW_ERR_COUNT ? s_errors[err].message : "Internal error";
}

gw_err_t gw_err_from_status(Chat__Status status)
{
    const char *code = chat_status_code(status);
    for (int i = 0; i < GW_ERR_COUNT; i++)
        if (strcmp(s_errors[i].code, code) == 0)
            return (gw_err_t)i;
    return GW_ERR_INTERNAL;
}

// ------------------------------------------------------------ requests

typedef struct {
    const char *name;   //  the "type" string
    gw_req_type_t type; //  what it parses to
} s_type_entry_t;

static const s_type_entry_t s_types[] = {
    {"connect", GW_REQ_CONNECT},        {"getRooms", GW_REQ_GET_ROOMS},
    {"createRoom", GW_REQ_CREATE_ROOM}, {"joinRoom", GW_REQ_JOIN_ROOM},
    {"leaveRoom", GW_REQ_LEAVE_ROOM},   {"sendMessage", GW_REQ_SEND_MESSAGE},
    {"getHistory", GW_REQ_GET_HISTORY}, {"getRoomState", GW_REQ_GET_ROOM_STATE},
    {"disconnect", GW_REQ_DISCONNECT},  {"ping", GW_REQ_PING},
};

const char *gw_req_name(gw_req_type_t type)
{
    for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
        if (s_types[i].type == type)
            return s_types[i].name;
    return "?";
}

//  Field lookup results.
#define S_ABSENT 0
#define S_OK 1
#define S_WRONG (-1)

//  A string field: S_OK with *out, S_ABSENT, or S_WRONG for another type.
static int s_string(const cJSON *root, const char *name, const char **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!item || cJSON_IsNull(item))
        return S_ABSENT;
    if (!cJSON_IsString(item) || !item->valuestring)
        return S_WRONG;
    *out = item->valuestring;
    return S_OK;
}

//  A non-negative integer field (at most 2^53): S_OK, S_ABSENT or S_WRONG.
static int s_uint(const cJSON *root, const char *name, uint64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!item || cJSON_IsNull(item))
        return S_ABSENT;
    if (!cJSON_IsNumber(item))
        return S_WRONG;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || floor(v) != v)
        return S_WRONG;
    *out = (uint64_t)v;
    return S_OK;
}

static int s_parse_connect(gw_request_t *req, gw_err_t *err)
{
    int r = s_string(req->root, "userId", &req->user_id);
    if (r != S_OK) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    r = s_string(req->root, "name", &req->name);
    if (r == S_WRONG) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    if (r == S_ABSENT)
        req->name = req->user_id;
    if (!chat_valid_user_id(req->user_id) || !chat_valid_text(req->name, CHAT_USER_NAME_MAX)) {
        *err = GW_ERR_INVALID_USER;
        return -1;
    }
    return 0;
}

static int s_parse_create(gw_request_t *req, gw_err_t *err)
{
    if (s_string(req->root, "name", &req->name) != S_OK) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    int r = s_string(req->root, "description", &req->description);
    if (r == S_WRONG) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    if (r == S_ABSENT)
        req->description = "";
    long desc = chat_utf8_length(req->description, strlen(req->description));
    if (!chat_valid_text(req->name, CHAT_ROOM_NAME_MAX) || desc < 0 || desc > CHAT_ROOM_DESC_MAX) {
        *err = GW_ERR_INVALID_ROOM;
        return -1;
    }
    return 0;
}

//  roomId: required unless optional. A string that cannot be a room id
//  answers invalid (room_not_found, or not_in_room for send and leave).
static int s_parse_room_id(gw_request_t *req, bool optional, gw_err_t invalid, gw_err_t *err)
{
    int r = s_string(req->root, "roomId", &req->room_id);
    if (r == S_WRONG || (r == S_ABSENT && !optional)) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    if (r == S_OK && !chat_valid_room_id(req->room_id)) {
        *err = invalid;
        return -1;
    }
    return 0;
}

static int s_parse_send(gw_request_t *req, gw_err_t *err)
{
    if (s_parse_room_id(req, true, GW_ERR_NOT_IN_ROOM, err) != 0)
        return -1;
    if (s_string(req->root, "content", &req->content) != S_OK) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    if (chat_text_blank(req->content)) {
        *err = GW_ERR_EMPTY_MESSAGE;
        return -1;
    }
    long n = chat_utf8_length(req->content, strlen(req->content));
    if (n < 0) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    if (n > CHAT_CONTENT_MAX) {
        *err = GW_ERR_MESSAGE_TOO_LONG;
        return -1;
    }
    return 0;
}

static int s_parse_join(gw_request_t *req, gw_err_t *err)
{
    if (s_parse_room_id(req, false, GW_ERR_ROOM_NOT_FOUND, err) != 0)
        return -1;
    int r = s_uint(req->root, "since", &req->since);
    if (r == S_WRONG) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    req->has_since = r == S_OK;
    return 0;
}

//  getRooms: paged when any of limit, query, cursor is given.
static int s_parse_get_rooms(gw_request_t *req, gw_err_t *err)
{
    *err = GW_ERR_BAD_REQUEST;
    req->query = "";
    int has_query = s_string(req->root, "query", &req->query);
    int has_cursor = s_string(req->root, "cursor", &req->cursor);
    uint64_t limit = GW_ROOMS_LIMIT_DEFAULT;
    int has_limit = s_uint(req->root, "limit", &limit);
    if (has_query == S_WRONG || has_cursor == S_WRONG || has_limit == S_WRONG || limit == 0)
        return -1;
    long query_len = chat_utf8_length(req->query, strlen(req->query));
    if (query_len < 0 || query_len > GW_ROOMS_QUERY_MAX)
        return -1;
    if (req->cursor && (!*req->cursor || strlen(req->cursor) > GW_ROOMS_CURSOR_MAX))
        return -1;
    req->paged = has_query == S_OK || has_cursor == S_OK || has_limit == S_OK;
    req->limit = limit > GW_ROOMS_LIMIT_MAX ? GW_ROOMS_LIMIT_MAX : (uint32_t)limit;
    return 0;
}

static int s_parse_history(gw_request_t *req, gw_err_t *err)
{
    if (s_parse_room_id(req, false, GW_ERR_ROOM_NOT_FOUND, err) != 0)
        return -1;
    int r = s_uint(req->root, "before", &req->before);
    if (r == S_WRONG) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    req->has_before = r == S_OK;
    uint64_t limit = GW_HISTORY_LIMIT_DEFAULT;
    r = s_uint(req->root, "limit", &limit);
    if (r == S_WRONG || limit == 0) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    req->limit = limit > GW_HISTORY_LIMIT_MAX ? GW_HISTORY_LIMIT_MAX : (uint32_t)limit;
    return 0;
}

//  Reads "type" and "ref". Returns 0 or -1 with *err.
static int s_parse_envelope(gw_request_t *req, gw_err_t *err)
{
    const char *ref = NULL;
    int r = s_string(req->root, "ref", &ref);
    long ref_len = r == S_OK ? chat_utf8_length(ref, strlen(ref)) : 0;
    //  Not UTF-8 (-1) is as bad as too long: the reply could not echo it.
    if (r == S_WRONG || ref_len < 0 || ref_len > GW_REF_MAX) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    req->ref = ref;
    const char *type = NULL;
    if (s_string(req->root, "type", &type) != S_OK) {
        *err = GW_ERR_BAD_REQUEST;
        return -1;
    }
    for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
        if (strcmp(s_types[i].name, type) == 0) {
            req->type = s_types[i].type;
            return 0;
        }
    *err = GW_ERR_UNKNOWN_TYPE;
    return -1;
}

int gw_request_parse(const char *text, size_t len, gw_request_t *req, gw_err_t *err)
{
    memset(req, 0, sizeof *req);
    const char *end = NULL;
    req->root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    //  One object and nothing after it but white space.
    bool trailing = false;
    for (const char *p = end; req->root && p && p < text + len && !trailing; p++)
        trailing = *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r';
    if (!req->root || !cJSON_IsObject(req->root) || trailing) {
        *err = GW_ERR_BAD_JSON;
        return -1;
    }
    return s_parse_envelope(req, err);
}

int gw_request_fields(gw_request_t *req, gw_err_t *err)
{
    switch (req->type) {
    case GW_REQ_CONNECT:
        return s_parse_connect(req, err);
    case GW_REQ_CREATE_ROOM:
        return s_parse_create(req, err);
    case GW_REQ_JOIN_ROOM:
        return s_parse_join(req, err);
    case GW_REQ_LEAVE_ROOM:
        return s_parse_room_id(req, false, GW_ERR_NOT_IN_ROOM, err);
    case GW_REQ_GET_ROOM_STATE:
        return s_parse_room_id(req, false, GW_ERR_ROOM_NOT_FOUND, err);
    case GW_REQ_SEND_MESSAGE:
        return s_parse_send(req, err);
    case GW_REQ_GET_HISTORY:
        return s_parse_history(req, err);
    case GW_REQ_GET_ROOMS:
        return s_parse_get_rooms(req, err);
    case GW_REQ_DISCONNECT:
    case GW_REQ_PING:
        break;
    }
    return 0;
}

void gw_request_clear(gw_request_t *req)
{
    cJSON_Delete(req->root);
    memset(req, 0, sizeof *req);
}

// ------------------------------------------------------------ builders

//  Starts {"type":"<type>"
static gw_buf_t *s_start(const char *type, size_t hint)
{
    gw_buf_t *buf = gw_buf_new(hint);
    gw_buf_puts(&buf, "{\"type\":\"");
    gw_buf_puts(&buf, type);
    gw_buf_putc(&buf, '"');
    return buf;
}

//  Adds ,"ref":.. when ref is set, closes the object and finishes the frame.
static gw_buf_t *s_end(gw_buf_t *buf, const char *ref)
{
    if (ref) {
        gw_buf_json_key(&buf, "ref", true);
        gw_buf_json_str(&buf, ref);
    }
    gw_buf_putc(&buf, '}');
    gw_buf_finish(buf, CHAT_WS_OP_TEXT);
    return buf;
}

static void s_user(gw_buf_t **buf, const char *id, const char *name)
{
    gw_buf_puts(buf, "{\"id\":");
    gw_buf_json_str(buf, id);
    gw_buf_puts(buf, ",\"name\":");
    gw_buf_json_str(buf, name && *name ? name : id);
    gw_buf_puts(buf, ",\"avatar\":null,\"isOnline\":true}");
}

static void s_message(gw_buf_t **buf, const Chat__ChatMessage *m)
{
    gw_buf_puts(buf, "{\"id\":\"");
    //  Room ids are [a-z0-9-]: no escaping needed inside the quotes.
    gw_buf_puts(buf, chat_valid_room_id(m->room_id) ? m->room_id : "invalid");
    gw_buf_putc(buf, ':');
    gw_buf_json_u64(buf, m->seq);
    gw_buf_puts(buf, "\",\"seq\":");
    gw_buf_json_u64(buf, m->seq);
    gw_buf_puts(buf, ",\"roomId\":");
    gw_buf_json_str(buf, m->room_id);
    gw_buf_puts(buf, ",\"userId\":");
    gw_buf_json_str(buf, m->user_id);
    gw_buf_puts(buf, ",\"userName\":");
    gw_buf_json_str(buf, m->user_name);
    gw_buf_puts(buf, ",\"content\":");
    gw_buf_json_str(buf, m->content);
    gw_buf_puts(buf, ",\"timestamp\":");
    gw_buf_json_i64(buf, m->timestamp);
    gw_buf_puts(buf, ",\"messageType\":\"");
    gw_buf_puts(buf, chat_message_type_name(m->type));
    gw_buf_puts(buf, "\"}");
}

static void s_messages(gw_buf_t **buf, Chat__ChatMessage *const *messages, size_t n)
{
    gw_buf_putc(buf, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            gw_buf_putc(buf, ',');
        s_message(buf, messages[i]);
    }
    gw_buf_putc(buf, ']');
}

static void s_room(gw_buf_t **buf, const Chat__RoomInfo *room)
{
    gw_buf_puts(buf, "{\"id\":");
    gw_buf_json_str(buf, room->id);
    gw_buf_puts(buf, ",\"name\":");
    gw_buf_json_str(buf, room->name);
    gw_buf_puts(buf, ",\"description\":");
    gw_buf_json_str(buf, room->description);
    gw_buf_puts(buf, ",\"createdAt\":");
    gw_buf_json_i64(buf, room->created_at);
    gw_buf_puts(buf, ",\"users\":[");
    for (size_t i = 0; i < room->n_users; i++) {
        if (i)
            gw_buf_putc(buf, ',');
        s_user(buf, room->users[i]->id, room->users[i]->name);
    }
    gw_buf_puts(buf, "],\"lastSeq\":");
    gw_buf_json_u64(buf, room->last_seq);
    gw_buf_putc(buf, '}');
}

gw_buf_t *gw_json_error(gw_err_t err, const char *message, int64_t retry_after_ms, const char *ref)
{
    gw_buf_t *buf = s_start("error", 128);
    gw_buf_json_key(&buf, "code", true);
    gw_buf_json_str(&buf, gw_err_code(err));
    gw_buf_json_key(&buf, "message", true);
    gw_buf_json_str(&buf, message ? message : gw_err_message(err));
    if (retry_after_ms >= 0) {
        gw_buf_json_key(&buf, "retryAfterMs", true);
        gw_buf_json_i64(&buf, retry_after_ms);
    }
    return s_end(buf, ref);
}

gw_buf_t *gw_json_connected(const char *user_id, const char *name, const char *session_id,
                            const char *ref)
{
    gw_buf_t *buf = s_start("connected", 192);
    gw_buf_json_key(&buf, "user", true);
    s_user(&buf, user_id, name);
    gw_buf_json_key(&buf, "sessionId", true);
    gw_buf_json_str(&buf, session_id);
    return s_end(buf, ref);
}

gw_buf_t *gw_json_pong(int64_t server_time, const char *ref)
{
    gw_buf_t *buf = s_start("pong", 64);
    gw_buf_json_key(&buf, "serverTime", true);
    gw_buf_json_i64(&buf, server_time);
    return s_end(buf, ref);
}

gw_buf_t *gw_json_room_created(const Chat__RoomInfo *room, const char *ref)
{
    gw_buf_t *buf = s_start("roomCreated", 256);
    gw_buf_json_key(&buf, "room", true);
    s_room(&buf, room);
    return s_end(buf, ref);
}

gw_buf_t *gw_json_rooms_open(Chat__RoomInfo *const *rooms, size_t n,
                             const gw_rooms_paging_t *paging)
{
    gw_buf_t *buf = s_start("roomsList", 256 * (n + 1));
    gw_buf_puts(&buf, ",\"rooms\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            gw_buf_putc(&buf, ',');
        s_room(&buf, rooms[i]);
    }
    gw_buf_putc(&buf, ']');
    if (paging) {
        gw_buf_json_key(&buf, "cursor", true);
        if (paging->cursor)
            gw_buf_json_str(&buf, paging->cursor);
        else
            gw_buf_puts(&buf, "null");
        gw_buf_json_key(&buf, "total", true);
        gw_buf_json_u64(&buf, paging->total);
    }
    return buf;
}

gw_buf_t *gw_json_close(const gw_buf_t *open, bool ref_follows)
{
    size_t len = 0;
    const char *payload = gw_buf_payload(open, &len);
    gw_buf_t *buf = gw_buf_new(len + 1);
    gw_buf_append(&buf, payload, len);
    if (ref_follows) {
        gw_buf_finish_fragment(buf, CHAT_WS_OP_TEXT, false);
    } else {
        gw_buf_putc(&buf, '}');
        gw_buf_finish(buf, CHAT_WS_OP_TEXT);
    }
    return buf;
}

gw_buf_t *gw_json_ref_tail(const char *ref)
{
    gw_buf_t *buf = gw_buf_new(16 + (ref ? strlen(ref) * 6 : 0));
    gw_buf_json_key(&buf, "ref", true);
    gw_buf_json_str(&buf, ref);
    gw_buf_putc(&buf, '}');
    gw_buf_finish_fragment(buf, CHAT_WS_OP_CONT, true);
    return buf;
}

gw_buf_t *gw_json_rooms_list(Chat__RoomInfo *const *rooms, size_t n, const char *ref)
{
    return s_end(gw_json_rooms_open(rooms, n, NULL), ref);
}

gw_buf_t *gw_json_room_joined(const Chat__RoomInfo *room, Chat__ChatMessage *const *history,
                              size_t n, bool truncated, const char *ref)
{
    gw_buf_t *buf = s_start("roomJoined", 256 + 256 * n);
    gw_buf_json_key(&buf, "room", true);
    s_room(&buf, room);
    gw_buf_json_key(&buf, "history", true);
    s_messages(&buf, history, n);
    if (truncated)
        gw_buf_puts(&buf, ",\"truncated\":true");
    return s_end(buf, ref);
}

gw_buf_t *gw_json_room_left(const char *room_id, const char *ref)
{
    gw_buf_t *buf = s_start("roomLeft", 96);
    gw_buf_json_key(&buf, "roomId", true);
    gw_buf_json_str(&buf, room_id);
    return s_end(buf, ref);
}

gw_buf_t *gw_json_message_ack(const char *room_id, uint64_t seq, const char *ref)
{
    gw_buf_t *buf = s_start("messageAck", 128);
    gw_buf_json_key(&buf, "roomId", true);
    gw_buf_json_str(&buf, room_id);
    gw_buf_puts(&buf, ",\"id\":\"");
    gw_buf_puts(&buf, chat_valid_room_id(room_id) ? room_id : "invalid");
    gw_buf_putc(&buf, ':');
    gw_buf_json_u64(&buf, seq);
    gw_buf_puts(&buf, "\",\"seq\":");
    gw_buf_json_u64(&buf, seq);
    return s_end(buf, ref);
}

gw_buf_t *gw_json_history(const char *room_id, Chat__ChatMessage *const *messages, size_t n,
                          bool has_more, const char *ref)
{
    gw_buf_t *buf = s_start("history", 128 + 256 * n);
    gw_buf_json_key(&buf, "roomId", true);
    gw_buf_json_str(&buf, room_id);
    gw_buf_json_key(&buf, "messages", true);
    s_messages(&buf, messages, n);
    gw_buf_puts(&buf, has_more ? ",\"hasMore\":true" : ",\"hasMore\":false");
    return s_end(buf, ref);
}

gw_buf_t *gw_json_room_state(const Chat__RoomInfo *room, Chat__ChatMessage *const *messages,
                             size_t n, const char *ref)
{
    gw_buf_t *buf = s_start("roomState", 256 + 256 * n);
    gw_buf_json_key(&buf, "room", true);
    s_room(&buf, room);
    gw_buf_json_key(&buf, "messages", true);
    s_messages(&buf, messages, n);
    return s_end(buf, ref);
}

gw_buf_t *gw_json_message_received(const Chat__ChatMessage *message)
{
    gw_buf_t *buf = s_start("messageReceived", 256 + strlen(message->content));
    gw_buf_json_key(&buf, "message", true);
    s_message(&buf, message);
    return s_end(buf, NULL);
}

gw_buf_t *gw_json_user_joined(const char *room_id, const Chat__User *user)
{
    gw_buf_t *buf = s_start("userJoined", 192);
    gw_buf_json_key(&buf, "roomId", true);
    gw_buf_json_str(&buf, room_id);
    gw_buf_json_key(&buf, "user", true);
    s_user(&buf, user->id, user->name);
    return s_end(buf, NULL);
}

gw_buf_t *gw_json_user_left(const char *room_id, const char *user_id)
{
    gw_buf_t *buf = s_start("userLeft", 128);
    gw_buf_json_key(&buf, "roomId", true);
    gw_buf_json_str(&buf, room_id);
    gw_buf_json_key(&buf, "userId", true);
    gw_buf_json_str(&buf, user_id);
    return s_end(buf, NULL);
}
