/*  rd_cluster: see rd_cluster.h. */
#include "rd_cluster.h"
#include "chat_clock.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  "tcp://127.0.0.1:<port>", or port * (a free one, chosen by the bind) for port 0.
static const char *s_endpoint(int port, char *buf, size_t size)
{
    if (port > 0)
        snprintf(buf, size, "tcp://127.0.0.1:%d", port);
    else
        snprintf(buf, size, "tcp://127.0.0.1:*");
    return buf;
}

//  Waits for a process's ready file; fails the test with its log otherwise.
static void s_wait_ready(chat_proc_t *proc, const char *what)
{
    cr_assert(chat_proc_wait_ready(proc, RDT_DEADLINE_MS), "%s did not come up", what);
}

void rdt_registry_start(rdt_cluster_t *c)
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
                          "3000",
                          "--assign-timeout-ms",
                          "5000",
                          "--log-level",
                          "debug",
                          NULL};
    c->registry = chat_proc_start("registry", args, c->dir, "registry");
    cr_assert_not_null(c->registry);
    s_wait_ready(c->registry, "the registry");
    c->port = chat_proc_ready_port(c->registry, "bind");
    c->pub_port = chat_proc_ready_port(c->registry, "pub");
}

void rdt_roomd_launch(rdt_cluster_t *c, int i)
{
    rdt_roomd_t *r = &c->roomd[i];
    char bind[64], pub[64];
    const char *args[40] = {"--registry",
                            chat_tcp(c->port),
                            "--bind",
                            s_endpoint(r->port, bind, sizeof bind),
                            "--pub-bind",
                            s_endpoint(r->pub_port, pub, sizeof pub),
                            "--data",
                            r->data,
                            "--node",
                            r->node,
                            "--tick-ms",
                            "200",
                            "--log-level",
                            "debug",
                            "--session-lease-ms",
                            "60000"};
    //  Scripted gateways do not heartbeat unless a test says so: a long session
    //  lease by default (a test's extra flags come later and win).
    int n = 0;
    while (args[n])
        n++;
    for (int k = 0; r->extra[k] && n < 38; k++)
        args[n++] = r->extra[k];
    args[n] = NULL;
    r->proc = chat_proc_start("roomd", args, c->dir, r->node);
    cr_assert_not_null(r->proc);
}

void rdt_roomd_ready(rdt_cluster_t *c, int i)
{
    rdt_roomd_t *r = &c->roomd[i];
    s_wait_ready(r->proc, r->node);
    r->port = chat_proc_ready_port(r->proc, "cmd");
    r->pub_port = chat_proc_ready_port(r->proc, "pub");
}

void rdt_roomd_start(rdt_cluster_t *c, int i)
{
    rdt_roomd_launch(c, i);
    rdt_roomd_ready(c, i);
}

void rdt_cluster_start(rdt_cluster_t *c, int count, const char *const *roomd_extra)
{
    memset(c, 0, sizeof *c);
    c->dir = chat_temp_dir("roomd");
    cr_assert_not_null(c->dir);
    //  The registry's three ports (requests, events, Raft on + 2), below the
    //  ephemeral range.
    c->port = chat_free_ports(3);
    c->pub_port = c->port + 1;
    c->roomd_count = count;
    rdt_registry_start(c);
    //  Every roomd starts at once; each binds free ports and says which.
    for (int i = 0; i < count; i++) {
        rdt_roomd_t *r = &c->roomd[i];
        snprintf(r->node, sizeof r->node, "node-%d", i);
        snprintf(r->data, sizeof r->data, "%s/%s", c->dir, r->node);
        for (int k = 0; roomd_extra && roomd_extra[k] && k < 15; k++)
            r->extra[k] = roomd_extra[k];
        rdt_roomd_launch(c, i);
    }
    for (int i = 0; i < count; i++)
        rdt_roomd_ready(c, i);
    rdt_wait_live(c, count);
}

