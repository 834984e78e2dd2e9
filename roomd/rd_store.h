/*  rd_store: a roomd's LMDB environment (docs/architecture.md, "roomd").
 *
 *  DBs: "rooms"    room id -> packed RoomdRoomRecord (catalog, epoch, last seq)
 *       "messages" room id, NUL, big-endian u64 seq -> packed ChatMessage
 *       "node"     "name" -> the node name this data directory belongs to
 *
 *  Writes are grouped: rd_store_begin opens one write transaction,
 *  rd_store_write_room adds one room's part in a nested transaction that
 *  first checks the stored epoch (the fencing token), rd_store_commit makes
 *  everything durable with one fsync. Reads use a short read transaction
 *  each; none is held between calls. One thread uses a store.
 */
#ifndef RD_STORE_H
#define RD_STORE_H

#include "rd_msg.h"
#include "store.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define RD_STORE_OK 0
#define RD_STORE_NOTFOUND 1 //  no such record (an answer, not an error)
#define RD_STORE_FENCED 2   //  a newer epoch is stored: this writer is stale
#define RD_STORE_CONFLICT 3 //  stored seq does not continue where the writer thinks
#define RD_STORE_ERROR (-1) //  LMDB failed; logged

typedef struct rd_store rd_store_t;

//  Opens (creating when needed) the environment in dir with a map of
//  map_size_mb MiB. Returns NULL after logging why.
rd_store_t *rd_store_open(const char *dir, size_t map_size_mb);

//  Closes the environment (aborting an open write) and sets *p to NULL. Safe on NULL.
void rd_store_destroy(rd_store_t **p);

//  Reads the node name stored in the data directory into *name (the caller
//  frees it). Returns RD_STORE_OK, RD_STORE_NOTFOUND or RD_STORE_ERROR.
int rd_store_node_get(rd_store_t *self, char **name);

//  Stores the node name in its own transaction. Returns RD_STORE_OK or RD_STORE_ERROR.
int rd_store_node_put(rd_store_t *self, const char *name);

//  Reads a room's record into *record (free with
//  chat__roomd_room_record__free_unpacked). Returns RD_STORE_OK,
//  RD_STORE_NOTFOUND or RD_STORE_ERROR (also for a record that does not decode).
int rd_store_room_get(rd_store_t *self, const char *room_id, Chat__RoomdRoomRecord **record);

//  Reads every room record into a new array *records of *count items (free
//  with rd_store_rooms_free). Records that do not decode are skipped and
//  logged. Returns RD_STORE_OK or RD_STORE_ERROR (then *records is NULL).
int rd_store_rooms(rd_store_t *self, Chat__RoomdRoomRecord ***records, size_t *count);

//  Frees what rd_store_rooms returned. Safe on NULL.
void rd_store_rooms_free(Chat__RoomdRoomRecord **records, size_t count);

//  Sets *last_seq to the seq of the room's newest stored message (0 when
//  none). Returns RD_STORE_OK or RD_STORE_ERROR.
int rd_store_last_seq(rd_store_t *self, const char *room_id, uint64_t *last_seq);

//  Appends to list (as owned items) the room's stored messages with
//  lo <= seq <= hi, oldest first. Returns RD_STORE_OK or RD_STORE_ERROR.
int rd_store_range(rd_store_t *self, const char *room_id, uint64_t lo, uint64_t hi,
                   rd_msglist_t *list);

//  A reader (rd_msg.h) that serves rd_store_range from this store.
rd_reader_t rd_store_reader(rd_store_t *self);

//  Opens the write transaction of one batch. Returns RD_STORE_OK or RD_STORE_ERROR.
int rd_store_begin(rd_store_t *self);

//  One room's part of a batch.
typedef struct {
    const char *room_id;                //  the room
    const Chat__RoomInfo *catalog;      //  catalog fields to store, or NULL to keep the stored ones
    uint64_t epoch;                     //  the writer's grant
    Chat__ChatMessage *const *messages; //  new messages, consecutive seqs, ascending
    size_t count;                       //  how many
} rd_store_write_t;

//  Adds a room's part to the open batch in a nested transaction: aborts it
//  with RD_STORE_FENCED when the stored epoch is newer than w->epoch, with
//  RD_STORE_CONFLICT when the first message does not follow the stored last
//  seq; else stores the messages and the record (epoch = w->epoch, last seq
//  of the newest message) and returns RD_STORE_OK. *stored_epoch receives
//  the epoch stored before this call (0 when none). RD_STORE_ERROR when LMDB
//  failed (the room's part is dropped; the batch lives on).
int rd_store_write_room(rd_store_t *self, const rd_store_write_t *w, uint64_t *stored_epoch);

//  Commits the batch (one fsync). Returns RD_STORE_OK, or RD_STORE_ERROR
//  when nothing of the batch was stored.
int rd_store_commit(rd_store_t *self);

//  Drops the open batch, if any.
void rd_store_abort(rd_store_t *self);

//  Write transactions committed since open.
uint64_t rd_store_commits(const rd_store_t *self);

#endif
