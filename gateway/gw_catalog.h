/*  gw_catalog: the rooms of the cluster as the gateway's directory knows
 *  them, and the listings getRooms pages through (docs/protocol.md, "The
 *  room directory at scale").
 *
 *  A plain data structure: no sockets, no gw_t. gw_directory feeds it from
 *  the registry (rooms, and the roomd node that holds each) and from the
 *  roomds (figures: users and last seq), and asks it for pages.
 *
 *  Order of a listing: most users first, then by name (ASCII letters
 *  compared case-insensitively, which is also how names are unique), then
 *  by id. A cursor names the last room of a page ("<users>.<id>") and
 *  continues after that position, so a room whose figures changed between
 *  two pages may be skipped or shown twice, never anything else.
 *
 *  Search: rooms whose name contains the query, ASCII case-insensitively
 *  (other characters must match exactly). The names are kept lower-cased,
 *  in name order, in one contiguous text that memmem scans; the few rooms
 *  with users are kept apart, sorted, so a page costs one pass over about
 *  two megabytes at 100,000 rooms and nothing more (measured in
 *  docs/benchmarks.md).
 *
 *  Figures come per roomd node as whole RoomsInfo replies, which the
 *  catalog keeps (the users' strings live in them) until that node's next
 *  reply or its death.
 *
 *  Returned Chat__RoomInfo structs borrow the catalog's strings and
 *  figures: they are valid until the next call that changes the catalog.
 */
#ifndef GW_CATALOG_H
#define GW_CATALOG_H

#include "chat.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_catalog gw_catalog_t;

//  Longest cursor text gw_catalog_page writes, with its NUL.
#define GW_CATALOG_CURSOR_MAX 96

//  Most nodes the catalog tells apart (node slots are 1..this).
#define GW_CATALOG_NODES_MAX 4096

gw_catalog_t *gw_catalog_new(void);

//  Frees the catalog and every figures reply; sets *p to NULL. Safe on NULL.
void gw_catalog_destroy(gw_catalog_t **p);

//  Adds the room (id, name, description, created_at of room) or updates its
//  fields. Returns 1 when it was new, 0 when known, -1 when room has no
//  valid id or no name (nothing changes).
int gw_catalog_put(gw_catalog_t *self, const Chat__RoomInfo *room);

//  Rooms in the catalog.
size_t gw_catalog_count(const gw_catalog_t *self);

//  True when the room is in the catalog.
bool gw_catalog_has(const gw_catalog_t *self, const char *room_id);

//  Changes every time a listing could come out different (a room, a
//  figure): a page built at one version is valid while it stays the same.
uint64_t gw_catalog_version(const gw_catalog_t *self);

// ------------------------------------------------------------ nodes and figures

//  Records that room_id is placed on node slot node (1..GW_CATALOG_NODES_MAX).
//  Unknown rooms are ignored.
void gw_catalog_place(gw_catalog_t *self, const char *room_id, uint32_t node);

//  Up to max ids (borrowed) of rooms placed on node whose last seq was never
//  given by a figures reply. Returns how many.
size_t gw_catalog_unknown(gw_catalog_t *self, uint32_t node, const char **ids, size_t max);

//  The figures of node's rooms, from one RoomsInfoReply (*reply is taken
//  over, and set to NULL): the node's rooms that had users and are not in
//  it have none now; the rooms in it get its users and last seq. The n
//  rooms asked about by id (asked, borrowed) count as known from now on
//  even when the reply leaves them out (the roomd has nothing on them).
//  Returns true when a listing changed.
bool gw_catalog_figures(gw_catalog_t *self, uint32_t node, Chat__Envelope **reply,
                        char *const *asked, size_t n);

//  node is gone (dead, or its instance replaced): its rooms have no users
//  until its next figures. Returns true when a listing changed.
bool gw_catalog_node_gone(gw_catalog_t *self, uint32_t node);

// ------------------------------------------------------------ listings

//  Puts the rooms added since the last listing in name order now: after
//  each page of a snapshot, so that no loop turn sorts 100,000 rooms (tens
//  of milliseconds) and the first listing does not pay for it.
void gw_catalog_prepare(gw_catalog_t *self);

//  One page of the listing of the rooms whose name contains query ("" =
//  every room), after cursor (NULL = from the start), at most limit rooms,
//  into out (room for limit entries). *total gets the rooms the listing
//  has in all; next (GW_CATALOG_CURSOR_MAX bytes) the cursor of the next
//  page, "" when this page ends the listing. Returns the rooms in out, or
//  -1 when cursor is not one of this catalog's (unknown room, bad syntax).
long gw_catalog_page(gw_catalog_t *self, const char *query, const char *cursor, uint32_t limit,
                     Chat__RoomInfo *out, uint64_t *total, char *next);

//  Every room, oldest first (created_at, then id), into out (room for
//  gw_catalog_count entries). Returns how many.
size_t gw_catalog_all(gw_catalog_t *self, Chat__RoomInfo *out);

//  Lower-cases the ASCII letters of text into out (size bytes, NUL ended):
//  names, keys and queries are compared this way.
void gw_catalog_fold(const char *text, char *out, size_t size);

#endif
