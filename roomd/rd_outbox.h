/*  rd_outbox: replies held back until the turn's commit.
 *
 *  Each reply is packed when its request is handled and kept in one byte
 *  arena with the peer it goes to (or the registry), its req_id, its body
 *  kind and a tag (the grant it depends on), so that after the commit the
 *  loop can send it as it is, or replace it with an error of the same kind.
 *  The arena and the entry array are reused turn after turn: no allocation
 *  per reply once they have grown.
 */
#ifndef RD_OUTBOX_H
#define RD_OUTBOX_H

#include "chat_wire.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rd_outbox rd_outbox_t;

//  One queued reply, as rd_outbox_get shows it.
typedef struct {
    const chat_peer_t *peer;       //  ROUTER peer, or NULL for the registry DEALER
    uint64_t req_id;               //  req_id of the reply
    Chat__Envelope__BodyCase kind; //  body of the reply
    void *tag;                     //  what the reply depends on, or NULL
    const void *data;              //  the packed envelope
    size_t size;                   //  its size
} rd_outbox_entry_t;

//  Returns NULL when out of memory.
rd_outbox_t *rd_outbox_new(void);

//  Frees the outbox and sets *p to NULL. Safe on NULL.
void rd_outbox_destroy(rd_outbox_t **p);

//  Packs env and queues it for peer (NULL = the registry), tied to tag.
//  Returns 0, or -1 when out of memory (the reply is lost; logged).
int rd_outbox_add(rd_outbox_t *self, const chat_peer_t *peer, const Chat__Envelope *env, void *tag);

//  Replies queued.
size_t rd_outbox_count(const rd_outbox_t *self);

//  Entry index (< count). The pointers stay valid until the next add or clear.
void rd_outbox_get(const rd_outbox_t *self, size_t index, rd_outbox_entry_t *entry);

//  Forgets every entry; keeps the memory.
void rd_outbox_clear(rd_outbox_t *self);

#endif
