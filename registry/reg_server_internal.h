/*  reg_server_internal: what the files of reg_server share. INTERNAL: only
 *  reg_server*.c include it; everything else uses reg_server.h.
 *
 *  reg_server is one module in four files, one concern each:
 *
 *      reg_server.c          lifecycle, the loop, dispatch, leadership
 *                            (barrier, seed, grace, stepping down),
 *                            replies, events, counters
 *      reg_server_catalog.c  rooms: create, lookup and placement (grants
 *                            proposed, then sent to the roomd), catalog
 *      reg_server_nodes.c    roomds: register, heartbeat, leases, listing
 *      reg_server_members.c  the quorum: status, adding and removing
 *                            registries, the table of their endpoints,
 *                            the leader's endpoint for NOT_LEADER answers
 *
 *  A request that changes the state is proposed as a command; its
 *  reg_proposal_t remembers who asked, and its done callback answers once
 *  the command is applied (or Raft refused it: then NOT_LEADER). Only a
 *  serving leader (self->leading) proposes.
 */
#ifndef REG_SERVER_INTERNAL_H
#define REG_SERVER_INTERNAL_H

#include "chat_wire.h"
#include "reg_fsm.h"
#include "reg_peers.h"
#include "reg_raft.h"
#include "reg_server.h"
#include "reg_state.h"
#include "reg_store.h"

#include <czmq.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

//  Counters reported by Stats, in this order.
typedef enum {
    REG_C_REQUESTS,
    REG_C_REGISTRATIONS,
    REG_C_HEARTBEATS,
    REG_C_LOOKUPS,
    REG_C_PLACEMENTS,
    REG_C_ROOMS_CREATED,
    REG_C_BAD_REQUESTS,
    REG_C_PUB_EVENTS,
    REG_C_UNROUTABLE,
    REG_C_NOT_LEADER,
    REG_C_PROPOSALS,
    REG_C_PROPOSALS_FAILED,
    REG_C_LEADERSHIPS,
    REG_C_COUNT
} reg_counter_t;

//  What a proposal was made for.
typedef enum {
    REG_P_CREATE_ROOM, //  a client's CreateRoom
    REG_P_REGISTER,    //  a roomd's Register
    REG_P_GRANT,       //  a placement decided for lookups waiting on it
    REG_P_SEED,        //  the default rooms of a new catalog
    REG_P_BARRIER,     //  a new leader's barrier
    REG_P_MEMBER,      //  a registry's endpoints for the table
    REG_P_ADD,         //  chatctl registry-add: table, then Raft add
    REG_P_REMOVE,      //  chatctl registry-remove: Raft remove, then table
} reg_proposal_kind_t;

typedef struct reg_server reg_server_t;

//  Someone waiting for an answer: a lookup waiting for a room's grant, a
//  resent membership change waiting for the first.
typedef struct {
    chat_peer_t peer; //  who asked
    uint64_t req_id;  //  their request id
    bool place;       //  lookups: LookupRequest.place
} reg_waiter_t;

//  A request waiting for Raft.
typedef struct {
    reg_server_t *server;     //  owner
    reg_proposal_kind_t kind; //  what for
    uint64_t term;            //  the leadership it was made in
    bool has_peer;            //  someone waits for the answer
    chat_peer_t peer;         //  who
    uint64_t req_id;          //  their request id
    char *origin_gateway;     //  create room: for the RoomCreated event
    uint64_t origin_conn;     //  create room: likewise
    char *room_id;            //  grant: the room whose lookups wait
    uint64_t member_id;       //  add, remove: the registry
    char *member_address;     //  add: its Raft address
    int step;                 //  add, remove: how far the change got
    zlistx_t *also;           //  add, remove: resends of the request waiting on it (reg_waiter_t)
} reg_proposal_t;

//  A grant being made: proposed (epoch 0 until applied), then sent to the
//  roomd and not yet confirmed.
typedef struct {
    bool proposed;     //  the grant command is in Raft; epoch not known yet
    uint64_t epoch;    //  epoch of the grant sent to the roomd
    int64_t deadline;  //  monotonic ms after which waiters get UNAVAILABLE
    zlistx_t *waiters; //  reg_waiter_t, owned
} reg_pending_t;

struct reg_server {
    reg_config_t config;             //  copy of the caller's settings
    reg_store_t *store;              //  durable state
    reg_state_t *state;              //  tables in memory
    reg_fsm_t *fsm;                  //  the state machine over them
    reg_raft_t *raft;                //  this registry's Raft member
    zsock_t *router;                 //  requests from roomds, gateways, chatctl, registries
    zsock_t *pub;                    //  registry events (the leader's)
    uint64_t boot;                   //  this process's boot number (events carry it)
    uint64_t pub_seq;                //  last event's seq in this leadership
    uint64_t next_req_id;            //  ids of requests the registry sends (grants)
    zhashx_t *pending;               //  room id -> reg_pending_t
    uint64_t counters[REG_C_COUNT];  //  what Stats reports
    int64_t next_pub_heartbeat;      //  monotonic ms
    int64_t next_sweep;              //  monotonic ms
    volatile sig_atomic_t stop;      //  set by reg_server_stop
    reg_raft_role_t role;            //  Raft role at the last look
    uint64_t term;                   //  its term
    bool leading;                    //  leader whose barrier (and seed) applied: serving
    int64_t leader_since;            //  monotonic ms when leading began
    reg_proposal_t *member_change;   //  the registry-add/-remove in flight (one at a time), or NULL
    reg_peer_t self_member;          //  this registry's id and endpoints
    reg_peer_t peers[REG_PEERS_MAX]; //  --peers
    size_t n_peers;                  //  entries in peers
};

