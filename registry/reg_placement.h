/*  reg_placement: rendezvous (highest random weight) hashing.
 *
 *  Every node gets a score for a room; the room goes to the node with the
 *  highest score among those that can take it. Adding or removing a node
 *  moves only the rooms that scored highest on it.
 */
#ifndef REG_PLACEMENT_H
#define REG_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

//  The score of node for room: a well-mixed 64-bit hash of both names.
uint64_t reg_placement_score(const char *room_id, const char *node);

//  Index of the node in nodes[0..count) with the highest score for room_id,
//  or -1 when count is 0. Ties (practically impossible) go to the lower index.
int reg_placement_choose(const char *room_id, const char *const *nodes, size_t count);

#endif
