/*  reg_server: see reg_server.h and docs/architecture.md ("Registry"). */
#include "reg_server.h"
#include "chat_clock.h"
#include "chat_error.h"
#include "chat_log.h"
#include "chat_wire.h"
#include "reg_state.h"
#include "reg_store.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define REG_DRAIN_MAX 1000     //  requests served per loop turn before timers run
#define REG_SWEEP_MS 100       //  how often leases and pending grants are checked
#define REG_LIST_PAGE_MAX 5000 //  most rooms in one page of a paged ListRooms

//  Counters reported by Stats, in this order.
typedef enum {
    REG_C_REQUESTS,
    REG_C_REGISTRATIONS,
    REG_C_HEARTBEATS,
    REG_C_LOOKUPS,
    REG_C_PLACEMENTS,
    REG_C_ROOMS_CREATED,
    REG_C_BAD_REQUESTS,
    REG_C_PUB_EVENTS,
    REG_C_UNROUTABLE,
    REG_C_COUNT
} s_counter_t;

static const char *s_counter_names[REG_C_COUNT] = {
    "requests",      "registrations", "heartbeats", "lookups",          "placements",
    "rooms_created", "bad_requests",  "pub_events", "unroutable_sends",
};

//  A lookup waiting for a roomd to confirm a grant.
typedef struct {
    chat_peer_t peer; //  who asked
    uint64_t req_id;  //  their request id
} s_waiter_t;

//  A grant sent to a roomd and not yet confirmed.
typedef struct {
    uint64_t epoch;    //  epoch of the grant
    int64_t deadline;  //  monotonic ms after which waiters get UNAVAILABLE
    zlistx_t *waiters; //  s_waiter_t, owned
} s_pending_t;

struct reg_server {
    reg_config_t config;            //  copy of the caller's settings
    reg_store_t *store;             //  durable state
    reg_state_t *state;             //  tables in memory
    zsock_t *router;                //  requests from roomds, gateways, chatctl
    zsock_t *pub;                   //  registry events
    uint64_t boot;                  //  this run's boot number (PUB events carry it)
    uint64_t pub_seq;               //  last PUB event's seq in this boot
    uint64_t next_req_id;           //  ids of requests the registry sends (grants)
    zhashx_t *pending;              //  room id -> s_pending_t
    uint64_t counters[REG_C_COUNT]; //  what Stats reports
    int64_t next_pub_heartbeat;     //  monotonic ms
    int64_t next_sweep;             //  monotonic ms
    volatile sig_atomic_t stop;     //  set by reg_server_stop
};

#define S_ENVELOPE(env, id, CASE, field, value)                                                    \
    do {                                                                                           \
        chat__envelope__init(&(env));                                                              \
        (env).req_id = (id);                                                                       \
        (env).body_case = CHAT__ENVELOPE__BODY_##CASE;                                             \
        (env).field = (value);                                                                     \
    } while (0)

// ------------------------------------------------------------------ helpers

static void s_send(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    if (chat_wire_send(self->router, peer, env) != 0) {
        static chat_log_limit_t limit;
        self->counters[REG_C_UNROUTABLE]++;
        chat_log_limited(&limit, CHAT_LOG_WARN, "reply not delivered: %s", strerror(errno));
    }
}

static void s_room_info(const reg_room_t *room, Chat__RoomInfo *info)
{
    chat__room_info__init(info);
    info->id = room->id;
    info->name = room->name;
    info->description = room->description;
    info->created_at = room->created_at;
}

//  Fills placement from room and node (node may be NULL: endpoints empty).
static void s_placement(const reg_room_t *room, const reg_node_t *node, Chat__Placement *placement)
{
    chat__placement__init(placement);
    placement->room_id = room->id;
    placement->node = room->node ? room->node : "";
    placement->instance = room->instance ? room->instance : "";
    placement->epoch = room->epoch;
    if (node) {
        placement->cmd_endpoint = node->cmd_endpoint;
        placement->pub_endpoint = node->pub_endpoint;
    }
}

