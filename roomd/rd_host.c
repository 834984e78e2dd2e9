/*  rd_host: see rd_host.h. This file: the host's lifecycle, the grants the
 *  registry gives it, and rooms coming into and leaving memory. Requests,
 *  flush and timers are in rd_host_requests.c, rd_host_flush.c and
 *  rd_host_timers.c (see rd_host_internal.h).
 */
#include "rd_host.h"
#include "chat_log.h"
#include "chat_text.h"
#include "rd_host_internal.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

// --------------------------------------------------------------- lifecycle

static void s_grant_free(void **item)
{
    rd_grant_t *g = *item;
    if (!g)
        return;
    rd_room_destroy(&g->room);
    free(g->room_id);
    free(g->name);
    free(g->description);
    free(g);
    *item = NULL;
}

rd_host_t *rd_host_new(rd_store_t *store, const rd_host_opts_t *opts)
{
    rd_host_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->reader = rd_store_reader(store);
    self->opts = *opts;
    if (self->opts.tick_ms <= 0)
        self->opts.tick_ms = 1000;
    self->grants = zhashx_new();
    self->gateways = rd_gateways_new();
    self->outbox = rd_outbox_new();
    if (!self->grants || !self->gateways || !self->outbox) {
        rd_host_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->grants, s_grant_free);
    return self;
}

void rd_host_destroy(rd_host_t **p)
{
    if (!p || !*p)
        return;
    rd_host_t *self = *p;
    zhashx_destroy(&self->grants);
    rd_gateways_destroy(&self->gateways);
    rd_outbox_destroy(&self->outbox);
    rd_msglist_free(&self->list);
    free(self->dirty);
    free(self->buf);
    free(self->instance);
    free(self);
    *p = NULL;
}

void rd_host_set_instance(rd_host_t *self, const char *instance)
{
    char *copy = strdup(instance);
    if (!copy)
        return;
    free(self->instance);
    self->instance = copy;
}

// ----------------------------------------------------- rooms and the batch

void rd_host_mark_dirty(rd_host_t *self, rd_grant_t *g)
{
    if (g->in_batch)
        return;
    if (self->dirty_count == self->dirty_cap) {
        size_t cap = self->dirty_cap ? self->dirty_cap * 2 : 64;
        rd_grant_t **grown = realloc(self->dirty, cap * sizeof *grown);
        if (!grown) {
            chat_error("out of memory: a room's changes wait for the next turn");
            return;
        }
        self->dirty = grown;
        self->dirty_cap = cap;
    }
    self->dirty[self->dirty_count++] = g;
    g->in_batch = true;
}

void rd_host_unload(rd_host_t *self, rd_grant_t *g)
{
    if (!g->room)
        return;
    g->last_seq = rd_room_committed_seq(g->room);
    g->last_seq_known = true;
    rd_room_destroy(&g->room);
    self->loaded--;
}

//  Brings a granted room into memory from LMDB. Returns 0, or -1 (the grant
//  is marked fenced when a newer epoch is stored).
int rd_host_load(rd_host_t *self, rd_grant_t *g)
{
    Chat__RoomdRoomRecord *record = NULL;
    int rc = rd_store_room_get(self->store, g->room_id, &record);
    if (rc == RD_STORE_ERROR)
        return -1;
    if (record && record->epoch > g->epoch) {
        chat_warn("room %s: epoch %" PRIu64 " is stored, this instance holds %" PRIu64
                  ": another process owns it",
                  g->room_id, record->epoch, g->epoch);
        g->fenced = true;
    }
    if (record)
        chat__roomd_room_record__free_unpacked(record, NULL);
    if (g->fenced)
        return -1;

    uint64_t last = 0;
    if (rd_store_last_seq(self->store, g->room_id, &last) != RD_STORE_OK)
        return -1;
    rd_room_t *room = rd_room_new(g->room_id, g->name, g->description, g->created_at, g->epoch);
    if (!room)
        return -1;
    rd_msglist_reset(&self->list);
    uint64_t lo = last > RD_ROOM_DEDUP_WINDOW ? last - RD_ROOM_DEDUP_WINDOW + 1 : 1;
    if (rd_store_range(self->store, g->room_id, lo, last, &self->list) != RD_STORE_OK ||
        (last > 0 && self->list.count != last - lo + 1) || rd_room_load(room, &self->list) != 0) {
        chat_error("room %s: its stored messages %" PRIu64 "..%" PRIu64 " cannot be loaded",
                   g->room_id, lo, last);
        rd_msglist_reset(&self->list);
        rd_room_destroy(&room);
        return -1;
    }
    rd_msglist_reset(&self->list);
    g->room = room;
    self->loaded++;
    chat_debug("room %s loaded, last seq %" PRIu64, g->room_id, last);
    return 0;
}

