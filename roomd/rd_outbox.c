/*  rd_outbox: see rd_outbox.h. */
#include "rd_outbox.h"
#include "chat_log.h"

#include <stdlib.h>
#include <string.h>

#define RD_OUTBOX_KEEP_BYTES (8 * 1024 * 1024)

typedef struct {
    chat_peer_t peer;              //  destination on the ROUTER
    bool to_registry;              //  true: the DEALER to the registry instead
    uint64_t req_id;               //  req_id of the reply
    Chat__Envelope__BodyCase kind; //  body of the reply
    void *tag;                     //  what the reply depends on
    size_t offset;                 //  where its bytes start in the arena
    size_t size;                   //  how many
} s_entry_t;

struct rd_outbox {
    s_entry_t *entries; //  queued replies, in order
    size_t count;       //  entries used
    size_t cap;         //  entries allocated
    uint8_t *arena;     //  packed envelopes, back to back
    size_t used;        //  arena bytes used
    size_t size;        //  arena bytes allocated
};

rd_outbox_t *rd_outbox_new(void)
{
    return calloc(1, sizeof(rd_outbox_t));
}

void rd_outbox_destroy(rd_outbox_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->entries);
    free((*p)->arena);
    free(*p);
    *p = NULL;
}

static int s_reserve(rd_outbox_t *self, size_t bytes)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        s_entry_t *grown = realloc(self->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->entries = grown;
        self->cap = cap;
    }
    if (self->used + bytes > self->size) {
        size_t size = self->size ? self->size : 64 * 1024;
        while (size < self->used + bytes)
            size *= 2;
        uint8_t *grown = realloc(self->arena, size);
        if (!grown)
            return -1;
        self->arena = grown;
        self->size = size;
    }
    return 0;
}

int rd_outbox_add(rd_outbox_t *self, const chat_peer_t *peer, const Chat__Envelope *env, void *tag)
{
    size_t size = chat__envelope__get_packed_size(env);
    if (s_reserve(self, size) != 0) {
        chat_error("out of memory queueing a reply of %zu bytes", size);
        return -1;
    }
    s_entry_t *e = &self->entries[self->count++];
    e->to_registry = peer == NULL;
    if (peer) {
        e->peer.size = peer->size;
        memcpy(e->peer.data, peer->data, peer->size);
    }
    e->req_id = env->req_id;
    e->kind = env->body_case;
    e->tag = tag;
    e->offset = self->used;
    e->size = chat__envelope__pack(env, self->arena + self->used);
    self->used += e->size;
    return 0;
}

size_t rd_outbox_count(const rd_outbox_t *self)
{
    return self->count;
}

void rd_outbox_get(const rd_outbox_t *self, size_t index, rd_outbox_entry_t *entry)
{
    const s_entry_t *e = &self->entries[index];
    entry->peer = e->to_registry ? NULL : &e->peer;
    entry->req_id = e->req_id;
    entry->kind = e->kind;
    entry->tag = e->tag;
    entry->data = self->arena + e->offset;
    entry->size = e->size;
}

void rd_outbox_clear(rd_outbox_t *self)
{
    self->count = 0;
    self->used = 0;
    //  One huge turn (say, many joins with long histories) need not pin its memory.
    if (self->size > RD_OUTBOX_KEEP_BYTES) {
        free(self->arena);
        self->arena = NULL;
        self->size = 0;
    }
}
