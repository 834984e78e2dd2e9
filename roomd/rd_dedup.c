/*  rd_dedup: see rd_dedup.h.
 *
 *  A FIFO of (hash, seq) in seq order decides what to forget; an open
 *  addressing table (linear probing, backward-shift deletion) answers
 *  lookups. Hash 0 marks an empty slot, so real hashes are never 0.
 */
#include "rd_dedup.h"

#include <stdlib.h>

typedef struct {
    uint64_t hash; //  hash of the client_msg_id; 0 = empty slot
    uint64_t seq;  //  seq of the message it made
} s_entry_t;

struct rd_dedup {
    size_t window;    //  seqs remembered behind the newest
    s_entry_t *fifo;  //  entries in seq order, a ring of window slots
    size_t head;      //  index of the oldest entry in fifo
    size_t count;     //  entries in fifo (and in table)
    s_entry_t *table; //  open addressing table
    size_t mask;      //  table size - 1 (a power of two, >= 2 * window)
};

static uint64_t s_hash(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    //  splitmix64 finaliser: spreads FNV's weak low bits.
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
}

rd_dedup_t *rd_dedup_new(size_t window)
{
    rd_dedup_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->window = window ? window : 1;
    size_t size = 16;
    while (size < 2 * self->window)
        size *= 2;
    self->mask = size - 1;
    self->fifo = calloc(self->window, sizeof *self->fifo);
    self->table = calloc(size, sizeof *self->table);
    if (!self->fifo || !self->table) {
        rd_dedup_destroy(&self);
        return NULL;
    }
    return self;
}

void rd_dedup_destroy(rd_dedup_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->fifo);
    free((*p)->table);
    free(*p);
    *p = NULL;
}

bool rd_dedup_find(const rd_dedup_t *self, const char *id, uint64_t *seq)
{
    if (!id || !*id)
        return false;
    uint64_t hash = s_hash(id);
    bool found = false;
    for (size_t i = hash & self->mask; self->table[i].hash; i = (i + 1) & self->mask) {
        if (self->table[i].hash == hash && (!found || self->table[i].seq > *seq)) {
            *seq = self->table[i].seq;
            found = true;
        }
    }
    return found;
}

static void s_table_insert(rd_dedup_t *self, s_entry_t entry)
{
    size_t i = entry.hash & self->mask;
    while (self->table[i].hash)
        i = (i + 1) & self->mask;
    self->table[i] = entry;
}

//  Removes the slot holding entry and shifts later members of its probe run back.
static void s_table_remove(rd_dedup_t *self, s_entry_t entry)
{
    size_t i = entry.hash & self->mask;
    while (self->table[i].hash &&
           !(self->table[i].hash == entry.hash && self->table[i].seq == entry.seq))
        i = (i + 1) & self->mask;
    if (!self->table[i].hash)
        return;
    size_t hole = i;
    for (size_t j = (hole + 1) & self->mask; self->table[j].hash; j = (j + 1) & self->mask) {
        size_t home = self->table[j].hash & self->mask;
        //  j may move into the hole when its home is not in (hole, j] (cyclically).
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            self->table[hole] = self->table[j];
            hole = j;
        }
    }
    self->table[hole].hash = 0;
}

static void s_drop_oldest(rd_dedup_t *self)
{
    s_table_remove(self, self->fifo[self->head]);
    self->head = (self->head + 1) % self->window;
    self->count--;
}

void rd_dedup_add(rd_dedup_t *self, const char *id, uint64_t seq)
{
    if (!id || !*id)
        return;
    while (self->count > 0 && self->fifo[self->head].seq + self->window <= seq)
        s_drop_oldest(self);
    if (self->count == self->window)
        s_drop_oldest(self);
    s_entry_t entry = {s_hash(id), seq};
    self->fifo[(self->head + self->count) % self->window] = entry;
    self->count++;
    s_table_insert(self, entry);
}

void rd_dedup_forget_above(rd_dedup_t *self, uint64_t seq)
{
    while (self->count > 0) {
        size_t last = (self->head + self->count - 1) % self->window;
        if (self->fifo[last].seq <= seq)
            break;
        s_table_remove(self, self->fifo[last]);
        self->count--;
    }
}

size_t rd_dedup_size(const rd_dedup_t *self)
{
    return self->count;
}
