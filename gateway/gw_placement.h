/*  gw_placement: the gateway's cache of room -> roomd placements.
 *
 *  Filled by lookups, ListRooms snapshots and the registry's Placement
 *  events. A placement found wrong (not owner, unreachable, timeout) is
 *  marked stale rather than forgotten, so that when the room comes back on
 *  a new instance the gateway can tell that the instance changed and
 *  re-join its local members quietly.
 */
#ifndef GW_PLACEMENT_H
#define GW_PLACEMENT_H

#include "chat.pb-c.h"
#include "gw.h"

typedef struct {
    char *room_id;  //  the room
    char *node;     //  stable node name of the roomd
    char *instance; //  "<node>/<boot>": the roomd ROUTER's routing id
    char *cmd;      //  roomd ROUTER endpoint
    char *pub;      //  roomd PUB endpoint
    uint64_t epoch; //  fencing token of the grant
    bool stale;     //  known wrong: look up again before use
} gw_place_t;

gw_placements_t *gw_placements_new(void);

//  Frees the cache and sets *p to NULL. Safe on NULL.
void gw_placements_destroy(gw_placements_t **p);

//  The usable placement of room_id, or NULL (unknown or stale). Borrowed:
//  valid until the next gw_placements_* call.
const gw_place_t *gw_placements_get(gw_t *gw, const char *room_id);

//  Stores a placement, connects the bridge to its endpoints, and when the
//  room's instance changed and it has local members, re-joins them
//  quietly. A placement with an older epoch than the cached one is ignored.
void gw_placements_set(gw_t *gw, const Chat__Placement *placement);

//  Marks room_id's placement stale.
void gw_placements_drop(gw_t *gw, const char *room_id);

//  Placements cached (stale ones included).
size_t gw_placements_count(gw_t *gw);

#endif
