/*  reg_server: see reg_server.h and docs/architecture.md ("Registry").
 *  This file: lifecycle, the loop, dispatch, leadership, replies, events
 *  (see reg_server_internal.h for the other files). */
#include "reg_server.h"
#include "chat_clock.h"
#include "chat_error.h"
#include "chat_log.h"
#include "chat_ready.h"
#include "chat_wire.h"
#include "reg_server_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_DRAIN_MAX 1000 //  requests served per loop turn before timers run
#define REG_SWEEP_MS 100   //  how often leases and pending grants are checked
//  Longest sleep in zmq_poll: libuv watchers started by a callback reach
//  its backend descriptor only when libuv runs again (reg_raft.h).
#define REG_POLL_CAP_MS 10
#define REG_BIND_RETRY_MS 10000 //  how long a bind waits for a port still held by a closing socket

static const char *s_counter_names[REG_C_COUNT] = {
    "requests",      "registrations",    "heartbeats",  "lookups",          "placements",
    "rooms_created", "bad_requests",     "pub_events",  "unroutable_sends", "not_leader",
    "proposals",     "proposals_failed", "leaderships",
};

// ------------------------------------------------------------------ helpers

void reg_server_send(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    if (chat_wire_send(self->router, peer, env) != 0) {
        static chat_log_limit_t limit;
        self->counters[REG_C_UNROUTABLE]++;
        chat_log_limited(&limit, CHAT_LOG_WARN, "reply not delivered: %s", strerror(errno));
    }
}

void reg_server_room_info(const reg_room_t *room, Chat__RoomInfo *info)
{
    chat__room_info__init(info);
    info->id = room->id;
    info->name = room->name;
    info->description = room->description;
    info->created_at = room->created_at;
}

void reg_server_publish(reg_server_t *self, Chat__RegistryEvent *event)
{
    if (!self->leading)
        return; //  only the serving leader speaks for the quorum
    event->boot = self->boot;
    event->term = self->term;
    event->leader_id = (uint64_t)self->config.id;
    event->leader_endpoint = self->self_member.endpoint;
    event->seq = ++self->pub_seq;
    Chat__Envelope env;
    REG_ENVELOPE(env, 0, REGISTRY_EVENT, registry_event, event);
    chat_peer_t topic;
    chat_peer_set(&topic, "registry");
    if (chat_wire_send(self->pub, &topic, &env) == 0)
        self->counters[REG_C_PUB_EVENTS]++;
}

void reg_server_bad_request(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                            const char *why)
{
    self->counters[REG_C_BAD_REQUESTS]++;
    chat_wire_count_bad(why);
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    error.status = CHAT__STATUS__STATUS_BAD_REQUEST;
    error.message = (char *)why;
    Chat__Envelope env;
    REG_ENVELOPE(env, req_id, ERROR, error, &error);
    reg_server_send(self, peer, &env);
}

void reg_server_not_leader(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id)
{
    self->counters[REG_C_NOT_LEADER]++;
    reg_raft_status_t st;
    reg_raft_status(self->raft, &st);
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    error.status = CHAT__STATUS__STATUS_NOT_LEADER;
    error.term = st.term;
    //  A leader that is not serving yet (its barrier is on the way) names
    //  nobody: the client asks again shortly.
    if (st.leader_id && st.leader_id != (uint64_t)self->config.id) {
        const char *endpoint = reg_members_endpoint(self, st.leader_id);
        error.leader_id = st.leader_id;
        error.leader_endpoint = (char *)(endpoint ? endpoint : "");
        error.message = "not the leader: ask leader_endpoint";
    } else {
        error.message = "no leader serves yet: ask again";
    }
    Chat__Envelope env;
    REG_ENVELOPE(env, req_id, ERROR, error, &error);
    reg_server_send(self, peer, &env);
}

// ---------------------------------------------------------------- proposals

