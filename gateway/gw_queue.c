/*  gw_queue: see gw_queue.h. */
#include "gw_queue.h"

#include <assert.h>
#include <stdlib.h>

#define S_FIRST_CAP 8

//  Doubles the ring (or allocates it), keeping the order of the frames.
static void s_grow(gw_queue_t *queue)
{
    uint32_t cap = queue->cap ? queue->cap * 2 : S_FIRST_CAP;
    gw_buf_t **slots = malloc(sizeof *slots * cap);
    if (!slots)
        abort();
    for (uint32_t i = 0; i < queue->count; i++)
        slots[i] = queue->slots[(queue->head + i) & (queue->cap - 1)];
    free(queue->slots);
    queue->slots = slots;
    queue->head = 0;
    queue->cap = cap;
}

int gw_queue_push(gw_queue_t *queue, gw_buf_t *buf, uint32_t max)
{
    if (queue->count >= max)
        return -1;
    if (queue->count == queue->cap)
        s_grow(queue);
    queue->slots[(queue->head + queue->count) & (queue->cap - 1)] = buf;
    queue->count++;
    return 0;
}

gw_buf_t *gw_queue_peek(const gw_queue_t *queue, uint32_t i)
{
    if (i >= queue->count)
        return NULL;
    return queue->slots[(queue->head + i) & (queue->cap - 1)];
}

void gw_queue_drop(gw_queue_t *queue, uint32_t n)
{
    assert(n <= queue->count);
    for (uint32_t i = 0; i < n; i++) {
        gw_buf_unref(&queue->slots[queue->head]);
        queue->head = (queue->head + 1) & (queue->cap - 1);
    }
    queue->count -= n;
    if (queue->count == 0)
        queue->head = 0;
}

void gw_queue_clear(gw_queue_t *queue)
{
    gw_queue_drop(queue, queue->count);
    gw_queue_shrink(queue);
}

void gw_queue_shrink(gw_queue_t *queue)
{
    if (queue->count)
        return;
    free(queue->slots);
    queue->slots = NULL;
    queue->head = 0;
    queue->cap = 0;
}
