/*  gw_server: see gw_server.h. */
#include "gw_server.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_ready.h"
#include "gw_bridge.h"
#include "gw_directory.h"
#include "gw_http.h"
#include "gw_listen.h"
#include "gw_ops.h"
#include "gw_placement.h"
#include "gw_registry.h"
#include "gw_rooms.h"
#include "gw_session.h"

#include <ev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

//  Period of the timer that runs deadlines, heartbeats and sweeps.
#define S_TICK_US 20000
//  Period of the idle sweep and the registry check.
#define S_SWEEP_MS 1000
//  Bytes a single send() may carry before lws buffers the rest.
#define S_TX_PACKET (GW_SCRATCH_SIZE + 64)

//  Security headers of every HTTP response (the last only with TLS).
#define S_HEADERS 6

//  The web UI loads its scripts, styles and images from the gateway itself,
//  talks to the gateway's own /ws ('self' covers ws: and wss: of the same
//  host in CSP 3), and is never framed.
#define S_CSP                                                                                      \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "                  \
    "form-action 'self'; frame-ancestors 'none'"

//  The gateway and what lws keeps pointers to for the context's life.
typedef struct {
    gw_t gw;                           //  first: a gw_t * is a s_server_t *
    struct lws_protocols protocols[5]; //  chat.v1, gw-http, gw-zmq, gw-listen, end
    struct lws_http_mount mounts[3];   //  /, /healthz, /metrics
    struct lws_protocol_vhost_options headers[S_HEADERS]; //  added to every HTTP response
    char www[PATH_MAX];                                   //  absolute path of --www
    struct ev_loop *loop;   //  our libev loop (epoll), or NULL for lws's poll()
    ev_async stop_async;    //  wakes the loop to stop (signal-safe)
    ev_check turn_begin;    //  the poll returned: a turn's work begins
    ev_prepare turn_end;    //  about to poll: the turn's work is done
    int64_t turn_us;        //  when the current turn began, 0 = not known
    int64_t turn_cpu_us;    //  the thread's CPU time then
    void *foreign_loops[1]; //  what lws is given: the loop
} s_server_t;

