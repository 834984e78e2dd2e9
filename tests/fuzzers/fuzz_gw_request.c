/*  fuzz_gw_request: the client's JSON requests (gateway/gw_json): one text
 *  message parsed into a request, checked field by field for its kind, and
 *  the strings the gateway takes from it written back into the frames that
 *  carry them (error and connected replies with their ref; a room's name
 *  and description; a message's content, as the room stores it as sent).
 *  Property: every such frame is one WebSocket text frame holding one JSON
 *  object whose strings are the request's. The same check runs on the raw
 *  input through the JSON string encoder, which every frame uses.
 */
#include "chat_text.h"
#include "chat_wsframe.h"
#include "fuzz_support.h"
#include "gw_json.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

//  The JSON object of buf's frame; fails unless it is one.
static cJSON *s_frame_json(const gw_buf_t *buf, const char *what)
{
    size_t len = 0;
    uint8_t *copy = malloc(65536 + 16);
    const uint8_t *frame = gw_buf_frame(buf, &len);
    if (!copy || len > 65536 + 16)
        fuzz_fail("%s: frame of %zu bytes", what, len);
    memcpy(copy, frame, len);
    chat_wsframe_t f;
    if (chat_wsframe_parse(copy, len, &f) != (long)len || f.opcode != CHAT_WS_OP_TEXT || f.masked)
        fuzz_fail("%s: not one unmasked text frame", what);
    if (chat_utf8_length((const char *)f.payload, (size_t)f.len) < 0)
        fuzz_fail("%s: payload is not UTF-8", what);
    cJSON *root = cJSON_ParseWithLength((const char *)f.payload, (size_t)f.len);
    free(copy);
    if (!cJSON_IsObject(root))
        fuzz_fail("%s: payload is not a JSON object", what);
    return root;
}

//  The string at path (a, then b when not NULL) in root.
static const char *s_str(const cJSON *root, const char *a, const char *b)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, a);
    if (b)
        item = cJSON_GetObjectItemCaseSensitive(item, b);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void s_same(const char *what, const char *got, const char *want)
{
    if (!got || !want || strcmp(got, want) != 0)
        fuzz_fail("%s: got \"%s\", sent \"%s\"", what, got ? got : "(none)",
                  want ? want : "(none)");
}

static void s_check_ref(cJSON *root, const char *ref)
{
    if (ref)
        s_same("ref", s_str(root, "ref", NULL), ref);
    else if (cJSON_GetObjectItemCaseSensitive(root, "ref"))
        fuzz_fail("a ref nobody sent");
}

//  The frames built from an accepted request's strings.
static void s_echo_accepted(const gw_request_t *req)
{
    gw_buf_t *buf = NULL;
    cJSON *root = NULL;
    switch (req->type) {
    case GW_REQ_CONNECT:
        buf = gw_json_connected(req->user_id, req->name, "gw-fuzz-1", req->ref);
        root = s_frame_json(buf, "connected");
        s_same("user id", s_str(root, "user", "id"), req->user_id);
        s_same("user name", s_str(root, "user", "name"), *req->name ? req->name : req->user_id);
        s_check_ref(root, req->ref);
        break;
    case GW_REQ_CREATE_ROOM: {
        Chat__RoomInfo room = CHAT__ROOM_INFO__INIT;
        room.id = "room";
        room.name = (char *)req->name;
        room.description = (char *)req->description;
        buf = gw_json_room_created(&room, req->ref);
        root = s_frame_json(buf, "roomCreated");
        s_same("room name", s_str(root, "room", "name"), req->name);
        s_same("room description", s_str(root, "room", "description"), req->description);
        s_check_ref(root, req->ref);
        break;
    }
    case GW_REQ_SEND_MESSAGE: {
        Chat__ChatMessage m = CHAT__CHAT_MESSAGE__INIT;
        m.seq = 1;
        m.room_id = (char *)(req->room_id ? req->room_id : "general");
        m.user_id = "alice";
        m.user_name = "Alice";
        m.content = (char *)req->content;
        buf = gw_json_message_received(&m);
        root = s_frame_json(buf, "messageReceived");
        s_same("content", s_str(root, "message", "content"), req->content);
        s_same("room id", s_str(root, "message", "roomId"), m.room_id);
        break;
    }
    default:
        break;
    }
    cJSON_Delete(root);
    gw_buf_unref(&buf);
}

//  The raw input as a JSON string: valid UTF-8 comes back as it was.
static void s_string_encoder(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return;
    gw_buf_t *buf = gw_buf_new(size + 16);
    gw_buf_puts(&buf, "{\"s\":");
    gw_buf_json_strn(&buf, (const char *)data, size);
    gw_buf_putc(&buf, '}');
    gw_buf_finish(buf, CHAT_WS_OP_TEXT);
    cJSON *root = s_frame_json(buf, "string encoder");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "s");
    bool utf8 = chat_utf8_length((const char *)data, size) >= 0 && !memchr(data, 0, size);
    if (!cJSON_IsString(s) ||
        (utf8 && (strlen(s->valuestring) != size || memcmp(s->valuestring, data, size) != 0)))
        fuzz_fail("the JSON string encoder changed %zu bytes of UTF-8", size);
    cJSON_Delete(root);
    gw_buf_unref(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_request_t req;
    gw_err_t err = GW_ERR_INTERNAL;
    int rc = gw_request_parse((const char *)data, size, &req, &err);
    if (rc == 0)
        rc = gw_request_fields(&req, &err);
    if (rc == 0) {
        s_echo_accepted(&req);
    } else {
        if (err >= GW_ERR_COUNT)
            fuzz_fail("error code %d out of range", (int)err);
        gw_buf_t *buf = gw_json_error(err, NULL, -1, req.ref);
        cJSON *root = s_frame_json(buf, "error");
        s_same("error code", s_str(root, "code", NULL), gw_err_code(err));
        s_check_ref(root, req.ref);
        cJSON_Delete(root);
        gw_buf_unref(&buf);
    }
    gw_request_clear(&req);
    s_string_encoder(data, size);
    return 0;
}
