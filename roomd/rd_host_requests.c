/*  rd_host requests: each request from a gateway or chatctl (rd_host_request)
 *  and the registry's AssignRequest (rd_host_assign) is checked against the
 *  grants, applied to its room, and answered with a reply that the outbox
 *  holds until the turn's flush (rd_host_flush.c). See rd_host.h.
 */
#include "rd_host.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_text.h"
#include "rd_host_internal.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD_ROOMS_INFO_MAX 10000 //  rooms one RoomsInfo may ask about

static chat_log_limit_t s_bad_log;

static void s_queue(rd_host_t *self, const chat_peer_t *peer, const Chat__Envelope *env,
                    rd_grant_t *g)
{
    rd_outbox_add(self->outbox, peer, env, g);
}

static void s_bad_request(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                          const char *why)
{
    chat_wire_count_bad(why);
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    error.status = CHAT__STATUS__STATUS_BAD_REQUEST;
    error.message = (char *)why;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ERROR;
    env.error = &error;
    s_queue(self, peer, &env, NULL);
}

//  Finds the grant a request targets and checks instance and epoch (reads
//  may name neither: epoch 0, empty instance). Loads the room. Returns the
//  grant, or NULL with *status saying why.
static rd_grant_t *s_target(rd_host_t *self, const Chat__RoomTarget *t, bool write,
                            Chat__Status *status, uint64_t *epoch)
{
    *status = CHAT__STATUS__STATUS_OK;
    *epoch = 0;
    if (!t || !t->room_id || !*t->room_id || strlen(t->room_id) > CHAT_ROOM_ID_MAX) {
        chat_wire_count_bad("request without a valid room target");
        *status = CHAT__STATUS__STATUS_BAD_REQUEST;
        return NULL;
    }
    rd_grant_t *g = zhashx_lookup(self->grants, t->room_id);
    if (!g || g->revoked) {
        *status = CHAT__STATUS__STATUS_NOT_OWNER;
        return NULL;
    }
    *epoch = g->epoch;
    const char *instance = t->instance ? t->instance : "";
    bool instance_ok =
        self->instance && (strcmp(instance, self->instance) == 0 || (!write && *instance == '\0'));
    bool epoch_ok = t->epoch == g->epoch || (!write && t->epoch == 0);
    if (!instance_ok || !epoch_ok || g->fenced) {
        *status = CHAT__STATUS__STATUS_NOT_OWNER;
        return NULL;
    }
    if (!g->room && rd_host_load(self, g) != 0) {
        *status = g->fenced ? CHAT__STATUS__STATUS_NOT_OWNER : CHAT__STATUS__STATUS_INTERNAL;
        return NULL;
    }
    g->last_used = self->now;
    return g;
}

static void s_join(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                   const Chat__JoinRequest *req)
{
    if (!req->user || !req->session) {
        s_bad_request(self, peer, req_id, "join without user or session");
        return;
    }
    Chat__JoinReply reply = CHAT__JOIN_REPLY__INIT;
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_JOIN_REPLY;
    env.join_reply = &reply;
    rd_grant_t *g = s_target(self, req->target, true, &reply.status, &reply.epoch);
    if (g) {
        rd_room_t *room = g->room;
        //  The history is read first: it ends at the cursor, and a failed read joins nobody.
        uint64_t cursor = rd_room_last_seq(room);
        rd_msglist_reset(&self->list);
        bool truncated = false;
        if (rd_room_join_history(room, &self->reader, cursor, req->has_since, req->since,
                                 &self->list, &truncated) != 0) {
            reply.status = CHAT__STATUS__STATUS_INTERNAL;
        } else {
            rd_join_t joined;
            reply.status = rd_room_join(room, req->user->id, req->user->name, req->session->gateway,
                                        req->session->conn, req->quiet, chat_wall_ms(), &joined);
            if (reply.status == CHAT__STATUS__STATUS_BAD_REQUEST)
                chat_wire_count_bad("join with an invalid user or session");
            if (reply.status == CHAT__STATUS__STATUS_OK) {
                //  A join counts as a heartbeat of its gateway.
                rd_gateways_seen(self->gateways, req->session->gateway, self->now);
                if (joined.session_added)
                    rd_gateways_add_session(self->gateways, req->session->gateway, self->now);
                rd_room_info(room, &info);
                reply.room = &info;
                reply.history = self->list.items;
                reply.n_history = self->list.count;
                reply.truncated = truncated;
                reply.cursor = joined.cursor;
            }
            if (rd_room_dirty(room))
                rd_host_mark_dirty(self, g);
        }
    }
    s_queue(self, peer, &env, g);
    rd_msglist_reset(&self->list);
}

