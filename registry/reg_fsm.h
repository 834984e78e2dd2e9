/*  reg_fsm: the registry's replicated state machine.
 *
 *  The state is the catalog (rooms and their names), the nodes (roomd
 *  processes, their boots) and the placements (room -> node, instance,
 *  epoch), plus the registries of the quorum with their endpoints: the
 *  tables of reg_state, kept in LMDB by reg_store. Every change of it is a
 *  RegistryCommand (proto/registry.proto) in the Raft log, and
 *
 *      apply(state, index, command) -> result
 *
 *  is a pure function of the state and the command: no clock, no
 *  liveness, no network. Every registry applies the same commands in the
 *  same order and ends in the same state. Decisions that depend on more
 *  than the state (which node is live, what time it is) are the leader's:
 *  it decides, and proposes the resulting fact (GrantCommand carries the
 *  node and epoch it chose, CreateRoomCommand the creation time). A fact
 *  that may be stale when it is applied is checked (a grant's epoch must
 *  be the room's epoch + 1), so a command proposed by a deposed leader is
 *  refused rather than applied over newer state.
 *
 *  Each command's records and its log index ("applied") are written in the
 *  same LMDB transaction: the batch of commands applied in one turn of the
 *  registry's loop, committed (one fsync) by reg_fsm_flush before anyone
 *  is answered. The Raft log, not LMDB, is what makes a command durable: a
 *  registry that dies before the commit replays the lost batch from its
 *  log. A command whose index is not above the applied index was applied
 *  before (the log is replayed from the last snapshot when a registry
 *  restarts) and changes nothing: applies are idempotent.
 */
#ifndef REG_FSM_H
#define REG_FSM_H

#include "registry.pb-c.h"
#include "reg_state.h"
#include "reg_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct reg_fsm reg_fsm_t;

//  What one apply did.
typedef struct {
    Chat__Status status; //  OK: applied as asked; else why it changed nothing
    bool replayed;       //  applied before (index <= applied): nothing done
    reg_room_t *room;    //  create_room, grant: the room (create_room: also
                         //  the room a repeated token made)
    reg_node_t *node;    //  register_node: the node
    bool regranted;      //  register_node: its rooms moved to its new instance
    bool found;          //  create_room: the token made the room before: nothing new
} reg_fsm_result_t;

//  A state machine over state and store (both borrowed), which must hold
//  the same state (reg_state_new(store, ...)).
reg_fsm_t *reg_fsm_new(reg_state_t *state, reg_store_t *store);

//  Commits the batch of commands applied since the last flush, with their
//  applied index (nothing to do without one). Returns 0, or -1 when the
//  commit failed: the caller must stop, as for reg_fsm_apply.
int reg_fsm_flush(reg_fsm_t *fsm);

//  Flushes, frees the state machine; sets *fsm to NULL. Safe on NULL.
void reg_fsm_destroy(reg_fsm_t **fsm);

//  Index of the last command applied (0: none).
uint64_t reg_fsm_applied(const reg_fsm_t *fsm);

//  True once the default rooms were created.
bool reg_fsm_seeded(const reg_fsm_t *fsm);

//  Applies cmd as log entry index into the open batch (one is begun when
//  none is); fills *result. Returns 0, or -1 when storage failed: then the
//  tables may be ahead of the store, and the caller must stop (a restart
//  replays the log onto what was committed).
int reg_fsm_apply(reg_fsm_t *fsm, uint64_t index, const Chat__RegistryCommand *cmd,
                  reg_fsm_result_t *result);

//  Log entries and snapshots are framed: an 8-byte header (the message's
//  length, u32 little-endian; the format, u32 little-endian, 1), the
//  packed protobuf message, zeros up to a multiple of 8 bytes. libraft
//  0.15 needs every entry's size to be a multiple of 8: its release build
//  does not check, and it misplaces the data of any other entry it stores.

//  cmd framed as a log entry, in a buffer from alloc(size) (the caller's,
//  or libraft's once raft_apply takes it). Returns 0, or -1 when alloc failed.
int reg_fsm_encode(const Chat__RegistryCommand *cmd, void *(*alloc)(size_t size), void **data,
                   size_t *size);

//  Decodes a framed log entry and applies it. An entry that does not
//  decode (or names no command) changes nothing but the applied index, on
//  every registry alike: result->status is BAD_REQUEST. Returns as
//  reg_fsm_apply.
int reg_fsm_apply_bytes(reg_fsm_t *fsm, uint64_t index, const void *data, size_t size,
                        reg_fsm_result_t *result);

//  The whole state as a framed RegistrySnapshot, in a buffer from
//  alloc(size) (the caller's to free with the matching free). Returns 0,
//  or -1 when alloc failed.
int reg_fsm_snapshot(reg_fsm_t *fsm, void *(*alloc)(size_t size), void **data, size_t *size);

//  Replaces the state with a (framed) snapshot's, unless it is not ahead of the
//  applied index (a registry that restarts restores its last snapshot onto
//  an LMDB that is usually further along: nothing to do then). Nodes get
//  one lease of grace from now_ms. Returns 0, or -1 when the snapshot does
//  not decode or storage failed (the state is unchanged then).
int reg_fsm_restore(reg_fsm_t *fsm, const void *data, size_t size, int64_t now_ms);

//  Builds the command that creates a room (strings borrowed): for leaders
//  and tests. The other commands are plain messages of registry.proto.
void reg_fsm_create_room_command(Chat__RegistryCommand *cmd, Chat__CreateRoomCommand *body,
                                 const char *name, const char *description, int64_t created_at,
                                 const char *token);

//  Checks a room name and description as create_room will (after trimming
//  white space): STATUS_OK, STATUS_INVALID_ROOM or STATUS_ROOM_EXISTS. A
//  leader answers bad requests with it before proposing anything.
Chat__Status reg_fsm_check_room(reg_fsm_t *fsm, const char *name, const char *description);

//  Checks a registration as register_node will: STATUS_OK,
//  STATUS_BAD_REQUEST (a field is invalid) or STATUS_NOT_OWNER (a newer
//  process of the node registered). Leaders refuse with it before
//  proposing anything.
Chat__Status reg_fsm_check_register(reg_fsm_t *fsm, const Chat__RegisterRequest *req);

#endif
