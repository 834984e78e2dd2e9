/*  rd_registry_link: a roomd's side of the registry protocol
 *  (docs/architecture.md, "Registry").
 *
 *  Registers (again with prev_instance after UNKNOWN_INSTANCE), heartbeats
 *  with the count of grants held and NodeStats, and hands every grant the
 *  registry sends (RegisterReply, HeartbeatReply, AssignRequest) to the
 *  host. When the registry cannot be reached nothing is torn down: the
 *  roomd keeps serving the rooms it holds and keeps trying.
 *
 *  The link sends on the DEALER it is given (connected to the registry,
 *  with ZMQ_IMMEDIATE so that nothing queues up while it is away).
 *
 *  With a registry quorum (opts.registry lists several), the DEALER talks
 *  to one registry at a time and the link moves it: to the leader a
 *  registry names when it answers NOT_LEADER, to the next of the list when
 *  the current one is silent for two heartbeats and a half. A new leader
 *  knows this roomd's instance (it is replicated) and gives it one lease of
 *  grace: the roomd heartbeats there at once.
 */
#ifndef RD_REGISTRY_LINK_H
#define RD_REGISTRY_LINK_H

#include "chat.pb-c.h"
#include "rd_host.h"
#include "rd_store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rd_registry_link rd_registry_link_t;

//  What the roomd tells the registry about itself.
typedef struct {
    const char *node;         //  stable node name
    const char *cmd_endpoint; //  advertised ROUTER endpoint
    const char *pub_endpoint; //  advertised PUB endpoint
    uint32_t max_rooms;       //  0 = unlimited
    int64_t heartbeat_ms;     //  heartbeat interval; 0 = what the registry says
    rd_store_t *store;        //  the data directory: its rooms are reported at registration
    const char *registry;     //  the registries, comma-separated; the DEALER is connected to
                              //  the first (NULL: one registry, never switched)
} rd_registry_link_opts_t;

//  A link sending on dealer (borrowed) and granting rooms to host
//  (borrowed). Strings in opts are copied. Returns NULL when out of memory
//  or when opts->registry is not a list of endpoints.
rd_registry_link_t *rd_registry_link_new(void *dealer, rd_host_t *host,
                                         const rd_registry_link_opts_t *opts);

//  Frees the link and sets *p to NULL. Safe on NULL.
void rd_registry_link_destroy(rd_registry_link_t **p);

//  Sends what is due at now_ms (register, heartbeat). Returns the monotonic
//  time of the next thing due.
int64_t rd_registry_link_timers(rd_registry_link_t *self, int64_t now_ms);

//  Handles a message read from the registry DEALER.
void rd_registry_link_handle(rd_registry_link_t *self, const Chat__Envelope *env, int64_t now_ms);

//  The instance the registry issued, or NULL before the first registration.
const char *rd_registry_link_instance(const rd_registry_link_t *self);

//  The registry the DEALER talks to now (for logs), or NULL without a list.
const char *rd_registry_link_target(const rd_registry_link_t *self);

//  True once after each change of instance (the ROUTER must be rebuilt
//  with the new routing id).
bool rd_registry_link_take_change(rd_registry_link_t *self);

#endif
