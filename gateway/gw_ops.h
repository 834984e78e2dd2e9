/*  gw_ops: requests from the gateway to the registry and the roomds.
 *
 *  Every request is an op with a req_id (the key its reply comes back
 *  with), a deadline, and the connection it answers (by conn id: the
 *  session may be gone when the reply comes). Room requests find the
 *  room's placement first (one lookup per room however many ops wait for
 *  it), then go to the roomd instance. On NOT_OWNER, UNAVAILABLE,
 *  EHOSTUNREACH or a timeout the op drops the placement, looks it up again
 *  and resends the same request (same req_id, same client_msg_id, so a
 *  send is never doubled), with a growing pause, for --retry-ms. The
 *  client sees `unavailable` only when the registry says so or the retries
 *  run out. Registry requests follow the quorum's leader: a NOT_LEADER
 *  answer moves them to the registry it names and resends; CreateRoom
 *  carries a token, so a resend answers the room the first attempt made.
 */
#ifndef GW_OPS_H
#define GW_OPS_H

#include "chat.pb-c.h"
#include "gw.h"
#include "gw_json.h"
#include "gw_metrics.h"

gw_ops_t *gw_ops_new(void);

//  Frees every op (no replies are sent) and sets *p to NULL. Safe on NULL.
void gw_ops_destroy(gw_ops_t **p);

//  Starts the work of a client request that needs the cluster: createRoom,
//  joinRoom, leaveRoom, sendMessage, getHistory, getRoomState.
//  room_id is the room it is about (resolved for sendMessage). For joinRoom,
//  member is true when s is already in or joining the room (answer again,
//  change nothing).
void gw_ops_client(gw_t *gw, gw_session_t *s, const gw_request_t *req, const char *room_id,
                   bool member);

//  Re-joins s to room_id quietly (no join line, no reply to the client).
void gw_ops_rejoin(gw_t *gw, gw_session_t *s, const char *room_id);

//  Leaves room_id for a connection that is closed (no reply).
void gw_ops_leave_gone(gw_t *gw, uint64_t conn, const char *user_id, const char *room_id);

//  Fetches the messages of room_id after seq after (gap repair); the answer
//  goes to gw_rooms_on_repair.
void gw_ops_repair(gw_t *gw, const char *room_id, uint64_t after);

//  Sends a GatewayHeartbeat to instance (the answer goes to gw_rooms).
void gw_ops_heartbeat(gw_t *gw, const char *instance, uint32_t sessions);

//  Reads a page of the registry's ListRooms, the rooms whose id sorts after
//  after ("" = the first page); the answer goes to gw_registry.
void gw_ops_snapshot(gw_t *gw, const char *after);

//  Asks roomd instance for the figures of the rooms it holds in memory and
//  of the n rooms room_ids (copied); the answer goes to gw_directory.
void gw_ops_rooms_info(gw_t *gw, const char *instance, const char *const *room_ids, size_t n);

//  A reply from the registry or a roomd. Takes over *env.
void gw_ops_on_reply(gw_t *gw, gw_lat_t from, Chat__Envelope **env);

//  The gateway talks to another registry now (a new leader): registry
//  requests waiting for an answer from the previous one are sent again.
void gw_ops_registry_moved(gw_t *gw);

//  Timeouts and retries due at now_ms.
void gw_ops_tick(gw_t *gw, int64_t now_ms);

//  Ops in flight.
size_t gw_ops_pending(gw_t *gw);

#endif
