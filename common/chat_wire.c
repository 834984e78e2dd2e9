/*  chat_wire: see chat_wire.h. */
#include "chat_wire.h"
#include "chat_log.h"

#include <czmq.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

static _Atomic uint64_t s_bad_frames;
static chat_log_limit_t s_bad_log;

uint64_t chat_wire_bad_frames(void)
{
    return atomic_load(&s_bad_frames);
}

void chat_wire_count_bad(const char *why)
{
    atomic_fetch_add(&s_bad_frames, 1);
    chat_log_limited(&s_bad_log, CHAT_LOG_WARN, "dropped a malformed message: %s", why);
}

Chat__Envelope *chat_envelope_decode(const void *data, size_t size)
{
    Chat__Envelope *env = chat__envelope__unpack(NULL, size, data);
    if (!env) {
        chat_wire_count_bad("not a protobuf Envelope");
        return NULL;
    }
    if (env->body_case == CHAT__ENVELOPE__BODY__NOT_SET) {
        chat__envelope__free_unpacked(env, NULL);
        chat_wire_count_bad("envelope without a body");
        return NULL;
    }
    return env;
}

void chat_envelope_free(Chat__Envelope **env)
{
    if (env && *env) {
        chat__envelope__free_unpacked(*env, NULL);
        *env = NULL;
    }
}

//  Reads and discards the rest of a multipart message.
static void s_drain_rest(void *raw)
{
    int more = 1;
    size_t len = sizeof more;
    while (zmq_getsockopt(raw, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, raw, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return;
        }
        zmq_msg_close(&part);
    }
}

int chat_wire_recv(void *sock, chat_peer_t *peer, Chat__Envelope **env)
{
    void *raw = zsock_resolve(sock);
    *env = NULL;
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, raw, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame);
        return errno == EAGAIN ? CHAT_WIRE_EMPTY : CHAT_WIRE_ERROR;
    }
    if (peer) {
        if (!zmq_msg_more(&frame) || zmq_msg_size(&frame) > CHAT_PEER_MAX) {
            zmq_msg_close(&frame);
            s_drain_rest(raw);
            chat_wire_count_bad("expected a routing id or topic frame");
            return CHAT_WIRE_BAD;
        }
        peer->size = zmq_msg_size(&frame);
        memcpy(peer->data, zmq_msg_data(&frame), peer->size);
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, raw, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            chat_wire_count_bad("routing id without payload");
            return CHAT_WIRE_BAD;
        }
    }
    if (zmq_msg_more(&frame)) {
        zmq_msg_close(&frame);
        s_drain_rest(raw);
        chat_wire_count_bad("too many frames");
        return CHAT_WIRE_BAD;
    }
    *env = chat_envelope_decode(zmq_msg_data(&frame), zmq_msg_size(&frame));
    zmq_msg_close(&frame);
    return *env ? CHAT_WIRE_GOT : CHAT_WIRE_BAD;
}

int chat_wire_send_bytes(void *sock, const chat_peer_t *peer, const void *data, size_t size)
{
    void *raw = zsock_resolve(sock);
    if (peer && zmq_send(raw, peer->data, peer->size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    if (zmq_send(raw, data, size, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

int chat_wire_send(void *sock, const chat_peer_t *peer, const Chat__Envelope *env)
{
    size_t size = chat__envelope__get_packed_size(env);
    zmq_msg_t payload;
    if (zmq_msg_init_size(&payload, size) != 0)
        return -1;
    chat__envelope__pack(env, zmq_msg_data(&payload));

    void *raw = zsock_resolve(sock);
    if (peer && zmq_send(raw, peer->data, peer->size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&payload);
        return -1;
    }
    if (zmq_msg_send(&payload, raw, ZMQ_DONTWAIT) < 0) {
        int saved = errno;
        zmq_msg_close(&payload);
        errno = saved;
        return -1;
    }
    return 0;
}

void chat_peer_set(chat_peer_t *peer, const char *text)
{
    size_t len = strlen(text);
    peer->size = len > CHAT_PEER_MAX ? CHAT_PEER_MAX : len;
    memcpy(peer->data, text, peer->size);
}

bool chat_peer_is(const chat_peer_t *peer, const char *text)
{
    size_t len = strlen(text);
    return len == peer->size && memcmp(peer->data, text, len) == 0;
}

void chat_wire_tune(void *sock)
{
    void *raw = zsock_resolve(sock);
    int zero = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero);
    int type = 0;
    size_t len = sizeof type;
    zmq_getsockopt(raw, ZMQ_TYPE, &type, &len);
    if (type == ZMQ_ROUTER) {
        int one = 1;
        zmq_setsockopt(raw, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    }
}
