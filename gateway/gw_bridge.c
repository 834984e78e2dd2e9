/*  gw_bridge: see gw_bridge.h. */
#include "gw_bridge.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_registry.h"
#include "chat_wire.h"
#include "gw_ops.h"
#include "gw_registry.h"
#include "gw_rooms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

typedef enum { S_REGISTRY, S_REGISTRY_SUB, S_ROOMD, S_ROOMD_SUB, S_COUNT } s_sock_t;

//  Messages handled per pump before lws gets the thread back.
#define S_PUMP_BUDGET 8192
//  High-water marks: large, because a dropped room event costs a repair.
#define S_HWM 200000

struct gw_bridge {
    void *ctx;                   //  ZeroMQ context
    void *socks[S_COUNT];        //  the sockets
    char **endpoints;            //  roomd endpoints connected so far (cmd and pub)
    size_t n_endpoints;          //  entries in endpoints
    chat_registry_t registries;  //  the quorum; the DEALER talks to the current one
    chat_registry_t pubs;        //  registry PUB endpoints the SUB is connected to
    bool derived_pubs;           //  pubs are the registries' port + 1 (no --registry-pub)
    int64_t registry_since_ms;   //  when the DEALER moved to the current registry
    bool pumping;                //  inside gw_bridge_pump
    bool again;                  //  something was sent while pumping: drain again
    bool scheduled;              //  kick is scheduled
    gw_t *gw;                    //  owner (for the timer callback)
    lws_sorted_usec_list_t kick; //  pump on the next loop turn
};

static chat_log_limit_t s_log_send;

static void *s_socket(gw_bridge_t *b, int type)
{
    void *sock = zmq_socket(b->ctx, type);
    if (!sock)
        return NULL;
    chat_wire_tune(sock);
    int hwm = S_HWM;
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    return sock;
}