static void s_leave(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                    const Chat__LeaveRequest *req)
{
    if (!req->session) {
        s_bad_request(self, peer, req_id, "leave without a session");
        return;
    }
    Chat__LeaveReply reply = CHAT__LEAVE_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_LEAVE_REPLY;
    env.leave_reply = &reply;
    rd_grant_t *g = s_target(self, req->target, true, &reply.status, &reply.epoch);
    if (g) {
        const rd_msg_t *line;
        reply.status = rd_room_leave(g->room, req->user_id, req->session->gateway,
                                     req->session->conn, chat_wall_ms(), &line);
        if (reply.status == CHAT__STATUS__STATUS_BAD_REQUEST)
            chat_wire_count_bad("leave with an invalid user or session");
        if (reply.status == CHAT__STATUS__STATUS_OK) {
            rd_gateways_remove_session(self->gateways, req->session->gateway);
            rd_host_mark_dirty(self, g);
        }
    }
    s_queue(self, peer, &env, g);
}

static void s_send(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                   const Chat__SendRequest *req)
{
    if (!req->session) {
        s_bad_request(self, peer, req_id, "send without a session");
        return;
    }
    Chat__SendReply reply = CHAT__SEND_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_SEND_REPLY;
    env.send_reply = &reply;
    char message_id[CHAT_ROOM_ID_MAX + 32];
    rd_grant_t *g = s_target(self, req->target, true, &reply.status, &reply.epoch);
    if (g) {
        rd_send_t sent;
        reply.status = rd_room_send(g->room, req->user_id, req->user_name, req->session->gateway,
                                    req->session->conn, req->content, req->client_msg_id,
                                    chat_wall_ms(), &sent);
        if (reply.status == CHAT__STATUS__STATUS_BAD_REQUEST)
            chat_wire_count_bad("send with an invalid user, session or content");
        if (reply.status == CHAT__STATUS__STATUS_OK) {
            reply.seq = sent.seq;
            snprintf(message_id, sizeof message_id, "%s:%" PRIu64, g->room_id, sent.seq);
            reply.message_id = message_id;
            if (!sent.duplicate)
                rd_host_mark_dirty(self, g);
        }
    }
    s_queue(self, peer, &env, g);
}

static void s_history(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                      const Chat__HistoryRequest *req)
{
    Chat__HistoryReply reply = CHAT__HISTORY_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_HISTORY_REPLY;
    env.history_reply = &reply;
    rd_grant_t *g = s_target(self, req->target, false, &reply.status, &reply.epoch);
    rd_msglist_reset(&self->list);
    if (g) {
        bool more = false;
        if (rd_room_history(g->room, &self->reader, req->has_after, req->after, req->has_before,
                            req->before, req->limit, &self->list, &more) != 0) {
            reply.status = CHAT__STATUS__STATUS_INTERNAL;
        } else {
            reply.messages = self->list.items;
            reply.n_messages = self->list.count;
            reply.has_more = more;
        }
    }
    s_queue(self, peer, &env, g);
    rd_msglist_reset(&self->list);
}

static void s_room_state(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                         const Chat__RoomStateRequest *req)
{
    Chat__RoomStateReply reply = CHAT__ROOM_STATE_REPLY__INIT;
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ROOM_STATE_REPLY;
    env.room_state_reply = &reply;
    rd_grant_t *g = s_target(self, req->target, false, &reply.status, &reply.epoch);
    rd_msglist_reset(&self->list);
    if (g) {
        uint64_t last = rd_room_last_seq(g->room);
        uint64_t lo = last > RD_ROOM_RECENT ? last - RD_ROOM_RECENT + 1 : 1;
        if (rd_room_range(g->room, &self->reader, lo, last, &self->list) != 0) {
            reply.status = CHAT__STATUS__STATUS_INTERNAL;
        } else {
            rd_room_info(g->room, &info);
            reply.room = &info;
            reply.messages = self->list.items;
            reply.n_messages = self->list.count;
        }
    }
    s_queue(self, peer, &env, g);
    rd_msglist_reset(&self->list);
}

//  Fills info for a room that is not in memory: catalog and last seq, no users.
static void s_info_passive(rd_host_t *self, rd_grant_t *g, Chat__RoomInfo *info)
{
    chat__room_info__init(info);
    info->id = g->room_id;
    info->name = g->name;
    info->description = g->description;
    info->created_at = g->created_at;
    if (!g->last_seq_known &&
        rd_store_last_seq(self->store, g->room_id, &g->last_seq) == RD_STORE_OK)
        g->last_seq_known = true;
    info->last_seq = g->last_seq;
}

//  True when g's figures can be given (granted, not fenced).
static bool s_info_ok(const rd_grant_t *g)
{
    return g && !g->revoked && !g->fenced;
}

