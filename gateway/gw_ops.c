/*  gw_ops: see gw_ops.h. */
#include "gw_ops.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_text.h"
#include "chat_wire.h"
#include "gw_bridge.h"
#include "gw_placement.h"
#include "gw_registry.h"
#include "gw_rooms.h"
#include "gw_session.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Most messages a gap repair asks for at once (roomd's limit for `after`).
#define S_REPAIR_LIMIT 1000
//  Pause before the first retry; it doubles up to S_RETRY_MAX_MS.
#define S_RETRY_FIRST_MS 20
#define S_RETRY_MAX_MS 400

typedef enum {
    S_LOOKUP,      //  registry: where is a room (placing it when needed)
    S_SNAPSHOT,    //  registry: ListRooms for gw_registry
    S_GET_ROOMS,   //  registry: ListRooms, then RoomsInfo children, for a client
    S_CREATE_ROOM, //  registry: CreateRoom for a client
    S_JOIN,        //  roomd: joinRoom
    S_REJOIN,      //  roomd: quiet join after a roomd restart
    S_LEAVE,       //  roomd: leaveRoom, or the leave of a closed connection
    S_SEND,        //  roomd: sendMessage
    S_HISTORY,     //  roomd: getHistory
    S_STATE,       //  roomd: getRoomState
    S_REPAIR,      //  roomd: history after a gap
    S_ROOMS_INFO,  //  roomd: figures for a getRooms
    S_HEARTBEAT,   //  roomd: GatewayHeartbeat
} s_kind_t;

typedef enum {
    S_NEW,            //  not sent yet
    S_WAIT_PLACEMENT, //  waiting for a lookup of its room
    S_WAIT_RETRY,     //  waiting to be sent again
    S_SENT,           //  waiting for the reply
    S_WAIT_CHILDREN,  //  getRooms waiting for its RoomsInfo children
} s_state_t;

typedef struct s_op s_op_t;
struct s_op {
    uint64_t id;                        //  req_id of every attempt
    s_kind_t kind;                      //  what it is
    s_state_t state;                    //  where it is
    uint64_t conn;                      //  the connection it answers, 0 = none
    char *ref;                          //  ref to echo, or NULL
    char room_id[CHAT_ROOM_ID_MAX + 1]; //  the room, "" when none
    char *user_id;                      //  join, rejoin, leave, send
    char *user_name;                    //  join, rejoin, send
    char *text;                         //  send: content; create: name
    char *text2;                        //  create: description
    char client_msg_id[80];             //  send: dedup key, the same for every attempt
    char *instance;                     //  heartbeat, rooms info: the roomd addressed
    bool has_a;                         //  join: has since; history: has before
    uint64_t a;                         //  join: since; history: before; repair: after
    uint32_t limit;                     //  history
    bool member;                        //  join: already in or joining the room
    bool rejoined;                      //  send: re-joined once after NOT_IN_ROOM
    bool counted;                       //  counted in its session's pending
    uint32_t sessions;                  //  heartbeat: sessions announced
    char **room_ids;                    //  rooms info: rooms asked about
    size_t n_room_ids;                  //  entries in room_ids
    uint64_t parent;                    //  rooms info: the getRooms op
    int children;                       //  getRooms: RoomsInfo replies still due
    Chat__Envelope *list;               //  getRooms: the ListRoomsReply (owned)
    Chat__Envelope **infos;             //  getRooms: RoomsInfoReplies (owned)
    size_t n_infos;                     //  entries in infos
    int attempts;                       //  sends so far
    int64_t sent_us;                    //  monotonic us of the last send
    int64_t due_ms;                     //  reply deadline (SENT) or retry time (WAIT_RETRY)
    int64_t give_up_ms;                 //  no retry after this
    s_op_t *prev;                       //  list of all ops
    s_op_t *next;                       //  list of all ops
    s_op_t *waiters;                    //  lookup: ops waiting for it (FIFO)
    s_op_t *next_waiter;                //  on a lookup's waiter list
};

struct gw_ops {
    gw_idmap_t *ops;   //  req_id -> op (owned)
    s_op_t *head;      //  every op
    zhashx_t *lookups; //  room id -> its lookup op (borrowed)
    uint64_t next_id;  //  last req_id issued
};

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

