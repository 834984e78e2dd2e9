/*  The client protocol's JSON: request parsing and validation, reply and
 *  push frames (gw_json). */
#include "gw_json.h"

#include <cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

//  Parses text fully (envelope and fields); returns -1 with *err, or 0.
static int s_parse(const char *text, gw_request_t *req, gw_err_t *err)
{
    int rc = gw_request_parse(text, strlen(text), req, err);
    if (rc == 0)
        rc = gw_request_fields(req, err);
    return rc;
}

//  The error code text gives, "ok" when it parses.
static const char *s_code(const char *text)
{
    gw_request_t req;
    gw_err_t err;
    int rc = s_parse(text, &req, &err);
    gw_request_clear(&req);
    return rc == 0 ? "ok" : gw_err_code(err);
}

//  A finished frame's payload parsed as JSON.
static cJSON *s_json(gw_buf_t **buf)
{
    size_t len;
    const char *p = gw_buf_payload(*buf, &len);
    cJSON *json = cJSON_ParseWithLength(p, len);
    gw_buf_unref(buf);
    cr_assert_not_null(json);
    return json;
}

static const char *s_str(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(item) ? item->valuestring : "";
}

Test(json, a_frame_that_is_not_one_object_is_bad_json)
{
    cr_expect_str_eq(s_code("not json"), "bad_json");
    cr_expect_str_eq(s_code("[1,2]"), "bad_json");
    cr_expect_str_eq(s_code("\"type\""), "bad_json");
    cr_expect_str_eq(s_code("{\"type\":\"ping\"} {}"), "bad_json");
    cr_expect_str_eq(s_code(""), "bad_json");
    cr_expect_str_eq(s_code("{\"type\":\"ping\"}  \n"), "ok");
}

Test(json, type_must_be_a_known_string)
{
    cr_expect_str_eq(s_code("{}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":5}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"dance\"}"), "unknown_type");
    cr_expect_str_eq(s_code("{\"type\":\"Ping\"}"), "unknown_type");
}

Test(json, ref_is_kept_when_valid_even_on_errors)
{
    gw_request_t req;
    gw_err_t err;
    cr_expect_eq(s_parse("{\"type\":\"dance\",\"ref\":\"r1\"}", &req, &err), -1);
    cr_expect_eq(err, GW_ERR_UNKNOWN_TYPE);
    cr_expect_str_eq(req.ref, "r1");
    gw_request_clear(&req);
    char text[200];
    snprintf(text, sizeof text, "{\"type\":\"ping\",\"ref\":\"%065d\"}", 0);
    cr_expect_str_eq(s_code(text), "bad_request", "a ref over 64 chars");
    snprintf(text, sizeof text, "{\"type\":\"ping\",\"ref\":\"%064d\"}", 0);
    cr_expect_str_eq(s_code(text), "ok");
    cr_expect_str_eq(s_code("{\"type\":\"ping\",\"ref\":7}"), "bad_request");
    //  found by fuzz_gw_request: a ref that is not UTF-8 cannot be echoed as sent
    cr_expect_str_eq(s_code("{\"type\":\"ping\",\"ref\":\"\xc3]\"}"), "bad_request");
}

Test(json, connect_checks_user_id_and_name)
{
    gw_request_t req;
    gw_err_t err;
    cr_assert_eq(s_parse("{\"type\":\"connect\",\"userId\":\"alice\"}", &req, &err), 0);
    cr_expect_eq(req.type, GW_REQ_CONNECT);
    cr_expect_str_eq(req.name, "alice", "name defaults to userId");
    gw_request_clear(&req);
    cr_expect_str_eq(s_code("{\"type\":\"connect\",\"userId\":\"a.b-c_9\",\"name\":\"Ä b\"}"),
                     "ok");
    cr_expect_str_eq(s_code("{\"type\":\"connect\"}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"connect\",\"userId\":3}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"connect\",\"userId\":\"\"}"), "invalid_user");
    cr_expect_str_eq(s_code("{\"type\":\"connect\",\"userId\":\"al ice\"}"), "invalid_user");
    cr_expect_str_eq(
        s_code("{\"type\":\"connect\",\"userId\":\"abcdefghijabcdefghijabcdefghijabc\"}"),
        "invalid_user");
    cr_expect_str_eq(s_code("{\"type\":\"connect\",\"userId\":\"a\",\"name\":\"\"}"),
                     "invalid_user");
    cr_expect_str_eq(s_code("{\"type\":\"connect\",\"userId\":\"a\",\"name\":5}"), "bad_request");
}

