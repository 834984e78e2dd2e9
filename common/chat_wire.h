/*  chat_wire: Envelopes on ZeroMQ sockets.
 *
 *  Framing, the same on every socket of the cluster:
 *    DEALER sends/receives  [payload]
 *    ROUTER receives        [peer routing id][payload], sends the same
 *    PUB sends, SUB gets    [topic][payload]
 *  payload is one packed chat.Envelope. There is no empty delimiter frame.
 *
 *  Anything that does not have this shape or does not decode is counted
 *  (chat_wire_bad_frames), logged with a rate limit, and dropped: input from
 *  the network never crashes a process.
 *
 *  Sockets are passed as void *: a zsock_t * or a raw libzmq socket.
 */
#ifndef CHAT_WIRE_H
#define CHAT_WIRE_H

#include "chat.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAT_PEER_MAX 255

//  A routing id (ROUTER) or a topic (PUB/SUB), copied out of its frame.
typedef struct {
    size_t size;                 //  bytes used in data
    uint8_t data[CHAT_PEER_MAX]; //  not NUL-terminated
} chat_peer_t;

//  Results of chat_wire_recv.
#define CHAT_WIRE_GOT 1      //  *env holds a decoded envelope (caller frees)
#define CHAT_WIRE_EMPTY 0    //  nothing to read now
#define CHAT_WIRE_BAD (-1)   //  a malformed message was read and dropped
#define CHAT_WIRE_ERROR (-2) //  the socket failed (context terminated, interrupted)

//  Decodes one payload. Returns NULL (and counts a bad frame) when the bytes
//  are not an Envelope or name no body. Free with chat_envelope_free.
Chat__Envelope *chat_envelope_decode(const void *data, size_t size);

//  Frees an envelope from chat_envelope_decode and sets *env to NULL.
//  Safe on NULL and on an already freed pointer.
void chat_envelope_free(Chat__Envelope **env);

//  Reads one message without blocking. With peer != NULL the first frame is
//  a routing id or topic and is copied into *peer; with peer == NULL the
//  message must be a single frame. Returns one of CHAT_WIRE_*.
int chat_wire_recv(void *sock, chat_peer_t *peer, Chat__Envelope **env);

//  Sends env, prefixed by peer's frame when peer != NULL. Never blocks:
//  returns 0, or -1 with errno (EAGAIN when the queue is full,
//  EHOSTUNREACH when a ROUTER_MANDATORY peer is not connected).
int chat_wire_send(void *sock, const chat_peer_t *peer, const Chat__Envelope *env);

//  Sends already packed bytes the same way as chat_wire_send.
int chat_wire_send_bytes(void *sock, const chat_peer_t *peer, const void *data, size_t size);

//  Makes a peer from a C string (topics, routing ids). Truncates at CHAT_PEER_MAX.
void chat_peer_set(chat_peer_t *peer, const char *text);

//  True when peer holds exactly the bytes of text.
bool chat_peer_is(const chat_peer_t *peer, const char *text);

//  Malformed messages dropped by this process since it started.
uint64_t chat_wire_bad_frames(void);

//  Counts one malformed message found by a caller (for example a request
//  whose required fields are missing) and logs it with a rate limit.
void chat_wire_count_bad(const char *why);

//  Socket options every socket of the cluster gets: linger 0, and for a
//  ROUTER, ZMQ_ROUTER_MANDATORY so that an unroutable send fails loudly.
void chat_wire_tune(void *sock);

#endif