static void s_free(s_op_t *op)
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
    chat_envelope_free(&op->list);
    for (size_t i = 0; i < op->n_infos; i++)
        chat_envelope_free(&op->infos[i]);
    free(op->infos);
    free(op);
}

void gw_ops_destroy(gw_ops_t **p)
{
    if (!p || !*p)
        return;
    gw_ops_t *self = *p;
    while (self->head) {
        s_op_t *op = self->head;
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

static char *s_dup(const char *text)
{
    if (!text)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        abort();
    return copy;
}

static s_op_t *s_new(gw_t *gw, s_kind_t kind, uint64_t conn, const char *ref, const char *room_id)
{
    s_op_t *op = calloc(1, sizeof *op);
    if (!op)
        abort();
    gw_ops_t *self = gw->ops;
    op->id = ++self->next_id;
    op->kind = kind;
    op->conn = conn;
    op->ref = s_dup(ref);
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

static void s_destroy(gw_t *gw, s_op_t *op)
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
static gw_session_t *s_session(gw_t *gw, const s_op_t *op)
{
    return op->conn ? gw_session_find(gw, op->conn) : NULL;
}

//  Queues a reply frame to the op's session (dropped when it is gone).
static void s_reply(gw_t *gw, const s_op_t *op, gw_buf_t *buf)
{
    gw_session_t *s = s_session(gw, op);
    if (s)
        gw_session_send(gw, s, &buf);
    gw_buf_unref(&buf);
}

static bool s_is_registry(s_kind_t kind)
{
    return kind == S_LOOKUP || kind == S_SNAPSHOT || kind == S_GET_ROOMS || kind == S_CREATE_ROOM;
}

static void s_advance(gw_t *gw, s_op_t *op);
static void s_fail(gw_t *gw, s_op_t *op, gw_err_t err);
static void s_child_done(gw_t *gw, uint64_t parent, bool finished, Chat__Envelope **env);

// ------------------------------------------------------------ sending

//  The kind's name, for logs.
static const char *s_kind_name(s_kind_t kind)
{
    static const char *names[] = {"lookup", "snapshot",  "getRooms", "createRoom", "join",
                                  "rejoin", "leave",     "send",     "history",    "state",
                                  "repair", "roomsInfo", "heartbeat"};
    return (size_t)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

//  Sends again later, or gives up with unavailable when the budget is spent
//  (CreateRoom and heartbeats are never sent again).
static void s_retry(gw_t *gw, s_op_t *op, const char *why)
{
    chat_log_limited(&s_log_retry, CHAT_LOG_DEBUG, "%s %llu for %s: %s (attempt %d)",
                     s_kind_name(op->kind), (unsigned long long)op->id,
                     op->room_id[0] ? op->room_id : "-", why, op->attempts);
    if (op->kind == S_CREATE_ROOM || op->kind == S_HEARTBEAT) {
        s_fail(gw, op, GW_ERR_UNAVAILABLE);
        return;
    }
    int shift = op->attempts < 5 ? op->attempts : 5;
    int64_t delay = (int64_t)S_RETRY_FIRST_MS << shift;
    if (delay > S_RETRY_MAX_MS)
        delay = S_RETRY_MAX_MS;
    int64_t now = chat_mono_ms();
    if (now + delay > op->give_up_ms) {
        s_fail(gw, op, GW_ERR_UNAVAILABLE);
        return;
    }
    gw->metrics.retries++;
    op->state = S_WAIT_RETRY;
    op->due_ms = now + delay;
}

static void s_sent(gw_t *gw, s_op_t *op)
{
    op->attempts++;
    op->state = S_SENT;
    op->sent_us = chat_mono_us();
    op->due_ms = chat_mono_ms() + gw->config.request_timeout_ms;
    gw->metrics.requests++;
}

static void s_send_registry(gw_t *gw, s_op_t *op)
{
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = op->id;
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    Chat__ListRoomsRequest list = CHAT__LIST_ROOMS_REQUEST__INIT;
    Chat__CreateRoomRequest create = CHAT__CREATE_ROOM_REQUEST__INIT;
    switch (op->kind) {
    case S_LOOKUP:
        lookup.room_id = op->room_id;
        lookup.place = true;
        env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
        env.lookup = &lookup;
        break;
    case S_SNAPSHOT:
    case S_GET_ROOMS:
        env.body_case = CHAT__ENVELOPE__BODY_LIST_ROOMS;
        env.list_rooms = &list;
        break;
    case S_CREATE_ROOM:
        create.name = op->text;
        create.description = op->text2;
        create.origin_gateway = gw->id;
        create.origin_conn = op->conn;
        env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
        env.create_room = &create;
        break;
    default:
        return;
    }
    if (gw_bridge_send_registry(gw, &env) != 0)
        s_retry(gw, op, "registry send failed");
    else
        s_sent(gw, op);
}

//  Waits for the room's placement, starting a lookup unless one is running.
static void s_wait_lookup(gw_t *gw, s_op_t *op)
{
    s_op_t *lookup = zhashx_lookup(gw->ops->lookups, op->room_id);
    if (!lookup) {
        lookup = s_new(gw, S_LOOKUP, 0, NULL, op->room_id);
        zhashx_insert(gw->ops->lookups, op->room_id, lookup);
        s_send_registry(gw, lookup);
        //  A lookup that failed at once has already answered nobody: look again.
        lookup = zhashx_lookup(gw->ops->lookups, op->room_id);
        if (!lookup) {
            s_retry(gw, op, "lookup failed at once");
            return;
        }
    }
    op->state = S_WAIT_PLACEMENT;
    op->next_waiter = NULL;
    s_op_t **tail = &lookup->waiters;
    while (*tail)
        tail = &(*tail)->next_waiter;
    *tail = op;
}

//  Fills the RoomTarget of a room request from the placement.
static void s_target(Chat__RoomTarget *target, const s_op_t *op, const gw_place_t *p, bool write)
{
    target->room_id = (char *)op->room_id;
    target->instance = p->instance;
    target->epoch = write ? p->epoch : 0;
}

static void s_send_roomd(gw_t *gw, s_op_t *op, const gw_place_t *p)
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
    case S_JOIN:
    case S_REJOIN:
        s_target(&target, op, p, true);
        join.target = &target;
        join.user = &user;
        join.session = &session;
        join.has_since = op->has_a;
        join.since = op->a;
        join.quiet = op->kind == S_REJOIN;
        env.body_case = CHAT__ENVELOPE__BODY_JOIN;
        env.join = &join;
        break;
    case S_LEAVE:
        s_target(&target, op, p, true);
        leave.target = &target;
        leave.user_id = op->user_id;
        leave.session = &session;
        env.body_case = CHAT__ENVELOPE__BODY_LEAVE;
        env.leave = &leave;
        break;
    case S_SEND:
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
    case S_HISTORY:
    case S_REPAIR:
        s_target(&target, op, p, false);
        history.target = &target;
        history.has_before = op->kind == S_HISTORY && op->has_a;
        history.before = op->kind == S_HISTORY ? op->a : 0;
        history.has_after = op->kind == S_REPAIR;
        history.after = op->kind == S_REPAIR ? op->a : 0;
        history.limit = op->limit;
        env.body_case = CHAT__ENVELOPE__BODY_HISTORY;
        env.history = &history;
        break;
    case S_STATE:
        s_target(&target, op, p, false);
        state.target = &target;
        env.body_case = CHAT__ENVELOPE__BODY_ROOM_STATE;
        env.room_state = &state;
        break;
    case S_ROOMS_INFO:
        info.room_ids = op->room_ids;
        info.n_room_ids = op->n_room_ids;
        env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO;
        env.rooms_info = &info;
        break;
    case S_HEARTBEAT:
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
        s_retry(gw, op, errno == EHOSTUNREACH ? "roomd unreachable" : "roomd send failed");
        return;
    }
    s_sent(gw, op);
}

//  Sends a roomd request to where its room is, or waits for a lookup.
static void s_advance(gw_t *gw, s_op_t *op)
{
    if (op->kind == S_ROOMS_INFO || op->kind == S_HEARTBEAT) {
        s_send_roomd(gw, op, NULL);
        return;
    }
    const gw_place_t *p = gw_placements_get(gw, op->room_id);
    if (!p)
        s_wait_lookup(gw, op);
    else
        s_send_roomd(gw, op, p);
}

static void s_start(gw_t *gw, s_op_t *op)
{
    if (s_is_registry(op->kind))
        s_send_registry(gw, op);
    else
        s_advance(gw, op);
}

// ------------------------------------------------------------ starting ops

void gw_ops_client(gw_t *gw, gw_session_t *s, const gw_request_t *req, const char *room_id,
                   bool member)
{
    s_kind_t kind;
    switch (req->type) {
    case GW_REQ_GET_ROOMS:
        kind = S_GET_ROOMS;
        break;
    case GW_REQ_CREATE_ROOM:
        kind = S_CREATE_ROOM;
        break;
    case GW_REQ_JOIN_ROOM:
        kind = S_JOIN;
        break;
    case GW_REQ_LEAVE_ROOM:
        kind = S_LEAVE;
        break;
    case GW_REQ_SEND_MESSAGE:
        kind = S_SEND;
        break;
    case GW_REQ_GET_HISTORY:
        kind = S_HISTORY;
        break;
    case GW_REQ_GET_ROOM_STATE:
        kind = S_STATE;
        break;
    default:
        return;
    }
    //  A client must not pile up work it does not wait for.
    if (s->pending >= gw->config.max_pending) {
        gw_metrics_error(&gw->metrics, GW_ERR_RATE_LIMITED);
        gw_buf_t *buf =
            gw_json_error(GW_ERR_RATE_LIMITED, "Too many requests in flight", 100, req->ref);
        gw_session_send(gw, s, &buf);
        gw_room_t *room = kind == S_JOIN && !member ? gw_rooms_find(gw, room_id) : NULL;
        if (room)
            gw_rooms_join_failed(gw, room, s);
        return;
    }
    s_op_t *op = s_new(gw, kind, s->conn, req->ref, room_id);
    op->counted = true;
    s->pending++;
    op->user_id = s_dup(s->user_id);
    op->user_name = s_dup(s->user_name);
    op->member = member;
    switch (kind) {
    case S_CREATE_ROOM:
        op->text = s_dup(req->name);
        op->text2 = s_dup(req->description);
        break;
    case S_JOIN:
        op->has_a = req->has_since;
        op->a = req->since;
        break;
    case S_SEND:
        op->text = s_dup(req->content);
        snprintf(op->client_msg_id, sizeof op->client_msg_id, "%s:%llu:%llu", gw->id,
                 (unsigned long long)s->conn, (unsigned long long)++s->sends);
        break;
    case S_HISTORY:
        op->has_a = req->has_before;
        op->a = req->before;
        op->limit = req->limit;
        break;
    default:
        break;
    }
    s_start(gw, op);
}

void gw_ops_rejoin(gw_t *gw, gw_session_t *s, const char *room_id)
{
    s_op_t *op = s_new(gw, S_REJOIN, s->conn, NULL, room_id);
    op->user_id = s_dup(s->user_id);
    op->user_name = s_dup(s->user_name);
    s_start(gw, op);
}

void gw_ops_leave_gone(gw_t *gw, uint64_t conn, const char *user_id, const char *room_id)
{
    s_op_t *op = s_new(gw, S_LEAVE, conn, NULL, room_id);
    op->user_id = s_dup(user_id);
    s_start(gw, op);
}

void gw_ops_repair(gw_t *gw, const char *room_id, uint64_t after)
{
    s_op_t *op = s_new(gw, S_REPAIR, 0, NULL, room_id);
    op->a = after;
    op->limit = S_REPAIR_LIMIT;
    s_start(gw, op);
}

void gw_ops_heartbeat(gw_t *gw, const char *instance, uint32_t sessions)
{
    s_op_t *op = s_new(gw, S_HEARTBEAT, 0, NULL, NULL);
    op->instance = s_dup(instance);
    op->sessions = sessions;
    op->give_up_ms = chat_mono_ms() + gw->config.heartbeat_ms;
    s_start(gw, op);
}

void gw_ops_snapshot(gw_t *gw)
{
    s_op_t *op = s_new(gw, S_SNAPSHOT, 0, NULL, NULL);
    s_start(gw, op);
}

// ------------------------------------------------------------ failing

static void s_fail(gw_t *gw, s_op_t *op, gw_err_t err)
{
    gw_session_t *s = s_session(gw, op);
    switch (op->kind) {
    case S_LOOKUP: {
        zhashx_delete(gw->ops->lookups, op->room_id);
        s_op_t *w = op->waiters;
        op->waiters = NULL;
        while (w) {
            s_op_t *next = w->next_waiter;
            s_fail(gw, w, err);
            w = next;
        }
        break;
    }
    case S_SNAPSHOT:
        gw_registry_on_snapshot(gw, NULL);
        break;
    case S_REPAIR:
        gw_rooms_on_repair(gw, op->room_id, NULL);
        break;
    case S_ROOMS_INFO:
        s_child_done(gw, op->parent, true, NULL);
        break;
    case S_HEARTBEAT:
        break;
    case S_REJOIN:
        chat_log_limited(&s_log_reply, CHAT_LOG_WARN, "quiet re-join of %s to %s failed: %s",
                         op->user_id, op->room_id, gw_err_code(err));
        break;
    case S_JOIN: {
        gw_room_t *room = gw_rooms_find(gw, op->room_id);
        if (!op->member && room)
            gw_rooms_join_failed(gw, room, s);
        if (s)
            gw_session_error(gw, s, err, NULL, op->ref);
        break;
    }
    default:
        if (s)
            gw_session_error(gw, s, err, NULL, op->ref);
        else if (op->kind == S_LEAVE)
            chat_log_limited(&s_log_reply, CHAT_LOG_INFO, "leave of %s from %s failed: %s",
                             op->user_id, op->room_id, gw_err_code(err));
        break;
    }
    s_destroy(gw, op);
}

// ------------------------------------------------------------ replies

//  The status of a reply body, or -1 when the body is not what kind expects.
static int s_status(s_kind_t kind, const Chat__Envelope *env)
{
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_LOOKUP_REPLY:
        return kind == S_LOOKUP ? (int)env->lookup_reply->status : -1;
    case CHAT__ENVELOPE__BODY_LIST_ROOMS_REPLY:
        return kind == S_SNAPSHOT || kind == S_GET_ROOMS ? (int)env->list_rooms_reply->status : -1;
    case CHAT__ENVELOPE__BODY_CREATE_ROOM_REPLY:
        return kind == S_CREATE_ROOM ? (int)env->create_room_reply->status : -1;
    case CHAT__ENVELOPE__BODY_JOIN_REPLY:
        return kind == S_JOIN || kind == S_REJOIN ? (int)env->join_reply->status : -1;
    case CHAT__ENVELOPE__BODY_LEAVE_REPLY:
        return kind == S_LEAVE ? (int)env->leave_reply->status : -1;
    case CHAT__ENVELOPE__BODY_SEND_REPLY:
        return kind == S_SEND ? (int)env->send_reply->status : -1;
    case CHAT__ENVELOPE__BODY_HISTORY_REPLY:
        return kind == S_HISTORY || kind == S_REPAIR ? (int)env->history_reply->status : -1;
    case CHAT__ENVELOPE__BODY_ROOM_STATE_REPLY:
        return kind == S_STATE ? (int)env->room_state_reply->status : -1;
    case CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY:
        return kind == S_ROOMS_INFO ? (int)env->rooms_info_reply->status : -1;
    case CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT_REPLY:
        return kind == S_HEARTBEAT ? CHAT__STATUS__STATUS_OK : -1;
    case CHAT__ENVELOPE__BODY_ERROR:
        return (int)env->error->status;
    default:
        return -1;
    }
}

static void s_on_lookup(gw_t *gw, s_op_t *op, const Chat__LookupReply *reply)
{
    if (reply->status == CHAT__STATUS__STATUS_OK && reply->placement)
        gw_placements_set(gw, reply->placement);
    gw_err_t err = GW_ERR_COUNT;
    if (reply->status == CHAT__STATUS__STATUS_OK && !gw_placements_get(gw, op->room_id))
        err = GW_ERR_UNAVAILABLE;
    else if (reply->status != CHAT__STATUS__STATUS_OK)
        err = gw_err_from_status(reply->status);
    if (err != GW_ERR_COUNT) {
        s_fail(gw, op, err);
        return;
    }
    zhashx_delete(gw->ops->lookups, op->room_id);
    s_op_t *w = op->waiters;
    op->waiters = NULL;
    s_destroy(gw, op);
    while (w) {
        s_op_t *next = w->next_waiter;
        s_advance(gw, w);
        w = next;
    }
}

static void s_on_join(gw_t *gw, s_op_t *op, const Chat__JoinReply *reply)
{
    gw_session_t *s = s_session(gw, op);
    if (s && reply->room) {
        gw_buf_t *buf = gw_json_room_joined(reply->room, reply->history, reply->n_history,
                                            reply->truncated, op->ref);
        gw_session_send(gw, s, &buf);
    }
    gw_room_t *room = op->member ? NULL : gw_rooms_find(gw, op->room_id);
    if (room)
        gw_rooms_join_done(gw, room, s, reply->cursor);
    if (!s && !op->member)
        gw_ops_leave_gone(gw, op->conn, op->user_id, op->room_id);
}

static void s_on_send_not_in_room(gw_t *gw, s_op_t *op)
{
    gw_session_t *s = s_session(gw, op);
    gw_sroom_t *entry = s ? gw_session_room(s, op->room_id) : NULL;
    if (entry && entry->joined && !op->rejoined) {
        //  The roomd forgot this session (it restarted): join quietly, resend.
        op->rejoined = true;
        gw_ops_rejoin(gw, s, op->room_id);
        s_retry(gw, op, "not in room: re-joined");
    } else if (entry && !entry->joined) {
        s_retry(gw, op, "not in room: join on the way");
    } else {
        s_fail(gw, op, GW_ERR_NOT_IN_ROOM);
    }
}

//  getRooms: the catalog came; ask each live roomd for its rooms' figures.
static void s_on_rooms_list(gw_t *gw, s_op_t *op, Chat__Envelope **env)
{
    op->list = *env;
    *env = NULL;
    const Chat__ListRoomsReply *list = op->list->list_rooms_reply;
    op->state = S_WAIT_CHILDREN;
    //  One RoomsInfo per live roomd, built before any is sent.
    s_op_t **children = calloc(list->n_rooms + 1, sizeof *children);
    if (!children)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < list->n_rooms; i++) {
        const Chat__CatalogEntry *e = list->rooms[i];
        if (!e || !e->room || !e->room->id || !e->placement || !e->live || !e->placement->instance)
            continue;
        gw_placements_set(gw, e->placement);
        size_t k = 0;
        while (k < n && strcmp(children[k]->instance, e->placement->instance) != 0)
            k++;
        if (k == n) {
            s_op_t *child = s_new(gw, S_ROOMS_INFO, 0, NULL, NULL);
            child->parent = op->id;
            child->instance = s_dup(e->placement->instance);
            child->give_up_ms = chat_mono_ms() + gw->config.rooms_info_timeout_ms;
            children[n++] = child;
        }
        s_op_t *child = children[k];
        char **grown = realloc(child->room_ids, (child->n_room_ids + 1) * sizeof *grown);
        if (!grown)
            abort();
        child->room_ids = grown;
        child->room_ids[child->n_room_ids++] = s_dup(e->room->id);
    }
    op->children = (int)n;
    uint64_t id = op->id;
    uint64_t *ids = calloc(n + 1, sizeof *ids);
    if (!ids)
        abort();
    for (size_t k = 0; k < n; k++)
        ids[k] = children[k]->id;
    free(children);
    //  A child may fail at once and finish the parent: go by ids.
    for (size_t k = 0; k < n; k++) {
        s_op_t *child = gw_idmap_get(gw->ops->ops, ids[k]);
        if (child)
            s_start(gw, child);
    }
    free(ids);
    s_child_done(gw, id, false, NULL);
}