static void s_publish(reg_server_t *self, Chat__RegistryEvent *event)
{
    event->boot = self->boot;
    event->seq = ++self->pub_seq;
    Chat__Envelope env;
    S_ENVELOPE(env, 0, REGISTRY_EVENT, registry_event, event);
    chat_peer_t topic;
    chat_peer_set(&topic, "registry");
    if (chat_wire_send(self->pub, &topic, &env) == 0)
        self->counters[REG_C_PUB_EVENTS]++;
}

static void s_publish_placement(reg_server_t *self, const reg_room_t *room, const reg_node_t *node)
{
    Chat__Placement placement;
    s_placement(room, node, &placement);
    Chat__RegistryEvent event = CHAT__REGISTRY_EVENT__INIT;
    event.kind_case = CHAT__REGISTRY_EVENT__KIND_PLACEMENT;
    event.placement = &placement;
    s_publish(self, &event);
}

static void s_publish_node(reg_server_t *self, const reg_node_t *node)
{
    Chat__NodeState state = CHAT__NODE_STATE__INIT;
    state.node = node->name;
    state.instance = node->instance;
    state.live = node->live;
    Chat__RegistryEvent event = CHAT__REGISTRY_EVENT__INIT;
    event.kind_case = CHAT__REGISTRY_EVENT__KIND_NODE_STATE;
    event.node_state = &state;
    s_publish(self, &event);
}

static void s_error_reply(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                          const char *why)
{
    self->counters[REG_C_BAD_REQUESTS]++;
    chat_wire_count_bad(why);
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    error.status = CHAT__STATUS__STATUS_BAD_REQUEST;
    error.message = (char *)why;
    Chat__Envelope env;
    S_ENVELOPE(env, req_id, ERROR, error, &error);
    s_send(self, peer, &env);
}

//  Marks node as heard from now, from peer.
static void s_node_seen(reg_server_t *self, reg_node_t *node, const chat_peer_t *peer)
{
    node->peer = *peer;
    node->has_peer = true;
    node->last_seen = chat_mono_ms();
    if (!node->live) {
        node->live = true;
        chat_info("node %s (%s) is live", node->name, node->instance);
        s_publish_node(self, node);
    }
}

// ------------------------------------------------------------- lookups

static void s_lookup_reply(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                           Chat__Status status, const reg_room_t *room, const reg_node_t *node)
{
    Chat__LookupReply reply = CHAT__LOOKUP_REPLY__INIT;
    Chat__RoomInfo info;
    Chat__Placement placement;
    reply.status = status;
    if (room) {
        s_room_info(room, &info);
        reply.room = &info;
        if (room->node) {
            s_placement(room, node, &placement);
            reply.placement = &placement;
        }
    }
    Chat__Envelope env;
    S_ENVELOPE(env, req_id, LOOKUP_REPLY, lookup_reply, &reply);
    s_send(self, peer, &env);
}

static void s_waiter_free(void **item)
{
    free(*item);
    *item = NULL;
}

static void s_pending_free(void **item)
{
    s_pending_t *pending = *item;
    if (!pending)
        return;
    zlistx_destroy(&pending->waiters);
    free(pending);
    *item = NULL;
}

//  Answers every lookup waiting on room's grant, and forgets the grant.
static void s_settle(reg_server_t *self, const reg_room_t *room, Chat__Status status)
{
    s_pending_t *pending = zhashx_lookup(self->pending, room->id);
    if (!pending)
        return;
    reg_node_t *node = reg_state_node(self->state, room->node);
    for (s_waiter_t *w = zlistx_first(pending->waiters); w; w = zlistx_next(pending->waiters))
        s_lookup_reply(self, &w->peer, w->req_id, status, room, node);
    zhashx_delete(self->pending, room->id);
}

//  Sends room's current grant to node; returns -1 when node cannot be reached.
static int s_send_grant(reg_server_t *self, const reg_room_t *room, const reg_node_t *node)
{
    Chat__RoomInfo info;
    s_room_info(room, &info);
    Chat__Assignment assignment = CHAT__ASSIGNMENT__INIT;
    assignment.room = &info;
    assignment.epoch = room->epoch;
    Chat__AssignRequest assign = CHAT__ASSIGN_REQUEST__INIT;
    assign.instance = node->instance;
    assign.assignment = &assignment;
    Chat__Envelope env;
    S_ENVELOPE(env, ++self->next_req_id, ASSIGN, assign, &assign);
    if (!node->has_peer || chat_wire_send(self->router, &node->peer, &env) != 0) {
        self->counters[REG_C_UNROUTABLE]++;
        return -1;
    }
    return 0;
}

