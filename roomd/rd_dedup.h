/*  rd_dedup: the client_msg_ids of a room's recent messages.
 *
 *  Remembers, for the messages with seq in (newest - window, newest], a
 *  64-bit hash of their client_msg_id and their seq, in a fixed table: no
 *  allocation per message. A hash hit is a duplicate unless the caller can
 *  show otherwise (rd_room compares the stored id when the message is still
 *  in memory); two different ids share a 64-bit hash with odds of about
 *  window / 2^64.
 */
#ifndef RD_DEDUP_H
#define RD_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rd_dedup rd_dedup_t;

//  A set covering the last window seqs. Returns NULL when out of memory.
rd_dedup_t *rd_dedup_new(size_t window);

//  Frees the set and sets *p to NULL. Safe on NULL.
void rd_dedup_destroy(rd_dedup_t **p);

//  True when id was added for one of the remembered seqs; *seq receives it
//  (the newest such seq when several share the hash).
bool rd_dedup_find(const rd_dedup_t *self, const char *id, uint64_t *seq);

//  Remembers id for seq (seqs come in ascending order) and forgets ids whose
//  seq fell out of the window. Empty ids are ignored.
void rd_dedup_add(rd_dedup_t *self, const char *id, uint64_t seq);

//  Forgets every id added for a seq above seq (rollback of uncommitted messages).
void rd_dedup_forget_above(rd_dedup_t *self, uint64_t seq);

//  Ids remembered now.
size_t rd_dedup_size(const rd_dedup_t *self);

#endif