//  Builds and sends the roomsList of a getRooms op, then frees it.
static void s_rooms_finish(gw_t *gw, s_op_t *op)
{
    const Chat__ListRoomsReply *list = op->list->list_rooms_reply;
    Chat__RoomInfo *rooms = calloc(list->n_rooms + 1, sizeof *rooms);
    Chat__RoomInfo **ptrs = calloc(list->n_rooms + 1, sizeof *ptrs);
    if (!rooms || !ptrs)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < list->n_rooms; i++) {
        const Chat__CatalogEntry *e = list->rooms[i];
        if (!e || !e->room || !e->room->id)
            continue;
        rooms[n] = *e->room;
        rooms[n].n_users = 0;
        rooms[n].users = NULL;
        for (size_t k = 0; k < op->n_infos; k++) {
            const Chat__RoomsInfoReply *info = op->infos[k]->rooms_info_reply;
            for (size_t j = 0; j < info->n_rooms; j++)
                if (info->rooms[j] && info->rooms[j]->id &&
                    strcmp(info->rooms[j]->id, e->room->id) == 0) {
                    rooms[n].users = info->rooms[j]->users;
                    rooms[n].n_users = info->rooms[j]->n_users;
                    rooms[n].last_seq = info->rooms[j]->last_seq;
                }
        }
        ptrs[n] = &rooms[n];
        n++;
    }
    s_reply(gw, op, gw_json_rooms_list(ptrs, n, op->ref));
    free(ptrs);
    free(rooms);
    s_destroy(gw, op);
}

