/*  chat_ws_client: a blocking WebSocket client for tests, on chat_wsframe.
 *
 *  Every call that waits takes a timeout in milliseconds. Pings from the
 *  server are answered with pongs while receiving. Received JSON is returned
 *  as a cJSON tree the caller frees with cJSON_Delete.
 */
#ifndef CHAT_WS_CLIENT_H
#define CHAT_WS_CLIENT_H

#include "chat_wsframe.h"

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct chat_ws chat_ws_t;

//  Connects to 127.0.0.1:port, sends the opening request for path (with
//  Sec-WebSocket-Protocol when protocol is not NULL) and checks the answer.
//  Returns NULL when the connection or the upgrade fails within timeout_ms.
chat_ws_t *chat_ws_connect(int port, const char *path, const char *protocol, int timeout_ms);

//  Receive buffer (SO_RCVBUF, set before connecting) of the connections
//  chat_ws_connect makes from now on; 0 restores the system's default. A
//  small one makes a client that stops reading look slow at once.
void chat_ws_client_rcvbuf(int bytes);

//  Closes the socket (no close frame), frees the client, sets *ws to NULL.
void chat_ws_destroy(chat_ws_t **ws);

//  The subprotocol the server chose, "" for none.
const char *chat_ws_protocol(const chat_ws_t *ws);

//  The socket, e.g. to stop reading it or shrink its receive buffer.
int chat_ws_fd(const chat_ws_t *ws);

//  Sends one masked frame. Returns 0, or -1 when the socket failed.
int chat_ws_send_frame(chat_ws_t *ws, int opcode, bool fin, const void *data, size_t len);

//  Sends text as one text frame.
int chat_ws_send_text(chat_ws_t *ws, const char *text);

//  Formats a text frame (printf style) and sends it.
int chat_ws_sendf(chat_ws_t *ws, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

//  Sends bytes as they are (for broken frames).
int chat_ws_send_raw(chat_ws_t *ws, const void *data, size_t len);

//  Sends a close frame with code and reason.
int chat_ws_send_close(chat_ws_t *ws, int code, const char *reason);

//  Waits for the next data message (text or binary; fragments reassembled).
//  Returns 1 and sets *data/*len (valid until the next receive) and *opcode,
//  0 on timeout, -1 when the connection closed (see chat_ws_close_code).
int chat_ws_recv_message(chat_ws_t *ws, int *opcode, const char **data, size_t *len,
                         int timeout_ms);

//  The next text message parsed as JSON; NULL on timeout, close or bad JSON.
cJSON *chat_ws_recv_json(chat_ws_t *ws, int timeout_ms);

//  Skips messages until one whose "type" is type (or "error" when
//  or_error), within timeout_ms overall. NULL on timeout or close.
cJSON *chat_ws_recv_type(chat_ws_t *ws, const char *type, bool or_error, int timeout_ms);

//  Reads until the server's close frame or the end of the connection.
//  Returns the close code (CHAT_WS_CLOSE_NO_STATUS for an empty close frame,
//  1006 when the TCP connection ended without one), or -1 on timeout.
int chat_ws_expect_close(chat_ws_t *ws, int timeout_ms);

//  The close code seen so far (0 while open), and its reason ("" if none).
int chat_ws_close_code(const chat_ws_t *ws);
const char *chat_ws_close_reason(const chat_ws_t *ws);

//  Pongs received so far (answers to chat_ws_send_frame(PING)).
int chat_ws_pongs(const chat_ws_t *ws);

//  Pings received from the server so far.
int chat_ws_pings(const chat_ws_t *ws);

//  Sends text and returns the first following message of type reply_type or
//  "error". NULL on timeout.
cJSON *chat_ws_call(chat_ws_t *ws, const char *text, const char *reply_type, int timeout_ms);

//  Connects and sends connect for user_id/name (name may be NULL); NULL
//  unless the server answered "connected".
chat_ws_t *chat_ws_login(int port, const char *user_id, const char *name, int timeout_ms);

//  One HTTP/1.1 GET to 127.0.0.1:port (Connection: close). Returns the
//  status (-1 when nothing answered within timeout_ms); the body (up to
//  cap - 1 bytes) goes to body when it is not NULL.
int chat_http_get(int port, const char *path, char *body, size_t cap, int timeout_ms);

//  String field of a JSON object, "" when absent (for assertions).
const char *chat_json_str(const cJSON *obj, const char *name);

//  Number field of a JSON object as an integer, -1 when absent.
long long chat_json_int(const cJSON *obj, const char *name);

#endif