reg_proposal_t *reg_proposal_new(reg_server_t *self, reg_proposal_kind_t kind,
                                 const chat_peer_t *peer, uint64_t req_id)
{
    reg_proposal_t *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->server = self;
    p->kind = kind;
    p->term = self->term;
    if (peer) {
        p->has_peer = true;
        p->peer = *peer;
        p->req_id = req_id;
    }
    return p;
}

void reg_proposal_free(reg_proposal_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->origin_gateway);
    free((*p)->room_id);
    free((*p)->member_address);
    if ((*p)->also) {
        for (void *w = zlistx_first((*p)->also); w; w = zlistx_next((*p)->also))
            free(w);
        zlistx_destroy(&(*p)->also);
    }
    free(*p);
    *p = NULL;
}

static void s_barrier_done(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o);
static void s_seeded(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o);

//  Every request's done callback: hands the outcome to its kind's owner,
//  which takes p over.
void reg_server_done(void *arg, const reg_raft_outcome_t *o)
{
    reg_proposal_t *p = arg;
    reg_server_t *self = p->server;
    if (o->status != 0) {
        self->counters[REG_C_PROPOSALS_FAILED]++;
        chat_debug("proposal of kind %d failed: %s", (int)p->kind, o->error ? o->error : "?");
    }
    switch (p->kind) {
    case REG_P_CREATE_ROOM:
        reg_catalog_created(self, p, o);
        break;
    case REG_P_GRANT:
        reg_catalog_granted(self, p, o);
        break;
    case REG_P_REGISTER:
        reg_nodes_registered(self, p, o);
        break;
    case REG_P_SEED:
        s_seeded(self, p, o);
        break;
    case REG_P_BARRIER:
        s_barrier_done(self, p, o);
        break;
    case REG_P_MEMBER:
    case REG_P_ADD:
    case REG_P_REMOVE:
        reg_members_changed(self, p, o);
        break;
    }
}

int reg_server_propose(reg_server_t *self, const Chat__RegistryCommand *cmd, reg_proposal_t *p)
{
    self->counters[REG_C_PROPOSALS]++;
    int rv = reg_raft_propose(self->raft, cmd, reg_server_done, p);
    if (rv == 0)
        return 0;
    self->counters[REG_C_PROPOSALS_FAILED]++;
    chat_warn("proposal refused by Raft: %s", reg_raft_errmsg(self->raft));
    if (p->has_peer)
        reg_server_not_leader(self, &p->peer, p->req_id);
    reg_proposal_free(&p);
    return -1;
}

// --------------------------------------------------------------- leadership

//  The leader of this term serves from now: every node gets one lease of
//  grace (this leader has not heard from any), the event stream starts.
static void s_become_ready(reg_server_t *self)
{
    int64_t now = chat_mono_ms();
    self->leading = true;
    self->leader_since = now;
    self->counters[REG_C_LEADERSHIPS]++;
    self->pub_seq = 0;
    reg_state_grace(self->state, now);
    self->next_pub_heartbeat = now; //  subscribers learn of the new stream at once
    self->next_sweep = now + REG_SWEEP_MS;
    chat_info("leading in term %" PRIu64 ": serving (applied %" PRIu64 ", %zu rooms, %zu nodes)",
              self->term, reg_fsm_applied(self->fsm), reg_state_room_count(self->state),
              reg_state_node_count(self->state));
    reg_members_refresh(self);
}

static bool s_still_leading_term(reg_server_t *self, const reg_proposal_t *p)
{
    return self->role == REG_RAFT_LEADER && self->term == p->term;
}

static void s_seeded(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o)
{
    if (o->status == 0 && s_still_leading_term(self, p) && !self->leading)
        s_become_ready(self);
    reg_proposal_free(&p);
}

//  Every entry of earlier terms is applied now: this leader's state is the
//  committed one. A new catalog gets its default rooms first.
static void s_barrier_done(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o)
{
    bool current = o->status == 0 && s_still_leading_term(self, p);
    reg_proposal_free(&p);
    if (!current)
        return;
    if (reg_fsm_seeded(self->fsm)) {
        s_become_ready(self);
        return;
    }
    Chat__SeedCommand seed = CHAT__SEED_COMMAND__INIT;
    seed.created_at = chat_wall_ms();
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_SEED;
    cmd.seed = &seed;
    reg_server_propose(self, &cmd, reg_proposal_new(self, REG_P_SEED, NULL, 0));
}