//  A RoomsInfo child of getRooms parent is over when finished (env: its
//  reply, or NULL when it failed); then, or when !finished, the parent
//  answers once no child is due any more.
static void s_child_done(gw_t *gw, uint64_t parent, bool finished, Chat__Envelope **env)
{
    s_op_t *op = gw_idmap_get(gw->ops->ops, parent);
    if (!op || op->kind != S_GET_ROOMS || op->state != S_WAIT_CHILDREN)
        return;
    if (env && *env) {
        Chat__Envelope **grown = realloc(op->infos, (op->n_infos + 1) * sizeof *grown);
        if (!grown)
            abort();
        op->infos = grown;
        op->infos[op->n_infos++] = *env;
        *env = NULL;
    }
    if (finished)
        op->children--;
    if (op->children <= 0)
        s_rooms_finish(gw, op);
}

//  A reply with status OK (or one that ends the op) for each kind.
static void s_complete(gw_t *gw, s_op_t *op, Chat__Envelope **env)
{
    const Chat__Envelope *e = *env;
    switch (op->kind) {
    case S_LOOKUP:
        s_on_lookup(gw, op, e->lookup_reply);
        return; //  s_on_lookup frees op
    case S_SNAPSHOT:
        gw_registry_on_snapshot(gw, e->list_rooms_reply);
        break;
    case S_GET_ROOMS:
        s_on_rooms_list(gw, op, env);
        return; //  finishes when the children are in
    case S_CREATE_ROOM:
        if (e->create_room_reply->room) {
            s_reply(gw, op, gw_json_room_created(e->create_room_reply->room, op->ref));
            break;
        }
        s_fail(gw, op, GW_ERR_INTERNAL);
        return;
    case S_JOIN:
        s_on_join(gw, op, e->join_reply);
        break;
    case S_REJOIN:
        gw->metrics.rejoins++;
        break;
    case S_LEAVE:
        s_reply(gw, op, gw_json_room_left(op->room_id, op->ref));
        break;
    case S_SEND:
        s_reply(gw, op, gw_json_message_ack(op->room_id, e->send_reply->seq, op->ref));
        break;
    case S_HISTORY:
        s_reply(gw, op,
                gw_json_history(op->room_id, e->history_reply->messages,
                                e->history_reply->n_messages, e->history_reply->has_more, op->ref));
        break;
    case S_STATE:
        if (!e->room_state_reply->room) {
            s_fail(gw, op, GW_ERR_INTERNAL);
            return;
        }
        s_reply(gw, op,
                gw_json_room_state(e->room_state_reply->room, e->room_state_reply->messages,
                                   e->room_state_reply->n_messages, op->ref));
        break;
    case S_REPAIR:
        gw_rooms_on_repair(gw, op->room_id, e->history_reply);
        break;
    case S_ROOMS_INFO: {
        uint64_t parent = op->parent;
        s_destroy(gw, op);
        s_child_done(gw, parent, true, env);
        return;
    }
    case S_HEARTBEAT:
        if (e->gateway_heartbeat_reply->instance)
            gw_rooms_on_heartbeat_reply(gw, op->instance, op->sessions, e->gateway_heartbeat_reply);
        break;
    }
    s_destroy(gw, op);
}

