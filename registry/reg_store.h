/*  reg_store: the registry's durable state in LMDB.
 *
 *  One environment, five databases: rooms (room id -> RegistryRoomRecord),
 *  names (lower-cased room name -> room id), nodes (node ->
 *  RegistryNodeRecord), members (registry id, 8 bytes big-endian ->
 *  RegistryMember) and meta: "applied" (the Raft index of the last command
 *  applied, written in the same transaction as the command's records),
 *  "seeded" (the default rooms were created) and "boot" (this registry's
 *  own boot counter, not replicated).
 *
 *  Writes go through a transaction (reg_store_begin ... reg_store_commit):
 *  the state machine (reg_fsm) writes one command's records and its
 *  applied index in one commit. Records read back are protobuf-c messages,
 *  borrowed for the duration of the callback that gets them.
 */
#ifndef REG_STORE_H
#define REG_STORE_H

#include "store.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct reg_store reg_store_t;
typedef struct reg_store_txn reg_store_txn_t;

//  Opens (creating when needed) the environment in directory path, which is
//  created too. Returns NULL and logs why on failure. A store that holds
//  rooms but neither a "seeded" mark nor an applied index (written before
//  the registry used Raft) counts as seeded.
reg_store_t *reg_store_open(const char *path, uint64_t map_size_mb);

//  Closes the environment; sets *store to NULL. Safe on NULL.
void reg_store_destroy(reg_store_t **store);

//  Increments and returns the registry's boot counter (1 on a new store),
//  or 0 on failure.
uint64_t reg_store_next_boot(reg_store_t *store);

//  The Raft index of the last command applied (0 on a new store).
uint64_t reg_store_applied(reg_store_t *store);

//  True once the default rooms were created in this catalog.
bool reg_store_seeded(reg_store_t *store);

//  Calls fn for every room record, in id order. Returns 0, or -1 on a
//  storage error. Corrupt records are logged and skipped.
int reg_store_each_room(reg_store_t *store,
                        void (*fn)(const Chat__RegistryRoomRecord *rec, void *arg), void *arg);

//  Calls fn for every node record. Same contract as reg_store_each_room.
int reg_store_each_node(reg_store_t *store,
                        void (*fn)(const Chat__RegistryNodeRecord *rec, void *arg), void *arg);

//  Calls fn for every member record. Same contract as reg_store_each_room.
int reg_store_each_member(reg_store_t *store,
                          void (*fn)(const Chat__RegistryMember *rec, void *arg), void *arg);

//  Starts a write transaction, or returns NULL after logging why. At most
//  one is open at a time; it must end with reg_store_commit or
//  reg_store_abort before the loop turn ends.
reg_store_txn_t *reg_store_begin(reg_store_t *store);

//  Writes a room record (and reserves its name in the names DB).
//  Returns 0, or -1 after logging why; then only abort is left.
int reg_store_put_room(reg_store_txn_t *txn, const Chat__RegistryRoomRecord *rec);

//  Writes a node record. Same contract as reg_store_put_room.
int reg_store_put_node(reg_store_txn_t *txn, const Chat__RegistryNodeRecord *rec);

//  Writes a member record. Same contract as reg_store_put_room.
int reg_store_put_member(reg_store_txn_t *txn, const Chat__RegistryMember *rec);

//  Deletes the member with that id (absent: nothing to do). Same contract.
int reg_store_del_member(reg_store_txn_t *txn, uint64_t id);

//  Sets the applied index and the seeded mark. Same contract.
int reg_store_set_applied(reg_store_txn_t *txn, uint64_t index);
int reg_store_set_seeded(reg_store_txn_t *txn);

//  Empties rooms, names, nodes and members, and clears the seeded mark
//  (a snapshot replaces them). Same contract.
int reg_store_clear(reg_store_txn_t *txn);

//  Commits (one fsync) and frees the transaction; sets *txn to NULL.
//  Returns 0, or -1 after logging why (nothing was written then).
int reg_store_commit(reg_store_txn_t **txn);

//  Drops the transaction's writes; sets *txn to NULL. Safe on NULL.
void reg_store_abort(reg_store_txn_t **txn);

//  Lower-cases the ASCII letters of name into out (size >= 257 bytes):
//  the key that makes room names unique case-insensitively.
void reg_store_name_key(const char *name, char *out, size_t size);

#endif
