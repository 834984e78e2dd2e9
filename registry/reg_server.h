/*  reg_server: the registry daemon's loop and request handlers.
 *
 *  One registry of a quorum (a cluster of one without --peers). Serves the
 *  registry side of docs/architecture.md: roomd registration, heartbeats
 *  and leases; room placement (rendezvous hashing, one grant per new
 *  instance, epoch bumped and committed before the grant is sent);
 *  lookups, the room catalog, node listings and counters; the PUB stream of
 *  placement, room and node events; and the quorum's membership.
 *
 *  Every change of the registry's state is a command committed through
 *  Raft (reg_raft) and applied by the state machine (reg_fsm) on every
 *  registry. Only the leader works: it decides (places rooms, watches
 *  leases, sends grants), proposes, and answers a request once its command
 *  is applied; it alone publishes events. Any other registry answers
 *  requests with STATUS_NOT_LEADER and the leader's endpoint, except
 *  RegistryStatus and ListRooms{local}, which every registry answers from
 *  its own state.
 *
 *  One thread: libraft's libuv loop runs inside the zmq_poll loop.
 *  reg_server_run returns when reg_server_stop is called from any thread or
 *  a SIGINT/SIGTERM arrives (CZMQ's handler).
 */
#ifndef REG_SERVER_H
#define REG_SERVER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *bind;        //  ROUTER endpoint to bind (needs a port)
    const char *pub_bind;    //  PUB endpoint to bind
    const char *data_dir;    //  LMDB environment directory; Raft's log in <data_dir>/raft
    long map_size_mb;        //  LMDB map size
    long heartbeat_ms;       //  roomd heartbeat interval, and the PUB heartbeat
    long lease_ms;           //  a node is dead after this long without a heartbeat
    long assign_timeout_ms;  //  how long a lookup waits for a roomd to take a room
    long id;                 //  this registry's server id in the quorum
    const char *peers;       //  "ID@HOST:PORT,..." of a new cluster ("": a cluster of one)
    bool join;               //  bootstrap nothing: wait to be added to a running cluster
    const char *raft_bind;   //  IPv4 address:port for Raft ("": the --bind host, port + 2)
    const char *advertise;   //  host in this registry's endpoints when --peers lacks it
    long election_ms;        //  Raft election timeout
    long raft_heartbeat_ms;  //  Raft leader heartbeat
    long snapshot_threshold; //  log entries between snapshots
    long snapshot_trailing;  //  log entries kept after a snapshot
    const char *ready_file;  //  written with the bound endpoints once bound ("" = none)
} reg_config_t;

typedef struct reg_server reg_server_t;

//  Opens the store, starts Raft and binds both sockets (port * gets a free
//  port; Raft's then needs --raft-bind), then writes config->ready_file
//  (chat_ready.h): "bind ENDPOINT" and "pub ENDPOINT" as bound. Returns
//  NULL after logging why.
reg_server_t *reg_server_new(const reg_config_t *config);

//  Stops Raft, unbinds, closes the store, frees; sets *server to NULL.
//  Safe on NULL.
void reg_server_destroy(reg_server_t **server);

//  Runs the loop until stopped. Returns 0 on a clean stop, -1 on a socket
//  error or when the state could not be stored.
int reg_server_run(reg_server_t *server);

//  Asks a running loop to return (async-signal and thread safe).
void reg_server_stop(reg_server_t *server);

#endif