//  Makes the lookup wait for room's grant to be confirmed, sending the grant
//  when none is outstanding.
static void s_wait_for_grant(reg_server_t *self, reg_room_t *room, reg_node_t *node,
                             const chat_peer_t *peer, uint64_t req_id)
{
    s_pending_t *pending = zhashx_lookup(self->pending, room->id);
    if (!pending || pending->epoch != room->epoch) {
        if (pending)
            s_settle(self, room, CHAT__STATUS__STATUS_UNAVAILABLE);
        if (s_send_grant(self, room, node) != 0) {
            s_lookup_reply(self, peer, req_id, CHAT__STATUS__STATUS_UNAVAILABLE, room, node);
            return;
        }
        pending = calloc(1, sizeof *pending);
        pending->epoch = room->epoch;
        pending->deadline = chat_mono_ms() + self->config.assign_timeout_ms;
        pending->waiters = zlistx_new();
        zlistx_set_destructor(pending->waiters, s_waiter_free);
        zhashx_insert(self->pending, room->id, pending);
    }
    s_waiter_t *waiter = calloc(1, sizeof *waiter);
    waiter->peer = *peer;
    waiter->req_id = req_id;
    zlistx_add_end(pending->waiters, waiter);
}

static void s_on_lookup(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    const Chat__LookupRequest *req = env->lookup;
    self->counters[REG_C_LOOKUPS]++;
    reg_room_t *room = reg_state_room(self->state, req->room_id);
    if (!room) {
        s_lookup_reply(self, peer, env->req_id, CHAT__STATUS__STATUS_NOT_FOUND, NULL, NULL);
        return;
    }
    reg_node_t *node = reg_state_node(self->state, room->node);
    if (!node) {
        //  Never placed: place it now when asked to and some node can take it.
        node = req->place ? reg_state_choose_node(self->state, room->id) : NULL;
        if (!node) {
            s_lookup_reply(self, peer, env->req_id, CHAT__STATUS__STATUS_UNAVAILABLE, room, NULL);
            return;
        }
        if (reg_state_grant(self->state, room, node) != 0) {
            s_lookup_reply(self, peer, env->req_id, CHAT__STATUS__STATUS_INTERNAL, room, NULL);
            return;
        }
        self->counters[REG_C_PLACEMENTS]++;
        chat_info("placed %s on %s at epoch %lu", room->id, node->instance,
                  (unsigned long)room->epoch);
        s_publish_placement(self, room, node);
        s_wait_for_grant(self, room, node, peer, env->req_id);
        return;
    }
    if (!node->live) {
        s_lookup_reply(self, peer, env->req_id, CHAT__STATUS__STATUS_UNAVAILABLE, room, node);
        return;
    }
    if (!room->instance || strcmp(room->instance, node->instance) != 0) {
        //  The node has a newer instance than the room's grant (its rooms are
        //  normally regranted at registration; this mends any that were not).
        if (reg_state_grant(self->state, room, node) != 0) {
            s_lookup_reply(self, peer, env->req_id, CHAT__STATUS__STATUS_INTERNAL, room, node);
            return;
        }
        s_publish_placement(self, room, node);
    }
    if (room->acked)
        s_lookup_reply(self, peer, env->req_id, CHAT__STATUS__STATUS_OK, room, node);
    else
        s_wait_for_grant(self, room, node, peer, env->req_id);
}

static void s_on_assign_reply(reg_server_t *self, const chat_peer_t *peer,
                              const Chat__Envelope *env)
{
    const Chat__AssignReply *reply = env->assign_reply;
    reg_room_t *room = reg_state_room(self->state, reply->room_id);
    if (!room || reply->epoch != room->epoch)
        return; //  a late answer to an older grant
    reg_node_t *node = reg_state_node(self->state, room->node);
    if (node)
        s_node_seen(self, node, peer);
    if (reply->status == CHAT__STATUS__STATUS_OK) {
        room->acked = true;
        s_settle(self, room, CHAT__STATUS__STATUS_OK);
    } else {
        chat_warn("node %s refused room %s at epoch %lu: %s", room->node, room->id,
                  (unsigned long)room->epoch, chat_status_code(reply->status));
        s_settle(self, room, CHAT__STATUS__STATUS_UNAVAILABLE);
    }
}

