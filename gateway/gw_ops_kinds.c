/*  gw_ops kinds: each kind of op at its two ends. How it starts: a client
 *  request (gw_ops_client) or a call of another module (rejoin, leave of a
 *  closed connection, gap repair, heartbeat, snapshot). What it does when
 *  it ends: the client's answer or error, or the module that asked is told
 *  (gw_rooms, gw_registry). The way between, sending and retrying, is in
 *  gw_ops.c. See gw_ops.h.
 */
#include "gw_ops.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "gw_directory.h"
#include "gw_ops_internal.h"
#include "gw_registry.h"
#include "gw_rooms.h"

#include <czmq.h>
#include <stdio.h>

//  Most messages a gap repair asks for at once (roomd's limit for `after`).
#define S_REPAIR_LIMIT 1000

static chat_log_limit_t s_log_reply;

// ------------------------------------------------------------ starting ops

void gw_ops_client(gw_t *gw, gw_session_t *s, const gw_request_t *req, const char *room_id,
                   bool member)
{
    gw_op_kind_t kind;
    switch (req->type) {
    case GW_REQ_CREATE_ROOM:
        kind = GW_OP_CREATE_ROOM;
        break;
    case GW_REQ_JOIN_ROOM:
        kind = GW_OP_JOIN;
        break;
    case GW_REQ_LEAVE_ROOM:
        kind = GW_OP_LEAVE;
        break;
    case GW_REQ_SEND_MESSAGE:
        kind = GW_OP_SEND;
        break;
    case GW_REQ_GET_HISTORY:
        kind = GW_OP_HISTORY;
        break;
    case GW_REQ_GET_ROOM_STATE:
        kind = GW_OP_ROOM_STATE;
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
        gw_room_t *room = kind == GW_OP_JOIN && !member ? gw_rooms_find(gw, room_id) : NULL;
        if (room)
            gw_rooms_join_failed(gw, room, s);
        return;
    }
    gw_op_t *op = gw_ops_add(gw, kind, s->conn, req->ref, room_id);
    op->counted = true;
    s->pending++;
    op->user_id = gw_ops_dup(s->user_id);
    op->user_name = gw_ops_dup(s->user_name);
    op->member = member;
    switch (kind) {
    case GW_OP_CREATE_ROOM:
        op->text = gw_ops_dup(req->name);
        op->text2 = gw_ops_dup(req->description);
        //  The token of every attempt: a resend answers the room the first made.
        snprintf(op->client_msg_id, sizeof op->client_msg_id, "%s:create:%llu", gw->id,
                 (unsigned long long)op->id);
        break;
    case GW_OP_JOIN:
        op->has_a = req->has_since;
        op->a = req->since;
        break;
    case GW_OP_SEND:
        op->text = gw_ops_dup(req->content);
        snprintf(op->client_msg_id, sizeof op->client_msg_id, "%s:%llu:%llu", gw->id,
                 (unsigned long long)s->conn, (unsigned long long)++s->sends);
        break;
    case GW_OP_HISTORY:
        op->has_a = req->has_before;
        op->a = req->before;
        op->limit = req->limit;
        break;
    default:
        break;
    }
    gw_ops_start(gw, op);
}

void gw_ops_rejoin(gw_t *gw, gw_session_t *s, const char *room_id)
{
    gw_op_t *op = gw_ops_add(gw, GW_OP_REJOIN, s->conn, NULL, room_id);
    op->user_id = gw_ops_dup(s->user_id);
    op->user_name = gw_ops_dup(s->user_name);
    gw_ops_start(gw, op);
}

void gw_ops_leave_gone(gw_t *gw, uint64_t conn, const char *user_id, const char *room_id)
{
    gw_op_t *op = gw_ops_add(gw, GW_OP_LEAVE, conn, NULL, room_id);
    op->user_id = gw_ops_dup(user_id);
    gw_ops_start(gw, op);
}

void gw_ops_repair(gw_t *gw, const char *room_id, uint64_t after)
{
    gw_op_t *op = gw_ops_add(gw, GW_OP_REPAIR, 0, NULL, room_id);
    op->a = after;
    op->limit = S_REPAIR_LIMIT;
    gw_ops_start(gw, op);
}

void gw_ops_heartbeat(gw_t *gw, const char *instance, uint32_t sessions)
{
    gw_op_t *op = gw_ops_add(gw, GW_OP_HEARTBEAT, 0, NULL, NULL);
    op->instance = gw_ops_dup(instance);
    op->sessions = sessions;
    op->give_up_ms = chat_mono_ms() + gw->config.heartbeat_ms;
    gw_ops_start(gw, op);
}

void gw_ops_snapshot(gw_t *gw, const char *after)
{
    gw_op_t *op = gw_ops_add(gw, GW_OP_SNAPSHOT, 0, NULL, NULL);
    op->text = gw_ops_dup(after ? after : "");
    gw_ops_start(gw, op);
}

void gw_ops_rooms_info(gw_t *gw, const char *instance, const char *const *room_ids, size_t n)
{
    gw_op_t *op = gw_ops_add(gw, GW_OP_ROOMS_INFO, 0, NULL, NULL);
    op->instance = gw_ops_dup(instance);
    op->room_ids = calloc(n + 1, sizeof *op->room_ids);
    if (!op->room_ids)
        abort();
    for (size_t i = 0; i < n; i++)
        op->room_ids[i] = gw_ops_dup(room_ids[i]);
    op->n_room_ids = n;
    op->give_up_ms = chat_mono_ms() + gw->config.rooms_info_timeout_ms;
    gw_ops_start(gw, op);
}