void rdt_cluster_stop(rdt_cluster_t *c)
{
    for (int i = 0; i < c->roomd_count; i++)
        if (c->roomd[i].proc)
            cr_expect(chat_proc_stop_clean(&c->roomd[i].proc), "%s did not exit cleanly",
                      c->roomd[i].node);
    if (c->registry)
        cr_expect(chat_proc_stop_clean(&c->registry), "the registry did not exit cleanly");
    if (getenv("RDT_KEEP"))
        fprintf(stderr, "kept %s\n", c->dir);
    else
        chat_remove_tree(c->dir);
    free(c->dir);
    c->dir = NULL;
}

Chat__Envelope *rdt_registry_call(rdt_cluster_t *c, Chat__Envelope *env)
{
    int64_t deadline = chat_mono_ms() + RDT_DEADLINE_MS;
    while (chat_mono_ms() < deadline) {
        env->req_id = ++c->next_req;
        Chat__Envelope *reply = chat_request(chat_tcp(c->port), env, 2000);
        if (reply)
            return reply;
    }
    cr_assert_fail("the registry did not answer");
    return NULL;
}

static size_t s_live_nodes(rdt_cluster_t *c)
{
    Chat__ListNodesRequest req = CHAT__LIST_NODES_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_NODES;
    env.list_nodes = &req;
    Chat__Envelope *reply = rdt_registry_call(c, &env);
    size_t live = 0;
    if (reply->body_case == CHAT__ENVELOPE__BODY_LIST_NODES_REPLY)
        for (size_t i = 0; i < reply->list_nodes_reply->n_nodes; i++)
            live += reply->list_nodes_reply->nodes[i]->live;
    chat_envelope_free(&reply);
    return live;
}

void rdt_wait_live(rdt_cluster_t *c, int count)
{
    int64_t deadline = chat_mono_ms() + RDT_DEADLINE_MS;
    while (s_live_nodes(c) < (size_t)count) {
        cr_assert_lt(chat_mono_ms(), deadline, "roomds did not become live");
        chat_sleep_ms(50);
    }
}

bool rdt_node_stats(rdt_cluster_t *c, const char *node, Chat__NodeStats *stats)
{
    Chat__ListNodesRequest req = CHAT__LIST_NODES_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_NODES;
    env.list_nodes = &req;
    Chat__Envelope *reply = rdt_registry_call(c, &env);
    bool found = false;
    for (size_t i = 0; reply->body_case == CHAT__ENVELOPE__BODY_LIST_NODES_REPLY &&
                       i < reply->list_nodes_reply->n_nodes;
         i++) {
        Chat__NodeInfo *n = reply->list_nodes_reply->nodes[i];
        if (strcmp(n->node, node) == 0 && n->stats) {
            *stats = *n->stats;
            found = true;
        }
    }
    chat_envelope_free(&reply);
    return found;
}

void rdt_lookup(rdt_cluster_t *c, const char *room, rdt_place_t *out)
{
    int64_t deadline = chat_mono_ms() + RDT_DEADLINE_MS;
    for (;;) {
        Chat__LookupRequest req = CHAT__LOOKUP_REQUEST__INIT;
        req.room_id = (char *)room;
        req.place = true;
        Chat__Envelope env = CHAT__ENVELOPE__INIT;
        env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
        env.lookup = &req;
        Chat__Envelope *reply = rdt_registry_call(c, &env);
        cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_LOOKUP_REPLY);
        Chat__LookupReply *lr = reply->lookup_reply;
        if (lr->status == CHAT__STATUS__STATUS_OK && lr->placement) {
            snprintf(out->room, sizeof out->room, "%s", lr->placement->room_id);
            snprintf(out->node, sizeof out->node, "%s", lr->placement->node);
            snprintf(out->instance, sizeof out->instance, "%s", lr->placement->instance);
            snprintf(out->cmd, sizeof out->cmd, "%s", lr->placement->cmd_endpoint);
            snprintf(out->pub, sizeof out->pub, "%s", lr->placement->pub_endpoint);
            out->epoch = lr->placement->epoch;
            chat_envelope_free(&reply);
            return;
        }
        Chat__Status status = lr->status;
        chat_envelope_free(&reply);
        cr_assert_lt(chat_mono_ms(), deadline, "lookup of %s stays at status %d", room, status);
        chat_sleep_ms(100);
    }
}

