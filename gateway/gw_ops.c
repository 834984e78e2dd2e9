/*  gw_ops: see gw_ops.h. This file: the machinery every op goes through:
 *  the table of ops in flight, placement lookups (one per room), sending to
 *  the registry or a roomd, retries with a growing pause, timeouts, and
 *  routing each reply to its op. What each kind of op starts from and does
 *  with its answer is in gw_ops_kinds.c (see gw_ops_internal.h).
 */
#include "gw_ops.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_wire.h"
#include "gw_bridge.h"
#include "gw_ops_internal.h"
#include "gw_placement.h"
#include "gw_registry.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Rooms per page of a snapshot (ListRooms): small enough that neither the
//  registry nor the gateway stops long for one at 100,000 rooms.
#define S_SNAPSHOT_PAGE 2000
//  Pause before the first retry; it doubles up to S_RETRY_MAX_MS.
#define S_RETRY_FIRST_MS 20
#define S_RETRY_MAX_MS 400

static chat_log_limit_t s_log_reply;
static chat_log_limit_t s_log_retry;

gw_ops_t *gw_ops_new(void)
{
    gw_ops_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->ops = gw_idmap_new();
    self->lookups = zhashx_new();
    return self;
}

static void s_free(gw_op_t *op)
{
    free(op->ref);
    free(op->user_id);
    free(op->user_name);
    free(op->text);
    free(op->text2);
    free(op->instance);
    for (size_t i = 0; i < op->n_room_ids; i++)
        free(op->room_ids[i]);
    free(op->room_ids);
    free(op);
}

void gw_ops_destroy(gw_ops_t **p)
{
    if (!p || !*p)
        return;
    gw_ops_t *self = *p;
    while (self->head) {
        gw_op_t *op = self->head;
        self->head = op->next;
        s_free(op);
    }
    gw_idmap_destroy(&self->ops);
    zhashx_destroy(&self->lookups);
    free(self);
    *p = NULL;
}

size_t gw_ops_pending(gw_t *gw)
{
    return gw_idmap_size(gw->ops->ops);
}

char *gw_ops_dup(const char *text)
{
    if (!text)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        abort();
    return copy;
}

gw_op_t *gw_ops_add(gw_t *gw, gw_op_kind_t kind, uint64_t conn, const char *ref,
                    const char *room_id)
{
    gw_op_t *op = calloc(1, sizeof *op);
    if (!op)
        abort();
    gw_ops_t *self = gw->ops;
    op->id = ++self->next_id;
    op->kind = kind;
    op->conn = conn;
    op->ref = gw_ops_dup(ref);
    if (room_id)
        snprintf(op->room_id, sizeof op->room_id, "%s", room_id);
    op->give_up_ms = chat_mono_ms() + gw->config.retry_ms;
    op->next = self->head;
    if (self->head)
        self->head->prev = op;
    self->head = op;
    gw_idmap_put(self->ops, op->id, op);
    return op;
}

void gw_ops_remove(gw_t *gw, gw_op_t *op)
{
    gw_ops_t *self = gw->ops;
    if (op->counted) {
        gw_session_t *s = gw_session_find(gw, op->conn);
        if (s && s->pending)
            s->pending--;
    }
    if (op->prev)
        op->prev->next = op->next;
    else
        self->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    gw_idmap_remove(self->ops, op->id);
    s_free(op);
}

//  The session the op answers, if it is still open.
gw_session_t *gw_ops_session(gw_t *gw, const gw_op_t *op)
{
    return op->conn ? gw_session_find(gw, op->conn) : NULL;
}

//  Queues a reply frame to the op's session (dropped when it is gone).
void gw_ops_reply(gw_t *gw, const gw_op_t *op, gw_buf_t *buf)
{
    gw_session_t *s = gw_ops_session(gw, op);
    if (s)
        gw_session_send(gw, s, &buf);
    gw_buf_unref(&buf);
}

static bool s_is_registry(gw_op_kind_t kind)
{
    return kind == GW_OP_LOOKUP || kind == GW_OP_SNAPSHOT || kind == GW_OP_CREATE_ROOM;
}

// ------------------------------------------------------------ sending