//  A room request answered with a status other than OK.
static void s_on_status(gw_t *gw, s_op_t *op, Chat__Status status)
{
    switch (status) {
    case CHAT__STATUS__STATUS_NOT_OWNER:
        gw_placements_drop(gw, op->room_id);
        s_retry(gw, op, "not owner");
        return;
    case CHAT__STATUS__STATUS_UNAVAILABLE:
        if (s_is_registry(op->kind))
            s_fail(gw, op, GW_ERR_UNAVAILABLE);
        else
            s_retry(gw, op, "unavailable");
        return;
    case CHAT__STATUS__STATUS_NOT_IN_ROOM:
        if (op->kind == S_LEAVE) {
            Chat__Envelope none = CHAT__ENVELOPE__INIT;
            Chat__Envelope *env = &none;
            s_complete(gw, op, &env); //  gone already: that is what was asked
            return;
        }
        if (op->kind == S_SEND) {
            s_on_send_not_in_room(gw, op);
            return;
        }
        break;
    case CHAT__STATUS__STATUS_BAD_REQUEST:
        chat_log_limited(&s_log_reply, CHAT_LOG_WARN, "request %llu for %s refused as bad",
                         (unsigned long long)op->id, op->room_id);
        s_fail(gw, op, GW_ERR_INTERNAL);
        return;
    default:
        break;
    }
    s_fail(gw, op, gw_err_from_status(status));
}