Test(json, create_room_checks_name_and_description)
{
    cr_expect_str_eq(s_code("{\"type\":\"createRoom\",\"name\":\"Test Room\"}"), "ok");
    cr_expect_str_eq(s_code("{\"type\":\"createRoom\",\"name\":\"\"}"), "invalid_room");
    cr_expect_str_eq(s_code("{\"type\":\"createRoom\"}"), "bad_request");
    char text[700];
    snprintf(text, sizeof text, "{\"type\":\"createRoom\",\"name\":\"%065d\"}", 0);
    cr_expect_str_eq(s_code(text), "invalid_room");
    snprintf(text, sizeof text,
             "{\"type\":\"createRoom\",\"name\":\"r\",\"description\":\"%0257d\"}", 0);
    cr_expect_str_eq(s_code(text), "invalid_room");
    snprintf(text, sizeof text,
             "{\"type\":\"createRoom\",\"name\":\"r\",\"description\":\"%0256d\"}", 0);
    cr_expect_str_eq(s_code(text), "ok");
}

Test(json, join_reads_since_as_a_non_negative_integer)
{
    gw_request_t req;
    gw_err_t err;
    cr_assert_eq(s_parse("{\"type\":\"joinRoom\",\"roomId\":\"general\",\"since\":40}", &req, &err),
                 0);
    cr_expect(req.has_since);
    cr_expect_eq(req.since, 40);
    gw_request_clear(&req);
    cr_expect_str_eq(s_code("{\"type\":\"joinRoom\",\"roomId\":\"general\",\"since\":-1}"),
                     "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"joinRoom\",\"roomId\":\"general\",\"since\":1.5}"),
                     "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"joinRoom\",\"roomId\":\"general\",\"since\":\"4\"}"),
                     "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"joinRoom\"}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"joinRoom\",\"roomId\":\"No Such/Room\"}"),
                     "room_not_found");
}

Test(json, send_message_checks_content)
{
    gw_request_t req;
    gw_err_t err;
    cr_assert_eq(s_parse("{\"type\":\"sendMessage\",\"content\":\"  hi  \"}", &req, &err), 0);
    cr_expect_null(req.room_id, "roomId may be left out");
    cr_expect_str_eq(req.content, "  hi  ", "content is kept as sent");
    gw_request_clear(&req);
    cr_expect_str_eq(s_code("{\"type\":\"sendMessage\",\"content\":\" \\n\\t \"}"),
                     "empty_message");
    cr_expect_str_eq(s_code("{\"type\":\"sendMessage\",\"content\":\"\"}"), "empty_message");
    cr_expect_str_eq(s_code("{\"type\":\"sendMessage\"}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"sendMessage\",\"content\":\"x\",\"roomId\":\"a b\"}"),
                     "not_in_room");
    static char text[20000];
    strcpy(text, "{\"type\":\"sendMessage\",\"content\":\"");
    for (int i = 0; i < 4000; i++)
        strcat(text, "é");
    strcat(text, "\"}");
    cr_expect_str_eq(s_code(text), "ok", "4000 characters (8000 bytes) are allowed");
    text[strlen(text) - 2] = '\0';
    strcat(text, "x\"}");
    cr_expect_str_eq(s_code(text), "message_too_long");
}

