/*  reg_server nodes: roomds. A Register is proposed (the state machine
 *  issues the boot and moves the node's rooms) and answered once applied;
 *  heartbeats, leases and listings are the leader's own business and
 *  change no replicated state (see reg_server_internal.h). */
#include "chat_clock.h"
#include "chat_error.h"
#include "chat_log.h"
#include "reg_server_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void s_publish_node(reg_server_t *self, const reg_node_t *node)
{
    Chat__NodeState state = CHAT__NODE_STATE__INIT;
    state.node = node->name;
    state.instance = node->instance;
    state.live = node->live;
    Chat__RegistryEvent event = CHAT__REGISTRY_EVENT__INIT;
    event.kind_case = CHAT__REGISTRY_EVENT__KIND_NODE_STATE;
    event.node_state = &state;
    reg_server_publish(self, &event);
}

void reg_nodes_seen(reg_server_t *self, reg_node_t *node, const chat_peer_t *peer)
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

void reg_nodes_sweep(reg_server_t *self, int64_t now)
{
    for (reg_node_t *node = reg_state_first_node(self->state); node;
         node = reg_state_next_node(self->state)) {
        if (node->live && now - node->last_seen > self->config.lease_ms) {
            node->live = false;
            chat_warn("node %s (%s) missed its lease: dead", node->name, node->instance);
            s_publish_node(self, node);
        }
    }
}

// ---------------------------------------------------------- assignments

//  Every room granted to node's instance, as assignments; free with
//  s_assignments_free.
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
        reg_server_room_info(room, info);
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

// ---------------------------------------------------------- registration

void reg_nodes_on_register(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
{
    self->counters[REG_C_REGISTRATIONS]++;
    Chat__Status status = reg_fsm_check_register(self->fsm, env->register_);
    if (status != CHAT__STATUS__STATUS_OK) {
        chat_warn("registration of node '%.64s' refused: %s", env->register_->node,
                  chat_status_code(status));
        Chat__RegisterReply reply = CHAT__REGISTER_REPLY__INIT;
        reply.status = status;
        Chat__Envelope out;
        REG_ENVELOPE(out, env->req_id, REGISTER_REPLY, register_reply, &reply);
        reg_server_send(self, peer, &out);
        return;
    }
    Chat__RegisterNodeCommand body = CHAT__REGISTER_NODE_COMMAND__INIT;
    body.request = env->register_;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_REGISTER_NODE;
    cmd.register_node = &body;
    reg_server_propose(self, &cmd, reg_proposal_new(self, REG_P_REGISTER, peer, env->req_id));
}

void reg_nodes_registered(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o)
{
    if (o->status != 0) {
        reg_server_not_leader(self, &p->peer, p->req_id); //  the roomd registers again
        reg_proposal_free(&p);
        return;
    }
    reg_node_t *node =
        o->fsm_status == CHAT__STATUS__STATUS_OK ? reg_state_node(self->state, o->node) : NULL;
    Chat__RegisterReply reply = CHAT__REGISTER_REPLY__INIT;
    reply.status = node ? CHAT__STATUS__STATUS_OK : o->fsm_status;
    reply.heartbeat_ms = (uint32_t)self->config.heartbeat_ms;
    reply.lease_ms = (uint32_t)self->config.lease_ms;
    Chat__Assignment **list = NULL;
    size_t count = 0;
    if (node) {
        reg_nodes_seen(self, node, &p->peer);
        reply.instance = node->instance;
        reply.boot = node->boot;
        s_assignments(self, node, &list, &count);
        reply.assignments = list;
        reply.n_assignments = count;
        chat_info("node %s registered as %s (%s, %s), %zu rooms", node->name, node->instance,
                  node->cmd_endpoint, node->pub_endpoint, count);
    } else {
        chat_warn("a registration was refused: %s", chat_status_code(o->fsm_status));
    }
    Chat__Envelope out;
    REG_ENVELOPE(out, p->req_id, REGISTER_REPLY, register_reply, &reply);
    reg_server_send(self, &p->peer, &out);

    //  The new instance holds its rooms' grants now: tell subscribers, and
    //  answer lookups that were waiting on a grant to the previous instance.
    for (size_t i = 0; o->regranted && i < count; i++) {
        reg_room_t *room = reg_state_room(self->state, list[i]->room->id);
        reg_catalog_publish_placement(self, room);
        reg_catalog_settle(self, room->id, CHAT__STATUS__STATUS_OK);
    }
    s_assignments_free(list, count);
    reg_proposal_free(&p);
}

// ------------------------------------------------------------ heartbeats

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

void reg_nodes_on_heartbeat(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
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
        reg_nodes_seen(self, node, peer);
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
    REG_ENVELOPE(out, env->req_id, HEARTBEAT_REPLY, heartbeat_reply, &reply);
    reg_server_send(self, peer, &out);
    s_assignments_free(list, count);
}

// ------------------------------------------------------------ listing

void reg_nodes_on_list_nodes(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env)
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
    REG_ENVELOPE(out, env->req_id, LIST_NODES_REPLY, list_nodes_reply, &reply);
    reg_server_send(self, peer, &out);
    free(list);
    free(storage);
    free(stats);
}