// ---------------------------------------------------- roomd registration

//  Fills reply->assignments with every room granted to node's instance.
//  The arrays are the caller's to free with s_assignments_free.
static void s_assignments(reg_server_t *self, const reg_node_t *node, Chat__Assignment ***list,
                          size_t *count)
{
    size_t capacity = node->rooms;
    Chat__Assignment **items = calloc(capacity + 1, sizeof *items);
    size_t n = 0;
    for (reg_room_t *room = reg_state_first_room(self->state); room && n < capacity;
         room = reg_state_next_room(self->state)) {
        if (!room->node || !room->instance || strcmp(room->node, node->name) != 0 ||
            strcmp(room->instance, node->instance) != 0)
            continue;
        Chat__Assignment *a = calloc(1, sizeof *a);
        Chat__RoomInfo *info = calloc(1, sizeof *info);
        chat__assignment__init(a);
        s_room_info(room, info);
        a->room = info;
        a->epoch = room->epoch;
        items[n++] = a;
    }
    *list = items;
    *count = n;
}

static void s_assignments_free(Chat__Assignment **list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(list[i]->room);
        free(list[i]);
    }
    free(list);
}

static void s_on_register(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    const Chat__RegisterRequest *req = env->register_;
    self->counters[REG_C_REGISTRATIONS]++;
    reg_node_t *node = NULL;
    bool regranted = false;
    Chat__Status status = reg_state_register(self->state, req, &node, &regranted);

    Chat__RegisterReply reply = CHAT__REGISTER_REPLY__INIT;
    reply.status = status;
    reply.heartbeat_ms = (uint32_t)self->config.heartbeat_ms;
    reply.lease_ms = (uint32_t)self->config.lease_ms;
    Chat__Assignment **list = NULL;
    size_t count = 0;
    if (status == CHAT__STATUS__STATUS_OK) {
        s_node_seen(self, node, peer);
        reply.instance = node->instance;
        reply.boot = node->boot;
        s_assignments(self, node, &list, &count);
        reply.assignments = list;
        reply.n_assignments = count;
        chat_info("node %s registered as %s (%s, %s), %zu rooms", node->name, node->instance,
                  node->cmd_endpoint, node->pub_endpoint, count);
    } else {
        chat_warn("registration of node '%.64s' refused: %s", req->node, chat_status_code(status));
    }
    Chat__Envelope out;
    S_ENVELOPE(out, env->req_id, REGISTER_REPLY, register_reply, &reply);
    s_send(self, peer, &out);

    //  The new instance holds its rooms' grants now: tell subscribers, and
    //  answer lookups that were waiting on a grant to the previous instance.
    for (size_t i = 0; regranted && i < count; i++) {
        reg_room_t *room = reg_state_room(self->state, list[i]->room->id);
        s_publish_placement(self, room, node);
        s_settle(self, room, CHAT__STATUS__STATUS_OK);
    }
    s_assignments_free(list, count);
}

//  Copies the scalars only: the source's unknown fields die with its envelope.
static void s_copy_stats(Chat__NodeStats *to, const Chat__NodeStats *from)
{
    chat__node_stats__init(to);
    to->rooms_assigned = from->rooms_assigned;
    to->rooms_active = from->rooms_active;
    to->members = from->members;
    to->messages = from->messages;
    to->commits = from->commits;
    to->bad_frames = from->bad_frames;
}

