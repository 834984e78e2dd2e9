/*  rd_server: see rd_server.h. */
#include "rd_server.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_ready.h"
#include "chat_registry.h"
#include "chat_text.h"
#include "chat_wire.h"
#include "rd_host.h"
#include "rd_registry_link.h"
#include "rd_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define RD_HWM 100000          //  queue limit of every socket, messages
#define RD_DEALER_BATCH 256    //  registry messages read per turn
#define RD_BIND_RETRY_MS 10000 //  how long a rebind waits for the old socket's port
#define RD_NODE_MAX 128
#define RD_MAX_REQUEST_BYTES (1024 * 1024)

struct rd_server {
    rd_config_t cfg;          //  settings (strings borrowed from argv/env)
    void *ctx;                //  ZeroMQ context
    void *router;             //  commands from gateways and chatctl; NULL until registered
    void *pub;                //  room events
    void *dealer;             //  to the registry
    void *reserve;            //  holds --bind's port until the ROUTER binds it (never read)
    char bind[256];           //  the ROUTER's endpoint: --bind with port * resolved
    rd_store_t *store;        //  LMDB
    rd_host_t *host;          //  rooms and request handling
    rd_registry_link_t *link; //  registration and heartbeats
    char *node;               //  node name
    char cmd_endpoint[256];   //  advertised ROUTER endpoint
    char pub_endpoint[256];   //  advertised PUB endpoint
    uint64_t dropped;         //  replies and events that could not be sent
};

static chat_log_limit_t s_drop_log;

// ---------------------------------------------------------------- identity

static bool s_valid_node(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > RD_NODE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/' || (unsigned char)name[i] <= ' ')
            return false;
    return true;
}

//  The node name: the flag, else the one stored in the data directory, else
//  the hostname. Stored on first boot so that identity follows the data.
static char *s_settle_node(rd_store_t *store, const char *flag)
{
    char *stored = NULL;
    int rc = rd_store_node_get(store, &stored);
    if (rc == RD_STORE_ERROR)
        return NULL;
    char host[256] = "roomd";
    const char *name = flag;
    if (!*name)
        name = stored;
    if (!name) {
        if (gethostname(host, sizeof host) != 0 || !*host)
            snprintf(host, sizeof host, "roomd");
        host[sizeof host - 1] = '\0';
        name = host;
    }
    if (!s_valid_node(name)) {
        chat_error("node name \"%s\" is not valid (1..%d characters, no '/' or spaces)", name,
                   RD_NODE_MAX);
        free(stored);
        return NULL;
    }
    if (stored && strcmp(stored, name) != 0)
        chat_warn("--node %s overrides the name %s stored in the data directory", name, stored);
    if (!stored && rd_store_node_put(store, name) != RD_STORE_OK) {
        free(stored);
        return NULL;
    }
    char *copy = strdup(name);
    free(stored);
    return copy;
}

//  The endpoint to advertise for a bound one: tcp://*:p and tcp://0.0.0.0:p
//  become tcp://<host>:p; anything else is advertised as it is.
static void s_advertise(const char *bound, const char *host, char *out, size_t size)
{
    const char *wild[] = {"tcp://*:", "tcp://0.0.0.0:"};
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(wild[i]);
        if (strncmp(bound, wild[i], len) == 0) {
            int n = snprintf(out, size, "tcp://%s:%s", host, bound + len);
            if (n < 0 || (size_t)n >= size)
                chat_warn("advertised endpoint for %s is too long: %s", bound, out);
            return;
        }
    }
    snprintf(out, size, "%s", bound);
}

// ----------------------------------------------------------------- sockets

