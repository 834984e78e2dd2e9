/*  gw_idmap: see gw_idmap.h. */
#include "gw_idmap.h"

#include <assert.h>
#include <stdlib.h>

typedef struct {
    uint64_t id; //  0 = empty slot
    void *value; //  borrowed
} s_slot_t;

struct gw_idmap {
    s_slot_t *slots; //  cap slots
    size_t cap;      //  a power of two
    size_t size;     //  used slots
};

static size_t s_hash(uint64_t id, size_t cap)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

gw_idmap_t *gw_idmap_new(void)
{
    gw_idmap_t *map = calloc(1, sizeof *map);
    if (!map)
        abort();
    map->cap = 16;
    map->slots = calloc(map->cap, sizeof *map->slots);
    if (!map->slots)
        abort();
    return map;
}

void gw_idmap_destroy(gw_idmap_t **map_p)
{
    if (!map_p || !*map_p)
        return;
    free((*map_p)->slots);
    free(*map_p);
    *map_p = NULL;
}

static void s_insert(s_slot_t *slots, size_t cap, uint64_t id, void *value)
{
    size_t i = s_hash(id, cap);
    while (slots[i].id && slots[i].id != id)
        i = (i + 1) & (cap - 1);
    slots[i].id = id;
    slots[i].value = value;
}

static void s_resize(gw_idmap_t *map, size_t cap)
{
    s_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        abort();
    for (size_t i = 0; i < map->cap; i++)
        if (map->slots[i].id)
            s_insert(slots, cap, map->slots[i].id, map->slots[i].value);
    free(map->slots);
    map->slots = slots;
    map->cap = cap;
}

void gw_idmap_put(gw_idmap_t *map, uint64_t id, void *value)
{
    assert(id != 0);
    if ((map->size + 1) * 4 > map->cap * 3)
        s_resize(map, map->cap * 2);
    size_t i = s_hash(id, map->cap);
    while (map->slots[i].id && map->slots[i].id != id)
        i = (i + 1) & (map->cap - 1);
    if (!map->slots[i].id)
        map->size++;
    map->slots[i].id = id;
    map->slots[i].value = value;
}

void *gw_idmap_get(const gw_idmap_t *map, uint64_t id)
{
    if (!id)
        return NULL;
    size_t i = s_hash(id, map->cap);
    while (map->slots[i].id) {
        if (map->slots[i].id == id)
            return map->slots[i].value;
        i = (i + 1) & (map->cap - 1);
    }
    return NULL;
}

void *gw_idmap_remove(gw_idmap_t *map, uint64_t id)
{
    if (!id)
        return NULL;
    size_t mask = map->cap - 1;
    size_t i = s_hash(id, map->cap);
    while (map->slots[i].id && map->slots[i].id != id)
        i = (i + 1) & mask;
    if (!map->slots[i].id)
        return NULL;
    void *value = map->slots[i].value;
    //  Backward shift: move later entries of the cluster into the hole
    //  when their home slot does not lie between the hole and them.
    size_t hole = i;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!map->slots[j].id)
            break;
        size_t home = s_hash(map->slots[j].id, map->cap);
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            map->slots[hole] = map->slots[j];
            hole = j;
        }
    }
    map->slots[hole].id = 0;
    map->slots[hole].value = NULL;
    map->size--;
    return value;
}

size_t gw_idmap_size(const gw_idmap_t *map)
{
    return map->size;
}