static void s_on_heartbeat(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    const Chat__HeartbeatRequest *req = env->heartbeat;
    self->counters[REG_C_HEARTBEATS]++;
    reg_node_t *node = reg_state_node_by_instance(self->state, req->instance);
    Chat__HeartbeatReply reply = CHAT__HEARTBEAT_REPLY__INIT;
    Chat__Assignment **list = NULL;
    size_t count = 0;
    if (!node) {
        reply.status = CHAT__STATUS__STATUS_UNKNOWN_INSTANCE;
    } else {
        s_node_seen(self, node, peer);
        if (req->stats)
            s_copy_stats(&node->stats, req->stats);
        if (req->assigned_count != reg_state_rooms_granted(self->state, node)) {
            s_assignments(self, node, &list, &count);
            reply.full = true;
            reply.assignments = list;
            reply.n_assignments = count;
        }
    }
    Chat__Envelope out;
    S_ENVELOPE(out, env->req_id, HEARTBEAT_REPLY, heartbeat_reply, &reply);
    s_send(self, peer, &out);
    s_assignments_free(list, count);
}

// ---------------------------------------------------------- catalog

static void s_on_create_room(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    const Chat__CreateRoomRequest *req = env->create_room;
    reg_room_t *room = NULL;
    Chat__Status status =
        reg_state_create_room(self->state, req->name, req->description, chat_wall_ms(), &room);
    Chat__CreateRoomReply reply = CHAT__CREATE_ROOM_REPLY__INIT;
    Chat__RoomInfo info;
    reply.status = status;
    if (room) {
        self->counters[REG_C_ROOMS_CREATED]++;
        s_room_info(room, &info);
        reply.room = &info;
        chat_info("room %s (\"%s\") created", room->id, room->name);
    }
    Chat__Envelope out;
    S_ENVELOPE(out, env->req_id, CREATE_ROOM_REPLY, create_room_reply, &reply);
    s_send(self, peer, &out);

    if (room) {
        Chat__RoomCreated created = CHAT__ROOM_CREATED__INIT;
        created.room = &info;
        created.origin_gateway = req->origin_gateway;
        created.origin_conn = req->origin_conn;
        Chat__RegistryEvent event = CHAT__REGISTRY_EVENT__INIT;
        event.kind_case = CHAT__REGISTRY_EVENT__KIND_ROOM_CREATED;
        event.room_created = &created;
        s_publish(self, &event);
    }
}

