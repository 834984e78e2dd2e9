/*  gw_rooms: the rooms that have local members, and their event streams.
 *
 *  A room exists here while a local session is in it or joining it. The
 *  gateway subscribes to the room's topic when the room appears (before its
 *  first Join is sent) and unsubscribes when it goes.
 *
 *  Per room the gateway keeps `delivered`, the highest seq given to its
 *  members. An event with seq = delivered + 1 is encoded once and queued to
 *  every member whose join cursor is below it; an older one is a duplicate
 *  and dropped; a newer one, or a tick ahead of delivered, is a gap: events
 *  are held and the missing range is fetched with HistoryRequest{after}.
 *  Until the first JoinReply tells where the stream starts (its cursor),
 *  events are held.
 *
 *  While joins are in flight the room records what it delivers, so that a
 *  joiner whose JoinReply arrives after events past its cursor were already
 *  delivered gets them right after roomJoined, in order.
 *
 *  Membership lives on both sides: the room's member array and the
 *  session's gw_sroom_t entries; only this module changes either.
 */
#ifndef GW_ROOMS_H
#define GW_ROOMS_H

#include "chat.pb-c.h"
#include "chat_wire.h"
#include "gw.h"

gw_rooms_t *gw_rooms_new(void);

//  Frees every room and sets *p to NULL (sessions must be gone). Safe on NULL.
void gw_rooms_destroy(gw_rooms_t **p);

//  The room's id.
const char *gw_room_id(const gw_room_t *room);

//  The room with local members or joins, or NULL.
gw_room_t *gw_rooms_find(gw_t *gw, const char *room_id);

//  Rooms here now.
size_t gw_rooms_count(gw_t *gw);

//  A join of s to room_id starts: the room is created (and subscribed)
//  when needed, s gets a pending entry. Returns the room.
gw_room_t *gw_rooms_join_begin(gw_t *gw, gw_session_t *s, const char *room_id);

//  The join succeeded with cursor. s (NULL when the session is gone)
//  becomes a member and gets events with seq > cursor; roomJoined must be
//  queued to it before this call.
void gw_rooms_join_done(gw_t *gw, gw_room_t *room, gw_session_t *s, uint64_t cursor);

//  The join failed; s's pending entry goes (s may be NULL).
void gw_rooms_join_failed(gw_t *gw, gw_room_t *room, gw_session_t *s);

//  s (a member) leaves: it gets nothing more from room. The room goes when
//  nobody is left in or joining it.
void gw_rooms_leave(gw_t *gw, gw_session_t *s, gw_room_t *room);

//  A message from the roomd SUB socket. Takes over *env (sets it NULL).
void gw_rooms_on_event(gw_t *gw, const chat_peer_t *topic, Chat__Envelope **env);

//  The answer to a gap repair (reply NULL when it failed).
void gw_rooms_on_repair(gw_t *gw, const char *room_id, const Chat__HistoryReply *reply);

//  Sends GatewayHeartbeat to every roomd with local members.
void gw_rooms_heartbeat(gw_t *gw);

//  A roomd answered a heartbeat: when it holds fewer of our sessions than
//  we sent (it restarted or dropped them), re-join its rooms quietly.
void gw_rooms_on_heartbeat_reply(gw_t *gw, const char *instance, uint32_t sent,
                                 const Chat__GatewayHeartbeatReply *reply);

//  Re-joins every local member of room_id quietly (its roomd changed).
void gw_rooms_rejoin(gw_t *gw, const char *room_id);

//  Retries gap repairs that failed.
void gw_rooms_tick(gw_t *gw, int64_t now_ms);

#endif