// ------------------------------------------------------------------ grants

static int s_set_catalog(rd_grant_t *g, const Chat__RoomInfo *info)
{
    char *name = strdup(info->name ? info->name : "");
    char *description = strdup(info->description ? info->description : "");
    if (!name || !description) {
        free(name);
        free(description);
        return -1;
    }
    free(g->name);
    free(g->description);
    g->name = name;
    g->description = description;
    g->created_at = info->created_at;
    if (g->room)
        rd_room_set_catalog(g->room, name, description, info->created_at);
    return 0;
}

int rd_host_grant(rd_host_t *self, const Chat__Assignment *a)
{
    if (!a || !a->room || !chat_valid_room_id(a->room->id) || a->epoch == 0) {
        chat_wire_count_bad("assignment without a valid room or epoch");
        return -1;
    }
    rd_grant_t *g = zhashx_lookup(self->grants, a->room->id);
    if (g && a->epoch < g->epoch) {
        chat_warn("ignored a stale grant of %s at epoch %" PRIu64 " (holding %" PRIu64 ")",
                  a->room->id, a->epoch, g->epoch);
        return -1;
    }
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g || !(g->room_id = strdup(a->room->id))) {
            free(g);
            return -1;
        }
        g->last_used = self->now;
        if (zhashx_insert(self->grants, g->room_id, g) != 0) {
            void *item = g;
            s_grant_free(&item);
            return -1;
        }
    } else if (a->epoch == g->epoch && !g->revoked && !g->fenced) {
        s_set_catalog(g, a->room);
        return 0; //  the grant we hold: nothing to store
    }
    if (s_set_catalog(g, a->room) != 0)
        return -1;
    if (a->epoch != g->epoch)
        chat_info("room %s granted at epoch %" PRIu64, g->room_id, a->epoch);
    g->epoch = a->epoch;
    g->revoked = false;
    g->fenced = false;
    if (g->room)
        rd_room_set_epoch(g->room, a->epoch);
    rd_host_mark_dirty(self, g);
    return 0;
}

void rd_host_grant_all(rd_host_t *self, Chat__Assignment *const *list, size_t count)
{
    for (rd_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants))
        g->revoked = true;
    for (size_t i = 0; i < count; i++) {
        const Chat__Assignment *a = list[i];
        rd_grant_t *g = a && a->room ? zhashx_lookup(self->grants, a->room->id) : NULL;
        if (g)
            g->revoked = false; //  still ours; a newer epoch is applied below
        rd_host_grant(self, a);
    }
    for (rd_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants))
        if (g->revoked) {
            chat_info("room %s is no longer granted to this instance", g->room_id);
            self->revocations = true;
        }
}

size_t rd_host_grant_count(const rd_host_t *self)
{
    size_t count = 0;
    for (rd_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants))
        count += !g->revoked;
    return count;
}

void rd_host_stats(const rd_host_t *self, Chat__NodeStats *stats)
{
    chat__node_stats__init(stats);
    stats->rooms_assigned = (uint32_t)rd_host_grant_count(self);
    stats->rooms_active = (uint32_t)self->loaded;
    stats->members = rd_gateways_total(self->gateways);
    stats->messages = self->messages;
    stats->commits = rd_store_commits(self->store);
    stats->bad_frames = chat_wire_bad_frames();
}
