/*  reg_state: see reg_state.h. */
#define _GNU_SOURCE
#include "reg_state.h"
#include "chat_log.h"
#include "chat_text.h"
#include "reg_placement.h"

#include <ctype.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_NODE_NAME_MAX 64

struct reg_state {
    reg_store_t *store;    //  durable copy (borrowed)
    zhashx_t *rooms;       //  id -> reg_room_t
    zhashx_t *names;       //  lower-cased name -> room id (the room's own string)
    zhashx_t *tokens;      //  create token -> room id (the room's own string)
    zhashx_t *nodes;       //  name -> reg_node_t
    reg_member_t *members; //  the registries of the quorum
    size_t n_members;      //  entries in members
    reg_room_t **by_id;    //  every room, in id order (strcmp), for paged listings
    size_t n_by_id;        //  entries in by_id
    size_t cap_by_id;      //  capacity of by_id
};

static char *s_strdup(const char *s)
{
    return strdup(s ? s : "");
}

//  Replaces *field with a copy of value.
static void s_set(char **field, const char *value)
{
    char *copy = s_strdup(value);
    free(*field);
    *field = copy;
}

static void s_room_free(void **item)
{
    reg_room_t *room = *item;
    if (!room)
        return;
    free(room->id);
    free(room->name);
    free(room->description);
    free(room->token);
    free(room->node);
    free(room->instance);
    free(room);
    *item = NULL;
}

static void s_node_free(void **item)
{
    reg_node_t *node = *item;
    if (!node)
        return;
    free(node->name);
    free(node->instance);
    free(node->cmd_endpoint);
    free(node->pub_endpoint);
    free(node);
    *item = NULL;
}

static void s_member_clear(reg_member_t *m)
{
    free(m->endpoint);
    free(m->pub_endpoint);
    free(m->raft_address);
    memset(m, 0, sizeof *m);
}

// ------------------------------------------------------------ loading

static void s_load_room(const Chat__RegistryRoomRecord *rec, void *arg)
{
    reg_state_t *state = arg;
    reg_room_t *room = reg_state_add_room(state, rec);
    //  Grants made before a restart may not have been confirmed; heartbeats
    //  reconcile them (the roomd reports how many grants it holds).
    if (room)
        room->acked = true;
}

static void s_load_node(const Chat__RegistryNodeRecord *rec, void *arg)
{
    reg_node_t *node = reg_state_add_node(arg, rec->node);
    reg_state_set_node(node, rec->boot, rec->cmd_endpoint, rec->pub_endpoint, rec->max_rooms);
}

static void s_load_member(const Chat__RegistryMember *rec, void *arg)
{
    reg_state_set_member(arg, rec);
}

