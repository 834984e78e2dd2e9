/*  gw_directory: getRooms, served from the gateway's own catalog
 *  (gw_catalog), never by asking the registry and every roomd per request.
 *
 *  Fed one way, like room events: the registry's snapshot pages and events
 *  (RoomCreated, Placement, NodeState) reach it through gw_registry; the
 *  roomds' figures (users, last seq) through RoomsInfo{active} ops, one
 *  per live roomd per refresh round. A round starts at most once per
 *  --directory-refresh-ms, and only when a getRooms came since the last
 *  one: nobody asking costs the roomds nothing.
 *
 *  Answers:
 *    - a paged getRooms (limit, query or cursor) at once, with the figures
 *      of the last round, while rounds keep coming (the last one started
 *      at most two refresh periods ago); after a quiet spell, and before
 *      the first round, it waits for the next round;
 *    - a v1 getRooms (every room, oldest first) after the next round, so
 *      that what happened before it was asked shows in it.
 *  Both wait for the catalog's first whole snapshot.
 *  A request that must wait is held (it counts in its session's pending
 *  requests) and answered with the others when the catalog or the round is
 *  in. Without a catalog after --directory-wait-ms: unavailable.
 *
 *  Pages are encoded once per catalog version: every session asking for
 *  the same page (query, cursor, limit) while the catalog is unchanged gets
 *  the same frame buffer, as room events are shared; a request with a ref
 *  gets the shared first fragment and its own last one (,"ref":"..."}).
 */
#ifndef GW_DIRECTORY_H
#define GW_DIRECTORY_H

#include "chat.pb-c.h"
#include "gw.h"
#include "gw_json.h"

gw_directory_t *gw_directory_new(void);

//  Frees the directory (held requests are dropped unanswered); sets *p to
//  NULL. Safe on NULL.
void gw_directory_destroy(gw_directory_t **p);

//  A getRooms from s (parsed and checked by gw_json).
void gw_directory_get_rooms(gw_t *gw, gw_session_t *s, const gw_request_t *req);

//  A room this gateway's createRoom made (borrowed): listed at once, before
//  the registry's event about it comes.
void gw_directory_on_created(gw_t *gw, const Chat__RoomInfo *room);

//  A registry event (borrowed): rooms, placements, node states.
void gw_directory_on_event(gw_t *gw, const Chat__RegistryEvent *ev);

//  One page of a ListRooms snapshot (borrowed); last is true for the page
//  that ends the snapshot: the catalog is loaded from then on.
void gw_directory_on_snapshot(gw_t *gw, const Chat__ListRoomsReply *reply, bool last);

//  The answer to a RoomsInfo sent to instance about the n rooms asked (by
//  id, besides the active ones): *reply taken over, NULL when it failed.
void gw_directory_on_rooms_info(gw_t *gw, const char *instance, char *const *asked, size_t n,
                                Chat__Envelope **reply);

//  Starts a refresh round when one is due; answers or expires held requests.
void gw_directory_tick(gw_t *gw, int64_t now_ms);

//  Rooms in the catalog, and requests held (for /metrics).
size_t gw_directory_rooms(gw_t *gw);
size_t gw_directory_waiting(gw_t *gw);

#endif
