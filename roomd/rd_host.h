/*  rd_host: the rooms a roomd holds, and what it does with each request.
 *
 *  The host keeps the grants the registry gave this instance (room ->
 *  catalog, epoch), the RoomActors of the rooms in memory, and the gateways
 *  that hold sessions here. It has no sockets: requests come in as decoded
 *  envelopes, and everything that leaves (replies, room events) goes out
 *  through an rd_sink_t, so it runs the same in the daemon and in tests.
 *
 *  One turn of the loop: rd_host_request / rd_host_assign for each message
 *  read (replies are packed and held), rd_host_timers, then rd_host_flush:
 *  one LMDB write transaction for everything the turn changed, a nested
 *  transaction per room that checks the stored epoch, one commit; then the
 *  replies (errors for rooms whose part failed) and the room events in seq
 *  order. Nothing is acknowledged before its commit.
 */
#ifndef RD_HOST_H
#define RD_HOST_H

#include "chat_wire.h"
#include "rd_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rd_host rd_host_t;

//  Where the host's output goes.
typedef struct {
    //  A reply to a ROUTER peer, or to the registry when peer is NULL.
    void (*reply)(void *ctx, const chat_peer_t *peer, const void *data, size_t size);
    //  A room event on the PUB socket, topic = room id.
    void (*publish)(void *ctx, const char *topic, const void *data, size_t size);
    void *ctx; //  first argument of both
} rd_sink_t;

//  Settings of a host.
typedef struct {
    int64_t idle_ms;          //  a room without members or requests this long leaves memory
    int64_t session_lease_ms; //  sessions of a gateway silent this long are removed
    int64_t tick_ms;          //  interval of tick events for rooms in memory
} rd_host_opts_t;

//  A host over store (borrowed: it must outlive the host). Returns NULL when
//  out of memory.
rd_host_t *rd_host_new(rd_store_t *store, const rd_host_opts_t *opts);

//  Frees the host and its rooms (pending changes are dropped) and sets *p to NULL.
void rd_host_destroy(rd_host_t **p);

//  The instance this roomd runs as ("<node>/<boot>"); requests must name it.
void rd_host_set_instance(rd_host_t *self, const char *instance);

//  Handles one request read from the ROUTER (gateway or chatctl). The reply
//  is held until rd_host_flush. Malformed requests are counted and answered
//  ErrorReply{BAD_REQUEST}. now_ms is the monotonic clock.
void rd_host_request(rd_host_t *self, const chat_peer_t *peer, const Chat__Envelope *env,
                     int64_t now_ms);

//  Applies a grant from the registry (RegisterReply, HeartbeatReply): the
//  room is served at a->epoch from now on, and the epoch is stored at the
//  next flush. A grant older than the one held is ignored. Returns 0, or -1
//  for a malformed or stale grant.
int rd_host_grant(rd_host_t *self, const Chat__Assignment *a);

//  Makes list the whole set of grants: rooms not in it are no longer served
//  (their requests get NOT_OWNER) and leave memory after the next flush.
void rd_host_grant_all(rd_host_t *self, Chat__Assignment *const *list, size_t count);

//  Handles an AssignRequest from the registry: grants the room and answers
//  AssignReply on the registry DEALER once the epoch is committed.
void rd_host_assign(rd_host_t *self, uint64_t req_id, const Chat__AssignRequest *assign);

//  Rooms granted to this instance.
size_t rd_host_grant_count(const rd_host_t *self);

//  Fills stats (rooms, members, messages, commits, bad frames).
void rd_host_stats(const rd_host_t *self, Chat__NodeStats *stats);

//  Runs what is due at now_ms: room ticks (published through sink), session
//  expiry of silent gateways, passivation of idle rooms. Returns the
//  monotonic time of the next thing due.
int64_t rd_host_timers(rd_host_t *self, int64_t now_ms, const rd_sink_t *sink);

//  True when a flush has something to write or send.
bool rd_host_pending(const rd_host_t *self);

//  Writes and commits the turn, then sends the replies and events (see top).
//  Returns 0, or -1 when the commit or some room's part of it failed (the
//  rooms concerned are rolled back to what is on disk and their requests
//  answered INTERNAL; fenced rooms answer NOT_OWNER, which is not a failure).
int rd_host_flush(rd_host_t *self, const rd_sink_t *sink);

#endif