void gw_ops_on_reply(gw_t *gw, gw_lat_t from, Chat__Envelope **env)
{
    if (from == GW_LAT_REGISTRY)
        gw_registry_alive(gw);
    s_op_t *op = gw_idmap_get(gw->ops->ops, (*env)->req_id);
    //  A late answer to an earlier attempt is as good as any (same request).
    if (!op || (op->state != S_SENT && op->state != S_WAIT_RETRY))
        return;
    if (s_is_registry(op->kind) != (from == GW_LAT_REGISTRY))
        return;
    gw_metrics_latency(&gw->metrics, from, chat_mono_us() - op->sent_us);
    int status = s_status(op->kind, *env);
    if (status < 0) {
        chat_wire_count_bad("reply of the wrong type");
        s_fail(gw, op, GW_ERR_INTERNAL);
        return;
    }
    if ((*env)->body_case == CHAT__ENVELOPE__BODY_ERROR && status == CHAT__STATUS__STATUS_OK)
        status = CHAT__STATUS__STATUS_INTERNAL;
    if (status == CHAT__STATUS__STATUS_OK)
        s_complete(gw, op, env);
    else
        s_on_status(gw, op, (Chat__Status)status);
}

void gw_ops_tick(gw_t *gw, int64_t now_ms)
{
    //  Collect first: handling an op may free or create others.
    size_t n = 0, cap = 64;
    uint64_t stack[64], *due = stack;
    for (s_op_t *op = gw->ops->head; op; op = op->next) {
        if ((op->state != S_SENT && op->state != S_WAIT_RETRY) || now_ms < op->due_ms)
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
        s_op_t *op = gw_idmap_get(gw->ops->ops, due[i]);
        if (!op)
            continue;
        if (op->state == S_WAIT_RETRY) {
            s_start(gw, op);
        } else if (op->state == S_SENT) {
            gw->metrics.timeouts++;
            if (!s_is_registry(op->kind) && op->room_id[0])
                gw_placements_drop(gw, op->room_id);
            s_retry(gw, op, "timeout");
        }
    }
    if (due != stack)
        free(due);
}