static int s_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    gw_t *gw = lws_context_user(lws_get_context(wsi));
    gw_session_t *s = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return gw_http_confirm_upgrade(wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
        gw_session_open(gw, s, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return gw_session_receive(gw, s, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        gw_session_pong(gw, s);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return gw_session_writeable(gw, s);
    case LWS_CALLBACK_CLOSED:
        gw_session_closed(gw, s);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static void s_tick(lws_sorted_usec_list_t *sul)
{
    gw_t *gw = lws_container_of(sul, gw_t, tick);
    int64_t now = chat_mono_ms();
    gw_ops_tick(gw, now);
    gw_directory_tick(gw, now);
    if (now >= gw->next_heartbeat_ms) {
        gw->next_heartbeat_ms = now + gw->config.heartbeat_ms;
        gw_rooms_heartbeat(gw);
    }
    if (now >= gw->next_sweep_ms) {
        long sweep = gw->config.idle_ms > 0 && gw->config.idle_ms / 4 < S_SWEEP_MS
                         ? gw->config.idle_ms / 4
                         : S_SWEEP_MS;
        gw->next_sweep_ms = now + sweep;
        gw_session_sweep(gw, now);
        gw_registry_tick(gw, now);
        gw_rooms_tick(gw, now);
    }
    lws_sul_schedule(gw->context, 0, &gw->tick, s_tick, S_TICK_US);
}

static chat_log_limit_t s_log_lws;

//  lws's own log lines go through chat_log, rate limited: clients trigger
//  most of them ("Ran out of header data space", bad protocol lists).
static void s_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    chat_log_limited(&s_log_lws, level == LLL_ERR ? CHAT_LOG_ERROR : CHAT_LOG_WARN, "lws: %.*s",
                     (int)n, line);
}

static void s_setup_lws(s_server_t *srv)
{
    gw_t *gw = &srv->gw;
    srv->protocols[0] = (struct lws_protocols){
        .name = "chat.v1",
        .callback = s_ws_callback,
        .per_session_data_size = sizeof(gw_session_t),
        .rx_buffer_size = (size_t)gw->config.rx_buffer,
        .tx_packet_size = S_TX_PACKET,
    };
    srv->protocols[1] = (struct lws_protocols){
        .name = "gw-http",
        .callback = gw_http_callback,
        .per_session_data_size = sizeof(gw_http_pss_t),
    };
    srv->protocols[2] = (struct lws_protocols){.name = "gw-zmq", .callback = gw_bridge_callback};
    srv->protocols[3] = (struct lws_protocols){.name = "gw-listen", .callback = gw_listen_callback};
    memset(&srv->protocols[4], 0, sizeof srv->protocols[4]);

    if (!realpath(gw->config.www, srv->www))
        snprintf(srv->www, sizeof srv->www, "%s", gw->config.www);
    memset(srv->mounts, 0, sizeof srv->mounts);
    srv->mounts[0].mount_next = &srv->mounts[1];
    srv->mounts[0].mountpoint = "/";
    srv->mounts[0].mountpoint_len = 1;
    srv->mounts[0].origin = srv->www;
    srv->mounts[0].def = "index.html";
    srv->mounts[0].origin_protocol = LWSMPRO_FILE;
    const char *paths[2] = {"/healthz", "/metrics"};
    for (int i = 0; i < 2; i++) {
        struct lws_http_mount *m = &srv->mounts[1 + i];
        m->mount_next = i == 0 ? &srv->mounts[2] : NULL;
        m->mountpoint = paths[i];
        m->mountpoint_len = (unsigned char)strlen(paths[i]);
        m->protocol = "gw-http";
        m->origin_protocol = LWSMPRO_CALLBACK;
    }
}

//  Fills srv->headers: names end with ':' as lws wants them.
static void s_setup_headers(s_server_t *srv, bool tls)
{
    static const char *const table[S_HEADERS][2] = {
        {"content-security-policy:", S_CSP},
        {"x-content-type-options:", "nosniff"},
        {"x-frame-options:", "DENY"},
        {"referrer-policy:", "no-referrer"},
        {"cross-origin-opener-policy:", "same-origin"},
        {"strict-transport-security:", "max-age=15552000"},
    };
    int count = tls ? S_HEADERS : S_HEADERS - 1;
    memset(srv->headers, 0, sizeof srv->headers);
    for (int i = 0; i < count; i++) {
        srv->headers[i].next = i + 1 < count ? &srv->headers[i + 1] : NULL;
        srv->headers[i].name = table[i][0];
        srv->headers[i].value = table[i][1];
    }
}

//  No validity pings by lws: the gateway pings idle clients itself
//  (gw_session_sweep). With lws's default policy (ping after 300 s) every
//  connection keeps a timer in lws's one sorted list, and each frame
//  received re-inserts it by walking the list: O(connections) per frame.
static const lws_retry_bo_t s_no_validity = {.secs_since_valid_ping = 0,
                                             .secs_since_valid_hangup = 0};

//  The context and its vhost, which does not listen: gw_listen does.
static struct lws_context *s_create_context(s_server_t *srv)
{
    gw_t *gw = &srv->gw;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    if (srv->loop) {
        srv->foreign_loops[0] = srv->loop;
        info.foreign_loops = srv->foreign_loops;
        info.options |= LWS_SERVER_OPTION_LIBEV;
    }
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = srv->protocols;
    info.mounts = srv->mounts;
    info.headers = srv->headers;
    info.user = gw;
    info.options |= LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (*gw->config.tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = gw->config.tls_cert;
        info.ssl_private_key_filepath = gw->config.tls_key;
        //  HTTP/1.1 only: sessions write ready-made WebSocket frames
        //  (LWS_WRITE_RAW), which a WebSocket inside HTTP/2 cannot carry.
        info.alpn = "http/1.1";
    }
    info.vhost_name = "gateway";
    info.retry_and_idle_policy = &s_no_validity;
    //  A header table per connection in its handshake; past the pool they
    //  queue on a list lws walks for each (tables are freed when unused).
    info.max_http_header_pool = 1024;
    info.timeout_secs = 10;
    struct lws_context *context = lws_create_context(&info);
    if (!context)
        return NULL;
    gw->vhost = lws_create_vhost(context, &info);
    if (!gw->vhost) {
        lws_context_destroy(context);
        return NULL;
    }
    return context;
}

static void s_on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

//  CPU time of the calling thread, microseconds.
static int64_t s_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_on_turn_begin(struct ev_loop *loop, ev_check *w, int revents)
{
    s_server_t *srv = lws_container_of(w, s_server_t, turn_begin);
    srv->turn_us = chat_mono_us();
    srv->turn_cpu_us = s_cpu_us();
}

static void s_on_turn_end(struct ev_loop *loop, ev_prepare *w, int revents)
{
    s_server_t *srv = lws_container_of(w, s_server_t, turn_end);
    if (srv->turn_us)
        gw_metrics_turn(&srv->gw.metrics, chat_mono_us() - srv->turn_us,
                        s_cpu_us() - srv->turn_cpu_us);
    srv->turn_us = 0;
}

//  Our own libev loop on epoll: lws's default poll() scans every socket on
//  every turn, which at 15k connections costs milliseconds per turn. Each
//  turn's busy time goes to /metrics (chat_gateway_loop_turn_seconds).
static int s_loop_new(s_server_t *srv)
{
    srv->loop = ev_loop_new(EVBACKEND_EPOLL);
    if (!srv->loop)
        return -1;
    ev_async_init(&srv->stop_async, s_on_stop);
    ev_async_start(srv->loop, &srv->stop_async);
    //  Checks run first after the poll, prepares last before the next.
    ev_check_init(&srv->turn_begin, s_on_turn_begin);
    ev_set_priority(&srv->turn_begin, EV_MAXPRI);
    ev_check_start(srv->loop, &srv->turn_begin);
    ev_prepare_init(&srv->turn_end, s_on_turn_end);
    ev_set_priority(&srv->turn_end, EV_MINPRI);
    ev_prepare_start(srv->loop, &srv->turn_end);
    return 0;
}

static void s_loop_destroy(s_server_t *srv)
{
    if (srv->loop) {
        ev_check_stop(srv->loop, &srv->turn_begin);
        ev_prepare_stop(srv->loop, &srv->turn_end);
        ev_async_stop(srv->loop, &srv->stop_async);
        ev_loop_destroy(srv->loop);
        srv->loop = NULL;
    }
}

static void s_make_id(gw_t *gw)
{
    uint8_t bytes[6] = {0};
    if (getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
        uint64_t t = (uint64_t)chat_mono_us() ^ (uint64_t)chat_wall_ms();
        memcpy(bytes, &t, sizeof bytes);
    }
    snprintf(gw->id, sizeof gw->id, "gw-%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2],
             bytes[3], bytes[4], bytes[5]);
}

gw_t *gw_server_new(const gw_config_t *config)
{
    s_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    gw_t *gw = &srv->gw;
    gw->config = *config;
    s_make_id(gw);
    gw->conns = gw_idmap_new();
    gw->ops = gw_ops_new();
    gw->rooms = gw_rooms_new();
    gw->placements = gw_placements_new();
    gw->registry = gw_registry_new();
    gw->directory = gw_directory_new();
    gw->scratch = malloc(LWS_PRE + GW_SCRATCH_SIZE);
    gw->listener = gw_listen_new(config->listen, config->port);
    gw->bridge = gw->listener ? gw_bridge_new(gw) : NULL;
    if (!gw->scratch || !gw->bridge) {
        gw_server_destroy(&gw);
        return NULL;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, s_lws_log);
    s_setup_lws(srv);
    s_setup_headers(srv, *gw->config.tls_cert != '\0');
    if (strcmp(gw->config.event_lib, "ev") == 0 && s_loop_new(srv) != 0)
        chat_warn("no libev epoll loop: falling back to lws's poll()");
    gw->context = s_create_context(srv);
    if (!gw->context && srv->loop) {
        //  lws loads its libev glue at run time (libwebsockets-evlib-ev).
        s_loop_destroy(srv);
        gw->context = s_create_context(srv);
        if (gw->context)
            chat_warn("lws refused the libev loop (is libwebsockets-evlib-ev installed?): "
                      "falling back to lws's poll()");
    }
    if (!gw->context || gw_bridge_adopt(gw, gw->vhost, "gw-zmq") != 0 ||
        gw_listen_adopt(gw, gw->vhost, "gw-listen") != 0) {
        chat_error("cannot start the lws service%s",
                   *gw->config.tls_cert ? ", or cannot use --tls-cert and --tls-key (see above)"
                                        : "");
        gw_server_destroy(&gw);
        return NULL;
    }
    chat_info("gateway %s listening on port %d (%s, %s), serving %s", gw->id, gw_server_port(gw),
              *gw->config.tls_cert ? "https, wss" : "http, ws", srv->loop ? "epoll" : "poll",
              srv->www);
    //  With --port 0 the kernel chose: the ready file says which.
    char ready[64];
    snprintf(ready, sizeof ready, "port %d\n", gw_server_port(gw));
    if (chat_ready_write(gw->config.ready_file, ready) != 0) {
        gw_server_destroy(&gw);
        return NULL;
    }
    lws_sul_schedule(gw->context, 0, &gw->tick, s_tick, S_TICK_US);
    return gw;
}

int gw_server_port(gw_t *gw)
{
    return gw_listen_port(gw->listener);
}

int gw_server_run(gw_t *gw)
{
    s_server_t *srv = (s_server_t *)gw;
    if (srv->loop) {
        if (!gw->stop)
            ev_run(srv->loop, 0);
        return 0;
    }
    while (!gw->stop)
        if (lws_service(gw->context, 0) < 0)
            return -1;
    return 0;
}

void gw_server_stop(gw_t *gw)
{
    s_server_t *srv = (s_server_t *)gw;
    gw->stop = 1;
    if (srv->loop)
        ev_async_send(srv->loop, &srv->stop_async);
    else if (gw->context)
        lws_cancel_service(gw->context);
}

void gw_server_destroy(gw_t **gw_p)
{
    if (!gw_p || !*gw_p)
        return;
    gw_t *gw = *gw_p;
    gw->destroying = true;
    if (gw->context) {
        lws_sul_cancel(&gw->tick);
        //  Its socket is lws's to close now; its timer must go first.
        gw_listen_destroy(&gw->listener);
        //  Closing the connections sends their leaves; then stop the bridge.
        lws_context_destroy(gw->context);
        gw->context = NULL;
    }
    gw_bridge_destroy(&gw->bridge);
    gw_ops_destroy(&gw->ops);
    gw_rooms_destroy(&gw->rooms);
    gw_placements_destroy(&gw->placements);
    gw_registry_destroy(&gw->registry);
    gw_directory_destroy(&gw->directory);
    gw_idmap_destroy(&gw->conns);
    gw_listen_destroy(&gw->listener);
    free(gw->scratch);
    s_loop_destroy((s_server_t *)gw);
    free(gw);
    *gw_p = NULL;
}