Test(json, get_history_defaults_and_caps_the_limit)
{
    gw_request_t req;
    gw_err_t err;
    cr_assert_eq(s_parse("{\"type\":\"getHistory\",\"roomId\":\"general\"}", &req, &err), 0);
    cr_expect_eq(req.limit, 50);
    cr_expect_not(req.has_before);
    gw_request_clear(&req);
    cr_assert_eq(s_parse("{\"type\":\"getHistory\",\"roomId\":\"g\",\"before\":43,\"limit\":500}",
                         &req, &err),
                 0);
    cr_expect_eq(req.limit, 200);
    cr_expect(req.has_before);
    cr_expect_eq(req.before, 43);
    gw_request_clear(&req);
    cr_expect_str_eq(s_code("{\"type\":\"getHistory\",\"roomId\":\"g\",\"limit\":0}"),
                     "bad_request");
}

Test(json, error_frame_carries_code_message_retry_and_ref)
{
    gw_buf_t *buf = gw_json_error(GW_ERR_RATE_LIMITED, NULL, 250, "r\"9");
    cJSON *json = s_json(&buf);
    cr_expect_str_eq(s_str(json, "type"), "error");
    cr_expect_str_eq(s_str(json, "code"), "rate_limited");
    cr_expect_str_neq(s_str(json, "message"), "");
    cr_expect_eq(cJSON_GetObjectItem(json, "retryAfterMs")->valueint, 250);
    cr_expect_str_eq(s_str(json, "ref"), "r\"9");
    cJSON_Delete(json);
    buf = gw_json_error(GW_ERR_ROOM_NOT_FOUND, NULL, -1, NULL);
    json = s_json(&buf);
    cr_expect_null(cJSON_GetObjectItem(json, "retryAfterMs"));
    cr_expect_null(cJSON_GetObjectItem(json, "ref"));
    cr_expect_str_eq(s_str(json, "message"), "Room not found");
    cJSON_Delete(json);
}

Test(json, message_received_has_every_field_of_message)
{
    Chat__ChatMessage m = CHAT__CHAT_MESSAGE__INIT;
    m.seq = 42;
    m.room_id = "general";
    m.user_id = "alice";
    m.user_name = "Alice";
    m.content = "Hello \"you\"";
    m.timestamp = 1764370000123;
    m.type = CHAT__MESSAGE_TYPE__MESSAGE_JOIN;
    gw_buf_t *buf = gw_json_message_received(&m);
    cJSON *json = s_json(&buf);
    cr_expect_str_eq(s_str(json, "type"), "messageReceived");
    cJSON *msg = cJSON_GetObjectItem(json, "message");
    cr_assert_not_null(msg);
    cr_expect_str_eq(s_str(msg, "id"), "general:42");
    cr_expect_eq(cJSON_GetObjectItem(msg, "seq")->valuedouble, 42);
    cr_expect_str_eq(s_str(msg, "roomId"), "general");
    cr_expect_str_eq(s_str(msg, "userId"), "alice");
    cr_expect_str_eq(s_str(msg, "userName"), "Alice");
    cr_expect_str_eq(s_str(msg, "content"), "Hello \"you\"");
    cr_expect_eq(cJSON_GetObjectItem(msg, "timestamp")->valuedouble, 1764370000123.0);
    cr_expect_str_eq(s_str(msg, "messageType"), "join");
    cJSON_Delete(json);
}

