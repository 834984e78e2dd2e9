/*  bench_scan: the few fields chat-bench needs from a server message.
 *
 *  A single pass over one JSON text (docs/protocol.md) that checks the
 *  whole text is one well-formed JSON object and picks out the fields the
 *  load generator reads, wherever they are in their object. No allocation,
 *  no tree: this runs once per delivery on the hot receive path.
 *
 *  String fields are returned as spans of the raw text between the quotes
 *  (escapes are not decoded): the fields read this way (types, refs, error
 *  codes, room ids, the content prefix chat-bench writes) never need
 *  escapes, and a span that holds a backslash is marked escaped.
 */
#ifndef BENCH_SCAN_H
#define BENCH_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A piece of the scanned text; p is NULL when the field was absent.
typedef struct {
    const char *p; //  first byte (inside the quotes for strings)
    uint32_t len;  //  bytes
    bool escaped;  //  holds a backslash escape
} bench_span_t;

//  The message types chat-bench acts on; everything else is OTHER.
typedef enum {
    BENCH_MSG_OTHER,
    BENCH_MSG_RECEIVED,     //  messageReceived
    BENCH_MSG_ACK,          //  messageAck
    BENCH_MSG_ERROR,        //  error
    BENCH_MSG_CONNECTED,    //  connected
    BENCH_MSG_ROOM_JOINED,  //  roomJoined
    BENCH_MSG_ROOM_CREATED, //  roomCreated
    BENCH_MSG_ROOMS_LIST,   //  roomsList
    BENCH_MSG_PONG,         //  pong
} bench_msg_type_t;

typedef struct {
    bench_msg_type_t type;     //  from "type"
    bench_span_t type_name;    //  "type" as written
    bench_span_t ref;          //  top-level "ref"
    bench_span_t code;         //  error "code"
    bench_span_t room_id;      //  top-level "roomId", else message.roomId, else room.id
    bool has_seq;              //  seq below was present (a non-negative integer)
    uint64_t seq;              //  top-level "seq" (messageAck), else message.seq
    bench_span_t content;      //  message.content
    bench_span_t message_type; //  message.messageType
    uint64_t history_seq;      //  roomJoined: highest history[].seq, 0 when empty
    uint64_t retry_after_ms;   //  error: "retryAfterMs", 0 when absent
    uint32_t n_rooms;          //  roomsList: entries of "rooms"
    bool has_total;            //  roomsList: "total" was present
    uint64_t total;            //  roomsList: "total"
    bench_span_t cursor;       //  roomsList: "cursor" when a string (p NULL for null)
} bench_msg_t;

//  Scans text[0..len). Returns 0 with *out filled, or -1 when the text is
//  not exactly one JSON object (out is then partly filled).
int bench_scan(const char *text, size_t len, bench_msg_t *out);

//  True when span holds exactly the C string s.
bool bench_span_eq(bench_span_t span, const char *s);

//  The span's leading decimal digits as a number; *used (may be NULL) gets
//  the count of bytes consumed. 0 when it starts with no digit.
uint64_t bench_span_u64(bench_span_t span, uint32_t *used);

#endif
