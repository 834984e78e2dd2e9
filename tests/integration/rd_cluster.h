/*  rd_cluster: what roomd's integration tests need — a registry and roomds
 *  running as real processes on free ports, and a scripted gateway that
 *  talks to them over ZeroMQ the way the real one does (a ROUTER with
 *  mandatory routing addressing the roomd instance, a SUB for room events).
 *  Every wait has a deadline; failures assert.
 */
#ifndef RD_CLUSTER_H
#define RD_CLUSTER_H

#include "chat_test.h"
#include "chat_wire.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define RDT_ROOMDS_MAX 3

//  How long any wait for something the processes promise may take: generous,
//  since two busy cores (sanitizers, other builds) can stall a process for
//  seconds; a failing wait costs this once, a passing one returns at once.
#define RDT_DEADLINE_MS 20000

typedef struct {
    char node[32];         //  node name
    char data[512];        //  data directory
    int port;              //  ROUTER port (0 until it bound a free one)
    int pub_port;          //  PUB port (0 until it bound a free one)
    const char *extra[16]; //  extra flags, NULL-terminated
    chat_proc_t *proc;     //  the process, or NULL when stopped
} rdt_roomd_t;

typedef struct {
    char *dir;                         //  temp dir of the test (logs, data)
    int port;                          //  registry ROUTER port (0 until bound)
    int pub_port;                      //  registry PUB port (0 until bound)
    chat_proc_t *registry;             //  the registry process, or NULL
    int roomd_count;                   //  roomds configured
    rdt_roomd_t roomd[RDT_ROOMDS_MAX]; //  the roomds
    uint64_t next_req;                 //  req ids of requests sent by the helpers
} rdt_cluster_t;

//  Where a room lives, copied out of a LookupReply.
typedef struct {
    char room[72];     //  room id
    char node[64];     //  node name
    char instance[96]; //  instance
    char cmd[128];     //  roomd ROUTER endpoint
    char pub[128];     //  roomd PUB endpoint
    uint64_t epoch;    //  grant epoch
} rdt_place_t;

//  Starts a registry and count roomds (nodes "node-0", "node-1", ...), each
//  with the given extra flags (NULL-terminated, may be NULL), and waits until
//  every roomd is live in the registry. Every process binds free ports
//  (port *) and reports them in its ready file; the ports are kept for
//  restarts.
void rdt_cluster_start(rdt_cluster_t *c, int count, const char *const *roomd_extra);

//  Stops everything (expecting clean exits) and removes the temp dir.
void rdt_cluster_stop(rdt_cluster_t *c);

//  Starts the registry (on its known ports, or free ones the first time) and
//  waits until it is bound.
void rdt_registry_start(rdt_cluster_t *c);

//  Starts roomd i (on its known ports, or free ones when its port is 0) and
//  waits until it serves (registered, ROUTER bound: its ready file), which
//  needs the registry. rdt_roomd_launch only starts it; rdt_roomd_ready
//  waits and reads its ports.
void rdt_roomd_start(rdt_cluster_t *c, int i);
void rdt_roomd_launch(rdt_cluster_t *c, int i);
void rdt_roomd_ready(rdt_cluster_t *c, int i);

//  Blocks until count roomds are live in the registry (ListNodes).
void rdt_wait_live(rdt_cluster_t *c, int count);

//  One request to the registry; the reply or an assertion failure.
Chat__Envelope *rdt_registry_call(rdt_cluster_t *c, Chat__Envelope *env);

//  Looks room up with place = true until it is OK (or the deadline).
void rdt_lookup(rdt_cluster_t *c, const char *room, rdt_place_t *out);

//  Creates a room in the catalog; returns its id in id (size >= 72).
void rdt_create_room(rdt_cluster_t *c, const char *name, char *id);

//  NodeStats of a node as the registry last heard them; false when unknown.
bool rdt_node_stats(rdt_cluster_t *c, const char *node, Chat__NodeStats *stats);

//  ------------------------------------------------------- scripted gateway

typedef struct {
    char id[32];         //  gateway id ("gw-...")
    zsock_t *router;     //  commands to roomds
    zsock_t *sub;        //  room events
    zlistx_t *connected; //  endpoints already connected (strings)
    uint64_t next_req;   //  req id counter
} rdt_gw_t;

rdt_gw_t *rdt_gw_new(const char *id);
void rdt_gw_destroy(rdt_gw_t **gw);

//  Connects the ROUTER and SUB to a placement's endpoints (once each).
void rdt_gw_connect(rdt_gw_t *gw, const rdt_place_t *p);

//  Subscribes to a room's events and waits until they flow (a tick arrives).
//  The room is brought into memory with a RoomState request first.
void rdt_gw_subscribe(rdt_gw_t *gw, const rdt_place_t *p);

//  Sends env (req_id set here) to instance, retrying while the ROUTER has no
//  route yet. Returns the req_id.
uint64_t rdt_gw_send(rdt_gw_t *gw, const char *instance, Chat__Envelope *env);

//  The next reply on the ROUTER within ms, or NULL.
Chat__Envelope *rdt_gw_recv(rdt_gw_t *gw, int ms);

//  Sends env and waits for its reply (others are dropped). Asserts a reply came.
Chat__Envelope *rdt_gw_call(rdt_gw_t *gw, const char *instance, Chat__Envelope *env);

//  The next room event (ticks skipped when skip_ticks) within ms, or NULL.
Chat__Envelope *rdt_gw_event(rdt_gw_t *gw, int ms, bool skip_ticks);

//  Request builders: fill env with a request of the placement's room at its
//  instance and epoch. The structs are static per builder: use one at a time.
void rdt_join(Chat__Envelope *env, const rdt_place_t *p, const char *user, const char *gateway,
              uint64_t conn);
void rdt_leave(Chat__Envelope *env, const rdt_place_t *p, const char *user, const char *gateway,
               uint64_t conn);
void rdt_send(Chat__Envelope *env, const rdt_place_t *p, const char *user, const char *gateway,
              uint64_t conn, const char *content, const char *client_msg_id);
void rdt_history_after(Chat__Envelope *env, const rdt_place_t *p, uint64_t after, uint32_t limit);

//  Joins and checks OK; returns the cursor.
uint64_t rdt_gw_join(rdt_gw_t *gw, const rdt_place_t *p, const char *user, uint64_t conn);

//  Sends and checks OK; returns the seq.
uint64_t rdt_gw_say(rdt_gw_t *gw, const rdt_place_t *p, const char *user, uint64_t conn,
                    const char *content, const char *client_msg_id);

//  Reads the whole history after `after` (paging); returns the messages'
//  count and fills seqs (up to max) in order.
size_t rdt_gw_history(rdt_gw_t *gw, const rdt_place_t *p, uint64_t after, uint64_t *seqs,
                      size_t max);

#endif