void rdt_create_room(rdt_cluster_t *c, const char *name, char *id)
{
    Chat__CreateRoomRequest req = CHAT__CREATE_ROOM_REQUEST__INIT;
    req.name = (char *)name;
    req.description = "made by a roomd test";
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
    env.create_room = &req;
    Chat__Envelope *reply = rdt_registry_call(c, &env);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_CREATE_ROOM_REPLY);
    cr_assert_eq(reply->create_room_reply->status, CHAT__STATUS__STATUS_OK);
    snprintf(id, 72, "%s", reply->create_room_reply->room->id);
    chat_envelope_free(&reply);
}

// ------------------------------------------------------------- the gateway

static void s_free_string(void **item)
{
    free(*item);
    *item = NULL;
}

rdt_gw_t *rdt_gw_new(const char *id)
{
    rdt_gw_t *gw = calloc(1, sizeof *gw);
    snprintf(gw->id, sizeof gw->id, "%s", id);
    gw->router = zsock_new(ZMQ_ROUTER);
    gw->sub = zsock_new(ZMQ_SUB);
    cr_assert(gw->router && gw->sub);
    chat_wire_tune(gw->router);
    chat_wire_tune(gw->sub);
    zsock_set_rcvhwm(gw->sub, 0);
    zsock_set_rcvhwm(gw->router, 0);
    zsock_set_sndhwm(gw->router, 0);
    gw->connected = zlistx_new();
    zlistx_set_destructor(gw->connected, s_free_string);
    return gw;
}

void rdt_gw_destroy(rdt_gw_t **p)
{
    if (!p || !*p)
        return;
    zsock_destroy(&(*p)->router);
    zsock_destroy(&(*p)->sub);
    zlistx_destroy(&(*p)->connected);
    free(*p);
    *p = NULL;
}

static bool s_seen(rdt_gw_t *gw, const char *key)
{
    for (char *s = zlistx_first(gw->connected); s; s = zlistx_next(gw->connected))
        if (strcmp(s, key) == 0)
            return true;
    zlistx_add_end(gw->connected, strdup(key));
    return false;
}

void rdt_gw_connect(rdt_gw_t *gw, const rdt_place_t *p)
{
    char key[160];
    snprintf(key, sizeof key, "cmd %s", p->cmd);
    if (!s_seen(gw, key))
        cr_assert_eq(zsock_connect(gw->router, "%s", p->cmd), 0);
    snprintf(key, sizeof key, "pub %s", p->pub);
    if (!s_seen(gw, key))
        cr_assert_eq(zsock_connect(gw->sub, "%s", p->pub), 0);
}

uint64_t rdt_gw_send(rdt_gw_t *gw, const char *instance, Chat__Envelope *env)
{
    env->req_id = ++gw->next_req;
    chat_peer_t peer;
    chat_peer_set(&peer, instance);
    int64_t deadline = chat_mono_ms() + RDT_DEADLINE_MS;
    while (chat_wire_send(gw->router, &peer, env) != 0) {
        cr_assert(errno == EHOSTUNREACH || errno == EAGAIN, "send: %s", strerror(errno));
        cr_assert_lt(chat_mono_ms(), deadline, "no route to %s", instance);
        chat_sleep_ms(10);
    }
    return env->req_id;
}

