/*  gw_buf: one outgoing WebSocket frame, built once, shared by reference.
 *
 *  A room event is encoded to JSON once and framed once: server frames are
 *  not masked, so the same bytes go to every recipient. Each recipient's
 *  queue holds a reference; the last gw_buf_unref frees the buffer.
 *
 *  Building: gw_buf_new, then the append functions (they may move the
 *  buffer, hence gw_buf_t **), then gw_buf_finish, which writes the frame
 *  header in front of the payload. A buffer is shared only after
 *  gw_buf_finish. Appending never fails: running out of memory aborts.
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_buf gw_buf_t;

//  A new buffer with one reference and room for about hint payload bytes.
gw_buf_t *gw_buf_new(size_t hint);

//  Appends raw bytes / one character / a C string to the payload.
void gw_buf_append(gw_buf_t **buf, const void *data, size_t len);
void gw_buf_putc(gw_buf_t **buf, char c);
void gw_buf_puts(gw_buf_t **buf, const char *text);

//  Appends text as a JSON string literal, quotes included. Invalid UTF-8
//  bytes become U+FFFD, so the frame is always valid UTF-8. NULL gives "".
void gw_buf_json_str(gw_buf_t **buf, const char *text);
void gw_buf_json_strn(gw_buf_t **buf, const char *text, size_t len);

//  Appends a JSON integer.
void gw_buf_json_i64(gw_buf_t **buf, int64_t value);
void gw_buf_json_u64(gw_buf_t **buf, uint64_t value);

//  Appends "name": (a comma first when comma is true).
void gw_buf_json_key(gw_buf_t **buf, const char *name, bool comma);

//  Writes the header of a final frame of opcode (CHAT_WS_OP_TEXT for JSON)
//  in front of the payload. After this the buffer is read-only.
void gw_buf_finish(gw_buf_t *buf, int opcode);

//  The same for one fragment of a message (RFC 6455 5.4): opcode is the
//  message's for the first fragment and CHAT_WS_OP_CONT for the others; fin
//  marks the last. A message is shared in part this way: a common first
//  fragment, then a small last one per recipient. The fragments of one
//  message must be queued back to back (control frames may come between).
void gw_buf_finish_fragment(gw_buf_t *buf, int opcode, bool fin);

//  A finished control frame (ping, pong, close) with payload (<= 125 bytes).
gw_buf_t *gw_buf_new_control(int opcode, const void *payload, size_t len);

//  Adds a reference and returns buf.
gw_buf_t *gw_buf_ref(gw_buf_t *buf);

//  Drops a reference (freeing the buffer with the last one), sets *buf to
//  NULL. Safe on NULL.
void gw_buf_unref(gw_buf_t **buf);

//  The finished frame's bytes (header and payload) and their count.
const uint8_t *gw_buf_frame(const gw_buf_t *buf, size_t *len);

//  The payload so far (for tests and logs) and its length.
const char *gw_buf_payload(const gw_buf_t *buf, size_t *len);

//  Buffers alive in the process (for metrics and leak checks).
uint64_t gw_buf_live(void);

#endif