//  Oldest room first; rooms created in the same millisecond by id.
static int s_by_creation(const void *a, const void *b)
{
    const Chat__RoomInfo *x = (*(Chat__CatalogEntry *const *)a)->room;
    const Chat__RoomInfo *y = (*(Chat__CatalogEntry *const *)b)->room;
    if (x->created_at != y->created_at)
        return x->created_at < y->created_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

//  Fills entries[i] (with its room and placement in the parallel arrays)
//  for each of the n rooms.
static void s_catalog_entries(reg_server_t *self, reg_room_t *const *rooms, size_t n,
                              Chat__CatalogEntry **entries, Chat__CatalogEntry *storage,
                              Chat__RoomInfo *infos, Chat__Placement *placements)
{
    for (size_t i = 0; i < n; i++) {
        const reg_room_t *room = rooms[i];
        Chat__CatalogEntry *entry = &storage[i];
        chat__catalog_entry__init(entry);
        s_room_info(room, &infos[i]);
        entry->room = &infos[i];
        if (room->node) {
            reg_node_t *node = reg_state_node(self->state, room->node);
            s_placement(room, node, &placements[i]);
            entry->placement = &placements[i];
            entry->live = node && node->live;
        }
        entries[i] = entry;
    }
}

static void s_on_list_rooms(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    const Chat__ListRoomsRequest *req = env->list_rooms;
    size_t count = reg_state_room_count(self->state);
    bool paged = req->limit > 0;
    size_t max = paged ? (req->limit < REG_LIST_PAGE_MAX ? req->limit : REG_LIST_PAGE_MAX) : count;
    reg_room_t **rooms = calloc(max + 1, sizeof *rooms);
    Chat__CatalogEntry **entries = calloc(max + 1, sizeof *entries);
    Chat__CatalogEntry *storage = calloc(max + 1, sizeof *storage);
    Chat__RoomInfo *infos = calloc(max + 1, sizeof *infos);
    Chat__Placement *placements = calloc(max + 1, sizeof *placements);
    if (!rooms || !entries || !storage || !infos || !placements)
        abort();
    size_t n = 0;
    if (paged) {
        n = reg_state_rooms_after(self->state, req->after, rooms, max);
    } else {
        for (reg_room_t *room = reg_state_first_room(self->state); room && n < count;
             room = reg_state_next_room(self->state))
            rooms[n++] = room;
    }
    s_catalog_entries(self, rooms, n, entries, storage, infos, placements);
    if (!paged)
        qsort(entries, n, sizeof *entries, s_by_creation);
    Chat__ListRoomsReply reply = CHAT__LIST_ROOMS_REPLY__INIT;
    reply.rooms = entries;
    reply.n_rooms = n;
    reply.total = (uint32_t)count;
    if (paged && n == max && n > 0) {
        reg_room_t *next = NULL;
        if (reg_state_rooms_after(self->state, rooms[n - 1]->id, &next, 1) == 1)
            reply.next_after = rooms[n - 1]->id;
    }
    Chat__Envelope out;
    S_ENVELOPE(out, env->req_id, LIST_ROOMS_REPLY, list_rooms_reply, &reply);
    s_send(self, peer, &out);
    free(rooms);
    free(entries);
    free(storage);
    free(infos);
    free(placements);
}

static void s_on_list_nodes(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    size_t count = reg_state_node_count(self->state);
    Chat__NodeInfo **list = calloc(count + 1, sizeof *list);
    Chat__NodeInfo *storage = calloc(count + 1, sizeof *storage);
    Chat__NodeStats *stats = calloc(count + 1, sizeof *stats);
    int64_t now = chat_mono_ms();
    size_t n = 0;
    for (reg_node_t *node = reg_state_first_node(self->state); node && n < count;
         node = reg_state_next_node(self->state), n++) {
        Chat__NodeInfo *info = &storage[n];
        chat__node_info__init(info);
        info->node = node->name;
        info->instance = node->instance;
        info->cmd_endpoint = node->cmd_endpoint;
        info->pub_endpoint = node->pub_endpoint;
        info->max_rooms = node->max_rooms;
        info->live = node->live;
        info->last_heartbeat_ms_ago = node->has_peer ? now - node->last_seen : -1;
        stats[n] = node->stats;
        stats[n].rooms_assigned = (uint32_t)node->rooms;
        info->stats = &stats[n];
        list[n] = info;
    }
    Chat__ListNodesReply reply = CHAT__LIST_NODES_REPLY__INIT;
    reply.nodes = list;
    reply.n_nodes = n;
    Chat__Envelope out;
    S_ENVELOPE(out, env->req_id, LIST_NODES_REPLY, list_nodes_reply, &reply);
    s_send(self, peer, &out);
    free(list);
    free(storage);
    free(stats);
}

static void s_on_stats(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    size_t live = 0;
    for (reg_node_t *node = reg_state_first_node(self->state); node;
         node = reg_state_next_node(self->state))
        live += node->live;
    const char *extra_names[] = {"rooms", "nodes", "nodes_live", "bad_frames", "boot"};
    uint64_t extra_values[] = {reg_state_room_count(self->state), reg_state_node_count(self->state),
                               live, chat_wire_bad_frames(), self->boot};
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
    S_ENVELOPE(out, env->req_id, STATS_REPLY, stats_reply, &reply);
    s_send(self, peer, &out);
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
    default:
        return NULL;
    }
}

