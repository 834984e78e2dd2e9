/*  gw_registry: see gw_registry.h. */
#include "gw_registry.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_wire.h"
#include "gw_bridge.h"
#include "gw_directory.h"
#include "gw_json.h"
#include "gw_ops.h"
#include "gw_placement.h"
#include "gw_session.h"

#include <stdlib.h>
#include <string.h>

struct gw_registry {
    bool have_seq;         //  boot, term and seq below are known
    uint64_t boot;         //  boot of the registry that sent the last event
    uint64_t term;         //  its Raft term: (boot, term) names one leadership's stream
    uint64_t leader_id;    //  the registry that publishes it
    uint64_t seq;          //  seq of the last event
    int64_t alive_ms;      //  last event or reply (monotonic ms), 0 = never
    bool need_snapshot;    //  a snapshot is due
    bool snapshot_running; //  a ListRooms is in flight (a page of it)
    bool gap_in_snapshot;  //  a gap was seen while it ran: read again after it
};

gw_registry_t *gw_registry_new(void)
{
    gw_registry_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->need_snapshot = true;
    return self;
}

void gw_registry_destroy(gw_registry_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

void gw_registry_alive(gw_t *gw)
{
    gw->registry->alive_ms = chat_mono_ms();
}

static void s_room_created(gw_t *gw, const Chat__RoomCreated *created)
{
    if (!created->room || !created->room->id) {
        chat_wire_count_bad("RoomCreated without a room");
        return;
    }
    uint64_t except = 0;
    if (created->origin_gateway && strcmp(created->origin_gateway, gw->id) == 0)
        except = created->origin_conn;
    gw_buf_t *buf = gw_json_room_created(created->room, NULL);
    gw_session_broadcast(gw, buf, except);
    gw_buf_unref(&buf);
}

void gw_registry_on_event(gw_t *gw, const Chat__Envelope *env)
{
    if (env->body_case != CHAT__ENVELOPE__BODY_REGISTRY_EVENT) {
        chat_wire_count_bad("registry PUB message is not a RegistryEvent");
        return;
    }
    gw_registry_t *self = gw->registry;
    const Chat__RegistryEvent *ev = env->registry_event;
    bool new_stream = !self->have_seq || ev->boot != self->boot || ev->term != self->term;
    if (new_stream || ev->seq != self->seq + 1) {
        if (self->have_seq)
            chat_info("registry events: %s (boot %llu term %llu seq %llu after boot %llu term %llu"
                      " seq %llu): re-reading",
                      new_stream ? "a new leader's stream" : "a gap", (unsigned long long)ev->boot,
                      (unsigned long long)ev->term, (unsigned long long)ev->seq,
                      (unsigned long long)self->boot, (unsigned long long)self->term,
                      (unsigned long long)self->seq);
        self->need_snapshot = true;
        self->gap_in_snapshot = self->have_seq && self->snapshot_running;
    }
    if (new_stream) {
        gw->metrics.registry_streams++;
        //  Another registry leads: requests go where the events come from.
        if (self->have_seq && ev->leader_id != self->leader_id &&
            gw_bridge_registry_follow(gw, ev->leader_endpoint))
            gw_ops_registry_moved(gw);
    }
    self->leader_id = ev->leader_id;
    self->have_seq = true;
    self->boot = ev->boot;
    self->term = ev->term;
    self->seq = ev->seq;
    self->alive_ms = chat_mono_ms();
    switch (ev->kind_case) {
    case CHAT__REGISTRY_EVENT__KIND_PLACEMENT:
        gw_placements_set(gw, ev->placement);
        break;
    case CHAT__REGISTRY_EVENT__KIND_ROOM_CREATED:
        s_room_created(gw, ev->room_created);
        break;
    case CHAT__REGISTRY_EVENT__KIND_NODE_STATE:
        if (ev->node_state)
            chat_info("roomd %s (%s) is %s", ev->node_state->node ? ev->node_state->node : "?",
                      ev->node_state->instance ? ev->node_state->instance : "?",
                      ev->node_state->live ? "live" : "dead");
        break;
    default:
        break;
    }
    gw_directory_on_event(gw, ev);
    gw_registry_tick(gw, self->alive_ms);
}

void gw_registry_on_snapshot(gw_t *gw, const Chat__ListRoomsReply *reply)
{
    gw_registry_t *self = gw->registry;
    if (!reply || reply->status != CHAT__STATUS__STATUS_OK) {
        self->snapshot_running = false;
        return;
    }
    for (size_t i = 0; i < reply->n_rooms; i++)
        if (reply->rooms[i] && reply->rooms[i]->placement)
            gw_placements_set(gw, reply->rooms[i]->placement);
    //  The catalog comes in pages: ask for the next one.
    bool last = !reply->next_after || !*reply->next_after;
    gw_directory_on_snapshot(gw, reply, last);
    if (!last) {
        gw_ops_snapshot(gw, reply->next_after);
        return;
    }
    self->snapshot_running = false;
    self->need_snapshot = self->gap_in_snapshot;
    self->gap_in_snapshot = false;
}

void gw_registry_tick(gw_t *gw, int64_t now_ms)
{
    gw_registry_t *self = gw->registry;
    if (!gw_registry_healthy(gw, now_ms))
        self->need_snapshot = true;
    if (self->need_snapshot && !self->snapshot_running) {
        self->snapshot_running = true;
        gw_ops_snapshot(gw, "");
    }
}

bool gw_registry_healthy(gw_t *gw, int64_t now_ms)
{
    gw_registry_t *self = gw->registry;
    return self->alive_ms && now_ms - self->alive_ms < gw->config.registry_stale_ms;
}