//  The kind's name, for logs.
static const char *s_kind_name(gw_op_kind_t kind)
{
    static const char *names[] = {"lookup", "snapshot", "createRoom", "join",
                                  "rejoin", "leave",    "send",       "history",
                                  "state",  "repair",   "roomsInfo",  "heartbeat"};
    return (size_t)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

//  Sends again later, or gives up with unavailable when the budget is spent
//  (CreateRoom and heartbeats are never sent again).
void gw_ops_retry(gw_t *gw, gw_op_t *op, const char *why)
{
    chat_log_limited(&s_log_retry, CHAT_LOG_DEBUG, "%s %llu for %s: %s (attempt %d)",
                     s_kind_name(op->kind), (unsigned long long)op->id,
                     op->room_id[0] ? op->room_id : "-", why, op->attempts);
    if (op->kind == GW_OP_HEARTBEAT) {
        gw_ops_fail(gw, op, GW_ERR_UNAVAILABLE);
        return;
    }
    int shift = op->attempts < 5 ? op->attempts : 5;
    int64_t delay = (int64_t)S_RETRY_FIRST_MS << shift;
    if (delay > S_RETRY_MAX_MS)
        delay = S_RETRY_MAX_MS;
    int64_t now = chat_mono_ms();
    if (now + delay > op->give_up_ms) {
        gw_ops_fail(gw, op, GW_ERR_UNAVAILABLE);
        return;
    }
    gw->metrics.retries++;
    op->state = GW_OP_STATE_WAIT_RETRY;
    op->due_ms = now + delay;
}

static void s_sent(gw_t *gw, gw_op_t *op)
{
    op->attempts++;
    op->state = GW_OP_STATE_SENT;
    op->sent_us = chat_mono_us();
    op->due_ms = chat_mono_ms() + gw->config.request_timeout_ms;
    gw->metrics.requests++;
}

static void s_send_registry(gw_t *gw, gw_op_t *op)
{
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = op->id;
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    Chat__ListRoomsRequest list = CHAT__LIST_ROOMS_REQUEST__INIT;
    Chat__CreateRoomRequest create = CHAT__CREATE_ROOM_REQUEST__INIT;
    switch (op->kind) {
    case GW_OP_LOOKUP:
        lookup.room_id = op->room_id;
        lookup.place = true;
        env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
        env.lookup = &lookup;
        break;
    case GW_OP_SNAPSHOT:
        list.after = op->text ? op->text : "";
        list.limit = S_SNAPSHOT_PAGE;
        env.body_case = CHAT__ENVELOPE__BODY_LIST_ROOMS;
        env.list_rooms = &list;
        break;
    case GW_OP_CREATE_ROOM:
        create.name = op->text;
        create.description = op->text2;
        create.origin_gateway = gw->id;
        create.origin_conn = op->conn;
        create.token = op->client_msg_id; //  the same for every attempt

        env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
        env.create_room = &create;
        break;
    default:
        return;
    }
    if (gw_bridge_send_registry(gw, &env) != 0)
        gw_ops_retry(gw, op, "registry send failed");
    else
        s_sent(gw, op);
}

//  Waits for the room's placement, starting a lookup unless one is running.
static void s_wait_lookup(gw_t *gw, gw_op_t *op)
{
    gw_op_t *lookup = zhashx_lookup(gw->ops->lookups, op->room_id);
    if (!lookup) {
        lookup = gw_ops_add(gw, GW_OP_LOOKUP, 0, NULL, op->room_id);
        zhashx_insert(gw->ops->lookups, op->room_id, lookup);
        s_send_registry(gw, lookup);
        //  A lookup that failed at once has already answered nobody: look again.
        lookup = zhashx_lookup(gw->ops->lookups, op->room_id);
        if (!lookup) {
            gw_ops_retry(gw, op, "lookup failed at once");
            return;
        }
    }
    op->state = GW_OP_STATE_WAIT_PLACEMENT;
    op->next_waiter = NULL;
    gw_op_t **tail = &lookup->waiters;
    while (*tail)
        tail = &(*tail)->next_waiter;
    *tail = op;
}

//  Fills the RoomTarget of a room request from the placement.
static void s_target(Chat__RoomTarget *target, const gw_op_t *op, const gw_place_t *p, bool write)
{
    target->room_id = (char *)op->room_id;
    target->instance = p->instance;
    target->epoch = write ? p->epoch : 0;
}

static void s_send_roomd(gw_t *gw, gw_op_t *op, const gw_place_t *p)
{
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = op->id;
    Chat__RoomTarget target = CHAT__ROOM_TARGET__INIT;
    Chat__User user = CHAT__USER__INIT;
    Chat__SessionRef session = CHAT__SESSION_REF__INIT;
    session.gateway = gw->id;
    session.conn = op->conn;
    user.id = op->user_id;
    user.name = op->user_name;
    Chat__JoinRequest join = CHAT__JOIN_REQUEST__INIT;
    Chat__LeaveRequest leave = CHAT__LEAVE_REQUEST__INIT;
    Chat__SendRequest send = CHAT__SEND_REQUEST__INIT;
    Chat__HistoryRequest history = CHAT__HISTORY_REQUEST__INIT;
    Chat__RoomStateRequest state = CHAT__ROOM_STATE_REQUEST__INIT;
    Chat__RoomsInfoRequest info = CHAT__ROOMS_INFO_REQUEST__INIT;
    Chat__GatewayHeartbeat heartbeat = CHAT__GATEWAY_HEARTBEAT__INIT;
    const char *instance = p ? p->instance : op->instance;
    switch (op->kind) {
    case GW_OP_JOIN:
    case GW_OP_REJOIN:
        s_target(&target, op, p, true);
        join.target = &target;
        join.user = &user;
        join.session = &session;
        join.has_since = op->has_a;
        join.since = op->a;
        join.quiet = op->kind == GW_OP_REJOIN;
        env.body_case = CHAT__ENVELOPE__BODY_JOIN;
        env.join = &join;
        break;
    case GW_OP_LEAVE:
        s_target(&target, op, p, true);
        leave.target = &target;
        leave.user_id = op->user_id;
        leave.session = &session;
        env.body_case = CHAT__ENVELOPE__BODY_LEAVE;
        env.leave = &leave;
        break;
    case GW_OP_SEND:
        s_target(&target, op, p, true);
        send.target = &target;
        send.user_id = op->user_id;
        send.user_name = op->user_name;
        send.session = &session;
        send.content = op->text;
        send.client_msg_id = op->client_msg_id;
        env.body_case = CHAT__ENVELOPE__BODY_SEND;
        env.send = &send;
        break;
    case GW_OP_HISTORY:
    case GW_OP_REPAIR:
        s_target(&target, op, p, false);
        history.target = &target;
        history.has_before = op->kind == GW_OP_HISTORY && op->has_a;
        history.before = op->kind == GW_OP_HISTORY ? op->a : 0;
        history.has_after = op->kind == GW_OP_REPAIR;
        history.after = op->kind == GW_OP_REPAIR ? op->a : 0;
        history.limit = op->limit;
        env.body_case = CHAT__ENVELOPE__BODY_HISTORY;
        env.history = &history;
        break;
    case GW_OP_ROOM_STATE:
        s_target(&target, op, p, false);
        state.target = &target;
        env.body_case = CHAT__ENVELOPE__BODY_ROOM_STATE;
        env.room_state = &state;
        break;
    case GW_OP_ROOMS_INFO:
        info.room_ids = op->room_ids;
        info.n_room_ids = op->n_room_ids;
        info.active = true;
        env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO;
        env.rooms_info = &info;
        break;
    case GW_OP_HEARTBEAT:
        heartbeat.gateway = gw->id;
        heartbeat.sessions = op->sessions;
        env.body_case = CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT;
        env.gateway_heartbeat = &heartbeat;
        break;
    default:
        return;
    }
    if (gw_bridge_send_roomd(gw, instance, &env) != 0) {
        //  Unreachable: the instance is gone, or (first attempts) the
        //  connection to a roomd just learned of is still being made.
        if (p && errno == EHOSTUNREACH && op->attempts >= 2)
            gw_placements_drop(gw, op->room_id);
        op->attempts++;
        gw_ops_retry(gw, op, errno == EHOSTUNREACH ? "roomd unreachable" : "roomd send failed");
        return;
    }
    s_sent(gw, op);
}

//  Sends a roomd request to where its room is, or waits for a lookup.
static void s_advance(gw_t *gw, gw_op_t *op)
{
    if (op->kind == GW_OP_ROOMS_INFO || op->kind == GW_OP_HEARTBEAT) {
        s_send_roomd(gw, op, NULL);
        return;
    }
    const gw_place_t *p = gw_placements_get(gw, op->room_id);
    if (!p)
        s_wait_lookup(gw, op);
    else
        s_send_roomd(gw, op, p);
}

void gw_ops_start(gw_t *gw, gw_op_t *op)
{
    if (s_is_registry(op->kind))
        s_send_registry(gw, op);
    else
        s_advance(gw, op);
}

// ------------------------------------------------------------ replies

//  The status of a reply body, or -1 when the body is not what kind expects.
static int s_status(gw_op_kind_t kind, const Chat__Envelope *env)
{
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_LOOKUP_REPLY:
        return kind == GW_OP_LOOKUP ? (int)env->lookup_reply->status : -1;
    case CHAT__ENVELOPE__BODY_LIST_ROOMS_REPLY:
        return kind == GW_OP_SNAPSHOT ? (int)env->list_rooms_reply->status : -1;
    case CHAT__ENVELOPE__BODY_CREATE_ROOM_REPLY:
        return kind == GW_OP_CREATE_ROOM ? (int)env->create_room_reply->status : -1;
    case CHAT__ENVELOPE__BODY_JOIN_REPLY:
        return kind == GW_OP_JOIN || kind == GW_OP_REJOIN ? (int)env->join_reply->status : -1;
    case CHAT__ENVELOPE__BODY_LEAVE_REPLY:
        return kind == GW_OP_LEAVE ? (int)env->leave_reply->status : -1;
    case CHAT__ENVELOPE__BODY_SEND_REPLY:
        return kind == GW_OP_SEND ? (int)env->send_reply->status : -1;
    case CHAT__ENVELOPE__BODY_HISTORY_REPLY:
        return kind == GW_OP_HISTORY || kind == GW_OP_REPAIR ? (int)env->history_reply->status : -1;
    case CHAT__ENVELOPE__BODY_ROOM_STATE_REPLY:
        return kind == GW_OP_ROOM_STATE ? (int)env->room_state_reply->status : -1;
    case CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY:
        return kind == GW_OP_ROOMS_INFO ? (int)env->rooms_info_reply->status : -1;
    case CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT_REPLY:
        return kind == GW_OP_HEARTBEAT ? CHAT__STATUS__STATUS_OK : -1;
    case CHAT__ENVELOPE__BODY_ERROR:
        return (int)env->error->status;
    default:
        return -1;
    }
}