static void s_start_leading(reg_server_t *self)
{
    chat_info("elected leader in term %" PRIu64 "; applying what earlier leaders committed",
              self->term);
    reg_proposal_t *p = reg_proposal_new(self, REG_P_BARRIER, NULL, 0);
    if (reg_raft_barrier(self->raft, reg_server_done, p) != 0) {
        chat_warn("barrier refused: %s", reg_raft_errmsg(self->raft));
        reg_proposal_free(&p);
        self->term = 0; //  look again next turn
    }
}

static void s_step_down(reg_server_t *self)
{
    if (self->leading)
        chat_info("no longer leading (term %" PRIu64 ")", self->term);
    self->leading = false;
    reg_catalog_step_down(self);
}

//  libraft 0.15 has no callback for a change of role: look every turn.
static void s_watch_leadership(reg_server_t *self)
{
    reg_raft_status_t st;
    reg_raft_status(self->raft, &st);
    bool was_leader = self->role == REG_RAFT_LEADER;
    bool is_leader = st.role == REG_RAFT_LEADER;
    if (was_leader && (!is_leader || st.term != self->term))
        s_step_down(self);
    bool new_leadership = is_leader && (!was_leader || st.term != self->term);
    self->role = st.role;
    self->term = st.term;
    if (new_leadership)
        s_start_leading(self);
}

// ---------------------------------------------------------------- stats

static void s_on_stats(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    size_t live = 0;
    for (reg_node_t *node = reg_state_first_node(self->state); node;
         node = reg_state_next_node(self->state))
        live += node->live;
    const char *extra_names[] = {"rooms", "nodes", "nodes_live",    "bad_frames",
                                 "boot",  "term",  "applied_index", "registries"};
    uint64_t extra_values[] = {reg_state_room_count(self->state),
                               reg_state_node_count(self->state),
                               live,
                               chat_wire_bad_frames(),
                               self->boot,
                               self->term,
                               reg_fsm_applied(self->fsm),
                               reg_raft_member_count(self->raft)};
    enum { EXTRA = sizeof extra_names / sizeof extra_names[0] };
    Chat__Counter counters[REG_C_COUNT + EXTRA];
    Chat__Counter *list[REG_C_COUNT + EXTRA];
    for (size_t i = 0; i < REG_C_COUNT + EXTRA; i++) {
        chat__counter__init(&counters[i]);
        counters[i].name =
            (char *)(i < REG_C_COUNT ? s_counter_names[i] : extra_names[i - REG_C_COUNT]);
        counters[i].value = i < REG_C_COUNT ? self->counters[i] : extra_values[i - REG_C_COUNT];
        list[i] = &counters[i];
    }
    Chat__StatsReply reply = CHAT__STATS_REPLY__INIT;
    reply.counters = list;
    reply.n_counters = REG_C_COUNT + EXTRA;
    Chat__Envelope out;
    REG_ENVELOPE(out, env->req_id, STATS_REPLY, stats_reply, &reply);
    reg_server_send(self, peer, &out);
}

// ------------------------------------------------------------ dispatch

//  The fields each request needs; protobuf-c leaves absent messages NULL.
static const char *s_missing_field(const Chat__Envelope *env)
{
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_ASSIGN_REPLY:
        return env->assign_reply->room_id[0] ? NULL : "assign reply without room";
    case CHAT__ENVELOPE__BODY_LOOKUP:
        return env->lookup->room_id[0] ? NULL : "lookup without room id";
    case CHAT__ENVELOPE__BODY_HEARTBEAT:
        return env->heartbeat->instance[0] ? NULL : "heartbeat without instance";
    case CHAT__ENVELOPE__BODY_REGISTRY_MEMBER:
        return env->registry_member->member ? NULL : "member change without a member";
    default:
        return NULL;
    }
}

