/*  rd_host flush: the end of a turn (rd_host_flush, see rd_host.h). One
 *  LMDB write transaction for every dirty grant, a nested one per room that
 *  checks the stored epoch, one commit; then the held replies (errors for
 *  rooms whose part failed), the room events in seq order, and the clean-up:
 *  rollback or unload of failed and fenced rooms, dropping revoked grants,
 *  recounting the gateways' sessions.
 */
#include "rd_host.h"
#include "chat_log.h"
#include "rd_host_internal.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>

bool rd_host_pending(const rd_host_t *self)
{
    return self->dirty_count > 0 || rd_outbox_count(self->outbox) > 0 || self->revocations;
}

static uint8_t *s_scratch(rd_host_t *self, size_t size)
{
    if (size > self->buf_size) {
        size_t next = self->buf_size ? self->buf_size : 4096;
        while (next < size)
            next *= 2;
        uint8_t *grown = realloc(self->buf, next);
        if (!grown)
            return NULL;
        self->buf = grown;
        self->buf_size = next;
    }
    return self->buf;
}

//  Sends env through sink: to peer, the registry (peer NULL), or as an event (topic).
static void s_emit(rd_host_t *self, const rd_sink_t *sink, const chat_peer_t *peer,
                   const char *topic, const Chat__Envelope *env)
{
    size_t size = chat__envelope__get_packed_size(env);
    uint8_t *buf = s_scratch(self, size);
    if (!buf) {
        chat_error("out of memory packing %zu bytes", size);
        return;
    }
    chat__envelope__pack(env, buf);
    if (topic)
        sink->publish(sink->ctx, topic, buf, size);
    else
        sink->reply(sink->ctx, peer, buf, size);
}

void rd_host_publish(rd_host_t *self, const rd_sink_t *sink, Chat__RoomEvent *event)
{
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_ROOM_EVENT;
    env.room_event = event;
    s_emit(self, sink, NULL, event->room_id, &env);
}

//  Replaces a held reply with one of the same kind that carries status.
static void s_send_error(rd_host_t *self, const rd_sink_t *sink, const rd_outbox_entry_t *e,
                         Chat__Status status, uint64_t epoch, const char *room_id)
{
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = e->req_id;
    env.body_case = e->kind;
    Chat__JoinReply join = CHAT__JOIN_REPLY__INIT;
    Chat__LeaveReply leave = CHAT__LEAVE_REPLY__INIT;
    Chat__SendReply send = CHAT__SEND_REPLY__INIT;
    Chat__HistoryReply history = CHAT__HISTORY_REPLY__INIT;
    Chat__RoomStateReply state = CHAT__ROOM_STATE_REPLY__INIT;
    Chat__AssignReply assign = CHAT__ASSIGN_REPLY__INIT;
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    switch (e->kind) {
    case CHAT__ENVELOPE__BODY_JOIN_REPLY:
        join.status = status;
        join.epoch = epoch;
        env.join_reply = &join;
        break;
    case CHAT__ENVELOPE__BODY_LEAVE_REPLY:
        leave.status = status;
        leave.epoch = epoch;
        env.leave_reply = &leave;
        break;
    case CHAT__ENVELOPE__BODY_SEND_REPLY:
        send.status = status;
        send.epoch = epoch;
        env.send_reply = &send;
        break;
    case CHAT__ENVELOPE__BODY_HISTORY_REPLY:
        history.status = status;
        history.epoch = epoch;
        env.history_reply = &history;
        break;
    case CHAT__ENVELOPE__BODY_ROOM_STATE_REPLY:
        state.status = status;
        state.epoch = epoch;
        env.room_state_reply = &state;
        break;
    case CHAT__ENVELOPE__BODY_ASSIGN_REPLY:
        assign.status = status;
        assign.epoch = epoch;
        assign.room_id = (char *)room_id;
        env.assign_reply = &assign;
        break;
    default:
        error.status = status;
        env.body_case = CHAT__ENVELOPE__BODY_ERROR;
        env.error = &error;
        break;
    }
    s_emit(self, sink, e->peer, NULL, &env);
}