static Chat__Envelope *s_recv(zsock_t *sock, bool router, int ms)
{
    int64_t deadline = chat_mono_ms() + ms;
    zpoller_t *poller = zpoller_new(sock, NULL);
    Chat__Envelope *env = NULL;
    chat_peer_t peer;
    while (!env) {
        int64_t left = deadline - chat_mono_ms();
        if (left <= 0)
            break;
        if (!zpoller_wait(poller, (int)left))
            continue;
        if (chat_wire_recv(sock, &peer, &env) != CHAT_WIRE_GOT)
            env = NULL;
        (void)router;
    }
    zpoller_destroy(&poller);
    return env;
}

Chat__Envelope *rdt_gw_recv(rdt_gw_t *gw, int ms)
{
    return s_recv(gw->router, true, ms);
}

Chat__Envelope *rdt_gw_call(rdt_gw_t *gw, const char *instance, Chat__Envelope *env)
{
    uint64_t id = rdt_gw_send(gw, instance, env);
    int64_t deadline = chat_mono_ms() + RDT_DEADLINE_MS;
    while (chat_mono_ms() < deadline) {
        Chat__Envelope *reply = rdt_gw_recv(gw, 500);
        if (reply && reply->req_id == id)
            return reply;
        chat_envelope_free(&reply);
    }
    cr_assert_fail("no reply from %s to request %llu", instance, (unsigned long long)id);
    return NULL;
}

Chat__Envelope *rdt_gw_event(rdt_gw_t *gw, int ms, bool skip_ticks)
{
    int64_t deadline = chat_mono_ms() + ms;
    while (chat_mono_ms() < deadline) {
        Chat__Envelope *env = s_recv(gw->sub, false, (int)(deadline - chat_mono_ms()));
        if (!env)
            return NULL;
        if (env->body_case == CHAT__ENVELOPE__BODY_ROOM_EVENT &&
            !(skip_ticks && env->room_event->tick))
            return env;
        chat_envelope_free(&env);
    }
    return NULL;
}

void rdt_gw_subscribe(rdt_gw_t *gw, const rdt_place_t *p)
{
    rdt_gw_connect(gw, p);
    zsock_set_subscribe(gw->sub, p->room);
    static Chat__RoomTarget target;
    static Chat__RoomStateRequest req;
    chat__room_target__init(&target);
    chat__room_state_request__init(&req);
    target.room_id = (char *)p->room;
    target.instance = (char *)p->instance;
    target.epoch = p->epoch;
    req.target = &target;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_ROOM_STATE;
    env.room_state = &req;
    Chat__Envelope *reply = rdt_gw_call(gw, p->instance, &env);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_ROOM_STATE_REPLY);
    cr_assert_eq(reply->room_state_reply->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&reply);
    int64_t deadline = chat_mono_ms() + RDT_DEADLINE_MS;
    for (;;) {
        Chat__Envelope *event = rdt_gw_event(gw, 1000, false);
        bool tick =
            event && event->room_event->tick && strcmp(event->room_event->room_id, p->room) == 0;
        chat_envelope_free(&event);
        if (tick)
            return;
        cr_assert_lt(chat_mono_ms(), deadline, "no tick from %s", p->room);
    }
}

// ------------------------------------------------------------ requests

static Chat__RoomTarget s_target;
static Chat__SessionRef s_session;
static Chat__User s_user;

static Chat__RoomTarget *s_fill_target(const rdt_place_t *p)
{
    chat__room_target__init(&s_target);
    s_target.room_id = (char *)p->room;
    s_target.instance = (char *)p->instance;
    s_target.epoch = p->epoch;
    return &s_target;
}

static Chat__SessionRef *s_fill_session(const char *gateway, uint64_t conn)
{
    chat__session_ref__init(&s_session);
    s_session.gateway = (char *)gateway;
    s_session.conn = conn;
    return &s_session;
}

void rdt_join(Chat__Envelope *env, const rdt_place_t *p, const char *user, const char *gateway,
              uint64_t conn)
{
    static Chat__JoinRequest req;
    chat__join_request__init(&req);
    chat__user__init(&s_user);
    s_user.id = (char *)user;
    s_user.name = (char *)user;
    req.target = s_fill_target(p);
    req.user = &s_user;
    req.session = s_fill_session(gateway, conn);
    chat__envelope__init(env);
    env->body_case = CHAT__ENVELOPE__BODY_JOIN;
    env->join = &req;
}

