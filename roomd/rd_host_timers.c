/*  rd_host timers: what is due by the clock (rd_host_timers, see
 *  rd_host.h): tick events for rooms in memory, expiry of the sessions of
 *  silent gateways, passivation of idle rooms.
 */
#include "rd_host.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "rd_host_internal.h"

#include <czmq.h>

#define RD_EXPIRY_CHECK_MS 250
#define RD_PASSIVATION_CHECK_MS 1000

static void s_ticks(rd_host_t *self, const rd_sink_t *sink)
{
    for (rd_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants)) {
        if (!g->room || g->fenced || g->revoked)
            continue;
        Chat__RoomEvent event = CHAT__ROOM_EVENT__INIT;
        event.room_id = g->room_id;
        event.epoch = g->epoch;
        event.seq = rd_room_committed_seq(g->room);
        event.tick = true;
        rd_host_publish(self, sink, &event);
    }
}

//  Removes the sessions of gateways silent for longer than the session lease.
static void s_expire_sessions(rd_host_t *self)
{
    zlistx_t *silent = rd_gateways_expire(self->gateways, self->now, self->opts.session_lease_ms);
    if (!silent)
        return;
    int64_t wall = chat_wall_ms();
    for (char *id = zlistx_first(silent); id; id = zlistx_next(silent)) {
        size_t removed = 0;
        for (rd_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants)) {
            if (!g->room)
                continue;
            size_t n = rd_room_drop_gateway(g->room, id, wall);
            if (n > 0) {
                removed += n;
                rd_host_mark_dirty(self, g);
            }
        }
        if (removed > 0)
            chat_info("gateway %s is silent: removed its %zu sessions", id, removed);
    }
    zlistx_destroy(&silent);
}

static void s_passivate(rd_host_t *self)
{
    for (rd_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants)) {
        if (!g->room || g->in_batch || rd_room_dirty(g->room) || rd_room_user_count(g->room) > 0 ||
            self->now - g->last_used < self->opts.idle_ms)
            continue;
        chat_debug("room %s is idle: it leaves memory", g->room_id);
        rd_host_unload(self, g);
    }
}

static int64_t s_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int64_t rd_host_timers(rd_host_t *self, int64_t now_ms, const rd_sink_t *sink)
{
    self->now = now_ms;
    if (now_ms >= self->next_tick) {
        s_ticks(self, sink);
        self->next_tick = now_ms + self->opts.tick_ms;
    }
    if (now_ms >= self->next_expiry) {
        s_expire_sessions(self);
        self->next_expiry = now_ms + s_min(RD_EXPIRY_CHECK_MS, self->opts.session_lease_ms / 4 + 1);
    }
    if (now_ms >= self->next_passivation) {
        s_passivate(self);
        self->next_passivation =
            now_ms + s_min(RD_PASSIVATION_CHECK_MS, self->opts.idle_ms / 4 + 1);
    }
    return s_min(self->next_tick, s_min(self->next_expiry, self->next_passivation));
}