Test(json, room_objects_list_users_and_last_seq)
{
    Chat__User u1 = CHAT__USER__INIT, u2 = CHAT__USER__INIT;
    u1.id = "alice";
    u1.name = "Alice";
    u2.id = "bob";
    u2.name = "";
    Chat__User *users[] = {&u1, &u2};
    Chat__RoomInfo room = CHAT__ROOM_INFO__INIT;
    room.id = "general";
    room.name = "general";
    room.description = "General discussion";
    room.created_at = 1764370000000;
    room.users = users;
    room.n_users = 2;
    room.last_seq = 7;
    Chat__RoomInfo *rooms[] = {&room};
    gw_buf_t *buf = gw_json_rooms_list(rooms, 1, "x");
    cJSON *json = s_json(&buf);
    cr_expect_str_eq(s_str(json, "type"), "roomsList");
    cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(json, "rooms"), 0);
    cr_assert_not_null(r);
    cr_expect_str_eq(s_str(r, "description"), "General discussion");
    cr_expect_eq(cJSON_GetObjectItem(r, "lastSeq")->valueint, 7);
    cJSON *list = cJSON_GetObjectItem(r, "users");
    cr_assert_eq(cJSON_GetArraySize(list), 2);
    cJSON *bob = cJSON_GetArrayItem(list, 1);
    cr_expect_str_eq(s_str(bob, "name"), "bob", "an empty name shows the id");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(bob, "avatar")));
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(bob, "isOnline")));
    cJSON_Delete(json);
}

Test(json, replies_have_the_documented_shapes)
{
    gw_buf_t *buf = gw_json_message_ack("general", 43, NULL);
    cJSON *json = s_json(&buf);
    cr_expect_str_eq(s_str(json, "type"), "messageAck");
    cr_expect_str_eq(s_str(json, "id"), "general:43");
    cr_expect_eq(cJSON_GetObjectItem(json, "seq")->valueint, 43);
    cJSON_Delete(json);

    buf = gw_json_connected("alice", "Alice", "gw-1-2", "c");
    json = s_json(&buf);
    cr_expect_str_eq(s_str(cJSON_GetObjectItem(json, "user"), "name"), "Alice");
    cr_expect_str_eq(s_str(json, "sessionId"), "gw-1-2");
    cJSON_Delete(json);

    buf = gw_json_history("general", NULL, 0, true, NULL);
    json = s_json(&buf);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(json, "hasMore")));
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(json, "messages")), 0);
    cJSON_Delete(json);

    Chat__User u = CHAT__USER__INIT;
    u.id = "bob";
    u.name = "Bob";
    buf = gw_json_user_joined("tech", &u);
    json = s_json(&buf);
    cr_expect_str_eq(s_str(json, "roomId"), "tech");
    cr_expect_str_eq(s_str(cJSON_GetObjectItem(json, "user"), "id"), "bob");
    cJSON_Delete(json);

    buf = gw_json_user_left("tech", "bob");
    json = s_json(&buf);
    cr_expect_str_eq(s_str(json, "type"), "userLeft");
    cr_expect_str_eq(s_str(json, "userId"), "bob");
    cJSON_Delete(json);
}

Test(json, status_maps_to_the_client_error)
{
    cr_expect_eq(gw_err_from_status(CHAT__STATUS__STATUS_NOT_FOUND), GW_ERR_ROOM_NOT_FOUND);
    cr_expect_eq(gw_err_from_status(CHAT__STATUS__STATUS_NOT_OWNER), GW_ERR_UNAVAILABLE);
    cr_expect_eq(gw_err_from_status(CHAT__STATUS__STATUS_EMPTY_MESSAGE), GW_ERR_EMPTY_MESSAGE);
    cr_expect_eq(gw_err_from_status((Chat__Status)77), GW_ERR_INTERNAL);
}