//  Connects the SUB to a registry's PUB, once per endpoint.
static int s_connect_pub(gw_bridge_t *b, const char *endpoint)
{
    size_t before = b->pubs.count;
    size_t current = b->pubs.current;
    chat_registry_follow(&b->pubs, endpoint);
    b->pubs.current = current;
    if (b->pubs.count == before)
        return 0; //  known (or the list is full)
    if (zmq_connect(b->socks[S_REGISTRY_SUB], endpoint) != 0) {
        chat_error("cannot connect to registry events at %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

//  Subscribes to every registry's events: --registry-pub, else each
//  registry's port + 1. Only the leader publishes.
static int s_connect_pubs(gw_bridge_t *b, const gw_config_t *config)
{
    chat_registry_t given;
    memset(&b->pubs, 0, sizeof b->pubs);
    if (config->registry_pub && *config->registry_pub) {
        if (chat_registry_parse(&given, config->registry_pub) != 0)
            return -1;
    } else {
        b->derived_pubs = true;
        memset(&given, 0, sizeof given);
        for (size_t i = 0; i < b->registries.count; i++)
            if (chat_endpoint_port_offset(b->registries.endpoints[i], 1,
                                          given.endpoints[given.count], CHAT_ENDPOINT_MAX) == 0)
                given.count++;
            else
                return -1;
    }
    for (size_t i = 0; i < given.count; i++)
        if (s_connect_pub(b, given.endpoints[i]) != 0)
            return -1;
    return 0;
}

gw_bridge_t *gw_bridge_new(gw_t *gw)
{
    gw_bridge_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->gw = gw;
    b->ctx = zmq_ctx_new();
    int types[S_COUNT] = {ZMQ_DEALER, ZMQ_SUB, ZMQ_ROUTER, ZMQ_SUB};
    for (int i = 0; i < S_COUNT; i++) {
        b->socks[i] = s_socket(b, types[i]);
        if (!b->socks[i]) {
            chat_error("zmq_socket: %s", zmq_strerror(errno));
            gw_bridge_destroy(&b);
            return NULL;
        }
    }
    zmq_setsockopt(b->socks[S_ROOMD], ZMQ_ROUTING_ID, gw->id, strlen(gw->id));
    //  Without ZMQ_IMMEDIATE a connecting ROUTER keeps the pipe of a lost
    //  connection and hands it to the next one: a restarted roomd (new
    //  instance, same port) would stay reachable only under its old routing
    //  id, and sends to a dead instance would queue instead of failing with
    //  EHOSTUNREACH.
    int immediate = 1;
    zmq_setsockopt(b->socks[S_ROOMD], ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(b->socks[S_REGISTRY_SUB], ZMQ_SUBSCRIBE, "registry", 8);

    if (chat_registry_parse(&b->registries, gw->config.registry) != 0 ||
        s_connect_pubs(b, &gw->config) != 0) {
        chat_error("cannot derive registry events endpoints from --registry %s --registry-pub %s",
                   gw->config.registry, gw->config.registry_pub ? gw->config.registry_pub : "");
        gw_bridge_destroy(&b);
        return NULL;
    }
    if (zmq_connect(b->socks[S_REGISTRY], chat_registry_current(&b->registries)) != 0) {
        chat_error("cannot connect to the registry at %s: %s",
                   chat_registry_current(&b->registries), zmq_strerror(errno));
        gw_bridge_destroy(&b);
        return NULL;
    }
    chat_info("registry %s (of %zu), events from %zu registries",
              chat_registry_current(&b->registries), b->registries.count, b->pubs.count);
    return b;
}

void gw_bridge_destroy(gw_bridge_t **bridge)
{
    if (!bridge || !*bridge)
        return;
    gw_bridge_t *b = *bridge;
    if (b->scheduled)
        lws_sul_cancel(&b->kick);
    //  Give the last requests (leaves of closed connections) a moment to go.
    int linger = 200;
    if (b->socks[S_ROOMD])
        zmq_setsockopt(b->socks[S_ROOMD], ZMQ_LINGER, &linger, sizeof linger);
    for (int i = 0; i < S_COUNT; i++)
        if (b->socks[i])
            zmq_close(b->socks[i]);
    if (b->ctx)
        zmq_ctx_term(b->ctx);
    for (size_t i = 0; i < b->n_endpoints; i++)
        free(b->endpoints[i]);
    free(b->endpoints);
    free(b);
    *bridge = NULL;
}

int gw_bridge_adopt(gw_t *gw, struct lws_vhost *vhost, const char *protocol)
{
    gw_bridge_t *b = gw->bridge;
    for (int i = 0; i < S_COUNT; i++) {
        int fd = -1;
        size_t len = sizeof fd;
        if (zmq_getsockopt(b->socks[i], ZMQ_FD, &fd, &len) != 0)
            return -1;
        //  lws closes what it adopts, and ZeroMQ's fd must never be closed.
        lws_sock_file_fd_type desc;
        desc.filefd = dup(fd);
        if (desc.filefd < 0)
            return -1;
        struct lws *wsi =
            lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, desc, protocol, NULL);
        if (!wsi) {
            close(desc.filefd);
            return -1;
        }
        lws_set_opaque_user_data(wsi, gw);
    }
    return 0;
}

static void s_kick_cb(lws_sorted_usec_list_t *sul)
{
    gw_bridge_t *b = lws_container_of(sul, gw_bridge_t, kick);
    b->scheduled = false;
    gw_bridge_pump(b->gw);
}

//  After a send: drain again, in this pump or on the next loop turn.
static void s_after_send(gw_t *gw)
{
    gw_bridge_t *b = gw->bridge;
    if (b->pumping) {
        b->again = true;
    } else if (!b->scheduled && gw->context && !gw->destroying) {
        b->scheduled = true;
        lws_sul_schedule(gw->context, 0, &b->kick, s_kick_cb, 1);
    }
}

int gw_bridge_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    gw_t *gw = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (gw && !gw->destroying)
            gw_bridge_pump(gw);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; //  never a WebSocket subprotocol
    default:
        return 0;
    }
}

int gw_bridge_send_registry(gw_t *gw, const Chat__Envelope *env)
{
    int rc = chat_wire_send(gw->bridge->socks[S_REGISTRY], NULL, env);
    int saved = errno;
    s_after_send(gw);
    errno = saved;
    return rc;
}

//  Points the DEALER at the current registry after the list moved from from.
static void s_retargeted(gw_t *gw, const char *from, const char *why)
{
    gw_bridge_t *b = gw->bridge;
    const char *to = chat_registry_current(&b->registries);
    if (chat_registry_switch(b->socks[S_REGISTRY], from, to) != 0)
        chat_warn("cannot connect to the registry at %s: %s", to, zmq_strerror(errno));
    chat_info("talking to the registry at %s now (%s)", to, why);
    gw->metrics.registry_switches++;
    b->registry_since_ms = chat_mono_ms();
}

bool gw_bridge_registry_follow(gw_t *gw, const char *leader)
{
    gw_bridge_t *b = gw->bridge;
    if (!leader || !*leader)
        return false;
    char from[CHAT_ENDPOINT_MAX];
    snprintf(from, sizeof from, "%s", chat_registry_current(&b->registries));
    if (!chat_registry_follow(&b->registries, leader))
        return false;
    char pub[CHAT_ENDPOINT_MAX];
    if (b->derived_pubs && chat_endpoint_port_offset(leader, 1, pub, sizeof pub) == 0)
        s_connect_pub(b, pub); //  a registry added to the quorum after this gateway started
    s_retargeted(gw, from, "the leader named");
    return true;
}

bool gw_bridge_registry_next(gw_t *gw)
{
    gw_bridge_t *b = gw->bridge;
    //  Requests that timed out together move the DEALER once.
    if (chat_mono_ms() - b->registry_since_ms < gw->config.request_timeout_ms)
        return false;
    char from[CHAT_ENDPOINT_MAX];
    snprintf(from, sizeof from, "%s", chat_registry_current(&b->registries));
    if (!chat_registry_next(&b->registries))
        return false;
    s_retargeted(gw, from, "the last one was silent");
    return true;
}

int gw_bridge_send_roomd(gw_t *gw, const char *instance, const Chat__Envelope *env)
{
    chat_peer_t peer;
    chat_peer_set(&peer, instance);
    int rc = chat_wire_send(gw->bridge->socks[S_ROOMD], &peer, env);
    int saved = errno;
    if (rc != 0 && saved != EHOSTUNREACH)
        chat_log_limited(&s_log_send, CHAT_LOG_WARN, "send to roomd %s: %s", instance,
                         zmq_strerror(saved));
    s_after_send(gw);
    errno = saved;
    return rc;
}

//  True when endpoint was connected before; remembers it otherwise.
static bool s_seen(gw_bridge_t *b, const char *kind, const char *endpoint)
{
    char key[512];
    snprintf(key, sizeof key, "%s %s", kind, endpoint);
    for (size_t i = 0; i < b->n_endpoints; i++)
        if (strcmp(b->endpoints[i], key) == 0)
            return true;
    char **grown = realloc(b->endpoints, (b->n_endpoints + 1) * sizeof *grown);
    if (!grown)
        abort();
    b->endpoints = grown;
    b->endpoints[b->n_endpoints++] = strdup(key);
    return false;
}

void gw_bridge_connect_roomd(gw_t *gw, const char *cmd, const char *pub)
{
    gw_bridge_t *b = gw->bridge;
    if (cmd && *cmd && !s_seen(b, "cmd", cmd)) {
        if (zmq_connect(b->socks[S_ROOMD], cmd) != 0)
            chat_warn("cannot connect to roomd %s: %s", cmd, zmq_strerror(errno));
        else
            chat_info("connected to roomd commands at %s", cmd);
    }
    if (pub && *pub && !s_seen(b, "pub", pub)) {
        if (zmq_connect(b->socks[S_ROOMD_SUB], pub) != 0)
            chat_warn("cannot connect to roomd events %s: %s", pub, zmq_strerror(errno));
        else
            chat_info("connected to roomd events at %s", pub);
    }
}

void gw_bridge_subscribe(gw_t *gw, const char *room_id, bool on)
{
    void *sub = gw->bridge->socks[S_ROOMD_SUB];
    zmq_setsockopt(sub, on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, room_id, strlen(room_id));
    s_after_send(gw);
}

//  True when sock has a message to read (this also re-arms ZMQ_FD).
static bool s_readable(void *sock)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

//  Reads and dispatches one message of socket i.
static void s_dispatch(gw_t *gw, int i)
{
    void *sock = gw->bridge->socks[i];
    chat_peer_t peer;
    Chat__Envelope *env = NULL;
    bool framed = i != S_REGISTRY;
    if (chat_wire_recv(sock, framed ? &peer : NULL, &env) != CHAT_WIRE_GOT)
        return;
    switch (i) {
    case S_REGISTRY:
        gw_ops_on_reply(gw, GW_LAT_REGISTRY, &env);
        break;
    case S_ROOMD:
        gw_ops_on_reply(gw, GW_LAT_ROOMD, &env);
        break;
    case S_REGISTRY_SUB:
        gw_registry_on_event(gw, env);
        break;
    case S_ROOMD_SUB:
        gw_rooms_on_event(gw, &peer, &env);
        break;
    }
    chat_envelope_free(&env);
}

void gw_bridge_pump(gw_t *gw)
{
    gw_bridge_t *b = gw->bridge;
    if (b->pumping) {
        b->again = true;
        return;
    }
    b->pumping = true;
    int budget = S_PUMP_BUDGET;
    bool more = false;
    do {
        b->again = false;
        for (int i = 0; i < S_COUNT && budget > 0; i++)
            while (s_readable(b->socks[i])) {
                if (budget-- <= 0) {
                    more = true;
                    break;
                }
                s_dispatch(gw, i);
            }
    } while (b->again && budget > 0);
    if (b->again)
        more = true;
    b->pumping = false;
    if (more && !b->scheduled && gw->context) {
        b->scheduled = true;
        lws_sul_schedule(gw->context, 0, &b->kick, s_kick_cb, 1);
    }
}
