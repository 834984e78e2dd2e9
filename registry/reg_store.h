/*  reg_store: the registry's durable state in LMDB.
 *
 *  Three databases in one environment: rooms (room id -> RegistryRoomRecord),
 *  names (lower-cased room name -> room id), nodes (node -> RegistryNodeRecord),
 *  and a meta database for the registry's own boot counter. Every write is
 *  its own committed (fsynced) transaction: registry writes are rare.
 *
 *  Records are returned as protobuf-c messages that the caller frees with
 *  the matching chat__*__free_unpacked(rec, NULL).
 */
#ifndef REG_STORE_H
#define REG_STORE_H

#include "store.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct reg_store reg_store_t;

//  Opens (creating when needed) the environment in directory path, which is
//  created too. A new environment is seeded with the default rooms general,
//  random and tech. Returns NULL and logs why on failure.
reg_store_t *reg_store_open(const char *path, uint64_t map_size_mb);

//  Closes the environment; sets *store to NULL. Safe on NULL.
void reg_store_destroy(reg_store_t **store);

//  Increments and returns the registry's boot counter (1 on a new store),
//  or 0 on failure.
uint64_t reg_store_next_boot(reg_store_t *store);

//  Calls fn for every room record, in id order. The record is borrowed for
//  the duration of the call. Returns 0, or -1 on a storage error.
int reg_store_each_room(reg_store_t *store,
                        void (*fn)(const Chat__RegistryRoomRecord *rec, void *arg), void *arg);

//  Calls fn for every node record. Same contract as reg_store_each_room.
int reg_store_each_node(reg_store_t *store,
                        void (*fn)(const Chat__RegistryNodeRecord *rec, void *arg), void *arg);

//  Stores records, all in one transaction: any of the arrays may be empty.
//  With a room whose name is new, the name is reserved in the names DB.
//  Returns 0, or -1 on a storage error (nothing is written then).
int reg_store_put(reg_store_t *store, Chat__RegistryRoomRecord *const *rooms, size_t room_count,
                  Chat__RegistryNodeRecord *const *nodes, size_t node_count);

//  Lower-cases the ASCII letters of name into out (size >= 257 bytes):
//  the key that makes room names unique case-insensitively.
void reg_store_name_key(const char *name, char *out, size_t size);

#endif