//  Writes every dirty grant's part and commits. Sets each grant's outcome.
static int s_write_batch(rd_host_t *self)
{
    if (rd_store_begin(self->store) != RD_STORE_OK) {
        for (size_t i = 0; i < self->dirty_count; i++)
            self->dirty[i]->outcome = self->dirty[i]->revoked ? RD_OUTCOME_GONE : RD_OUTCOME_FAILED;
        return -1;
    }
    for (size_t i = 0; i < self->dirty_count; i++) {
        rd_grant_t *g = self->dirty[i];
        if (g->revoked) {
            g->outcome = RD_OUTCOME_GONE;
            continue;
        }
        rd_msglist_reset(&self->list);
        if (g->room && rd_room_pending(g->room, &self->list) != 0) {
            g->outcome = RD_OUTCOME_FAILED;
            continue;
        }
        Chat__RoomInfo catalog = CHAT__ROOM_INFO__INIT;
        catalog.id = g->room_id;
        catalog.name = g->name;
        catalog.description = g->description;
        catalog.created_at = g->created_at;
        rd_store_write_t w = {
            .room_id = g->room_id,
            .catalog = &catalog,
            .epoch = g->epoch,
            .messages = self->list.items,
            .count = self->list.count,
        };
        switch (rd_store_write_room(self->store, &w, &g->stored_epoch)) {
        case RD_STORE_OK:
            g->outcome = RD_OUTCOME_STORED;
            break;
        case RD_STORE_FENCED:
            g->outcome = RD_OUTCOME_FENCED;
            break;
        case RD_STORE_CONFLICT:
            g->outcome = RD_OUTCOME_CONFLICT;
            break;
        default:
            g->outcome = RD_OUTCOME_FAILED;
            break;
        }
    }
    rd_msglist_reset(&self->list);
    if (rd_store_commit(self->store) != RD_STORE_OK) {
        for (size_t i = 0; i < self->dirty_count; i++)
            if (self->dirty[i]->outcome == RD_OUTCOME_STORED)
                self->dirty[i]->outcome = RD_OUTCOME_FAILED;
        return -1;
    }
    for (size_t i = 0; i < self->dirty_count; i++)
        if (self->dirty[i]->outcome == RD_OUTCOME_FAILED ||
            self->dirty[i]->outcome == RD_OUTCOME_CONFLICT)
            return -1;
    return 0;
}

static void s_send_replies(rd_host_t *self, const rd_sink_t *sink)
{
    size_t count = rd_outbox_count(self->outbox);
    for (size_t i = 0; i < count; i++) {
        rd_outbox_entry_t e;
        rd_outbox_get(self->outbox, i, &e);
        rd_grant_t *g = e.tag;
        if (!g || g->outcome == RD_OUTCOME_STORED)
            sink->reply(sink->ctx, e.peer, e.data, e.size);
        else if (g->outcome == RD_OUTCOME_FENCED)
            s_send_error(self, sink, &e, CHAT__STATUS__STATUS_NOT_OWNER, g->stored_epoch,
                         g->room_id);
        else if (g->outcome == RD_OUTCOME_GONE)
            s_send_error(self, sink, &e, CHAT__STATUS__STATUS_NOT_OWNER, 0, g->room_id);
        else
            s_send_error(self, sink, &e, CHAT__STATUS__STATUS_INTERNAL, g->epoch, g->room_id);
    }
    rd_outbox_clear(self->outbox);
}

