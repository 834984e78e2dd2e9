/*  reg_raft_transport: see reg_raft_transport.h. */
#include "reg_raft_transport.h"
#include "chat_log.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static chat_log_limit_t s_log_resolve;

int reg_raft_transport_resolve(const char *address, char *out, size_t size)
{
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address || !colon[1] || colon - address > 253)
        return -1;
    char host[256];
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    struct in_addr ip;
    if (inet_pton(AF_INET, host, &ip) != 1) {
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
        struct addrinfo *found = NULL;
        if (getaddrinfo(host, NULL, &hints, &found) != 0 || !found) {
            chat_log_limited(&s_log_resolve, CHAT_LOG_WARN, "raft: cannot resolve %s", host);
            return -1;
        }
        ip = ((struct sockaddr_in *)(void *)found->ai_addr)->sin_addr;
        freeaddrinfo(found);
    }
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ip, text, sizeof text);
    int n = snprintf(out, size, "%s:%s", text, colon + 1);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static reg_raft_transport_t *s_self(struct raft_uv_transport *outer)
{
    return (reg_raft_transport_t *)(void *)outer;
}

static int s_init(struct raft_uv_transport *outer, raft_id id, const char *address)
{
    reg_raft_transport_t *t = s_self(outer);
    return t->inner.init(&t->inner, id, address);
}

//  raft_uv_tcp calls back with its own transport: raft_uv needs the outer one.
static void s_accept(struct raft_uv_transport *inner, raft_id id, const char *address,
                     struct uv_stream_s *stream)
{
    reg_raft_transport_t *t = inner->data;
    t->accept_cb(&t->outer, id, address, stream);
}

static int s_listen(struct raft_uv_transport *outer, raft_uv_accept_cb cb)
{
    reg_raft_transport_t *t = s_self(outer);
    t->accept_cb = cb;
    return t->inner.listen(&t->inner, s_accept);
}

static int s_connect(struct raft_uv_transport *outer, struct raft_uv_connect *req, raft_id id,
                     const char *address, raft_uv_connect_cb cb)
{
    reg_raft_transport_t *t = s_self(outer);
    char resolved[64];
    if (reg_raft_transport_resolve(address, resolved, sizeof resolved) != 0)
        return RAFT_NOCONNECTION; //  raft_uv tries again after its retry delay
    return t->inner.connect(&t->inner, req, id, resolved, cb);
}

static void s_closed(struct raft_uv_transport *inner)
{
    reg_raft_transport_t *t = inner->data;
    if (t->close_cb)
        t->close_cb(&t->outer);
}

static void s_close(struct raft_uv_transport *outer, raft_uv_transport_close_cb cb)
{
    reg_raft_transport_t *t = s_self(outer);
    t->close_cb = cb;
    t->inner.close(&t->inner, s_closed);
}

int reg_raft_transport_init(reg_raft_transport_t *t, struct uv_loop_s *loop, const char *bind)
{
    memset(t, 0, sizeof *t);
    t->inner.data = t;
    char resolved[64];
    if (reg_raft_transport_resolve(bind, resolved, sizeof resolved) != 0)
        return RAFT_INVALID;
    int rv = raft_uv_tcp_init(&t->inner, loop);
    if (rv != 0)
        return rv;
    rv = raft_uv_tcp_set_bind_address(&t->inner, resolved);
    if (rv != 0) {
        raft_uv_tcp_close(&t->inner);
        return rv;
    }
    t->outer.init = s_init;
    t->outer.listen = s_listen;
    t->outer.connect = s_connect;
    t->outer.close = s_close;
    return 0;
}

void reg_raft_transport_close(reg_raft_transport_t *t)
{
    raft_uv_tcp_close(&t->inner);
}