static void s_rooms_info(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                         const Chat__RoomsInfoRequest *req)
{
    if (req->n_room_ids > RD_ROOMS_INFO_MAX) {
        s_bad_request(self, peer, req_id, "rooms info for too many rooms");
        return;
    }
    Chat__RoomsInfoReply reply = CHAT__ROOMS_INFO_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY;
    env.rooms_info_reply = &reply;
    size_t cap = req->n_room_ids + (req->active ? self->loaded : 0);
    Chat__RoomInfo *infos = calloc(cap + 1, sizeof *infos);
    Chat__RoomInfo **ptrs = calloc(cap + 1, sizeof *ptrs);
    if (!infos || !ptrs) {
        reply.status = CHAT__STATUS__STATUS_INTERNAL;
    } else {
        //  active: the rooms in memory first (each once), then the listed
        //  ones that are not.
        for (rd_grant_t *g = req->active ? zhashx_first(self->grants) : NULL;
             g && reply.n_rooms < cap; g = zhashx_next(self->grants)) {
            if (!g->room || !s_info_ok(g))
                continue;
            rd_room_info(g->room, &infos[reply.n_rooms]);
            ptrs[reply.n_rooms] = &infos[reply.n_rooms];
            reply.n_rooms++;
        }
        for (size_t i = 0; i < req->n_room_ids && reply.n_rooms < cap; i++) {
            rd_grant_t *g = zhashx_lookup(self->grants, req->room_ids[i]);
            if (!s_info_ok(g) || (req->active && g->room))
                continue;
            Chat__RoomInfo *info = &infos[reply.n_rooms];
            if (g->room)
                rd_room_info(g->room, info);
            else
                s_info_passive(self, g, info);
            ptrs[reply.n_rooms++] = info;
        }
        reply.rooms = ptrs;
    }
    s_queue(self, peer, &env, NULL);
    free(infos);
    free(ptrs);
}

static void s_gateway_heartbeat(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                                const Chat__GatewayHeartbeat *req)
{
    if (!req->gateway || !*req->gateway || strlen(req->gateway) > 128) {
        s_bad_request(self, peer, req_id, "gateway heartbeat without a gateway id");
        return;
    }
    rd_gateways_seen(self->gateways, req->gateway, self->now);
    Chat__GatewayHeartbeatReply reply = CHAT__GATEWAY_HEARTBEAT_REPLY__INIT;
    reply.instance = self->instance ? self->instance : "";
    reply.sessions = rd_gateways_sessions(self->gateways, req->gateway);
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT_REPLY;
    env.gateway_heartbeat_reply = &reply;
    s_queue(self, peer, &env, NULL);
}

void rd_host_request(rd_host_t *self, const chat_peer_t *peer, const Chat__Envelope *env,
                     int64_t now_ms)
{
    self->now = now_ms;
    if (env->req_id == 0) {
        s_bad_request(self, peer, 0, "request without a req_id");
        return;
    }
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_JOIN:
        s_join(self, peer, env->req_id, env->join);
        break;
    case CHAT__ENVELOPE__BODY_LEAVE:
        s_leave(self, peer, env->req_id, env->leave);
        break;
    case CHAT__ENVELOPE__BODY_SEND:
        s_send(self, peer, env->req_id, env->send);
        break;
    case CHAT__ENVELOPE__BODY_HISTORY:
        s_history(self, peer, env->req_id, env->history);
        break;
    case CHAT__ENVELOPE__BODY_ROOM_STATE:
        s_room_state(self, peer, env->req_id, env->room_state);
        break;
    case CHAT__ENVELOPE__BODY_ROOMS_INFO:
        s_rooms_info(self, peer, env->req_id, env->rooms_info);
        break;
    case CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT:
        s_gateway_heartbeat(self, peer, env->req_id, env->gateway_heartbeat);
        break;
    default:
        chat_log_limited(&s_bad_log, CHAT_LOG_WARN, "roomd does not serve body %d",
                         (int)env->body_case);
        s_bad_request(self, peer, env->req_id, "roomd does not serve this request");
        break;
    }
}

void rd_host_assign(rd_host_t *self, uint64_t req_id, const Chat__AssignRequest *assign)
{
    Chat__AssignReply reply = CHAT__ASSIGN_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ASSIGN_REPLY;
    env.assign_reply = &reply;
    const Chat__Assignment *a = assign->assignment;
    if (!a || !a->room || !chat_valid_room_id(a->room->id) || a->epoch == 0) {
        chat_wire_count_bad("assign without a valid room or epoch");
        reply.status = CHAT__STATUS__STATUS_BAD_REQUEST;
        s_queue(self, NULL, &env, NULL);
        return;
    }
    reply.room_id = a->room->id;
    reply.epoch = a->epoch;
    rd_grant_t *g = NULL;
    if (!self->instance || strcmp(assign->instance ? assign->instance : "", self->instance) != 0) {
        reply.status = CHAT__STATUS__STATUS_NOT_OWNER;
    } else if (rd_host_grant(self, a) != 0) {
        g = zhashx_lookup(self->grants, a->room->id);
        reply.status = CHAT__STATUS__STATUS_NOT_OWNER;
        reply.epoch = g ? g->epoch : 0;
        g = NULL;
    } else {
        g = zhashx_lookup(self->grants, a->room->id);
        //  Re-sent grant already stored: still answer after this turn's commit.
    }
    s_queue(self, NULL, &env, g);
}
