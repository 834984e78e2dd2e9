/*  gw_bridge: the gateway's ZeroMQ sockets, served by the lws loop.
 *
 *  Four sockets (docs/architecture.md, "Sockets and framing"):
 *    DEALER -> registry ROUTER        lookups, ListRooms, CreateRoom (the
 *                                     leader of the quorum: one at a time)
 *    SUB    -> registry PUB           topic "registry", every registry's PUB
 *                                     (only the leader publishes)
 *    ROUTER -> every roomd ROUTER     routing id = gateway id; peers = instances
 *    SUB    -> every roomd PUB        one topic per room with local members
 *
 *  A dup() of each socket's ZMQ_FD is adopted into lws as a raw file, so
 *  the one service thread wakes for ZeroMQ traffic too. ZMQ_FD is edge
 *  triggered: gw_bridge_pump drains every socket while ZMQ_EVENTS says
 *  POLLIN, and every send schedules a pump for the next loop turn (never a
 *  pump inside the caller's stack, so no module is re-entered).
 *
 *  Received envelopes are dispatched to gw_ops (replies, by req_id),
 *  gw_registry (registry events) and gw_rooms (room events).
 */
#ifndef GW_BRIDGE_H
#define GW_BRIDGE_H

#include "chat.pb-c.h"
#include "gw.h"

//  Creates the sockets and connects the registry ones. Returns NULL (after
//  logging) when an endpoint is invalid.
gw_bridge_t *gw_bridge_new(gw_t *gw);

//  Closes the sockets and sets *bridge to NULL. Safe on NULL.
void gw_bridge_destroy(gw_bridge_t **bridge);

//  Adopts the sockets' fds into the vhost under protocol (whose callback is
//  gw_bridge_callback). Returns 0 or -1.
int gw_bridge_adopt(gw_t *gw, struct lws_vhost *vhost, const char *protocol);

//  The lws protocol callback for the adopted fds.
int gw_bridge_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

//  Sends a request to the registry. Returns 0 or -1 with errno.
int gw_bridge_send_registry(gw_t *gw, const Chat__Envelope *env);

//  A registry answered NOT_LEADER naming leader ("" = none known yet): the
//  DEALER moves to it (a registry the list lacks is added, and its PUB
//  subscribed). Returns true when the DEALER moved.
bool gw_bridge_registry_follow(gw_t *gw, const char *leader);

//  The registry talked to is silent: the DEALER moves to the next of the
//  list, unless it moved less than --request-timeout-ms ago. Returns true
//  when it moved (false with a single registry).
bool gw_bridge_registry_next(gw_t *gw);

//  Sends a request to the roomd instance (its routing id). Returns 0, or -1
//  with errno (EHOSTUNREACH: not connected to that instance now).
int gw_bridge_send_roomd(gw_t *gw, const char *instance, const Chat__Envelope *env);

//  Connects the ROUTER to cmd and the room SUB to pub, once per endpoint.
void gw_bridge_connect_roomd(gw_t *gw, const char *cmd, const char *pub);

//  Subscribes to / unsubscribes from a room's events.
void gw_bridge_subscribe(gw_t *gw, const char *room_id, bool on);

//  Drains every socket now (bounded; the rest on the next loop turn).
void gw_bridge_pump(gw_t *gw);

#endif