#define REG_ENVELOPE(env, id, CASE, field, value)                                                  \
    do {                                                                                           \
        chat__envelope__init(&(env));                                                              \
        (env).req_id = (id);                                                                       \
        (env).body_case = CHAT__ENVELOPE__BODY_##CASE;                                             \
        (env).field = (value);                                                                     \
    } while (0)

// ------------------------------------------------------------ reg_server.c

//  Sends env to peer (counted when it cannot be delivered).
void reg_server_send(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env);

//  Answers BAD_REQUEST with why (counted).
void reg_server_bad_request(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id,
                            const char *why);

//  Answers NOT_LEADER with the leader's endpoint when known.
void reg_server_not_leader(reg_server_t *self, const chat_peer_t *peer, uint64_t req_id);

//  Publishes event with this leadership's (boot, term, seq).
void reg_server_publish(reg_server_t *self, Chat__RegistryEvent *event);

//  Proposes cmd for p (taken over: freed when done, or now on failure).
//  Returns 0, or -1 after answering p's asker NOT_LEADER.
int reg_server_propose(reg_server_t *self, const Chat__RegistryCommand *cmd, reg_proposal_t *p);

//  The done callback of every Raft request the server makes (p is its arg).
void reg_server_done(void *arg, const reg_raft_outcome_t *outcome);

//  A proposal for the current leadership, answering peer/req_id (peer may be NULL).
reg_proposal_t *reg_proposal_new(reg_server_t *self, reg_proposal_kind_t kind,
                                 const chat_peer_t *peer, uint64_t req_id);
void reg_proposal_free(reg_proposal_t **p);

//  Fills info with room's catalog fields (borrowed strings).
void reg_server_room_info(const reg_room_t *room, Chat__RoomInfo *info);

// ---------------------------------------------------- reg_server_catalog.c

void reg_catalog_on_create_room(reg_server_t *self, const chat_peer_t *peer,
                                const Chat__Envelope *env);
void reg_catalog_on_lookup(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env);
void reg_catalog_on_assign_reply(reg_server_t *self, const chat_peer_t *peer,
                                 const Chat__Envelope *env);
void reg_catalog_on_list_rooms(reg_server_t *self, const chat_peer_t *peer,
                               const Chat__Envelope *env);

//  A create or grant proposal ended.
void reg_catalog_created(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o);
void reg_catalog_granted(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o);

//  Publishes room's placement (to subscribers) as it is now.
void reg_catalog_publish_placement(reg_server_t *self, const reg_room_t *room);

//  Answers every lookup waiting on room's grant with status, and forgets it.
void reg_catalog_settle(reg_server_t *self, const char *room_id, Chat__Status status);

//  Answers every waiting lookup with NOT_LEADER and forgets every grant.
void reg_catalog_step_down(reg_server_t *self);

//  Grants not confirmed in time answer UNAVAILABLE.
void reg_catalog_sweep(reg_server_t *self, int64_t now);

//  The pending table's destructor for reg_pending_t.
void reg_pending_free(void **item);

// ------------------------------------------------------ reg_server_nodes.c

void reg_nodes_on_register(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env);
void reg_nodes_on_heartbeat(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env);
void reg_nodes_on_list_nodes(reg_server_t *self, const chat_peer_t *peer,
                             const Chat__Envelope *env);

//  A register proposal ended.
void reg_nodes_registered(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o);

//  Marks node as heard from now, from peer (publishes it live when it was not).
void reg_nodes_seen(reg_server_t *self, reg_node_t *node, const chat_peer_t *peer);

//  Nodes whose lease ran out are dead.
void reg_nodes_sweep(reg_server_t *self, int64_t now);

// ---------------------------------------------------- reg_server_members.c

//  Works out this registry's own endpoints and parses --peers. Returns 0,
//  or -1 after logging why.
int reg_members_configure(reg_server_t *self);

void reg_members_on_status(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env);
void reg_members_on_change(reg_server_t *self, const chat_peer_t *peer, const Chat__Envelope *env);

//  An add, remove or member-table proposal (or Raft change) ended.
void reg_members_changed(reg_server_t *self, reg_proposal_t *p, const reg_raft_outcome_t *o);

//  A new leader puts its own endpoints (and those of --peers that the
//  table lacks) into the table.
void reg_members_refresh(reg_server_t *self);

//  The request endpoint of server id: the table's, else --peers', else NULL.
const char *reg_members_endpoint(reg_server_t *self, uint64_t id);

#endif
