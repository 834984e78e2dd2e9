/*  reg_server catalog: rooms. CreateRoom is proposed and answered once
 *  applied. A lookup of a room that needs a grant (never placed, or its
 *  node has a new instance) proposes the grant the leader decided (node by
 *  rendezvous hashing over live nodes, epoch + 1); once it is applied the
 *  grant goes to the roomd, and the lookups waiting on it are answered
 *  when the roomd confirms (see reg_server_internal.h). */
#include "chat_clock.h"
#include "chat_error.h"
#include "chat_log.h"
#include "reg_server_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

// ------------------------------------------------------------ helpers

//  Fills placement from room and its node (endpoints empty without one).
static void s_placement(reg_server_t *self, const reg_room_t *room, Chat__Placement *placement)
{
    const reg_node_t *node = reg_state_node(self->state, room->node);
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

void reg_catalog_publish_placement(reg_server_t *self, const reg_room_t *room)
{
    Chat__Placement placement;
    s_placement(self, room, &placement);
    Chat__RegistryEvent event = CHAT__REGISTRY_EVENT__INIT;
    event.kind_case = CHAT__REGISTRY_EVENT__KIND_PLACEMENT;
    event.placement = &placement;
    reg_server_publish(self, &event);
}

static void s_lookup_reply(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                           Chat__Status status, const reg_room_t *room)
{
    Chat__LookupReply reply = CHAT__LOOKUP_REPLY__INIT;
    Chat__RoomInfo info;
    Chat__Placement placement;
    reply.status = status;
    if (room) {
        reg_server_room_info(room, &info);
        reply.room = &info;
        if (room->node) {
            s_placement(self, room, &placement);
            reply.placement = &placement;
        }
    }
    Chat__Envelope env;
    REG_ENVELOPE(env, req_id, LOOKUP_REPLY, lookup_reply, &reply);
    reg_server_send(self, peer, &env);
}

// ------------------------------------------------------------ pending grants

static void s_waiter_free(void **item)
{
    free(*item);
    *item = NULL;
}

void reg_pending_free(void **item)
{
    reg_pending_t *pending = *item;
    if (!pending)
        return;
    zlistx_destroy(&pending->waiters);
    free(pending);
    *item = NULL;
}

//  The room's pending grant, made when absent.
static reg_pending_t *s_pending(reg_server_t *self, const char *room_id)
{
    reg_pending_t *pending = zhashx_lookup(self->pending, room_id);
    if (!pending) {
        pending = calloc(1, sizeof *pending);
        pending->waiters = zlistx_new();
        zlistx_set_destructor(pending->waiters, s_waiter_free);
        zhashx_insert(self->pending, room_id, pending);
    }
    return pending;
}

static void s_add_waiter(reg_pending_t *pending, const chat_peer_t *peer, uint64_t req_id,
                         bool place)
{
    reg_waiter_t *waiter = calloc(1, sizeof *waiter);
    waiter->peer = *peer;
    waiter->req_id = req_id;
    waiter->place = place;
    zlistx_add_end(pending->waiters, waiter);
}

//  Takes the room's waiters out of the table (the caller destroys the list).
static zlistx_t *s_take_waiters(reg_server_t *self, const char *room_id)
{
    reg_pending_t *pending = zhashx_lookup(self->pending, room_id);
    if (!pending)
        return NULL;
    zlistx_t *waiters = pending->waiters;
    pending->waiters = NULL;
    zhashx_delete(self->pending, room_id);
    return waiters;
}

void reg_catalog_settle(reg_server_t *self, const char *room_id, Chat__Status status)
{
    zlistx_t *waiters = s_take_waiters(self, room_id);
    reg_room_t *room = reg_state_room(self->state, room_id);
    for (reg_waiter_t *w = waiters ? zlistx_first(waiters) : NULL; w; w = zlistx_next(waiters))
        s_lookup_reply(self, &w->peer, w->req_id, status, room);
    zlistx_destroy(&waiters);
}

void reg_catalog_step_down(reg_server_t *self)
{
    zlistx_t *ids = zhashx_keys(self->pending);
    for (const char *id = ids ? zlistx_first(ids) : NULL; id; id = zlistx_next(ids)) {
        zlistx_t *waiters = s_take_waiters(self, id);
        for (reg_waiter_t *w = waiters ? zlistx_first(waiters) : NULL; w; w = zlistx_next(waiters))
            reg_server_not_leader(self, &w->peer, w->req_id);
        zlistx_destroy(&waiters);
    }
    zlistx_destroy(&ids);
}

//  Sends room's current grant to its node; -1 when the node cannot be reached.
static int s_send_grant(reg_server_t *self, const reg_room_t *room, const reg_node_t *node)
{
    Chat__RoomInfo info;
    reg_server_room_info(room, &info);
    Chat__Assignment assignment = CHAT__ASSIGNMENT__INIT;
    assignment.room = &info;
    assignment.epoch = room->epoch;
    Chat__AssignRequest assign = CHAT__ASSIGN_REQUEST__INIT;
    assign.instance = node->instance;
    assign.assignment = &assignment;
    Chat__Envelope env;
    REG_ENVELOPE(env, ++self->next_req_id, ASSIGN, assign, &assign);
    if (!node->has_peer || chat_wire_send(self->router, &node->peer, &env) != 0) {
        self->counters[REG_C_UNROUTABLE]++;
        return -1;
    }
    return 0;
}

//  Makes the lookup wait for room's (committed) grant to be confirmed by
//  the roomd, sending the grant when none is outstanding.
static void s_wait_for_ack(reg_server_t *self, reg_room_t *room, reg_node_t *node,
                           const chat_peer_t *peer, uint64_t req_id, bool place)
{
    reg_pending_t *pending = zhashx_lookup(self->pending, room->id);
    if (pending && pending->proposed) {
        s_add_waiter(pending, peer, req_id, place);
        return;
    }
    if (!pending || pending->epoch != room->epoch) {
        if (pending)
            reg_catalog_settle(self, room->id, CHAT__STATUS__STATUS_UNAVAILABLE);
        if (s_send_grant(self, room, node) != 0) {
            s_lookup_reply(self, peer, req_id, CHAT__STATUS__STATUS_UNAVAILABLE, room);
            return;
        }
        pending = s_pending(self, room->id);
        pending->epoch = room->epoch;
        pending->deadline = chat_mono_ms() + self->config.assign_timeout_ms;
    }
    s_add_waiter(pending, peer, req_id, place);
}

//  Proposes granting room to node's current instance at epoch + 1; the
//  lookup waits on it (with any other lookup of the room meanwhile).
static void s_propose_grant(reg_server_t *self, reg_room_t *room, reg_node_t *node,
                            const chat_peer_t *peer, uint64_t req_id, bool place)
{
    reg_pending_t *pending = zhashx_lookup(self->pending, room->id);
    if (pending && !pending->proposed)
        reg_catalog_settle(self, room->id, CHAT__STATUS__STATUS_UNAVAILABLE); //  older grant
    pending = s_pending(self, room->id);
    s_add_waiter(pending, peer, req_id, place);
    if (pending->proposed)
        return; //  one grant in Raft per room at a time
    pending->proposed = true;
    Chat__GrantCommand grant = CHAT__GRANT_COMMAND__INIT;
    grant.room_id = room->id;
    grant.node = node->name;
    grant.instance = node->instance;
    grant.epoch = room->epoch + 1;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_GRANT;
    cmd.grant = &grant;
    reg_proposal_t *p = reg_proposal_new(self, REG_P_GRANT, NULL, 0);
    p->room_id = strdup(room->id);
    if (reg_server_propose(self, &cmd, p) != 0)
        reg_catalog_step_down(self); //  Raft refused: nobody here can be answered
}

// ------------------------------------------------------------ lookups

//  Answers or parks one lookup of room_id (the leader's whole decision).
static void s_lookup(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                     const char *room_id, bool place)
{
    reg_room_t *room = reg_state_room(self->state, room_id);
    if (!room) {
        s_lookup_reply(self, peer, req_id, CHAT__STATUS__STATUS_NOT_FOUND, NULL);
        return;
    }
    reg_pending_t *pending = zhashx_lookup(self->pending, room->id);
    if (pending && pending->proposed) {
        s_add_waiter(pending, peer, req_id, place); //  a grant is being committed
        return;
    }
    reg_node_t *node = reg_state_node(self->state, room->node);
    if (!node) {
        //  Never placed: place it now when asked to and some node can take it.
        node = place ? reg_state_choose_node(self->state, room->id) : NULL;
        if (!node)
            s_lookup_reply(self, peer, req_id, CHAT__STATUS__STATUS_UNAVAILABLE, room);
        else
            s_propose_grant(self, room, node, peer, req_id, place);
        return;
    }
    if (!node->live) {
        s_lookup_reply(self, peer, req_id, CHAT__STATUS__STATUS_UNAVAILABLE, room);
        return;
    }
    if (!room->instance || strcmp(room->instance, node->instance) != 0) {
        //  The node has a newer instance than the room's grant (its rooms are
        //  normally regranted at registration; this mends any that were not).
        s_propose_grant(self, room, node, peer, req_id, place);
        return;
    }
    if (room->acked)
        s_lookup_reply(self, peer, req_id, CHAT__STATUS__STATUS_OK, room);
    else
        s_wait_for_ack(self, room, node, peer, req_id, place);
}

void reg_catalog_on_lookup(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    self->counters[REG_C_LOOKUPS]++;
    s_lookup(self, peer, env->req_id, env->lookup->room_id, env->lookup->place);
}

void reg_catalog_granted(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o)
{
    zlistx_t *waiters = NULL;
    reg_pending_t *pending = zhashx_lookup(self->pending, p->room_id);
    if (pending && pending->proposed)
        waiters = s_take_waiters(self, p->room_id);
    reg_room_t *room = reg_state_room(self->state, p->room_id);
    bool granted = o->status == 0 && o->fsm_status == CHAT__STATUS__STATUS_OK && room;
    if (granted) {
        self->counters[REG_C_PLACEMENTS]++;
        chat_info("placed %s on %s at epoch %" PRIu64, room->id, room->instance, room->epoch);
        reg_catalog_publish_placement(self, room);
    }
    for (reg_waiter_t *w = waiters ? zlistx_first(waiters) : NULL; w; w = zlistx_next(waiters)) {
        if (!self->leading)
            reg_server_not_leader(self, &w->peer, w->req_id);
        else if (granted) //  committed: send it to the roomd, answer on its confirmation
            s_lookup(self, &w->peer, w->req_id, p->room_id, w->place);
        else //  refused as decided on an older state: the client looks up again
            s_lookup_reply(self, &w->peer, w->req_id, CHAT__STATUS__STATUS_UNAVAILABLE, room);
    }
    zlistx_destroy(&waiters);
    reg_proposal_free(&p);
}

void reg_catalog_on_assign_reply(reg_server_t *self, const chat_peer_t *peer,
                                 const Chat__Envelope *env)
{
    const Chat__AssignReply *reply = env->assign_reply;
    reg_room_t *room = reg_state_room(self->state, reply->room_id);
    if (!room || reply->epoch != room->epoch)
        return; //  a late answer to an older grant
    reg_node_t *node = reg_state_node(self->state, room->node);
    if (node)
        reg_nodes_seen(self, node, peer);
    if (reply->status == CHAT__STATUS__STATUS_OK) {
        room->acked = true;
        reg_catalog_settle(self, room->id, CHAT__STATUS__STATUS_OK);
    } else {
        chat_warn("node %s refused room %s at epoch %" PRIu64 ": %s", room->node, room->id,
                  room->epoch, chat_status_code(reply->status));
        reg_catalog_settle(self, room->id, CHAT__STATUS__STATUS_UNAVAILABLE);
    }
}

void reg_catalog_sweep(reg_server_t *self, int64_t now)
{
    zlistx_t *expired = zlistx_new();
    for (reg_pending_t *pending = zhashx_first(self->pending); pending;
         pending = zhashx_next(self->pending))
        if (!pending->proposed && now >= pending->deadline)
            zlistx_add_end(expired, (void *)zhashx_cursor(self->pending));
    for (const char *id = zlistx_first(expired); id; id = zlistx_next(expired)) {
        reg_room_t *room = reg_state_room(self->state, id);
        chat_warn("room %s: grant at epoch %" PRIu64 " not confirmed in time", id,
                  room ? room->epoch : 0);
        reg_catalog_settle(self, id, CHAT__STATUS__STATUS_UNAVAILABLE);
    }
    zlistx_destroy(&expired);
}

// ------------------------------------------------------------ create

static void s_create_reply(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                           Chat__Status status, const reg_room_t *room)
{
    Chat__CreateRoomReply reply = CHAT__CREATE_ROOM_REPLY__INIT;
    Chat__RoomInfo info;
    reply.status = status;
    if (room) {
        reg_server_room_info(room, &info);
        reply.room = &info;
    }
    Chat__Envelope out;
    REG_ENVELOPE(out, req_id, CREATE_ROOM_REPLY, create_room_reply, &reply);
    reg_server_send(self, peer, &out);
}

void reg_catalog_on_create_room(reg_server_t *self, const chat_peer_t *peer,
                                const Chat__Envelope *env)
{
    const Chat__CreateRoomRequest *req = env->create_room;
    //  A resend of a create that was applied: the room it made.
    reg_room_t *made = reg_state_room_by_token(self->state, req->token);
    if (made) {
        s_create_reply(self, peer, env->req_id, CHAT__STATUS__STATUS_OK, made);
        return;
    }
    Chat__Status status = reg_fsm_check_room(self->fsm, req->name, req->description);
    if (status != CHAT__STATUS__STATUS_OK) {
        s_create_reply(self, peer, env->req_id, status, NULL);
        return;
    }
    Chat__RegistryCommand cmd;
    Chat__CreateRoomCommand body;
    reg_fsm_create_room_command(&cmd, &body, req->name, req->description, chat_wall_ms(),
                                req->token);
    reg_proposal_t *p = reg_proposal_new(self, REG_P_CREATE_ROOM, peer, env->req_id);
    p->origin_gateway = strdup(req->origin_gateway ? req->origin_gateway : "");
    p->origin_conn = req->origin_conn;
    reg_server_propose(self, &cmd, p);
}

void reg_catalog_created(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o)
{
    reg_room_t *room = o->status == 0 ? reg_state_room(self->state, o->room_id) : NULL;
    if (o->status != 0) {
        //  Not known to be committed: the client resends (with its token).
        reg_server_not_leader(self, &p->peer, p->req_id);
    } else if (o->fsm_status != CHAT__STATUS__STATUS_OK || !room) {
        s_create_reply(self, &p->peer, p->req_id,
                       o->fsm_status != CHAT__STATUS__STATUS_OK ? o->fsm_status
                                                                : CHAT__STATUS__STATUS_INTERNAL,
                       NULL);
    } else {
        s_create_reply(self, &p->peer, p->req_id, CHAT__STATUS__STATUS_OK, room);
        if (!o->found) {
            self->counters[REG_C_ROOMS_CREATED]++;
            chat_info("room %s (\"%s\") created", room->id, room->name);
            Chat__RoomInfo info;
            reg_server_room_info(room, &info);
            Chat__RoomCreated created = CHAT__ROOM_CREATED__INIT;
            created.room = &info;
            created.origin_gateway = p->origin_gateway;
            created.origin_conn = p->origin_conn;
            Chat__RegistryEvent event = CHAT__REGISTRY_EVENT__INIT;
            event.kind_case = CHAT__REGISTRY_EVENT__KIND_ROOM_CREATED;
            event.room_created = &created;
            reg_server_publish(self, &event);
        }
    }
    reg_proposal_free(&p);
}

// ------------------------------------------------------------ listing

//  Oldest room first; rooms created in the same millisecond by id.
static int s_by_creation(const void *a, const void *b)
{
    const Chat__RoomInfo *x = (*(Chat__CatalogEntry *const *)a)->room;
    const Chat__RoomInfo *y = (*(Chat__CatalogEntry *const *)b)->room;
    if (x->created_at != y->created_at)
        return x->created_at < y->created_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

#define REG_LIST_PAGE_MAX 5000 //  most rooms in one page of a paged ListRooms

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
        reg_server_room_info(room, &infos[i]);
        entry->room = &infos[i];
        if (room->node) {
            reg_node_t *node = reg_state_node(self->state, room->node);
            s_placement(self, room, &placements[i]);
            entry->placement = &placements[i];
            //  Liveness is the serving leader's to know.
            entry->live = self->leading && node && node->live;
        }
        entries[i] = entry;
    }
}

//  Without a limit: every room, oldest first. With one: a page of at most
//  REG_LIST_PAGE_MAX rooms in id order after `after`, and where the next
//  page starts.
void reg_catalog_on_list_rooms(reg_server_t *self, const chat_peer_t *peer,
                               const Chat__Envelope *env)
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
    reply.applied_index = reg_fsm_applied(self->fsm);
    reply.total = (uint32_t)count;
    if (paged && n == max && n > 0) {
        reg_room_t *next = NULL;
        if (reg_state_rooms_after(self->state, rooms[n - 1]->id, &next, 1) == 1)
            reply.next_after = rooms[n - 1]->id;
    }
    Chat__Envelope out;
    REG_ENVELOPE(out, env->req_id, LIST_ROOMS_REPLY, list_rooms_reply, &reply);
    reg_server_send(self, peer, &out);
    free(rooms);
    free(entries);
    free(storage);
    free(infos);
    free(placements);
}