void gw_ops_on_lookup(gw_t *gw, gw_op_t *op, const Chat__LookupReply *reply)
{
    if (reply->status == CHAT__STATUS__STATUS_OK && reply->placement)
        gw_placements_set(gw, reply->placement);
    gw_err_t err = GW_ERR_COUNT;
    if (reply->status == CHAT__STATUS__STATUS_OK && !gw_placements_get(gw, op->room_id))
        err = GW_ERR_UNAVAILABLE;
    else if (reply->status != CHAT__STATUS__STATUS_OK)
        err = gw_err_from_status(reply->status);
    if (err != GW_ERR_COUNT) {
        gw_ops_fail(gw, op, err);
        return;
    }
    zhashx_delete(gw->ops->lookups, op->room_id);
    gw_op_t *w = op->waiters;
    op->waiters = NULL;
    gw_ops_remove(gw, op);
    while (w) {
        gw_op_t *next = w->next_waiter;
        s_advance(gw, w);
        w = next;
    }
}

//  A room request answered with a status other than OK.
static void s_on_status(gw_t *gw, gw_op_t *op, Chat__Status status)
{
    switch (status) {
    case CHAT__STATUS__STATUS_NOT_OWNER:
        gw_placements_drop(gw, op->room_id);
        gw_ops_retry(gw, op, "not owner");
        return;
    case CHAT__STATUS__STATUS_UNAVAILABLE:
        if (s_is_registry(op->kind))
            gw_ops_fail(gw, op, GW_ERR_UNAVAILABLE);
        else
            gw_ops_retry(gw, op, "unavailable");
        return;
    case CHAT__STATUS__STATUS_NOT_IN_ROOM:
        if (op->kind == GW_OP_LEAVE) {
            Chat__Envelope none = CHAT__ENVELOPE__INIT;
            Chat__Envelope *env = &none;
            gw_ops_complete(gw, op, &env); //  gone already: that is what was asked
            return;
        }
        if (op->kind == GW_OP_SEND) {
            gw_ops_on_send_not_in_room(gw, op);
            return;
        }
        break;
    case CHAT__STATUS__STATUS_BAD_REQUEST:
        chat_log_limited(&s_log_reply, CHAT_LOG_WARN, "request %llu for %s refused as bad",
                         (unsigned long long)op->id, op->room_id);
        gw_ops_fail(gw, op, GW_ERR_INTERNAL);
        return;
    default:
        break;
    }
    gw_ops_fail(gw, op, gw_err_from_status(status));
}

