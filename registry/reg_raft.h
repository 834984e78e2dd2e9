/*  reg_raft: this registry's member of the Raft quorum, on Debian's
 *  libraft 0.15 (canonical/raft) and its libuv I/O.
 *
 *  Owns the libuv loop, the Raft log directory, the TCP transport (which
 *  also takes host names: libraft 0.15 itself only parses dotted IPv4
 *  addresses) and the glue from libraft's FSM interface to reg_fsm: an
 *  entry is applied at index raft_last_applied() + 1, snapshots are
 *  reg_fsm_snapshot / reg_fsm_restore.
 *
 *  libraft is not thread-safe, and the registry is one thread: libuv runs
 *  inside the registry's zmq_poll loop. The caller polls reg_raft_fd() for
 *  POLLIN with a timeout no longer than reg_raft_timeout(), and calls
 *  reg_raft_run() after every poll. Requests (propose, barrier, membership
 *  changes) complete through their done callback, which reg_raft_run calls
 *  after libuv returned, never from inside a libraft callback or the
 *  request call itself: the callback may make new requests.
 */
#ifndef REG_RAFT_H
#define REG_RAFT_H

#include "reg_fsm.h"
#include "registry.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct reg_raft reg_raft_t;

//  A member of the configuration a new cluster starts with.
typedef struct {
    uint64_t id;         //  server id, > 0
    const char *address; //  host:port of its Raft transport
} reg_raft_peer_t;

typedef struct {
    uint64_t id;                  //  this registry's server id, > 0
    const char *dir;              //  directory of the Raft log and snapshots (created)
    const char *address;          //  host:port where the others reach this registry
    const char *bind;             //  host:port the transport listens on (IPv4)
    const reg_raft_peer_t *peers; //  the configuration to bootstrap a new cluster with
    size_t n_peers;               //  0: bootstrap nothing (a member added later, --join)
    unsigned election_ms;         //  election timeout (randomised between 1x and 2x)
    unsigned heartbeat_ms;        //  leader heartbeat
    unsigned snapshot_threshold;  //  entries between snapshots
    unsigned snapshot_trailing;   //  entries kept in the log after a snapshot
    reg_fsm_t *fsm;               //  the state machine (borrowed)
} reg_raft_opts_t;

typedef enum {
    REG_RAFT_UNAVAILABLE, //  not started, or shutting down
    REG_RAFT_FOLLOWER,
    REG_RAFT_CANDIDATE,
    REG_RAFT_LEADER,
} reg_raft_role_t;

typedef struct {
    reg_raft_role_t role; //  this registry's role now
    uint64_t term;        //  current term
    uint64_t leader_id;   //  the leader it knows of (itself when leading), 0 = none
    uint64_t applied;     //  last entry applied to the state machine
    uint64_t commit;      //  last entry known to be committed
    uint64_t last;        //  last entry in the log
} reg_raft_status_t;

//  One server of the current configuration.
typedef struct {
    uint64_t id;         //  server id
    const char *address; //  Raft address (borrowed until the configuration changes)
    bool voter;          //  counts in the quorum
} reg_raft_member_t;

//  How a request ended.
typedef struct {
    int status;              //  0: committed (and applied); else a RAFT_* code
    const char *error;       //  why, when status != 0 (borrowed for the call)
    Chat__Status fsm_status; //  proposals: what the state machine answered
    bool regranted;          //  proposals: reg_fsm_result_t.regranted
    bool found;              //  proposals: reg_fsm_result_t.found
    const char *room_id;     //  proposals: the result's room, or NULL
    const char *node;        //  proposals: the result's node, or NULL
} reg_raft_outcome_t;

//  Called once per request, from reg_raft_run (or from reg_raft_destroy
//  with a non-zero status).
typedef void(reg_raft_done_fn)(void *arg, const reg_raft_outcome_t *outcome);

//  Sets up libuv, the transport and the log directory, bootstraps a new
//  cluster from opts->peers when the directory is new, and starts. Returns
//  NULL after logging why.
reg_raft_t *reg_raft_new(const reg_raft_opts_t *opts);

//  Closes Raft (requests still open complete with RAFT_SHUTDOWN), waits
//  for libuv to let go (at most a few seconds), frees; sets *p to NULL.
void reg_raft_destroy(reg_raft_t **p);

//  The descriptor to poll for POLLIN (libuv's backend).
int reg_raft_fd(const reg_raft_t *self);

//  Milliseconds until libuv must run even without I/O (-1: no timer).
int reg_raft_timeout(reg_raft_t *self);

//  Runs what libuv has ready without blocking, then calls the done
//  callbacks of the requests that ended.
void reg_raft_run(reg_raft_t *self);

//  True once the state machine failed to store an entry: the process must
//  stop (a restart replays the log onto what LMDB committed).
bool reg_raft_failed(const reg_raft_t *self);

//  Where this registry stands now.
void reg_raft_status(reg_raft_t *self, reg_raft_status_t *status);

//  "leader", "follower", "candidate" or "unavailable".
const char *reg_raft_role_name(reg_raft_role_t role);

//  The current configuration: count, and the i-th member.
size_t reg_raft_member_count(reg_raft_t *self);
reg_raft_member_t reg_raft_member_at(reg_raft_t *self, size_t i);

//  The Raft address of server id in the configuration, or NULL.
const char *reg_raft_member_address(reg_raft_t *self, uint64_t id);

//  Appends cmd to the log (leader only). done learns when it was committed
//  and applied, with what the state machine answered. Returns 0, or a
//  RAFT_* code (RAFT_NOTLEADER, ...) when it could not be proposed; done
//  is not called then.
int reg_raft_propose(reg_raft_t *self, const Chat__RegistryCommand *cmd, reg_raft_done_fn *done,
                     void *arg);

//  Appends a barrier (leader only): done is called once every entry before
//  it is applied. Same contract as reg_raft_propose.
int reg_raft_barrier(reg_raft_t *self, reg_raft_done_fn *done, void *arg);

//  Adds server id at address as a voter (leader only): added, caught up,
//  then promoted; done is called when the promotion is committed. Same
//  contract as reg_raft_propose.
int reg_raft_add(reg_raft_t *self, uint64_t id, const char *address, reg_raft_done_fn *done,
                 void *arg);

//  Promotes server id (in the configuration, not voting: an addition whose
//  promotion did not finish) to voter (leader only). Same contract.
int reg_raft_promote(reg_raft_t *self, uint64_t id, reg_raft_done_fn *done, void *arg);

//  Removes server id from the configuration (leader only). Same contract.
int reg_raft_remove(reg_raft_t *self, uint64_t id, reg_raft_done_fn *done, void *arg);

//  Hands leadership to another voter (0: any). Returns 0 or a RAFT_* code.
int reg_raft_transfer(reg_raft_t *self, uint64_t id);

//  A description of the last error of this registry's Raft.
const char *reg_raft_errmsg(reg_raft_t *self);

//  The last entry applied, as seen by the state machine (for ListRooms).
uint64_t reg_raft_applied(reg_raft_t *self);

#endif