//  Requests only the serving leader handles.
static bool s_leader_request(Chat__Envelope__BodyCase body)
{
    switch (body) {
    case CHAT__ENVELOPE__BODY_REGISTER:
    case CHAT__ENVELOPE__BODY_HEARTBEAT:
    case CHAT__ENVELOPE__BODY_ASSIGN_REPLY:
    case CHAT__ENVELOPE__BODY_LOOKUP:
    case CHAT__ENVELOPE__BODY_LIST_ROOMS:
    case CHAT__ENVELOPE__BODY_CREATE_ROOM:
    case CHAT__ENVELOPE__BODY_LIST_NODES:
    case CHAT__ENVELOPE__BODY_STATS:
    case CHAT__ENVELOPE__BODY_REGISTRY_MEMBER:
        return true;
    default:
        return false;
    }
}

static void s_dispatch_leader(reg_server_t *self, const chat_peer_t *peer,
                              const Chat__Envelope *env)
{
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_REGISTER:
        reg_nodes_on_register(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_HEARTBEAT:
        reg_nodes_on_heartbeat(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_ASSIGN_REPLY:
        reg_catalog_on_assign_reply(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_LOOKUP:
        reg_catalog_on_lookup(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_LIST_ROOMS:
        reg_catalog_on_list_rooms(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_CREATE_ROOM:
        reg_catalog_on_create_room(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_LIST_NODES:
        reg_nodes_on_list_nodes(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_STATS:
        s_on_stats(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_REGISTRY_MEMBER:
        reg_members_on_change(self, peer, env);
        break;
    default:
        break;
    }
}

static void s_dispatch(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    self->counters[REG_C_REQUESTS]++;
    const char *missing = s_missing_field(env);
    if (missing) {
        reg_server_bad_request(self, peer, env->req_id, missing);
        return;
    }
    if (env->body_case == CHAT__ENVELOPE__BODY_REGISTRY_STATUS) {
        reg_members_on_status(self, peer, env);
    } else if (env->body_case == CHAT__ENVELOPE__BODY_LIST_ROOMS && env->list_rooms->local) {
        reg_catalog_on_list_rooms(self, peer, env);
    } else if (!s_leader_request(env->body_case)) {
        reg_server_bad_request(self, peer, env->req_id, "not a registry request");
    } else if (self->leading) {
        s_dispatch_leader(self, peer, env);
    } else if (env->body_case != CHAT__ENVELOPE__BODY_ASSIGN_REPLY) {
        reg_server_not_leader(self, peer, env->req_id); //  a late grant answer is dropped
    }
}

// --------------------------------------------------------------- timers

static void s_timers(reg_server_t *self)
{
    if (!self->leading)
        return;
    int64_t now = chat_mono_ms();
    if (now >= self->next_sweep) {
        reg_nodes_sweep(self, now);
        reg_catalog_sweep(self, now);
        self->next_sweep = now + REG_SWEEP_MS;
    }
    if (now >= self->next_pub_heartbeat) {
        Chat__RegistryEvent event = CHAT__REGISTRY_EVENT__INIT;
        event.kind_case = CHAT__REGISTRY_EVENT__KIND_HEARTBEAT;
        event.heartbeat = true;
        reg_server_publish(self, &event);
        self->next_pub_heartbeat = now + self->config.heartbeat_ms;
    }
}

// ------------------------------------------------------------ lifecycle

//  Starts this registry's Raft member from the configuration.
static int s_start_raft(reg_server_t *self)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/raft", self->config.data_dir);
    reg_raft_peer_t peers[REG_PEERS_MAX];
    size_t n = 0;
    if (!self->config.join) {
        for (size_t i = 0; i < self->n_peers; i++)
            peers[n++] = (reg_raft_peer_t){self->peers[i].id, self->peers[i].raft_address};
        if (n == 0) //  a cluster of one
            peers[n++] = (reg_raft_peer_t){self->self_member.id, self->self_member.raft_address};
    }
    char bind[CHAT_ENDPOINT_MAX];
    if (*self->config.raft_bind) {
        snprintf(bind, sizeof bind, "%s", self->config.raft_bind);
    } else {
        //  The --bind host (any interface for * ), port + 2.
        const char *host_port = strstr(self->config.bind, "://");
        host_port = host_port ? host_port + 3 : self->config.bind;
        char tmp[CHAT_ENDPOINT_MAX];
        if (strncmp(host_port, "*:", 2) == 0)
            snprintf(tmp, sizeof tmp, "0.0.0.0:%s", host_port + 2);
        else
            snprintf(tmp, sizeof tmp, "%s", host_port);
        if (chat_endpoint_port_offset(tmp, 2, bind, sizeof bind) != 0) {
            chat_error("--bind %s has no port to derive --raft-bind from: give --raft-bind",
                       self->config.bind);
            return -1;
        }
    }
    reg_raft_opts_t opts = {
        .id = (uint64_t)self->config.id,
        .dir = dir,
        .address = self->self_member.raft_address,
        .bind = bind,
        .peers = peers,
        .n_peers = n,
        .election_ms = (unsigned)self->config.election_ms,
        .heartbeat_ms = (unsigned)self->config.raft_heartbeat_ms,
        .snapshot_threshold = (unsigned)self->config.snapshot_threshold,
        .snapshot_trailing = (unsigned)self->config.snapshot_trailing,
        .fsm = self->fsm,
    };
    self->raft = reg_raft_new(&opts);
    return self->raft ? 0 : -1;
}

//  Binds with libzmq itself: port * is port 0, the kernel's random choice.
//  (CZMQ's zsock_bind scans up from 49152 instead, so every registry of the
//  machine bound with * took the same lowest free port: one restarting on
//  its port lost it to the next one that started.) A port still held by a
//  socket being closed is waited for, up to REG_BIND_RETRY_MS.
static int s_bind(zsock_t *sock, const char *endpoint)
{
    int64_t deadline = chat_mono_ms() + REG_BIND_RETRY_MS;
    while (zmq_bind(zsock_resolve(sock), endpoint) != 0) {
        if (zmq_errno() != EADDRINUSE || chat_mono_ms() >= deadline) {
            chat_error("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
            return -1;
        }
        zclock_sleep(20);
    }
    return 0;
}

//  What a zero field of the configuration means (reg_config_t {0} plus
//  the endpoints and the data directory is a registry alone).
static void s_defaults(reg_config_t *c)
{
    c->id = c->id > 0 ? c->id : 1;
    c->peers = c->peers ? c->peers : "";
    c->raft_bind = c->raft_bind ? c->raft_bind : "";
    c->advertise = c->advertise ? c->advertise : "";
    c->election_ms = c->election_ms > 0 ? c->election_ms : 300;
    c->raft_heartbeat_ms = c->raft_heartbeat_ms > 0 ? c->raft_heartbeat_ms : 30;
    if (c->snapshot_threshold <= 0) {
        c->snapshot_threshold = 8192;
        c->snapshot_trailing = 2048;
    }
}

reg_server_t *reg_server_new(const reg_config_t *config)
{
    reg_server_t *self = calloc(1, sizeof *self);
    self->config = *config;
    s_defaults(&self->config);
    self->pending = zhashx_new();
    zhashx_set_destructor(self->pending, reg_pending_free);
    if (reg_members_configure(self) != 0) {
        reg_server_destroy(&self);
        return NULL;
    }
    self->store = reg_store_open(config->data_dir, (uint64_t)config->map_size_mb);
    if (self->store)
        self->boot = reg_store_next_boot(self->store);
    if (self->boot)
        self->state = reg_state_new(self->store, chat_mono_ms());
    if (self->state)
        self->fsm = reg_fsm_new(self->state, self->store);
    self->router = zsock_new(ZMQ_ROUTER);
    self->pub = zsock_new(ZMQ_PUB);
    if (!self->fsm || !self->router || !self->pub) {
        reg_server_destroy(&self);
        return NULL;
    }
    chat_wire_tune(self->router);
    chat_wire_tune(self->pub);
    //  Sockets first: a port that is taken fails here, before Raft starts.
    if (s_bind(self->router, self->config.bind) != 0 ||
        s_bind(self->pub, self->config.pub_bind) != 0 || s_start_raft(self) != 0) {
        reg_server_destroy(&self);
        return NULL;
    }
    char bound[256], pub_bound[256], ready[600];
    chat_ready_bound(zsock_resolve(self->router), bound, sizeof bound);
    chat_ready_bound(zsock_resolve(self->pub), pub_bound, sizeof pub_bound);
    chat_info("registry %ld boot %" PRIu64 " serving %s, events on %s, data in %s", self->config.id,
              self->boot, bound, pub_bound, config->data_dir);
    snprintf(ready, sizeof ready, "bind %s\npub %s\n", bound, pub_bound);
    if (chat_ready_write(self->config.ready_file, ready) != 0) {
        reg_server_destroy(&self);
        return NULL;
    }
    return self;
}

void reg_server_destroy(reg_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    reg_server_t *self = *self_p;
    //  Raft first: requests still open end now, while the sockets can answer.
    self->leading = false;
    reg_raft_destroy(&self->raft);
    zsock_destroy(&self->router);
    zsock_destroy(&self->pub);
    zhashx_destroy(&self->pending);
    reg_fsm_destroy(&self->fsm);
    reg_state_destroy(&self->state);
    reg_store_destroy(&self->store);
    free(self);
    *self_p = NULL;
}

void reg_server_stop(reg_server_t *self)
{
    self->stop = 1;
}

//  Serves up to REG_DRAIN_MAX requests. Returns -1 when the socket failed.
static int s_drain(reg_server_t *self)
{
    for (int i = 0; i < REG_DRAIN_MAX; i++) {
        chat_peer_t peer;
        Chat__Envelope *env = NULL;
        int rc = chat_wire_recv(self->router, &peer, &env);
        if (rc == CHAT_WIRE_EMPTY)
            return 0;
        if (rc == CHAT_WIRE_ERROR)
            return errno == EINTR ? 0 : -1;
        if (rc == CHAT_WIRE_GOT)
            s_dispatch(self, &peer, env);
        chat_envelope_free(&env);
    }
    return 0;
}

//  How long the loop may sleep: until the next timer of ours or libuv's.
static long s_poll_timeout(reg_server_t *self)
{
    long timeout = REG_POLL_CAP_MS;
    if (self->leading) {
        int64_t now = chat_mono_ms();
        int64_t next = self->next_sweep < self->next_pub_heartbeat ? self->next_sweep
                                                                   : self->next_pub_heartbeat;
        if (next - now < timeout)
            timeout = next > now ? (long)(next - now) : 0;
    }
    int uv = reg_raft_timeout(self->raft);
    if (uv >= 0 && uv < timeout)
        timeout = uv;
    return timeout;
}

int reg_server_run(reg_server_t *self)
{
    int result = 0;
    while (!self->stop && !zsys_interrupted) {
        zmq_pollitem_t items[] = {{zsock_resolve(self->router), 0, ZMQ_POLLIN, 0},
                                  {NULL, reg_raft_fd(self->raft), ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 2, s_poll_timeout(self));
        if (rc < 0 && zmq_errno() != EINTR) {
            chat_error("poll: %s", zmq_strerror(zmq_errno()));
            result = -1;
            break;
        }
        if (items[0].revents && s_drain(self) != 0) {
            chat_error("router: %s", zmq_strerror(zmq_errno()));
            result = -1;
            break;
        }
        reg_raft_run(self->raft);
        s_watch_leadership(self);
        s_timers(self);
        if (reg_raft_failed(self->raft)) {
            chat_error("the state could not be stored: stopping (a restart replays the log)");
            result = -1;
            break;
        }
    }
    chat_info("registry stopping");
    return result;
}