//  True when env is a registry's NOT_LEADER answer.
static bool s_not_leader(const Chat__Envelope *env)
{
    return env->body_case == CHAT__ENVELOPE__BODY_ERROR &&
           env->error->status == CHAT__STATUS__STATUS_NOT_LEADER;
}

void gw_ops_on_reply(gw_t *gw, gw_lat_t from, Chat__Envelope **env)
{
    bool refused = from == GW_LAT_REGISTRY && s_not_leader(*env);
    if (from == GW_LAT_REGISTRY && !refused)
        gw_registry_alive(gw); //  a registry that does not lead is no sign of a working quorum
    gw_op_t *op = gw_idmap_get(gw->ops->ops, (*env)->req_id);
    //  A late answer to an earlier attempt is as good as any (same request).
    if (!op || (op->state != GW_OP_STATE_SENT && op->state != GW_OP_STATE_WAIT_RETRY))
        return;
    if (s_is_registry(op->kind) != (from == GW_LAT_REGISTRY))
        return;
    if (refused) {
        //  Follow the leader it names (none yet: an election; try again
        //  after the retry's pause). Safe for every registry request:
        //  CreateRoom carries a token.
        gw_bridge_registry_follow(gw, (*env)->error->leader_endpoint);
        gw_ops_retry(gw, op, "not the leader");
        return;
    }
    gw_metrics_latency(&gw->metrics, from, chat_mono_us() - op->sent_us);
    int status = s_status(op->kind, *env);
    if (status < 0) {
        chat_wire_count_bad("reply of the wrong type");
        gw_ops_fail(gw, op, GW_ERR_INTERNAL);
        return;
    }
    if ((*env)->body_case == CHAT__ENVELOPE__BODY_ERROR && status == CHAT__STATUS__STATUS_OK)
        status = CHAT__STATUS__STATUS_INTERNAL;
    if (status == CHAT__STATUS__STATUS_OK)
        gw_ops_complete(gw, op, env);
    else
        s_on_status(gw, op, (Chat__Status)status);
}