Test(json, get_rooms_is_v1_without_paging_fields_and_paged_with_any)
{
    gw_request_t req;
    gw_err_t err;
    cr_assert_eq(s_parse("{\"type\":\"getRooms\"}", &req, &err), 0);
    cr_expect(!req.paged, "no limit, query or cursor: v1");
    gw_request_clear(&req);
    cr_assert_eq(s_parse("{\"type\":\"getRooms\",\"query\":\"TeC\"}", &req, &err), 0);
    cr_expect(req.paged);
    cr_expect_str_eq(req.query, "TeC");
    cr_expect_eq(req.limit, GW_ROOMS_LIMIT_DEFAULT);
    cr_expect_null(req.cursor);
    gw_request_clear(&req);
    cr_assert_eq(
        s_parse("{\"type\":\"getRooms\",\"limit\":1000,\"cursor\":\"3.tech\"}", &req, &err), 0);
    cr_expect(req.paged);
    cr_expect_eq(req.limit, GW_ROOMS_LIMIT_MAX, "a larger limit is served as 200");
    cr_expect_str_eq(req.cursor, "3.tech");
    cr_expect_str_eq(req.query, "");
    gw_request_clear(&req);
    cr_expect_str_eq(s_code("{\"type\":\"getRooms\",\"limit\":0}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"getRooms\",\"limit\":-1}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"getRooms\",\"limit\":\"5\"}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"getRooms\",\"query\":5}"), "bad_request");
    cr_expect_str_eq(s_code("{\"type\":\"getRooms\",\"cursor\":\"\"}"), "bad_request");
    char text[256];
    snprintf(text, sizeof text, "{\"type\":\"getRooms\",\"query\":\"%065d\"}", 0);
    cr_expect_str_eq(s_code(text), "bad_request", "a query longer than any name");
    snprintf(text, sizeof text, "{\"type\":\"getRooms\",\"query\":\"%064d\"}", 0);
    cr_expect_str_eq(s_code(text), "ok");
    cr_expect_str_eq(s_code("{\"type\":\"getRooms\",\"query\":null,\"limit\":null}"), "ok");
}

//  Concatenates the payloads of frames (as a client reassembles fragments).
static cJSON *s_message(gw_buf_t *const *frames, size_t n)
{
    char text[4096];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t part;
        const char *p = gw_buf_payload(frames[i], &part);
        cr_assert_lt(len + part, sizeof text);
        memcpy(text + len, p, part);
        len += part;
    }
    return cJSON_ParseWithLength(text, len);
}

Test(json, a_shared_page_is_one_frame_or_a_first_fragment_with_a_ref_tail)
{
    Chat__RoomInfo room = CHAT__ROOM_INFO__INIT;
    room.id = "tech";
    room.name = "tech";
    room.description = "Technology";
    Chat__RoomInfo *rooms[] = {&room};
    gw_rooms_paging_t paging = {"0.tech", 12};
    gw_buf_t *open = gw_json_rooms_open(rooms, 1, &paging);

    gw_buf_t *whole = gw_json_close(open, false);
    size_t len;
    const uint8_t *frame = gw_buf_frame(whole, &len);
    cr_expect_eq(frame[0], 0x81, "FIN + text");
    cJSON *json = s_message(&whole, 1);
    cr_assert_not_null(json);
    cr_expect_str_eq(s_str(json, "type"), "roomsList");
    cr_expect_str_eq(s_str(json, "cursor"), "0.tech");
    cr_expect_eq(cJSON_GetObjectItem(json, "total")->valueint, 12);
    cr_expect_null(cJSON_GetObjectItem(json, "ref"));
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(json, "rooms")), 1);
    cJSON_Delete(json);

    gw_buf_t *parts[2] = {gw_json_close(open, true), gw_json_ref_tail("r\"1")};
    cr_expect_eq(gw_buf_frame(parts[0], &len)[0], 0x01, "not final, text");
    cr_expect_eq(gw_buf_frame(parts[1], &len)[0], 0x80, "final continuation");
    json = s_message(parts, 2);
    cr_assert_not_null(json, "the fragments make one JSON object");
    cr_expect_str_eq(s_str(json, "ref"), "r\"1");
    cr_expect_str_eq(s_str(json, "cursor"), "0.tech");
    cJSON_Delete(json);

    paging.cursor = NULL;
    gw_buf_t *last = gw_json_rooms_open(rooms, 1, &paging);
    gw_buf_t *end = gw_json_close(last, false);
    json = s_message(&end, 1);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(json, "cursor")), "null at the end of the listing");
    cJSON_Delete(json);
    gw_buf_t *bufs[] = {open, whole, parts[0], parts[1], last, end};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        gw_buf_unref(&bufs[i]);
}
