/*  gw_cluster: see gw_cluster.h. */
#include "gw_cluster.h"
#include "chat_clock.h"
#include "chat_wire.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t s_req_id = 1;

//  "tcp://127.0.0.1:<port>", or port * (a free one, chosen by the bind) for port 0.
static const char *s_endpoint(int port, char *buf, size_t size)
{
    if (port > 0)
        snprintf(buf, size, "tcp://127.0.0.1:%d", port);
    else
        snprintf(buf, size, "tcp://127.0.0.1:*");
    return buf;
}

static void s_registry_start(gwt_cluster_t *c)
{
    char data[600], bind[64], pub[64];
    snprintf(data, sizeof data, "%s/registry", c->dir);
    const char *args[] = {"--bind",
                          s_endpoint(c->port, bind, sizeof bind),
                          "--pub-bind",
                          s_endpoint(c->pub_port, pub, sizeof pub),
                          "--data",
                          data,
                          "--heartbeat-ms",
                          "200",
                          "--lease-ms",
                          "1500",
                          "--log-level",
                          "debug",
                          NULL};
    c->registry = chat_proc_start("registry", args, c->dir, "registry");
    cr_assert_not_null(c->registry);
    cr_assert(chat_proc_wait_ready(c->registry, 20000), "the registry did not bind");
    c->port = chat_proc_ready_port(c->registry, "bind");
    c->pub_port = chat_proc_ready_port(c->registry, "pub");
}

static void s_roomd_launch(gwt_cluster_t *c, int i)
{
    gwt_roomd_t *r = &c->roomd[i];
    char log[32], bind[64], pub[64];
    snprintf(log, sizeof log, "roomd-%d", i);
    const char *args[] = {"--registry",
                          chat_tcp(c->port),
                          "--bind",
                          s_endpoint(r->port, bind, sizeof bind),
                          "--pub-bind",
                          s_endpoint(r->pub_port, pub, sizeof pub),
                          "--node",
                          r->node,
                          "--data",
                          r->data,
                          "--session-lease-ms",
                          "3000",
                          "--log-level",
                          "debug",
                          NULL};
    r->proc = chat_proc_start("roomd", args, c->dir, log);
    cr_assert_not_null(r->proc);
}

//  Waits until roomd i serves (registered, ROUTER bound) and keeps its ports.
static void s_roomd_ready(gwt_cluster_t *c, int i)
{
    gwt_roomd_t *r = &c->roomd[i];
    cr_assert(chat_proc_wait_ready(r->proc, 20000), "%s did not come up", r->node);
    r->port = chat_proc_ready_port(r->proc, "cmd");
    r->pub_port = chat_proc_ready_port(r->proc, "pub");
}

void gwt_roomd_start(gwt_cluster_t *c, int i)
{
    s_roomd_launch(c, i);
    s_roomd_ready(c, i);
}

static void s_gateway_start(gwt_cluster_t *c, int g, const char *const *extra)
{
    gwt_gateway_t *gw = &c->gw[g];
    char www[600], log[32];
    snprintf(www, sizeof www, "%s/www", c->dir);
    snprintf(log, sizeof log, "gateway-%d", g);
    const char *args[40] = {"--port",         "0",
                            "--listen",       "127.0.0.1",
                            "--registry",     chat_tcp(c->port),
                            "--registry-pub", chat_tcp(c->pub_port),
                            "--www",          www,
                            "--heartbeat-ms", "300",
                            "--log-level",    "debug"};
    int n = 14;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    gw->proc = chat_proc_start("gateway", args, c->dir, log);
    cr_assert_not_null(gw->proc);
}

//  Live roomds according to the registry's ListNodes.
static bool s_live_count(const Chat__Envelope *reply, void *arg)
{
    if (reply->body_case != CHAT__ENVELOPE__BODY_LIST_NODES_REPLY)
        return false;
    int live = 0;
    for (size_t i = 0; i < reply->list_nodes_reply->n_nodes; i++)
        live += reply->list_nodes_reply->nodes[i]->live;
    return live == *(int *)arg;
}

void gwt_wait_live(gwt_cluster_t *c, int count)
{
    Chat__ListNodesRequest list = CHAT__LIST_NODES_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = s_req_id++;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_NODES;
    env.list_nodes = &list;
    cr_assert(chat_wait_for(chat_tcp(c->port), &env, s_live_count, &count, 20000),
              "%d roomds did not become live", count);
}

//  Waits until gateway g listens (its ready file: the port it took) and is
//  healthy (it has the registry's snapshot: polled, /healthz has no push).
static void s_wait_healthy(gwt_cluster_t *c, int g)
{
    cr_assert(chat_proc_wait_ready(c->gw[g].proc, 20000), "gateway %d did not listen", g);
    c->gw[g].port = chat_proc_ready_port(c->gw[g].proc, "port");
    int64_t deadline = chat_mono_ms() + 20000;
    char body[256] = "";
    int status = 0;
    while ((status = gwt_http_get(c, g, "/healthz", body, sizeof body)) != 200 &&
           chat_mono_ms() < deadline)
        chat_sleep_ms(50);
    cr_assert_eq(status, 200, "gateway %d: expected /healthz 200 within 20 s, got %d: %s", g,
                 status, body);
}

