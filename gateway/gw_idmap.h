/*  gw_idmap: a hash map from non-zero 64-bit ids to pointers.
 *
 *  Connection ids and request ids name things that may be gone when a reply
 *  or a timer comes back; looking the id up tells. Open addressing with
 *  linear probing and backward-shift deletion; values are borrowed.
 */
#ifndef GW_IDMAP_H
#define GW_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_idmap gw_idmap_t;

gw_idmap_t *gw_idmap_new(void);

//  Frees the map (not the values) and sets *map to NULL. Safe on NULL.
void gw_idmap_destroy(gw_idmap_t **map);

//  Sets id (non-zero) to value, replacing any previous value.
void gw_idmap_put(gw_idmap_t *map, uint64_t id, void *value);

//  The value of id, or NULL.
void *gw_idmap_get(const gw_idmap_t *map, uint64_t id);

//  Removes id; returns its value, or NULL when it was absent.
void *gw_idmap_remove(gw_idmap_t *map, uint64_t id);

//  Entries in the map.
size_t gw_idmap_size(const gw_idmap_t *map);

#endif