//  Publishes the committed messages of a room, oldest first.
static void s_publish_pending(rd_host_t *self, rd_grant_t *g, const rd_sink_t *sink)
{
    rd_room_t *room = g->room;
    for (uint64_t seq = rd_room_committed_seq(room) + 1; seq <= rd_room_last_seq(room); seq++) {
        const rd_msg_t *msg = rd_room_msg(room, seq);
        if (!msg)
            continue;
        Chat__RoomEvent event = CHAT__ROOM_EVENT__INIT;
        Chat__User joined = CHAT__USER__INIT;
        event.room_id = g->room_id;
        event.epoch = g->epoch;
        event.seq = seq;
        event.message = (Chat__ChatMessage *)&msg->pb;
        if (msg->pb.type == CHAT__MESSAGE_TYPE__MESSAGE_JOIN && msg->subject_id) {
            joined.id = (char *)msg->subject_id;
            joined.name = (char *)(msg->subject_name ? msg->subject_name : msg->subject_id);
            event.joined = &joined;
        } else if (msg->pb.type == CHAT__MESSAGE_TYPE__MESSAGE_LEAVE && msg->subject_id) {
            event.left_user_id = (char *)msg->subject_id;
        }
        rd_host_publish(self, sink, &event);
        self->messages++;
    }
}

//  After the replies: events and commit for stored rooms; rollback or unload for the rest.
static void s_finish_rooms(rd_host_t *self, const rd_sink_t *sink)
{
    for (size_t i = 0; i < self->dirty_count; i++) {
        rd_grant_t *g = self->dirty[i];
        switch (g->outcome) {
        case RD_OUTCOME_STORED:
            if (g->room) {
                s_publish_pending(self, g, sink);
                rd_room_commit(g->room);
            }
            break;
        case RD_OUTCOME_FAILED:
            if (g->room)
                rd_room_rollback(g->room);
            self->recount = true;
            break;
        case RD_OUTCOME_FENCED:
            chat_warn("room %s: epoch %" PRIu64 " is stored, this instance holds %" PRIu64
                      ": it stops serving the room",
                      g->room_id, g->stored_epoch, g->epoch);
            g->fenced = true;
            rd_host_unload(self, g);
            self->recount = true;
            break;
        case RD_OUTCOME_CONFLICT:
            chat_error("room %s: stored messages do not continue this instance's; reloading",
                       g->room_id);
            rd_host_unload(self, g);
            g->last_seq_known = false;
            self->recount = true;
            break;
        case RD_OUTCOME_GONE:
            rd_host_unload(self, g);
            self->recount = true;
            break;
        }
        g->outcome = RD_OUTCOME_STORED;
        g->in_batch = false;
    }
    self->dirty_count = 0;
}

static void s_drop_revoked(rd_host_t *self)
{
    if (!self->revocations)
        return;
    self->revocations = false;
    zlistx_t *gone = NULL;
    for (rd_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants)) {
        if (!g->revoked)
            continue;
        if (!gone)
            gone = zlistx_new();
        if (gone)
            zlistx_add_end(gone, g->room_id);
    }
    if (!gone)
        return;
    for (char *id = zlistx_first(gone); id; id = zlistx_next(gone)) {
        rd_grant_t *g = zhashx_lookup(self->grants, id);
        if (g && g->room) {
            rd_host_unload(self, g);
            self->recount = true;
        }
        zhashx_delete(self->grants, id); //  frees id
    }
    zlistx_destroy(&gone);
}

static void s_count_session(void *arg, const char *gateway, uint64_t conn)
{
    rd_host_t *self = arg;
    rd_gateways_add_session(self->gateways, gateway, self->now);
}

//  Recomputes every gateway's session count from the rooms in memory.
static void s_recount(rd_host_t *self)
{
    rd_gateways_reset_counts(self->gateways);
    for (rd_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants))
        if (g->room)
            rd_room_each_session(g->room, s_count_session, self);
    self->recount = false;
}

int rd_host_flush(rd_host_t *self, const rd_sink_t *sink)
{
    int result = self->dirty_count > 0 ? s_write_batch(self) : 0;
    s_send_replies(self, sink);
    s_finish_rooms(self, sink);
    s_drop_revoked(self);
    if (self->recount)
        s_recount(self);
    return result;
}
