/*  rd_host_internal: what the files of rd_host share. INTERNAL: only
 *  rd_host*.c include it; everything else uses rd_host.h.
 *
 *  rd_host is one module in four files, one concern each:
 *
 *      rd_host.c           lifecycle, grants, rooms into and out of memory
 *      rd_host_requests.c  requests (gateways, chatctl, the registry's
 *                          AssignRequest): each is handled and its reply held
 *      rd_host_flush.c     the turn's group commit, then replies and events
 *      rd_host_timers.c    ticks, session expiry, passivation of idle rooms
 *
 *  The functions below work on the host's state from the loop thread, like
 *  the public ones; none of them may be called from outside rd_host.
 */
#ifndef RD_HOST_INTERNAL_H
#define RD_HOST_INTERNAL_H

#include "rd_gateways.h"
#include "rd_host.h"
#include "rd_outbox.h"
#include "rd_room.h"

#include <czmq.h>

//  What the turn's flush did to a grant's part of the batch.
typedef enum {
    RD_OUTCOME_STORED = 0, //  committed (or nothing to write)
    RD_OUTCOME_FAILED,     //  LMDB failed: rolled back, requests get INTERNAL
    RD_OUTCOME_CONFLICT,   //  stored seq did not continue the room's: reload from disk
    RD_OUTCOME_FENCED,     //  a newer epoch is stored: not ours any more
    RD_OUTCOME_GONE,       //  the registry took the grant away during the turn
} rd_outcome_t;

//  A room granted to this instance by the registry.
typedef struct {
    char *room_id;         //  the room (key in grants)
    char *name;            //  catalog name
    char *description;     //  catalog description
    int64_t created_at;    //  catalog creation time, ms
    uint64_t epoch;        //  the grant's epoch
    rd_room_t *room;       //  the RoomActor when in memory, else NULL
    uint64_t last_seq;     //  last seq while not in memory (when last_seq_known)
    bool last_seq_known;   //  last_seq has been read
    bool fenced;           //  a newer epoch is stored: requests get NOT_OWNER
    bool revoked;          //  no longer granted: dropped after the flush
    bool in_batch;         //  listed in the turn's dirty list
    rd_outcome_t outcome;  //  result of this turn's flush for this grant
    uint64_t stored_epoch; //  epoch found on disk by the flush
    int64_t last_used;     //  monotonic ms of the last request
} rd_grant_t;

struct rd_host {
    rd_store_t *store;        //  LMDB (borrowed)
    rd_reader_t reader;       //  store as a reader of old messages
    rd_host_opts_t opts;      //  settings
    char *instance;           //  "<node>/<boot>", or NULL before registration
    zhashx_t *grants;         //  room id -> rd_grant_t
    rd_gateways_t *gateways;  //  gateways holding sessions here
    rd_grant_t **dirty;       //  grants with something to write this turn
    size_t dirty_count;       //  dirty used
    size_t dirty_cap;         //  dirty allocated
    rd_outbox_t *outbox;      //  replies held until the commit
    rd_msglist_t list;        //  scratch list of messages
    uint8_t *buf;             //  scratch buffer to pack events and errors
    size_t buf_size;          //  its size
    size_t loaded;            //  rooms in memory
    uint64_t messages;        //  messages committed since start
    int64_t now;              //  monotonic ms of the latest request or timer
    int64_t next_tick;        //  when ticks are due
    int64_t next_expiry;      //  when session expiry is checked
    int64_t next_passivation; //  when idle rooms are checked
    bool recount;             //  gateway session counts must be recomputed
    bool revocations;         //  some grant was revoked: drop it after the flush
};

//  rd_host.c: lists g in the turn's dirty list (once), so that the next
//  flush writes its part. When out of memory the change waits a turn.
void rd_host_mark_dirty(rd_host_t *self, rd_grant_t *g);

//  rd_host.c: brings a granted room into memory from LMDB. Returns 0, or -1
//  (the grant is marked fenced when a newer epoch is stored).
int rd_host_load(rd_host_t *self, rd_grant_t *g);

//  rd_host.c: takes g's room out of memory, keeping its committed last seq.
//  Pending changes of the room are dropped. Does nothing when not loaded.
void rd_host_unload(rd_host_t *self, rd_grant_t *g);

//  rd_host_flush.c: publishes event through sink (topic: its room id).
//  event is borrowed for the call.
void rd_host_publish(rd_host_t *self, const rd_sink_t *sink, Chat__RoomEvent *event);

#endif