int gwt_gateway_add(gwt_cluster_t *c, const char *const *extra)
{
    cr_assert_lt(c->gateways, GWT_GATEWAYS, "at most %d gateways", GWT_GATEWAYS);
    int g = c->gateways++;
    s_gateway_start(c, g, extra);
    s_wait_healthy(c, g);
    return g;
}

void gwt_start(gwt_cluster_t *c, int gateways, const char *const *gateway_extra)
{
    memset(c, 0, sizeof *c);
    c->dir = chat_temp_dir("gw-cluster");
    cr_assert_not_null(c->dir);
    char www[600];
    snprintf(www, sizeof www, "%s/www", c->dir);
    mkdir(www, 0755);
    //  The registry's three ports (requests, events, Raft on + 2), below the
    //  ephemeral range.
    c->port = chat_free_ports(3);
    c->pub_port = c->port + 1;
    s_registry_start(c);
    for (int i = 0; i < GWT_ROOMDS; i++) {
        gwt_roomd_t *r = &c->roomd[i];
        snprintf(r->node, sizeof r->node, "node-%d", i);
        snprintf(r->data, sizeof r->data, "%s/%s", c->dir, r->node);
        s_roomd_launch(c, i);
    }
    for (int i = 0; i < GWT_ROOMDS; i++)
        s_roomd_ready(c, i);
    gwt_wait_live(c, GWT_ROOMDS);
    c->gateways = gateways;
    for (int g = 0; g < gateways; g++)
        s_gateway_start(c, g, gateway_extra);
    for (int g = 0; g < gateways; g++)
        s_wait_healthy(c, g);
}

void gwt_stop(gwt_cluster_t *c)
{
    for (int g = 0; g < c->gateways; g++)
        cr_expect(chat_proc_stop_clean(&c->gw[g].proc), "gateway %d did not exit cleanly", g);
    for (int i = 0; i < GWT_ROOMDS; i++)
        chat_proc_stop(&c->roomd[i].proc);
    chat_proc_stop(&c->registry);
    if (getenv("CHAT_TEST_KEEP"))
        fprintf(stderr, "kept %s\n", c->dir); //  logs and data, for debugging
    else
        chat_remove_tree(c->dir);
    free(c->dir);
    c->dir = NULL;
}

int gwt_roomd_of(gwt_cluster_t *c, const char *room)
{
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    lookup.room_id = (char *)room;
    lookup.place = true;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = s_req_id++;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &lookup;
    Chat__Envelope *reply = chat_request(chat_tcp(c->port), &env, 5000);
    int found = -1;
    if (reply && reply->body_case == CHAT__ENVELOPE__BODY_LOOKUP_REPLY &&
        reply->lookup_reply->placement && reply->lookup_reply->placement->node)
        for (int i = 0; i < GWT_ROOMDS; i++)
            if (strcmp(c->roomd[i].node, reply->lookup_reply->placement->node) == 0)
                found = i;
    chat_envelope_free(&reply);
    return found;
}

int gwt_http_get(gwt_cluster_t *c, int g, const char *path, char *body, size_t cap)
{
    return chat_http_get(c->gw[g].port, path, body, cap, 5000);
}

chat_ws_t *gwt_login(gwt_cluster_t *c, int g, const char *user, const char *name)
{
    chat_ws_t *ws = chat_ws_login(c->gw[g].port, user, name, 10000);
    cr_assert_not_null(ws, "%s could not connect to gateway %d", user, g);
    return ws;
}

cJSON *gwt_call(chat_ws_t *ws, const char *text, const char *reply_type)
{
    cJSON *reply = chat_ws_call(ws, text, reply_type, 15000);
    cr_assert_not_null(reply, "no %s for %s", reply_type, text);
    return reply;
}

cJSON *gwt_join(chat_ws_t *ws, const char *room)
{
    char text[160];
    snprintf(text, sizeof text, "{\"type\":\"joinRoom\",\"roomId\":\"%s\"}", room);
    cJSON *reply = gwt_call(ws, text, "roomJoined");
    cr_assert_str_eq(chat_json_str(reply, "type"), "roomJoined", "join %s: %s", room,
                     chat_json_str(reply, "code"));
    return reply;
}

cJSON *gwt_expect(chat_ws_t *ws, const char *type, int ms)
{
    cJSON *msg = chat_ws_recv_type(ws, type, false, ms);
    cr_assert_not_null(msg, "no %s within %d ms", type, ms);
    return msg;
}

void gwt_expect_none(chat_ws_t *ws, const char *type, int ms)
{
    cJSON *msg = chat_ws_recv_type(ws, type, false, ms);
    cr_expect_null(msg, "unexpected %s", type);
    cJSON_Delete(msg);
}

long long gwt_seq(const cJSON *msg)
{
    if (strcmp(chat_json_str(msg, "type"), "messageReceived") != 0)
        return -1;
    return chat_json_int(cJSON_GetObjectItem(msg, "message"), "seq");
}