static void s_dispatch(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    self->counters[REG_C_REQUESTS]++;
    const char *missing = s_missing_field(env);
    if (missing) {
        s_error_reply(self, peer, env->req_id, missing);
        return;
    }
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_REGISTER:
        s_on_register(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_HEARTBEAT:
        s_on_heartbeat(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_ASSIGN_REPLY:
        s_on_assign_reply(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_LOOKUP:
        s_on_lookup(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_LIST_ROOMS:
        s_on_list_rooms(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_CREATE_ROOM:
        s_on_create_room(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_LIST_NODES:
        s_on_list_nodes(self, peer, env);
        break;
    case CHAT__ENVELOPE__BODY_STATS:
        s_on_stats(self, peer, env);
        break;
    default:
        s_error_reply(self, peer, env->req_id, "not a registry request");
        break;
    }
}

// --------------------------------------------------------------- timers

//  Nodes whose lease ran out are dead; grants not confirmed in time fail.
static void s_sweep(reg_server_t *self, int64_t now)
{
    for (reg_node_t *node = reg_state_first_node(self->state); node;
         node = reg_state_next_node(self->state)) {
        if (node->live && now - node->last_seen > self->config.lease_ms) {
            node->live = false;
            chat_warn("node %s (%s) missed its lease: dead", node->name, node->instance);
            s_publish_node(self, node);
        }
    }
    zlistx_t *expired = zlistx_new();
    for (s_pending_t *pending = zhashx_first(self->pending); pending;
         pending = zhashx_next(self->pending))
        if (now >= pending->deadline)
            zlistx_add_end(expired, (void *)zhashx_cursor(self->pending));
    for (const char *id = zlistx_first(expired); id; id = zlistx_next(expired)) {
        reg_room_t *room = reg_state_room(self->state, id);
        chat_warn("room %s: grant at epoch %lu not confirmed in time", id,
                  (unsigned long)room->epoch);
        s_settle(self, room, CHAT__STATUS__STATUS_UNAVAILABLE);
    }
    zlistx_destroy(&expired);
}

static void s_timers(reg_server_t *self)
{
    int64_t now = chat_mono_ms();
    if (now >= self->next_sweep) {
        s_sweep(self, now);
        self->next_sweep = now + REG_SWEEP_MS;
    }
    if (now >= self->next_pub_heartbeat) {
        Chat__RegistryEvent event = CHAT__REGISTRY_EVENT__INIT;
        event.kind_case = CHAT__REGISTRY_EVENT__KIND_HEARTBEAT;
        event.heartbeat = true;
        s_publish(self, &event);
        self->next_pub_heartbeat = now + self->config.heartbeat_ms;
    }
}

// ------------------------------------------------------------ lifecycle

reg_server_t *reg_server_new(const reg_config_t *config)
{
    reg_server_t *self = calloc(1, sizeof *self);
    self->config = *config;
    self->store = reg_store_open(config->data_dir, (uint64_t)config->map_size_mb);
    if (self->store)
        self->boot = reg_store_next_boot(self->store);
    if (self->boot)
        self->state = reg_state_new(self->store, chat_mono_ms());
    if (!self->state) {
        reg_server_destroy(&self);
        return NULL;
    }
    self->pending = zhashx_new();
    zhashx_set_destructor(self->pending, s_pending_free);
    self->router = zsock_new(ZMQ_ROUTER);
    self->pub = zsock_new(ZMQ_PUB);
    if (!self->router || !self->pub) {
        chat_error("cannot create sockets");
        reg_server_destroy(&self);
        return NULL;
    }
    chat_wire_tune(self->router);
    chat_wire_tune(self->pub);
    if (zsock_bind(self->router, "%s", config->bind) < 0) {
        chat_error("cannot bind %s: %s", config->bind, zmq_strerror(zmq_errno()));
        reg_server_destroy(&self);
        return NULL;
    }
    if (zsock_bind(self->pub, "%s", config->pub_bind) < 0) {
        chat_error("cannot bind %s: %s", config->pub_bind, zmq_strerror(zmq_errno()));
        reg_server_destroy(&self);
        return NULL;
    }
    chat_info("registry boot %lu serving %s, events on %s, data in %s", (unsigned long)self->boot,
              config->bind, config->pub_bind, config->data_dir);
    return self;
}

void reg_server_destroy(reg_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    reg_server_t *self = *self_p;
    zsock_destroy(&self->router);
    zsock_destroy(&self->pub);
    zhashx_destroy(&self->pending);
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

int reg_server_run(reg_server_t *self)
{
    while (!self->stop && !zsys_interrupted) {
        int64_t now = chat_mono_ms();
        int64_t next = self->next_sweep < self->next_pub_heartbeat ? self->next_sweep
                                                                   : self->next_pub_heartbeat;
        long timeout = next > now ? (long)(next - now) : 0;
        zmq_pollitem_t items[] = {{zsock_resolve(self->router), 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 1, timeout > 100 ? 100 : timeout);
        if (rc < 0 && zmq_errno() != EINTR) {
            chat_error("poll: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (rc > 0 && s_drain(self) != 0) {
            chat_error("router: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        s_timers(self);
    }
    chat_info("registry stopping");
    return 0;
}