// ------------------------------------------------------------ failing

void gw_ops_fail(gw_t *gw, gw_op_t *op, gw_err_t err)
{
    gw_session_t *s = gw_ops_session(gw, op);
    switch (op->kind) {
    case GW_OP_LOOKUP: {
        zhashx_delete(gw->ops->lookups, op->room_id);
        gw_op_t *w = op->waiters;
        op->waiters = NULL;
        while (w) {
            gw_op_t *next = w->next_waiter;
            gw_ops_fail(gw, w, err);
            w = next;
        }
        break;
    }
    case GW_OP_SNAPSHOT:
        gw_registry_on_snapshot(gw, NULL);
        break;
    case GW_OP_REPAIR:
        gw_rooms_on_repair(gw, op->room_id, NULL);
        break;
    case GW_OP_ROOMS_INFO:
        gw_directory_on_rooms_info(gw, op->instance, op->room_ids, op->n_room_ids, NULL);
        break;
    case GW_OP_HEARTBEAT:
        break;
    case GW_OP_REJOIN:
        chat_log_limited(&s_log_reply, CHAT_LOG_WARN, "quiet re-join of %s to %s failed: %s",
                         op->user_id, op->room_id, gw_err_code(err));
        break;
    case GW_OP_JOIN: {
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
        else if (op->kind == GW_OP_LEAVE)
            chat_log_limited(&s_log_reply, CHAT_LOG_INFO, "leave of %s from %s failed: %s",
                             op->user_id, op->room_id, gw_err_code(err));
        break;
    }
    gw_ops_remove(gw, op);
}

// ------------------------------------------------------------ replies

static void s_on_join(gw_t *gw, gw_op_t *op, const Chat__JoinReply *reply)
{
    gw_session_t *s = gw_ops_session(gw, op);
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

void gw_ops_on_send_not_in_room(gw_t *gw, gw_op_t *op)
{
    gw_session_t *s = gw_ops_session(gw, op);
    gw_sroom_t *entry = s ? gw_session_room(s, op->room_id) : NULL;
    if (entry && entry->joined && !op->rejoined) {
        //  The roomd forgot this session (it restarted): join quietly, resend.
        op->rejoined = true;
        gw_ops_rejoin(gw, s, op->room_id);
        gw_ops_retry(gw, op, "not in room: re-joined");
    } else if (entry && !entry->joined) {
        gw_ops_retry(gw, op, "not in room: join on the way");
    } else {
        gw_ops_fail(gw, op, GW_ERR_NOT_IN_ROOM);
    }
}

//  A reply with status OK (or one that ends the op) for each kind.
void gw_ops_complete(gw_t *gw, gw_op_t *op, Chat__Envelope **env)
{
    const Chat__Envelope *e = *env;
    switch (op->kind) {
    case GW_OP_LOOKUP:
        gw_ops_on_lookup(gw, op, e->lookup_reply);
        return; //  gw_ops_on_lookup frees op
    case GW_OP_SNAPSHOT:
        gw_registry_on_snapshot(gw, e->list_rooms_reply);
        break;
    case GW_OP_CREATE_ROOM:
        if (e->create_room_reply->room) {
            gw_directory_on_created(gw, e->create_room_reply->room);
            gw_ops_reply(gw, op, gw_json_room_created(e->create_room_reply->room, op->ref));
            break;
        }
        gw_ops_fail(gw, op, GW_ERR_INTERNAL);
        return;
    case GW_OP_JOIN:
        if (!e->join_reply->room) {
            //  As for createRoom and getRoomState: the client is answered.
            gw_ops_fail(gw, op, GW_ERR_INTERNAL);
            return;
        }
        s_on_join(gw, op, e->join_reply);
        break;
    case GW_OP_REJOIN:
        gw->metrics.rejoins++;
        break;
    case GW_OP_LEAVE:
        gw_ops_reply(gw, op, gw_json_room_left(op->room_id, op->ref));
        break;
    case GW_OP_SEND:
        gw_ops_reply(gw, op, gw_json_message_ack(op->room_id, e->send_reply->seq, op->ref));
        break;
    case GW_OP_HISTORY:
        gw_ops_reply(gw, op,
                     gw_json_history(op->room_id, e->history_reply->messages,
                                     e->history_reply->n_messages, e->history_reply->has_more,
                                     op->ref));
        break;
    case GW_OP_ROOM_STATE:
        if (!e->room_state_reply->room) {
            gw_ops_fail(gw, op, GW_ERR_INTERNAL);
            return;
        }
        gw_ops_reply(gw, op,
                     gw_json_room_state(e->room_state_reply->room, e->room_state_reply->messages,
                                        e->room_state_reply->n_messages, op->ref));
        break;
    case GW_OP_REPAIR:
        gw_rooms_on_repair(gw, op->room_id, e->history_reply);
        break;
    case GW_OP_ROOMS_INFO:
        gw_directory_on_rooms_info(gw, op->instance, op->room_ids, op->n_room_ids, env);
        break;
    case GW_OP_HEARTBEAT:
        if (e->gateway_heartbeat_reply->instance)
            gw_rooms_on_heartbeat_reply(gw, op->instance, op->sessions, e->gateway_heartbeat_reply);
        break;
    }
    gw_ops_remove(gw, op);
}
