/*  gw_queue: a connection's bounded queue of outgoing frames.
 *
 *  A ring of gw_buf_t references, oldest first. The ring is allocated on the
 *  first push and can be given back with gw_queue_shrink once empty, so an
 *  idle connection costs only this struct. The bound is passed to each push
 *  (it is a setting of the gateway, not stored per connection).
 */
#ifndef GW_QUEUE_H
#define GW_QUEUE_H

#include "gw_buf.h"

#include <stdint.h>

typedef struct {
    gw_buf_t **slots; //  ring of references, NULL until the first push
    uint32_t head;    //  index of the oldest frame
    uint32_t count;   //  frames queued
    uint32_t cap;     //  slots allocated (a power of two)
} gw_queue_t;

//  Appends a frame, taking over the caller's reference. Returns 0, or -1
//  when count has reached max (the caller keeps its reference then).
int gw_queue_push(gw_queue_t *queue, gw_buf_t *buf, uint32_t max);

//  The i-th oldest frame (borrowed), NULL past the end.
gw_buf_t *gw_queue_peek(const gw_queue_t *queue, uint32_t i);

//  Drops the n oldest frames (n <= count).
void gw_queue_drop(gw_queue_t *queue, uint32_t n);

//  Drops every frame and frees the ring.
void gw_queue_clear(gw_queue_t *queue);

//  Frees the ring when the queue is empty.
void gw_queue_shrink(gw_queue_t *queue);

#endif