static void *s_socket(rd_server_t *self, int type)
{
    void *sock = zmq_socket(self->ctx, type);
    if (!sock) {
        chat_error("zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    chat_wire_tune(sock);
    int hwm = RD_HWM;
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    return sock;
}

//  Binds, waiting while the port is still held by a socket being closed.
static int s_bind(void *sock, const char *endpoint)
{
    int64_t deadline = chat_mono_ms() + RD_BIND_RETRY_MS;
    while (zmq_bind(sock, endpoint) != 0) {
        if (errno != EADDRINUSE || chat_mono_ms() >= deadline) {
            chat_error("cannot bind %s: %s", endpoint, zmq_strerror(errno));
            return -1;
        }
        zmq_sleep(0);
        usleep(20000);
    }
    return 0;
}

//  (Re)builds the ROUTER with the instance as its routing id, so that a
//  request meant for a previous run of this node cannot reach this one.
static int s_router_build(rd_server_t *self, const char *instance)
{
    if (self->router) {
        zmq_close(self->router);
        self->router = NULL;
    }
    void *router = s_socket(self, ZMQ_ROUTER);
    if (!router)
        return -1;
    //  Requests are small (content <= 4000 characters): a peer sending more is cut off.
    int64_t max_size = RD_MAX_REQUEST_BYTES;
    zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    //  The reserved port is free again once the ZeroMQ I/O thread closed the
    //  reserve; s_bind waits for that.
    if (self->reserve) {
        zmq_close(self->reserve);
        self->reserve = NULL;
    }
    if (zmq_setsockopt(router, ZMQ_ROUTING_ID, instance, strlen(instance)) != 0 ||
        s_bind(router, self->bind) != 0) {
        chat_error("cannot set up the command socket for %s", instance);
        zmq_close(router);
        return -1;
    }
    self->router = router;
    chat_info("serving as %s on %s (advertised %s), events on %s", instance, self->bind,
              self->cmd_endpoint, self->pub_endpoint);
    char ready[800];
    snprintf(ready, sizeof ready, "instance %s\ncmd %s\npub %s\n", instance, self->cmd_endpoint,
             self->pub_endpoint);
    return chat_ready_write(self->cfg.ready_file, ready);
}

//  The ROUTER binds only once registered (its routing id is the instance),
//  yet its endpoint is advertised at registration. So --bind is bound at
//  start by a ROUTER that is never read, which holds the port until the real
//  ROUTER takes it: port * gets its port before it is advertised, and a port
//  that is taken fails the start, before the roomd registers an endpoint it
//  could never serve. Peers that connect meanwhile (gateways reconnecting
//  after a restart, chatctl probe) get no answer, and reconnect to the real
//  ROUTER when the reserve closes. (A socket of another type would fail
//  their handshake, and ZeroMQ gives up on a peer after a protocol error.)
static int s_reserve_port(rd_server_t *self)
{
    self->reserve = s_socket(self, ZMQ_ROUTER);
    if (!self->reserve || s_bind(self->reserve, self->cfg.bind) != 0 ||
        chat_ready_bound(self->reserve, self->bind, sizeof self->bind) != 0) {
        chat_error("cannot reserve a port for %s", self->cfg.bind);
        return -1;
    }
    return 0;
}

static int s_open_sockets(rd_server_t *self)
{
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        return -1;
    self->pub = s_socket(self, ZMQ_PUB);
    self->dealer = s_socket(self, ZMQ_DEALER);
    if (!self->pub || !self->dealer)
        return -1;
    if (s_bind(self->pub, self->cfg.pub_bind) != 0 || s_reserve_port(self) != 0)
        return -1;
    int one = 1;
    zmq_setsockopt(self->dealer, ZMQ_IMMEDIATE, &one, sizeof one);
    //  The first registry of the list; the link follows the leader from there.
    chat_registry_t registries;
    if (chat_registry_parse(&registries, self->cfg.registry) != 0 ||
        zmq_connect(self->dealer, chat_registry_current(&registries)) != 0) {
        chat_error("cannot connect to the registry at %s: %s", self->cfg.registry,
                   zmq_strerror(errno));
        return -1;
    }
    //  A PUB bound to port * advertises the port it got.
    char bound[256];
    size_t len = sizeof bound;
    if (zmq_getsockopt(self->pub, ZMQ_LAST_ENDPOINT, bound, &len) != 0)
        snprintf(bound, sizeof bound, "%s", self->cfg.pub_bind);
    const char *pub = strstr(self->cfg.pub_bind, ":*") ? bound : self->cfg.pub_bind;
    char host[256];
    if (*self->cfg.advertise_host)
        snprintf(host, sizeof host, "%s", self->cfg.advertise_host);
    else if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    s_advertise(self->bind, host, self->cmd_endpoint, sizeof self->cmd_endpoint);
    s_advertise(pub, host, self->pub_endpoint, sizeof self->pub_endpoint);
    return 0;
}

// -------------------------------------------------------------------- sink

static void s_sink_reply(void *ctx, const chat_peer_t *peer, const void *data, size_t size)
{
    rd_server_t *self = ctx;
    void *sock = peer ? self->router : self->dealer;
    if (sock && chat_wire_send_bytes(sock, peer, data, size) == 0)
        return;
    self->dropped++;
    chat_log_limited(&s_drop_log, CHAT_LOG_WARN, "a reply to %s was dropped: %s",
                     peer ? "a client" : "the registry", sock ? zmq_strerror(errno) : "no socket");
}

static void s_sink_publish(void *ctx, const char *topic, const void *data, size_t size)
{
    rd_server_t *self = ctx;
    chat_peer_t frame;
    chat_peer_set(&frame, topic);
    if (chat_wire_send_bytes(self->pub, &frame, data, size) != 0) {
        self->dropped++;
        chat_log_limited(&s_drop_log, CHAT_LOG_WARN, "an event of %s was dropped: %s", topic,
                         zmq_strerror(errno));
    }
}

// --------------------------------------------------------------- lifecycle

rd_server_t *rd_server_new(const rd_config_t *cfg)
{
    rd_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->store = rd_store_open(cfg->data, (size_t)cfg->map_size_mb);
    if (!self->store || !(self->node = s_settle_node(self->store, cfg->node)) ||
        s_open_sockets(self) != 0) {
        rd_server_destroy(&self);
        return NULL;
    }
    rd_host_opts_t host_opts = {
        .idle_ms = cfg->idle_ms,
        .session_lease_ms = cfg->session_lease_ms,
        .tick_ms = cfg->tick_ms,
    };
    self->host = rd_host_new(self->store, &host_opts);
    rd_registry_link_opts_t link_opts = {
        .node = self->node,
        .cmd_endpoint = self->cmd_endpoint,
        .pub_endpoint = self->pub_endpoint,
        .max_rooms = (uint32_t)cfg->max_rooms,
        .heartbeat_ms = cfg->heartbeat_ms,
        .store = self->store,
        .registry = cfg->registry,
    };
    self->link = self->host ? rd_registry_link_new(self->dealer, self->host, &link_opts) : NULL;
    if (!self->link) {
        rd_server_destroy(&self);
        return NULL;
    }
    chat_info("node %s, data %s, registry %s", self->node, cfg->data, cfg->registry);
    return self;
}

void rd_server_destroy(rd_server_t **p)
{
    if (!p || !*p)
        return;
    rd_server_t *self = *p;
    rd_registry_link_destroy(&self->link);
    rd_host_destroy(&self->host);
    if (self->router)
        zmq_close(self->router);
    if (self->reserve)
        zmq_close(self->reserve);
    if (self->pub)
        zmq_close(self->pub);
    if (self->dealer)
        zmq_close(self->dealer);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    rd_store_destroy(&self->store);
    free(self->node);
    free(self);
    *p = NULL;
}

const char *rd_server_node(const rd_server_t *self)
{
    return self->node;
}

// -------------------------------------------------------------------- loop

//  Reads what the registry sent. Returns -1 when the socket failed.
static int s_drain_registry(rd_server_t *self, int64_t now)
{
    for (int i = 0; i < RD_DEALER_BATCH; i++) {
        Chat__Envelope *env = NULL;
        int rc = chat_wire_recv(self->dealer, NULL, &env);
        if (rc == CHAT_WIRE_EMPTY)
            return 0;
        if (rc == CHAT_WIRE_ERROR)
            return errno == EINTR ? 0 : -1;
        if (rc == CHAT_WIRE_GOT)
            rd_registry_link_handle(self->link, env, now);
        chat_envelope_free(&env);
    }
    return 0;
}

//  Reads up to --max-batch requests from the ROUTER. Returns -1 when the socket failed.
static int s_drain_router(rd_server_t *self, int64_t now)
{
    if (!self->router)
        return 0;
    for (long i = 0; i < self->cfg.max_batch; i++) {
        chat_peer_t peer;
        Chat__Envelope *env = NULL;
        int rc = chat_wire_recv(self->router, &peer, &env);
        if (rc == CHAT_WIRE_EMPTY)
            return 0;
        if (rc == CHAT_WIRE_ERROR)
            return errno == EINTR ? 0 : -1;
        if (rc == CHAT_WIRE_GOT)
            rd_host_request(self->host, &peer, env, now);
        chat_envelope_free(&env);
    }
    return 0;
}

static int64_t s_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int rd_server_run(rd_server_t *self, volatile sig_atomic_t *stop)
{
    rd_sink_t sink = {s_sink_reply, s_sink_publish, self};
    int64_t due = chat_mono_ms();
    int result = 0;
    while (!*stop) {
        int64_t now = chat_mono_ms();
        long timeout = (long)s_min(1000, due > now ? due - now : 0);
        zmq_pollitem_t items[2] = {{self->dealer, 0, ZMQ_POLLIN, 0},
                                   {self->router, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, self->router ? 2 : 1, timeout) < 0 && errno != EINTR) {
            chat_error("zmq_poll: %s", zmq_strerror(errno));
            result = -1;
            break;
        }
        now = chat_mono_ms();
        if (s_drain_registry(self, now) != 0 || s_drain_router(self, now) != 0) {
            chat_error("socket failed: %s", zmq_strerror(errno));
            result = -1;
        }
        due =
            s_min(rd_registry_link_timers(self->link, now), rd_host_timers(self->host, now, &sink));
        if (rd_host_pending(self->host))
            rd_host_flush(self->host, &sink);
        if (rd_registry_link_take_change(self->link) &&
            s_router_build(self, rd_registry_link_instance(self->link)) != 0)
            result = -1;
        if (result != 0)
            break;
    }
    if (rd_host_pending(self->host))
        rd_host_flush(self->host, &sink);
    chat_info("stopping: %llu replies or events could not be sent since start",
              (unsigned long long)self->dropped);
    return result;
}
