/*  gw_placement: see gw_placement.h. */
#include "gw_placement.h"
#include "chat_log.h"
#include "chat_text.h"
#include "gw_bridge.h"
#include "gw_rooms.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

struct gw_placements {
    zhashx_t *rooms; //  room id -> gw_place_t (owned)
};

static void s_place_free(void **item)
{
    gw_place_t *p = *item;
    if (!p)
        return;
    free(p->room_id);
    free(p->node);
    free(p->instance);
    free(p->cmd);
    free(p->pub);
    free(p);
    *item = NULL;
}

gw_placements_t *gw_placements_new(void)
{
    gw_placements_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->rooms = zhashx_new();
    zhashx_set_destructor(self->rooms, s_place_free);
    zhashx_set_key_hasher(self->rooms, chat_text_hash);
    return self;
}

void gw_placements_destroy(gw_placements_t **p)
{
    if (!p || !*p)
        return;
    zhashx_destroy(&(*p)->rooms);
    free(*p);
    *p = NULL;
}

const gw_place_t *gw_placements_get(gw_t *gw, const char *room_id)
{
    gw_place_t *p = zhashx_lookup(gw->placements->rooms, room_id);
    return p && !p->stale ? p : NULL;
}

static char *s_dup(const char *text)
{
    char *copy = strdup(text ? text : "");
    if (!copy)
        abort();
    return copy;
}

void gw_placements_set(gw_t *gw, const Chat__Placement *placement)
{
    if (!placement || !chat_valid_room_id(placement->room_id) || !placement->instance ||
        !*placement->instance || !placement->cmd_endpoint || !*placement->cmd_endpoint) {
        chat_wire_count_bad("placement without room, instance or endpoint");
        return;
    }
    gw_place_t *p = zhashx_lookup(gw->placements->rooms, placement->room_id);
    if (p && placement->epoch < p->epoch)
        return;
    bool changed = p && strcmp(p->instance, placement->instance) != 0;
    if (p && !changed && p->epoch == placement->epoch && !p->stale)
        return;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p)
            abort();
        p->room_id = s_dup(placement->room_id);
        zhashx_insert(gw->placements->rooms, placement->room_id, p);
    } else {
        free(p->node);
        free(p->instance);
        free(p->cmd);
        free(p->pub);
    }
    p->node = s_dup(placement->node);
    p->instance = s_dup(placement->instance);
    p->cmd = s_dup(placement->cmd_endpoint);
    p->pub = s_dup(placement->pub_endpoint);
    p->epoch = placement->epoch;
    p->stale = false;
    gw_bridge_connect_roomd(gw, p->cmd, p->pub);
    if (changed) {
        chat_info("room %s moved to %s (epoch %llu)", p->room_id, p->instance,
                  (unsigned long long)p->epoch);
        gw_rooms_rejoin(gw, placement->room_id);
    }
}

void gw_placements_drop(gw_t *gw, const char *room_id)
{
    gw_place_t *p = zhashx_lookup(gw->placements->rooms, room_id);
    if (p)
        p->stale = true;
}

size_t gw_placements_count(gw_t *gw)
{
    return zhashx_size(gw->placements->rooms);
}