void gw_ops_registry_moved(gw_t *gw)
{
    //  Collect first: sending may fail ops (and free them).
    size_t n = 0;
    for (gw_op_t *op = gw->ops->head; op; op = op->next)
        n += op->state == GW_OP_STATE_SENT && s_is_registry(op->kind);
    uint64_t *ids = n ? malloc(n * sizeof *ids) : NULL;
    if (n && !ids)
        abort();
    size_t k = 0;
    for (gw_op_t *op = gw->ops->head; op && k < n; op = op->next)
        if (op->state == GW_OP_STATE_SENT && s_is_registry(op->kind))
            ids[k++] = op->id;
    for (size_t i = 0; i < k; i++) {
        gw_op_t *op = gw_idmap_get(gw->ops->ops, ids[i]);
        if (op && op->state == GW_OP_STATE_SENT)
            s_send_registry(gw, op);
    }
    free(ids);
}

void gw_ops_tick(gw_t *gw, int64_t now_ms)
{
    //  Collect first: handling an op may free or create others.
    size_t n = 0, cap = 64;
    uint64_t stack[64], *due = stack;
    for (gw_op_t *op = gw->ops->head; op; op = op->next) {
        if ((op->state != GW_OP_STATE_SENT && op->state != GW_OP_STATE_WAIT_RETRY) ||
            now_ms < op->due_ms)
            continue;
        if (n == cap) {
            cap *= 2;
            uint64_t *grown =
                due == stack ? malloc(cap * sizeof *grown) : realloc(due, cap * sizeof *grown);
            if (!grown)
                abort();
            if (due == stack)
                memcpy(grown, stack, sizeof stack);
            due = grown;
        }
        due[n++] = op->id;
    }
    for (size_t i = 0; i < n; i++) {
        gw_op_t *op = gw_idmap_get(gw->ops->ops, due[i]);
        if (!op)
            continue;
        if (op->state == GW_OP_STATE_WAIT_RETRY) {
            gw_ops_start(gw, op);
        } else if (op->state == GW_OP_STATE_SENT) {
            gw->metrics.timeouts++;
            if (!s_is_registry(op->kind) && op->room_id[0])
                gw_placements_drop(gw, op->room_id);
            if (s_is_registry(op->kind))
                gw_bridge_registry_next(gw); //  the registry talked to may be gone: try another
            gw_ops_retry(gw, op, "timeout");
        }
    }
    if (due != stack)
        free(due);
}
