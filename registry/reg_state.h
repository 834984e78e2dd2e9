/*  reg_state: the registry's tables in memory.
 *
 *  Rooms (the catalog and each room's placement), nodes (the roomd
 *  processes known) and members (the registries of the quorum, with their
 *  endpoints). Two kinds of fields live here:
 *
 *    replicated  room, node and member records: changed only by the state
 *                machine (reg_fsm) when it applies a command, the same on
 *                every registry, kept in LMDB (reg_store);
 *    local       liveness, peers, stats, grant confirmations: the leader's
 *                own view, in memory only (marked "local" below).
 *
 *  Pointers to rooms and nodes stay valid until reg_state_clear or
 *  reg_state_destroy: nothing else deletes them. Members are a small array
 *  that reg_state_set_member and reg_state_remove_member may move.
 */
#ifndef REG_STATE_H
#define REG_STATE_H

#include "chat.pb-c.h"
#include "chat_wire.h"
#include "reg_store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *id;           //  room id, [a-z0-9-]{1,64}
    char *name;         //  display name, unique case-insensitively
    char *description;  //  may be empty
    int64_t created_at; //  ms since the Unix epoch
    char *token;        //  CreateRoomRequest.token that made it, NULL when none
    char *node;         //  node it is placed on, NULL when never placed
    char *instance;     //  instance that holds the latest grant
    uint64_t epoch;     //  epoch of the latest grant
    bool acked;         //  local: the holder confirmed the latest grant
} reg_room_t;

typedef struct {
    char *name;            //  node name
    uint64_t boot;         //  latest boot number issued
    char *instance;        //  "<name>/<boot>"
    char *cmd_endpoint;    //  roomd ROUTER
    char *pub_endpoint;    //  roomd PUB
    uint32_t max_rooms;    //  0 = unlimited
    size_t rooms;          //  rooms placed on this node
    int64_t last_seen;     //  local: monotonic ms of the last heartbeat (or the grace start)
    bool live;             //  local: heartbeats are younger than the lease
    bool has_peer;         //  local: peer is known (it spoke to this leader)
    chat_peer_t peer;      //  local: ROUTER id it last spoke from
    Chat__NodeStats stats; //  local: last reported stats (scalars only)
} reg_node_t;

typedef struct {
    uint64_t id;        //  Raft server id
    char *endpoint;     //  ROUTER endpoint
    char *pub_endpoint; //  PUB endpoint
    char *raft_address; //  host:port of its Raft transport
} reg_member_t;

typedef struct reg_state reg_state_t;

//  Loads every room, node and member from store (borrowed; must outlive
//  the state). Known nodes start live, with one lease of grace from now_ms.
reg_state_t *reg_state_new(reg_store_t *store, int64_t now_ms);

//  Frees the tables; sets *state to NULL. Safe on NULL.
void reg_state_destroy(reg_state_t **state);

//  Forgets every room, node and member (a snapshot replaces them), then
//  loads them again from the store.
int reg_state_reload(reg_state_t *state, int64_t now_ms);

//  The room with that id, or NULL.
reg_room_t *reg_state_room(reg_state_t *state, const char *id);

//  The room whose name is name (case-insensitively), or NULL.
reg_room_t *reg_state_room_named(reg_state_t *state, const char *name);

//  The room made by the create request with that token, or NULL.
reg_room_t *reg_state_room_by_token(reg_state_t *state, const char *token);

//  The node with that name, or NULL.
reg_node_t *reg_state_node(reg_state_t *state, const char *name);

//  The node whose current instance is instance, or NULL.
reg_node_t *reg_state_node_by_instance(reg_state_t *state, const char *instance);

//  Iteration over rooms / nodes in no particular order: first, then next
//  until NULL. Do not add rooms or nodes while iterating.
reg_room_t *reg_state_first_room(reg_state_t *state);
reg_room_t *reg_state_next_room(reg_state_t *state);
reg_node_t *reg_state_first_node(reg_state_t *state);
reg_node_t *reg_state_next_node(reg_state_t *state);

size_t reg_state_room_count(reg_state_t *state);

//  Up to max rooms whose id sorts (strcmp) after after ("" or NULL: from the
//  first), in id order, into out; returns how many. A page of the catalog:
//  rooms created between two pages appear in a later page when their id
//  sorts after the previous page's last.
size_t reg_state_rooms_after(reg_state_t *state, const char *after, reg_room_t **out, size_t max);
size_t reg_state_node_count(reg_state_t *state);

//  Members, by position (0 .. count-1) or by id (NULL when unknown).
size_t reg_state_member_count(reg_state_t *state);
const reg_member_t *reg_state_member_at(reg_state_t *state, size_t i);
const reg_member_t *reg_state_member(reg_state_t *state, uint64_t id);

//  The live node with a known peer and room for one more that rendezvous
//  hashing picks for room_id, or NULL when there is none.
reg_node_t *reg_state_choose_node(reg_state_t *state, const char *room_id);

//  Rooms placed on node whose grant its current instance holds.
size_t reg_state_rooms_granted(reg_state_t *state, const reg_node_t *node);

//  True for 1..64 characters of A-Z a-z 0-9 _ . -
bool reg_state_valid_node_name(const char *name);

//  Gives every node one lease of grace from now_ms (a registry that starts,
//  or a new leader, has not heard from any node yet): live, peer unknown.
void reg_state_grace(reg_state_t *state, int64_t now_ms);

// ------------------------------------------- changes (reg_fsm only)

//  Adds a room to the tables from its record (a copy is kept). Returns the
//  room, or NULL when its id is taken.
reg_room_t *reg_state_add_room(reg_state_t *state, const Chat__RegistryRoomRecord *rec);

//  Fills rec (and info, which rec points to) from room: borrowed strings,
//  valid while room is unchanged.
void reg_state_room_record(const reg_room_t *room, Chat__RoomInfo *info,
                           Chat__RegistryRoomRecord *rec);

//  Places room on node_name at (instance, epoch), keeping the nodes' room
//  counts right. acked tells whether the holder has the grant already.
void reg_state_place(reg_state_t *state, reg_room_t *room, const char *node_name,
                     const char *instance, uint64_t epoch, bool acked);

//  The node record for name, added when new (boot 0, no instance).
reg_node_t *reg_state_add_node(reg_state_t *state, const char *name);

//  Sets a node's replicated fields.
void reg_state_set_node(reg_node_t *node, uint64_t boot, const char *cmd_endpoint,
                        const char *pub_endpoint, uint32_t max_rooms);

//  Fills rec from node (borrowed strings).
void reg_state_node_record(const reg_node_t *node, Chat__RegistryNodeRecord *rec);

//  Adds or replaces the member with rec's id; removes the member with id.
void reg_state_set_member(reg_state_t *state, const Chat__RegistryMember *rec);
void reg_state_remove_member(reg_state_t *state, uint64_t id);

#endif
