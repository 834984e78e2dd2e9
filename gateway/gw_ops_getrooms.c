/*  gw_ops getRooms: a client's getRooms is the registry's catalog
 *  (ListRooms) joined with the figures of the rooms (members, last seq)
 *  that each live roomd gives in one RoomsInfo for all of its rooms. The
 *  RoomsInfo children run as ops of their own, retried while
 *  --rooms-info-timeout-ms lasts; one that fails leaves its rooms without
 *  figures. The client's roomsList goes out when the last child is over.
 *  See gw_ops.h.
 */
#include "gw_ops.h"
#include "chat_clock.h"
#include "gw_ops_internal.h"
#include "gw_placement.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  getRooms: the catalog came; ask each live roomd for its rooms' figures.
void gw_ops_getrooms_on_list(gw_t *gw, gw_op_t *op, Chat__Envelope **env)
{
    op->list = *env;
    *env = NULL;
    const Chat__ListRoomsReply *list = op->list->list_rooms_reply;
    op->state = GW_OP_STATE_WAIT_CHILDREN;
    //  One RoomsInfo per live roomd, built before any is sent.
    gw_op_t **children = calloc(list->n_rooms + 1, sizeof *children);
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
            gw_op_t *child = gw_ops_add(gw, GW_OP_ROOMS_INFO, 0, NULL, NULL);
            child->parent = op->id;
            child->instance = gw_ops_dup(e->placement->instance);
            child->give_up_ms = chat_mono_ms() + gw->config.rooms_info_timeout_ms;
            children[n++] = child;
        }
        gw_op_t *child = children[k];
        char **grown = realloc(child->room_ids, (child->n_room_ids + 1) * sizeof *grown);
        if (!grown)
            abort();
        child->room_ids = grown;
        child->room_ids[child->n_room_ids++] = gw_ops_dup(e->room->id);
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
        gw_op_t *child = gw_idmap_get(gw->ops->ops, ids[k]);
        if (child)
            gw_ops_start(gw, child);
    }
    free(ids);
    gw_ops_getrooms_child_done(gw, id, false, NULL);
}

//  The roomds' figures of a getRooms op by room id (borrowed from its
//  RoomsInfo replies), so that joining them to the catalog stays linear.
static zhashx_t *s_figures(const gw_op_t *op)
{
    zhashx_t *figures = zhashx_new();
    if (!figures)
        abort();
    for (size_t k = 0; k < op->n_infos; k++) {
        const Chat__RoomsInfoReply *info = op->infos[k]->rooms_info_reply;
        for (size_t j = 0; j < info->n_rooms; j++)
            if (info->rooms[j] && info->rooms[j]->id)
                zhashx_update(figures, info->rooms[j]->id, info->rooms[j]);
    }
    return figures;
}

//  Builds and sends the roomsList of a getRooms op, then frees it.
static void s_rooms_finish(gw_t *gw, gw_op_t *op)
{
    const Chat__ListRoomsReply *list = op->list->list_rooms_reply;
    Chat__RoomInfo *rooms = calloc(list->n_rooms + 1, sizeof *rooms);
    Chat__RoomInfo **ptrs = calloc(list->n_rooms + 1, sizeof *ptrs);
    if (!rooms || !ptrs)
        abort();
    zhashx_t *figures = s_figures(op);
    size_t n = 0;
    for (size_t i = 0; i < list->n_rooms; i++) {
        const Chat__CatalogEntry *e = list->rooms[i];
        if (!e || !e->room || !e->room->id)
            continue;
        rooms[n] = *e->room;
        rooms[n].n_users = 0;
        rooms[n].users = NULL;
        const Chat__RoomInfo *live = zhashx_lookup(figures, e->room->id);
        if (live) {
            rooms[n].users = live->users;
            rooms[n].n_users = live->n_users;
            rooms[n].last_seq = live->last_seq;
        }
        ptrs[n] = &rooms[n];
        n++;
    }
    zhashx_destroy(&figures);
    gw_ops_reply(gw, op, gw_json_rooms_list(ptrs, n, op->ref));
    free(ptrs);
    free(rooms);
    gw_ops_remove(gw, op);
}

//  A RoomsInfo child of getRooms parent is over when finished (env: its
//  reply, or NULL when it failed); then, or when !finished, the parent
//  answers once no child is due any more.
void gw_ops_getrooms_child_done(gw_t *gw, uint64_t parent, bool finished, Chat__Envelope **env)
{
    gw_op_t *op = gw_idmap_get(gw->ops->ops, parent);
    if (!op || op->kind != GW_OP_GET_ROOMS || op->state != GW_OP_STATE_WAIT_CHILDREN)
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
