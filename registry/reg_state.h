/*  reg_state: the registry's tables in memory, written through to reg_store.
 *
 *  Rooms (the catalog and each room's placement) and nodes (the roomd
 *  processes known, with their liveness). Every change that must survive a
 *  restart is committed to the store before the function returns success;
 *  liveness, peers and stats live in memory only.
 *
 *  Pointers to rooms and nodes stay valid until reg_state_destroy: nothing
 *  is ever deleted.
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
    char *node;         //  node it is placed on, NULL when never placed
    char *instance;     //  instance that holds the latest grant
    uint64_t epoch;     //  epoch of the latest grant
    bool acked;         //  the holder confirmed the latest grant
} reg_room_t;

typedef struct {
    char *name;            //  node name
    uint64_t boot;         //  latest boot number issued
    char *instance;        //  "<name>/<boot>"
    char *cmd_endpoint;    //  roomd ROUTER
    char *pub_endpoint;    //  roomd PUB
    uint32_t max_rooms;    //  0 = unlimited
    int64_t last_seen;     //  monotonic ms of the last heartbeat (or the grace start)
    bool live;             //  heartbeats are younger than the lease
    bool has_peer;         //  peer is known (it spoke since the registry started)
    chat_peer_t peer;      //  ROUTER id it last spoke from
    Chat__NodeStats stats; //  last reported stats (scalars only)
    size_t rooms;          //  rooms placed on this node
} reg_node_t;

typedef struct reg_state reg_state_t;

//  Loads every room and node from store (borrowed; must outlive the state).
//  Known nodes start live, with one lease of grace from now_ms.
reg_state_t *reg_state_new(reg_store_t *store, int64_t now_ms);

//  Frees the tables; sets *state to NULL. Safe on NULL.
void reg_state_destroy(reg_state_t **state);

//  The room with that id, or NULL.
reg_room_t *reg_state_room(reg_state_t *state, const char *id);

//  The node with that name, or NULL.
reg_node_t *reg_state_node(reg_state_t *state, const char *name);

//  The node whose current instance is instance, or NULL.
reg_node_t *reg_state_node_by_instance(reg_state_t *state, const char *instance);

//  Iteration over rooms / nodes in no particular order: first, then next
//  until NULL. Do not create rooms or nodes while iterating.
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

//  Creates a room. name and description are trimmed of surrounding white
//  space first. Returns STATUS_OK with *room set, STATUS_INVALID_ROOM,
//  STATUS_ROOM_EXISTS or STATUS_INTERNAL (storage failed).
Chat__Status reg_state_create_room(reg_state_t *state, const char *name, const char *description,
                                   int64_t now_wall_ms, reg_room_t **room);

//  Registers a roomd (see docs/architecture.md, "Register"). The rooms the
//  request says the roomd holds (held) are adopted into the catalog first:
//  one the catalog lacks or never placed is placed on the node at the
//  epoch the roomd stored. On STATUS_OK,
//  *node is the node, and *regranted tells whether its rooms were granted
//  to a new instance (their epochs moved). STATUS_BAD_REQUEST for invalid
//  fields, STATUS_NOT_OWNER when prev_instance is older than the instance
//  on record (a newer process of that node exists), STATUS_INTERNAL when
//  storage failed. Liveness (peer, last_seen) is the caller's to set.
Chat__Status reg_state_register(reg_state_t *state, const Chat__RegisterRequest *req,
                                reg_node_t **node, bool *regranted);

//  The live node with a known peer and room for one more that rendezvous
//  hashing picks for room_id, or NULL when there is none.
reg_node_t *reg_state_choose_node(reg_state_t *state, const char *room_id);

//  Grants room to node's current instance with epoch + 1, persisted before
//  it returns 0; -1 when storage failed (nothing changed then).
int reg_state_grant(reg_state_t *state, reg_room_t *room, reg_node_t *node);

//  Rooms placed on node, and the node's current instance holds their grant.
size_t reg_state_rooms_granted(reg_state_t *state, const reg_node_t *node);

//  True for 1..64 characters of A-Z a-z 0-9 _ . -
bool reg_state_valid_node_name(const char *name);

#endif