//  The position of the first room in by_id whose id sorts after id.
static size_t s_after(const reg_state_t *state, const char *id)
{
    size_t lo = 0, hi = state->n_by_id;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(state->by_id[mid]->id, id) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

//  Adds room to by_id at its place (the store loads rooms in id order, so a
//  load only appends).
static void s_order_room(reg_state_t *state, reg_room_t *room)
{
    if (state->n_by_id == state->cap_by_id) {
        size_t cap = state->cap_by_id ? state->cap_by_id * 2 : 1024;
        reg_room_t **grown = realloc(state->by_id, cap * sizeof *grown);
        if (!grown)
            abort();
        state->by_id = grown;
        state->cap_by_id = cap;
    }
    size_t at = state->n_by_id && strcmp(state->by_id[state->n_by_id - 1]->id, room->id) < 0
                    ? state->n_by_id
                    : s_after(state, room->id);
    memmove(&state->by_id[at + 1], &state->by_id[at], (state->n_by_id - at) * sizeof *state->by_id);
    state->by_id[at] = room;
    state->n_by_id++;
}

//  Empties every table.
static void s_clear(reg_state_t *state)
{
    state->n_by_id = 0;
    zhashx_purge(state->names);
    zhashx_purge(state->tokens);
    zhashx_purge(state->rooms);
    zhashx_purge(state->nodes);
    for (size_t i = 0; i < state->n_members; i++)
        s_member_clear(&state->members[i]);
    free(state->members);
    state->members = NULL;
    state->n_members = 0;
}

//  Fills the tables from the store: rooms first, so that each node counts
//  its rooms as it is added.
static int s_load(reg_state_t *state, int64_t now_ms)
{
    if (reg_store_each_room(state->store, s_load_room, state) != 0 ||
        reg_store_each_node(state->store, s_load_node, state) != 0 ||
        reg_store_each_member(state->store, s_load_member, state) != 0)
        return -1;
    reg_state_grace(state, now_ms);
    chat_info("catalog: %zu rooms, %zu nodes, %zu registries known", zhashx_size(state->rooms),
              zhashx_size(state->nodes), state->n_members);
    return 0;
}

reg_state_t *reg_state_new(reg_store_t *store, int64_t now_ms)
{
    reg_state_t *state = calloc(1, sizeof *state);
    state->store = store;
    state->rooms = zhashx_new();
    zhashx_set_destructor(state->rooms, s_room_free);
    state->names = zhashx_new();
    state->tokens = zhashx_new();
    state->nodes = zhashx_new();
    zhashx_set_destructor(state->nodes, s_node_free);
    if (s_load(state, now_ms) != 0)
        reg_state_destroy(&state);
    return state;
}

int reg_state_reload(reg_state_t *state, int64_t now_ms)
{
    s_clear(state);
    return s_load(state, now_ms);
}

void reg_state_destroy(reg_state_t **state_p)
{
    if (!state_p || !*state_p)
        return;
    reg_state_t *state = *state_p;
    s_clear(state);
    zhashx_destroy(&state->names);
    zhashx_destroy(&state->tokens);
    zhashx_destroy(&state->rooms);
    zhashx_destroy(&state->nodes);
    free(state->by_id);
    free(state);
    *state_p = NULL;
}

void reg_state_grace(reg_state_t *state, int64_t now_ms)
{
    for (reg_node_t *node = zhashx_first(state->nodes); node; node = zhashx_next(state->nodes)) {
        node->last_seen = now_ms;
        node->live = true;
        node->has_peer = false;
    }
}

// ------------------------------------------------------------ queries

reg_room_t *reg_state_room(reg_state_t *state, const char *id)
{
    return id ? zhashx_lookup(state->rooms, id) : NULL;
}

reg_room_t *reg_state_room_named(reg_state_t *state, const char *name)
{
    char key[CHAT_ROOM_NAME_MAX * 4 + 1];
    reg_store_name_key(name ? name : "", key, sizeof key);
    const char *id = zhashx_lookup(state->names, key);
    return id ? zhashx_lookup(state->rooms, id) : NULL;
}

reg_room_t *reg_state_room_by_token(reg_state_t *state, const char *token)
{
    const char *id = token && *token ? zhashx_lookup(state->tokens, token) : NULL;
    return id ? zhashx_lookup(state->rooms, id) : NULL;
}

reg_node_t *reg_state_node(reg_state_t *state, const char *name)
{
    return name ? zhashx_lookup(state->nodes, name) : NULL;
}

reg_node_t *reg_state_node_by_instance(reg_state_t *state, const char *instance)
{
    if (!instance)
        return NULL;
    const char *slash = strrchr(instance, '/');
    if (!slash || slash == instance || slash - instance > REG_NODE_NAME_MAX)
        return NULL;
    char name[REG_NODE_NAME_MAX + 1];
    memcpy(name, instance, (size_t)(slash - instance));
    name[slash - instance] = '\0';
    reg_node_t *node = zhashx_lookup(state->nodes, name);
    return node && *node->instance && strcmp(node->instance, instance) == 0 ? node : NULL;
}

reg_room_t *reg_state_first_room(reg_state_t *state)
{
    return zhashx_first(state->rooms);
}

reg_room_t *reg_state_next_room(reg_state_t *state)
{
    return zhashx_next(state->rooms);
}

reg_node_t *reg_state_first_node(reg_state_t *state)
{
    return zhashx_first(state->nodes);
}

reg_node_t *reg_state_next_node(reg_state_t *state)
{
    return zhashx_next(state->nodes);
}

size_t reg_state_room_count(reg_state_t *state)
{
    return zhashx_size(state->rooms);
}

size_t reg_state_rooms_after(reg_state_t *state, const char *after, reg_room_t **out, size_t max)
{
    size_t at = after && *after ? s_after(state, after) : 0;
    size_t n = 0;
    while (n < max && at + n < state->n_by_id) {
        out[n] = state->by_id[at + n];
        n++;
    }
    return n;
}

size_t reg_state_node_count(reg_state_t *state)
{
    return zhashx_size(state->nodes);
}

size_t reg_state_member_count(reg_state_t *state)
{
    return state->n_members;
}

const reg_member_t *reg_state_member_at(reg_state_t *state, size_t i)
{
    return i < state->n_members ? &state->members[i] : NULL;
}

const reg_member_t *reg_state_member(reg_state_t *state, uint64_t id)
{
    for (size_t i = 0; i < state->n_members; i++)
        if (state->members[i].id == id)
            return &state->members[i];
    return NULL;
}

bool reg_state_valid_node_name(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len < 1 || len > REG_NODE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return false;
    }
    return true;
}