void rdt_leave(Chat__Envelope *env, const rdt_place_t *p, const char *user, const char *gateway,
               uint64_t conn)
{
    static Chat__LeaveRequest req;
    chat__leave_request__init(&req);
    req.target = s_fill_target(p);
    req.user_id = (char *)user;
    req.session = s_fill_session(gateway, conn);
    chat__envelope__init(env);
    env->body_case = CHAT__ENVELOPE__BODY_LEAVE;
    env->leave = &req;
}

void rdt_send(Chat__Envelope *env, const rdt_place_t *p, const char *user, const char *gateway,
              uint64_t conn, const char *content, const char *client_msg_id)
{
    static Chat__SendRequest req;
    chat__send_request__init(&req);
    req.target = s_fill_target(p);
    req.user_id = (char *)user;
    req.user_name = (char *)user;
    req.session = s_fill_session(gateway, conn);
    req.content = (char *)content;
    req.client_msg_id = (char *)(client_msg_id ? client_msg_id : "");
    chat__envelope__init(env);
    env->body_case = CHAT__ENVELOPE__BODY_SEND;
    env->send = &req;
}

void rdt_history_after(Chat__Envelope *env, const rdt_place_t *p, uint64_t after, uint32_t limit)
{
    static Chat__HistoryRequest req;
    chat__history_request__init(&req);
    req.target = s_fill_target(p);
    req.target->epoch = 0;
    req.has_after = true;
    req.after = after;
    req.limit = limit;
    chat__envelope__init(env);
    env->body_case = CHAT__ENVELOPE__BODY_HISTORY;
    env->history = &req;
}

uint64_t rdt_gw_join(rdt_gw_t *gw, const rdt_place_t *p, const char *user, uint64_t conn)
{
    Chat__Envelope env;
    rdt_join(&env, p, user, gw->id, conn);
    Chat__Envelope *reply = rdt_gw_call(gw, p->instance, &env);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_JOIN_REPLY);
    cr_assert_eq(reply->join_reply->status, CHAT__STATUS__STATUS_OK, "join: status %d",
                 reply->join_reply->status);
    uint64_t cursor = reply->join_reply->cursor;
    chat_envelope_free(&reply);
    return cursor;
}

uint64_t rdt_gw_say(rdt_gw_t *gw, const rdt_place_t *p, const char *user, uint64_t conn,
                    const char *content, const char *client_msg_id)
{
    Chat__Envelope env;
    rdt_send(&env, p, user, gw->id, conn, content, client_msg_id);
    Chat__Envelope *reply = rdt_gw_call(gw, p->instance, &env);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_SEND_REPLY);
    cr_assert_eq(reply->send_reply->status, CHAT__STATUS__STATUS_OK, "send: status %d",
                 reply->send_reply->status);
    uint64_t seq = reply->send_reply->seq;
    chat_envelope_free(&reply);
    return seq;
}

size_t rdt_gw_history(rdt_gw_t *gw, const rdt_place_t *p, uint64_t after, uint64_t *seqs,
                      size_t max)
{
    size_t n = 0;
    for (;;) {
        Chat__Envelope env;
        rdt_history_after(&env, p, after, 1000);
        Chat__Envelope *reply = rdt_gw_call(gw, p->instance, &env);
        cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_HISTORY_REPLY);
        Chat__HistoryReply *h = reply->history_reply;
        cr_assert_eq(h->status, CHAT__STATUS__STATUS_OK);
        for (size_t i = 0; i < h->n_messages; i++) {
            if (n < max)
                seqs[n] = h->messages[i]->seq;
            n++;
            after = h->messages[i]->seq;
        }
        bool more = h->has_more && h->n_messages > 0;
        chat_envelope_free(&reply);
        if (!more)
            return n;
    }
}
