/*  gw_registry: what the gateway learns from the registry's PUB socket.
 *
 *  RegistryEvent{boot, term, seq}: only the leader of the registry quorum
 *  publishes, and each leadership starts a stream of its own: another
 *  (boot, term) is a new leader, whose endpoint (leader_endpoint) the
 *  gateway's requests follow at once. Placements go to the placement cache,
 *  RoomCreated is pushed as roomCreated to every connected session (but
 *  the one that created it, which got the reply), heartbeats prove the
 *  registry alive; every event also goes to gw_directory. A gap in seq, a
 *  new stream, or silence for --registry-stale-ms makes the gateway re-read
 *  ListRooms (a snapshot of every room and placement, page by page; a gap
 *  seen while it runs reads it again after). The registry counts as
 *  healthy while its events or replies are younger than
 *  --registry-stale-ms.
 */
#ifndef GW_REGISTRY_H
#define GW_REGISTRY_H

#include "chat.pb-c.h"
#include "gw.h"

gw_registry_t *gw_registry_new(void);

//  Frees the state and sets *p to NULL. Safe on NULL.
void gw_registry_destroy(gw_registry_t **p);

//  A message from the registry SUB socket (borrowed).
void gw_registry_on_event(gw_t *gw, const Chat__Envelope *env);

//  A reply came from the registry: it is alive.
void gw_registry_alive(gw_t *gw);

//  The answer to a snapshot page request (NULL when it failed).
void gw_registry_on_snapshot(gw_t *gw, const Chat__ListRoomsReply *reply);

//  Asks for a snapshot when one is due (start, gap, silence).
void gw_registry_tick(gw_t *gw, int64_t now_ms);

//  True while the registry answers.
bool gw_registry_healthy(gw_t *gw, int64_t now_ms);

#endif