reg_node_t *reg_state_choose_node(reg_state_t *state, const char *room_id)
{
    size_t count = zhashx_size(state->nodes);
    if (count == 0)
        return NULL;
    const char **names = calloc(count, sizeof *names);
    reg_node_t **nodes = calloc(count, sizeof *nodes);
    size_t n = 0;
    for (reg_node_t *node = zhashx_first(state->nodes); node; node = zhashx_next(state->nodes)) {
        bool has_room = node->max_rooms == 0 || node->rooms < node->max_rooms;
        if (node->live && node->has_peer && *node->instance && has_room) {
            names[n] = node->name;
            nodes[n++] = node;
        }
    }
    int best = reg_placement_choose(room_id, names, n);
    reg_node_t *chosen = best >= 0 ? nodes[best] : NULL;
    free(names);
    free(nodes);
    return chosen;
}

size_t reg_state_rooms_granted(reg_state_t *state, const reg_node_t *node)
{
    size_t count = 0;
    for (reg_room_t *room = zhashx_first(state->rooms); room; room = zhashx_next(state->rooms))
        if (room->node && room->instance && *node->instance &&
            strcmp(room->node, node->name) == 0 && strcmp(room->instance, node->instance) == 0)
            count++;
    return count;
}

// ------------------------------------------------------------ changes

reg_room_t *reg_state_add_room(reg_state_t *state, const Chat__RegistryRoomRecord *rec)
{
    const Chat__RoomInfo *info = rec->room;
    if (zhashx_lookup(state->rooms, info->id))
        return NULL;
    reg_room_t *room = calloc(1, sizeof *room);
    room->id = s_strdup(info->id);
    room->name = s_strdup(info->name);
    room->description = s_strdup(info->description);
    room->created_at = info->created_at;
    room->token = rec->token && *rec->token ? s_strdup(rec->token) : NULL;
    room->node = rec->node && *rec->node ? s_strdup(rec->node) : NULL;
    room->instance = rec->instance && *rec->instance ? s_strdup(rec->instance) : NULL;
    room->epoch = rec->epoch;
    zhashx_insert(state->rooms, room->id, room);
    s_order_room(state, room);
    char key[CHAT_ROOM_NAME_MAX * 4 + 1];
    reg_store_name_key(room->name, key, sizeof key);
    zhashx_insert(state->names, key, room->id);
    if (room->token)
        zhashx_insert(state->tokens, room->token, room->id);
    return room;
}

