/*  gw_json: the client protocol's JSON (docs/protocol.md).
 *
 *  Parsing: one text message becomes a gw_request_t, checked against every
 *  rule that does not depend on the session's state (types, ranges, user id
 *  and name rules, room name rules, content rules). Building: each reply
 *  and push is written straight into a finished gw_buf (one text frame),
 *  so an event is encoded once for all its recipients.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include "chat.pb-c.h"
#include "gw_buf.h"

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>

//  Longest ref echoed, in characters.
#define GW_REF_MAX 64
//  Most messages getHistory returns, and its default.
#define GW_HISTORY_LIMIT_MAX 200
#define GW_HISTORY_LIMIT_DEFAULT 50
//  Most rooms a page of getRooms returns, and its default.
#define GW_ROOMS_LIMIT_MAX 200
#define GW_ROOMS_LIMIT_DEFAULT 50
//  Longest getRooms query, in characters (a room name's longest), and cursor, in bytes.
#define GW_ROOMS_QUERY_MAX 64
#define GW_ROOMS_CURSOR_MAX 128

//  The protocol's error codes ("Errors" in docs/protocol.md).
typedef enum {
    GW_ERR_BAD_JSON,
    GW_ERR_BAD_REQUEST,
    GW_ERR_UNKNOWN_TYPE,
    GW_ERR_CONNECT_REQUIRED,
    GW_ERR_ALREADY_CONNECTED,
    GW_ERR_INVALID_USER,
    GW_ERR_ROOM_NOT_FOUND,
    GW_ERR_ROOM_EXISTS,
    GW_ERR_INVALID_ROOM,
    GW_ERR_NOT_IN_ROOM,
    GW_ERR_EMPTY_MESSAGE,
    GW_ERR_MESSAGE_TOO_LONG,
    GW_ERR_RATE_LIMITED,
    GW_ERR_UNAVAILABLE,
    GW_ERR_INTERNAL,
    GW_ERR_COUNT
} gw_err_t;

//  The code ("room_not_found") and default message of an error.
const char *gw_err_code(gw_err_t err);
const char *gw_err_message(gw_err_t err);

//  The client error for a process-level status (chat_error's table).
gw_err_t gw_err_from_status(Chat__Status status);

typedef enum {
    GW_REQ_CONNECT,
    GW_REQ_GET_ROOMS,
    GW_REQ_CREATE_ROOM,
    GW_REQ_JOIN_ROOM,
    GW_REQ_LEAVE_ROOM,
    GW_REQ_SEND_MESSAGE,
    GW_REQ_GET_HISTORY,
    GW_REQ_GET_ROOM_STATE,
    GW_REQ_DISCONNECT,
    GW_REQ_PING,
} gw_req_type_t;

//  One parsed request. Strings are borrowed from root and live until
//  gw_request_clear.
typedef struct {
    gw_req_type_t type;      //  which request
    const char *ref;         //  ref to echo, NULL when absent
    const char *user_id;     //  connect
    const char *name;        //  connect (NULL = userId), createRoom
    const char *description; //  createRoom ("" when absent)
    const char *room_id;     //  join/leave/send/history/state; NULL when absent (send)
    const char *content;     //  sendMessage, stored as sent
    bool has_since;          //  joinRoom with since
    uint64_t since;          //  joinRoom: replay messages with seq > since
    bool has_before;         //  getHistory with before
    uint64_t before;         //  getHistory: messages with seq < before
    uint32_t limit;     //  getHistory: 1..GW_HISTORY_LIMIT_MAX; getRooms: 1..GW_ROOMS_LIMIT_MAX
    bool paged;         //  getRooms with limit, query or cursor (else v1: every room)
    const char *query;  //  getRooms: "" for none
    const char *cursor; //  getRooms: NULL for the first page
    cJSON *root;        //  the parsed message (owned)
} gw_request_t;

//  Parses one text message: one JSON object with a known "type" and, when
//  present, a valid "ref". Returns 0, or -1 with *err (bad_json,
//  bad_request, unknown_type); req->ref is set whenever the message carried
//  a valid ref. Call gw_request_clear afterwards in both cases.
int gw_request_parse(const char *text, size_t len, gw_request_t *req, gw_err_t *err);

//  Checks the fields of a parsed request against the protocol's rules and
//  fills them in req. Returns 0, or -1 with *err.
int gw_request_fields(gw_request_t *req, gw_err_t *err);

//  Frees what gw_request_parse kept. Safe to call twice.
void gw_request_clear(gw_request_t *req);

//  The name of a request type ("joinRoom").
const char *gw_req_name(gw_req_type_t type);

// ------------------------------------------------------------ replies

//  {"type":"error","code":..,"message":..[,"retryAfterMs":..][,"ref":..]}
//  message NULL = the code's default; retry_after_ms < 0 = absent.
gw_buf_t *gw_json_error(gw_err_t err, const char *message, int64_t retry_after_ms, const char *ref);

gw_buf_t *gw_json_connected(const char *user_id, const char *name, const char *session_id,
                            const char *ref);

gw_buf_t *gw_json_pong(int64_t server_time, const char *ref);

//  roomCreated with room (users empty, lastSeq 0 when the room is new).
gw_buf_t *gw_json_room_created(const Chat__RoomInfo *room, const char *ref);

//  The paging fields of a roomsList (docs/protocol.md, "The room directory").
typedef struct {
    const char *cursor; //  continues the listing; NULL at its end
    uint64_t total;     //  rooms the listing has in all
} gw_rooms_paging_t;

//  A roomsList left open for sharing: its payload so far is
//  {"type":"roomsList","rooms":[...] and, when paging is not NULL, the
//  paging fields, without the closing brace. Not finished: build the frames
//  to send from it with gw_json_close (and gw_json_ref_tail).
gw_buf_t *gw_json_rooms_open(Chat__RoomInfo *const *rooms, size_t n,
                             const gw_rooms_paging_t *paging);

//  A finished frame from an open message (borrowed, unchanged): with
//  ref_follows, its first fragment, for gw_json_ref_tail to end; else the
//  whole message, closed here. Either is shared by every recipient.
gw_buf_t *gw_json_close(const gw_buf_t *open, bool ref_follows);

//  The last fragment of a message whose first gw_json_close made with
//  ref_follows: ,"ref":"..."}
gw_buf_t *gw_json_ref_tail(const char *ref);

//  roomsList over n rooms (v1: no paging), as one whole frame.
gw_buf_t *gw_json_rooms_list(Chat__RoomInfo *const *rooms, size_t n, const char *ref);

gw_buf_t *gw_json_room_joined(const Chat__RoomInfo *room, Chat__ChatMessage *const *history,
                              size_t n, bool truncated, const char *ref);

gw_buf_t *gw_json_room_left(const char *room_id, const char *ref);

gw_buf_t *gw_json_message_ack(const char *room_id, uint64_t seq, const char *ref);

gw_buf_t *gw_json_history(const char *room_id, Chat__ChatMessage *const *messages, size_t n,
                          bool has_more, const char *ref);

gw_buf_t *gw_json_room_state(const Chat__RoomInfo *room, Chat__ChatMessage *const *messages,
                             size_t n, const char *ref);

// ------------------------------------------------------------ pushes

gw_buf_t *gw_json_message_received(const Chat__ChatMessage *message);

gw_buf_t *gw_json_user_joined(const char *room_id, const Chat__User *user);

gw_buf_t *gw_json_user_left(const char *room_id, const char *user_id);

#endif