void reg_state_room_record(const reg_room_t *room, Chat__RoomInfo *info,
                           Chat__RegistryRoomRecord *rec)
{
    chat__room_info__init(info);
    info->id = room->id;
    info->name = room->name;
    info->description = room->description;
    info->created_at = room->created_at;
    chat__registry_room_record__init(rec);
    rec->room = info;
    rec->node = room->node ? room->node : "";
    rec->instance = room->instance ? room->instance : "";
    rec->epoch = room->epoch;
    rec->token = room->token ? room->token : "";
}

void reg_state_place(reg_state_t *state, reg_room_t *room, const char *node_name,
                     const char *instance, uint64_t epoch, bool acked)
{
    if (!room->node || strcmp(room->node, node_name) != 0) {
        reg_node_t *previous = room->node ? zhashx_lookup(state->nodes, room->node) : NULL;
        if (previous && previous->rooms > 0)
            previous->rooms--;
        reg_node_t *node = zhashx_lookup(state->nodes, node_name);
        if (node)
            node->rooms++;
        s_set(&room->node, node_name);
    }
    s_set(&room->instance, instance);
    room->epoch = epoch;
    room->acked = acked;
}

reg_node_t *reg_state_add_node(reg_state_t *state, const char *name)
{
    reg_node_t *node = zhashx_lookup(state->nodes, name);
    if (node)
        return node;
    node = calloc(1, sizeof *node);
    node->name = s_strdup(name);
    node->instance = s_strdup("");
    node->cmd_endpoint = s_strdup("");
    node->pub_endpoint = s_strdup("");
    chat__node_stats__init(&node->stats);
    zhashx_insert(state->nodes, node->name, node);
    //  Rooms adopted for it before it existed count as its own.
    for (reg_room_t *room = zhashx_first(state->rooms); room; room = zhashx_next(state->rooms))
        if (room->node && strcmp(room->node, name) == 0)
            node->rooms++;
    return node;
}

void reg_state_set_node(reg_node_t *node, uint64_t boot, const char *cmd_endpoint,
                        const char *pub_endpoint, uint32_t max_rooms)
{
    char instance[REG_NODE_NAME_MAX + 32];
    snprintf(instance, sizeof instance, "%s/%" PRIu64, node->name, boot);
    node->boot = boot;
    s_set(&node->instance, boot ? instance : "");
    s_set(&node->cmd_endpoint, cmd_endpoint);
    s_set(&node->pub_endpoint, pub_endpoint);
    node->max_rooms = max_rooms;
}

void reg_state_node_record(const reg_node_t *node, Chat__RegistryNodeRecord *rec)
{
    chat__registry_node_record__init(rec);
    rec->node = node->name;
    rec->boot = node->boot;
    rec->instance = node->instance;
    rec->cmd_endpoint = node->cmd_endpoint;
    rec->pub_endpoint = node->pub_endpoint;
    rec->max_rooms = node->max_rooms;
}

void reg_state_set_member(reg_state_t *state, const Chat__RegistryMember *rec)
{
    reg_member_t *m = (reg_member_t *)reg_state_member(state, rec->id);
    if (!m) {
        reg_member_t *grown = realloc(state->members, (state->n_members + 1) * sizeof *grown);
        if (!grown)
            abort();
        state->members = grown;
        m = &state->members[state->n_members++];
        memset(m, 0, sizeof *m);
        m->id = rec->id;
    }
    s_set(&m->endpoint, rec->endpoint);
    s_set(&m->pub_endpoint, rec->pub_endpoint);
    s_set(&m->raft_address, rec->raft_address);
}

void reg_state_remove_member(reg_state_t *state, uint64_t id)
{
    for (size_t i = 0; i < state->n_members; i++) {
        if (state->members[i].id != id)
            continue;
        s_member_clear(&state->members[i]);
        state->members[i] = state->members[--state->n_members];
        return;
    }
}
