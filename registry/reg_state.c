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
    reg_store_t *store; //  durable copy (borrowed)
    zhashx_t *rooms;    //  id -> reg_room_t
    zhashx_t *names;    //  lower-cased name -> room id (the room's own string)
    zhashx_t *nodes;    //  name -> reg_node_t
    reg_room_t **by_id; //  every room, in id order (strcmp), for paged listings
    size_t n_by_id;     //  entries in by_id
    size_t cap_by_id;   //  capacity of by_id
};

static char *s_strdup(const char *s)
{
    return strdup(s ? s : "");
}

static void s_room_free(void **item)
{
    reg_room_t *room = *item;
    if (!room)
        return;
    free(room->id);
    free(room->name);
    free(room->description);
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

//  Replaces *field with a copy of value.
static void s_set(char **field, const char *value)
{
    char *copy = s_strdup(value);
    free(*field);
    *field = copy;
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

static void s_index_room(reg_state_t *state, reg_room_t *room)
{
    zhashx_insert(state->rooms, room->id, room);
    s_order_room(state, room);
    char key[CHAT_ROOM_NAME_MAX * 4 + 1];
    reg_store_name_key(room->name, key, sizeof key);
    zhashx_insert(state->names, key, room->id);
}

static void s_load_room(const Chat__RegistryRoomRecord *rec, void *arg)
{
    reg_state_t *state = arg;
    reg_room_t *room = calloc(1, sizeof *room);
    room->id = s_strdup(rec->room->id);
    room->name = s_strdup(rec->room->name);
    room->description = s_strdup(rec->room->description);
    room->created_at = rec->room->created_at;
    room->node = rec->node && *rec->node ? s_strdup(rec->node) : NULL;
    room->instance = rec->instance && *rec->instance ? s_strdup(rec->instance) : NULL;
    room->epoch = rec->epoch;
    //  Grants made before a restart may not have been confirmed; heartbeats
    //  reconcile them (the roomd reports how many grants it holds).
    room->acked = true;
    s_index_room(state, room);
}

static void s_load_node(const Chat__RegistryNodeRecord *rec, void *arg)
{
    reg_state_t *state = arg;
    reg_node_t *node = calloc(1, sizeof *node);
    node->name = s_strdup(rec->node);
    node->boot = rec->boot;
    node->instance = s_strdup(rec->instance);
    node->cmd_endpoint = s_strdup(rec->cmd_endpoint);
    node->pub_endpoint = s_strdup(rec->pub_endpoint);
    node->max_rooms = rec->max_rooms;
    chat__node_stats__init(&node->stats);
    zhashx_insert(state->nodes, node->name, node);
}

reg_state_t *reg_state_new(reg_store_t *store, int64_t now_ms)
{
    reg_state_t *state = calloc(1, sizeof *state);
    state->store = store;
    state->rooms = zhashx_new();
    zhashx_set_destructor(state->rooms, s_room_free);
    state->names = zhashx_new();
    state->nodes = zhashx_new();
    zhashx_set_destructor(state->nodes, s_node_free);
    if (reg_store_each_room(store, s_load_room, state) != 0 ||
        reg_store_each_node(store, s_load_node, state) != 0) {
        reg_state_destroy(&state);
        return NULL;
    }
    for (reg_node_t *node = zhashx_first(state->nodes); node; node = zhashx_next(state->nodes)) {
        node->last_seen = now_ms;
        node->live = true;
    }
    for (reg_room_t *room = zhashx_first(state->rooms); room; room = zhashx_next(state->rooms)) {
        reg_node_t *node = room->node ? zhashx_lookup(state->nodes, room->node) : NULL;
        if (node)
            node->rooms++;
    }
    chat_info("catalog: %zu rooms, %zu nodes", zhashx_size(state->rooms),
              zhashx_size(state->nodes));
    return state;
}

void reg_state_destroy(reg_state_t **state_p)
{
    if (!state_p || !*state_p)
        return;
    reg_state_t *state = *state_p;
    zhashx_destroy(&state->names);
    zhashx_destroy(&state->rooms);
    zhashx_destroy(&state->nodes);
    free(state->by_id);
    free(state);
    *state_p = NULL;
}

reg_room_t *reg_state_room(reg_state_t *state, const char *id)
{
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
    return node && strcmp(node->instance, instance) == 0 ? node : NULL;
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

//  Copy of text without leading and trailing white space (caller frees).
static char *s_trimmed(const char *text)
{
    const char *start = text ? text : "";
    while (*start && isspace((unsigned char)*start))
        start++;
    size_t len = strlen(start);
    while (len > 0 && isspace((unsigned char)start[len - 1]))
        len--;
    return strndup(start, len);
}

static void s_fill_record(const reg_room_t *room, Chat__RoomInfo *info,
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
}

static void s_fill_node_record(const reg_node_t *node, Chat__RegistryNodeRecord *rec)
{
    chat__registry_node_record__init(rec);
    rec->node = node->name;
    rec->boot = node->boot;
    rec->instance = node->instance;
    rec->cmd_endpoint = node->cmd_endpoint;
    rec->pub_endpoint = node->pub_endpoint;
    rec->max_rooms = node->max_rooms;
}

//  A free room id for name: its slug, then slug-2, slug-3, ... (caller frees).
static char *s_new_room_id(reg_state_t *state, const char *name)
{
    char slug[CHAT_ROOM_ID_MAX + 1];
    if (chat_room_slug(name, slug) == 0)
        strcpy(slug, "room");
    if (!zhashx_lookup(state->rooms, slug))
        return strdup(slug);
    char id[CHAT_ROOM_ID_MAX + 1];
    for (unsigned n = 2;; n++) {
        char suffix[16];
        int suffix_len = snprintf(suffix, sizeof suffix, "-%u", n);
        size_t keep = strlen(slug);
        if (keep + (size_t)suffix_len > CHAT_ROOM_ID_MAX)
            keep = CHAT_ROOM_ID_MAX - (size_t)suffix_len;
        int len = snprintf(id, sizeof id, "%.*s%s", (int)keep, slug, suffix);
        if (len > 0 && (size_t)len < sizeof id && !zhashx_lookup(state->rooms, id))
            return strdup(id);
    }
}

Chat__Status reg_state_create_room(reg_state_t *state, const char *name, const char *description,
                                   int64_t now_wall_ms, reg_room_t **room_out)
{
    *room_out = NULL;
    char *clean_name = s_trimmed(name);
    char *clean_desc = s_trimmed(description);
    Chat__Status status = CHAT__STATUS__STATUS_OK;
    long desc_len = chat_utf8_length(clean_desc, strlen(clean_desc));
    char key[CHAT_ROOM_NAME_MAX * 4 + 1];
    if (!chat_valid_text(clean_name, CHAT_ROOM_NAME_MAX) || desc_len < 0 ||
        desc_len > CHAT_ROOM_DESC_MAX) {
        status = CHAT__STATUS__STATUS_INVALID_ROOM;
    } else {
        reg_store_name_key(clean_name, key, sizeof key);
        if (zhashx_lookup(state->names, key))
            status = CHAT__STATUS__STATUS_ROOM_EXISTS;
    }
    if (status != CHAT__STATUS__STATUS_OK) {
        free(clean_name);
        free(clean_desc);
        return status;
    }

    reg_room_t *room = calloc(1, sizeof *room);
    room->id = s_new_room_id(state, clean_name);
    room->name = clean_name;
    room->description = clean_desc;
    room->created_at = now_wall_ms;
    room->acked = true;

    Chat__RoomInfo info;
    Chat__RegistryRoomRecord rec;
    s_fill_record(room, &info, &rec);
    Chat__RegistryRoomRecord *recs[] = {&rec};
    if (reg_store_put(state->store, recs, 1, NULL, 0) != 0) {
        void *item = room;
        s_room_free(&item);
        return CHAT__STATUS__STATUS_INTERNAL;
    }
    s_index_room(state, room);
    *room_out = room;
    return CHAT__STATUS__STATUS_OK;
}

//  Parses the boot number of "<node>/<boot>" when the node part is name.
static bool s_instance_boot(const char *instance, const char *name, uint64_t *boot)
{
    size_t len = strlen(name);
    if (!instance || strncmp(instance, name, len) != 0 || instance[len] != '/')
        return false;
    char *end = NULL;
    unsigned long long value = strtoull(instance + len + 1, &end, 10);
    if (end == instance + len + 1 || *end != '\0' || value == 0)
        return false;
    *boot = value;
    return true;
}

static bool s_valid_endpoint(const char *endpoint)
{
    size_t len = endpoint ? strlen(endpoint) : 0;
    return len > 6 && len < 256 && strstr(endpoint, "://") != NULL;
}

//  Persists node and, when regrant, moves every room of the node to its new
//  instance with epoch + 1, all in one transaction. Memory changes only
//  after the commit.
static int s_commit_registration(reg_state_t *state, reg_node_t *node, bool regrant)
{
    size_t count = regrant ? node->rooms : 0;
    Chat__RegistryRoomRecord *recs = calloc(count + 1, sizeof *recs);
    Chat__RoomInfo *infos = calloc(count + 1, sizeof *infos);
    Chat__RegistryRoomRecord **rec_ptrs = calloc(count + 1, sizeof *rec_ptrs);
    reg_room_t **rooms = calloc(count + 1, sizeof *rooms);
    size_t n = 0;
    for (reg_room_t *room = zhashx_first(state->rooms); room && regrant;
         room = zhashx_next(state->rooms)) {
        if (!room->node || strcmp(room->node, node->name) != 0 || n == count)
            continue;
        rooms[n] = room;
        s_fill_record(room, &infos[n], &recs[n]);
        recs[n].instance = node->instance;
        recs[n].epoch = room->epoch + 1;
        rec_ptrs[n] = &recs[n];
        n++;
    }
    Chat__RegistryNodeRecord node_rec;
    s_fill_node_record(node, &node_rec);
    Chat__RegistryNodeRecord *node_ptrs[] = {&node_rec};
    int rc = reg_store_put(state->store, rec_ptrs, n, node_ptrs, 1);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        s_set(&rooms[i]->instance, node->instance);
        rooms[i]->epoch++;
        rooms[i]->acked = true; //  the register reply carries the grant
    }
    free(recs);
    free(infos);
    free(rec_ptrs);
    free(rooms);
    return rc;
}

//  A name for an adopted room that no other room has: its own, else
//  "<name> (<id>)" (caller frees).
static char *s_free_name(reg_state_t *state, const char *name, const char *id)
{
    char key[CHAT_ROOM_NAME_MAX * 4 + 1];
    reg_store_name_key(name, key, sizeof key);
    const char *owner = zhashx_lookup(state->names, key);
    if (!owner || strcmp(owner, id) == 0)
        return strdup(name);
    char *renamed = NULL;
    if (asprintf(&renamed, "%.40s (%s)", name, id) < 0)
        return NULL;
    return renamed;
}

//  True when a held room's catalog fields are what a catalog may hold.
static bool s_valid_held(const Chat__Assignment *held)
{
    const Chat__RoomInfo *room = held->room;
    if (!room || !chat_valid_room_id(room->id) || !chat_valid_text(room->name, CHAT_ROOM_NAME_MAX))
        return false;
    long desc =
        room->description ? chat_utf8_length(room->description, strlen(room->description)) : 0;
    return desc >= 0 && desc <= CHAT_ROOM_DESC_MAX;
}

//  Takes into the catalog what a registering node says its data directory
//  holds: a room the catalog lacks is added, placed on node; a room never
//  placed is placed on node; a room placed on node whose stored epoch is
//  ahead of the catalog's moves its epoch up. A room placed on another node
//  is left where it is (logged: two nodes hold a history of it). This is
//  what a registry that lost its data directory rebuilds its catalog from,
//  so that no room is placed away from its history. Returns 0 or -1.
static int s_adopt_held(reg_state_t *state, reg_node_t *node, const Chat__RegisterRequest *req)
{
    for (size_t i = 0; i < req->n_held; i++) {
        const Chat__Assignment *held = req->held[i];
        if (!s_valid_held(held)) {
            chat_warn("node %s reported a malformed room: skipped", node->name);
            continue;
        }
        const Chat__RoomInfo *info = held->room;
        reg_room_t *room = zhashx_lookup(state->rooms, info->id);
        if (room && room->node && strcmp(room->node, node->name) != 0) {
            chat_warn("node %s holds a history of %s, which is placed on %s: left there",
                      node->name, info->id, room->node);
            continue;
        }
        if (room && room->node && room->epoch >= held->epoch)
            continue; //  the catalog knows this already
        bool created = !room;
        if (created) {
            room = calloc(1, sizeof *room);
            room->id = s_strdup(info->id);
            room->name = s_free_name(state, info->name, info->id);
            room->description = s_strdup(info->description);
            room->created_at = info->created_at;
        }
        Chat__RoomInfo rec_info;
        Chat__RegistryRoomRecord rec;
        s_fill_record(room, &rec_info, &rec);
        rec.node = node->name;
        rec.instance = node->instance;
        rec.epoch = room->epoch > held->epoch ? room->epoch : held->epoch;
        Chat__RegistryRoomRecord *recs[] = {&rec};
        if (!room->name || reg_store_put(state->store, recs, 1, NULL, 0) != 0) {
            if (created) {
                void *item = room;
                s_room_free(&item);
            }
            return -1;
        }
        if (!room->node)
            node->rooms++;
        s_set(&room->node, node->name);
        s_set(&room->instance, node->instance);
        room->epoch = rec.epoch;
        room->acked = true;
        if (created)
            s_index_room(state, room);
        chat_info("room %s: adopted from node %s at epoch %lu (%s)", room->id, node->name,
                  (unsigned long)room->epoch, created ? "new to the catalog" : "placed there");
    }
    return 0;
}

Chat__Status reg_state_register(reg_state_t *state, const Chat__RegisterRequest *req,
                                reg_node_t **node_out, bool *regranted)
{
    *node_out = NULL;
    *regranted = false;
    if (!reg_state_valid_node_name(req->node) || !s_valid_endpoint(req->cmd_endpoint) ||
        !s_valid_endpoint(req->pub_endpoint))
        return CHAT__STATUS__STATUS_BAD_REQUEST;

    reg_node_t *node = zhashx_lookup(state->nodes, req->node);
    uint64_t prev_boot = 0;
    bool has_prev = s_instance_boot(req->prev_instance, req->node, &prev_boot);
    if (node && has_prev && prev_boot < node->boot)
        return CHAT__STATUS__STATUS_NOT_OWNER;

    //  Keep the instance when the roomd re-registers after the registry lost
    //  track of it; issue a new one for a new process.
    bool keep = has_prev && (!node || prev_boot >= node->boot);
    uint64_t old_boot = node ? node->boot : 0;
    char *old_instance = node ? s_strdup(node->instance) : NULL;
    bool created = false;
    if (!node) {
        node = calloc(1, sizeof *node);
        node->name = s_strdup(req->node);
        chat__node_stats__init(&node->stats);
        created = true;
    }
    uint64_t boot = keep ? prev_boot : old_boot + 1;
    char instance[REG_NODE_NAME_MAX + 32];
    snprintf(instance, sizeof instance, "%s/%" PRIu64, node->name, boot);
    node->boot = boot;
    s_set(&node->instance, instance);
    s_set(&node->cmd_endpoint, req->cmd_endpoint);
    s_set(&node->pub_endpoint, req->pub_endpoint);
    node->max_rooms = req->max_rooms;

    if (created)
        zhashx_insert(state->nodes, node->name, node);
    if (s_adopt_held(state, node, req) != 0) {
        chat_error("could not adopt the rooms node %s holds", node->name);
        free(old_instance);
        return CHAT__STATUS__STATUS_INTERNAL;
    }
    bool regrant = !keep && node->rooms > 0;
    if (s_commit_registration(state, node, regrant) != 0) {
        //  The node stays known (its adopted rooms name it); it registers again.
        node->boot = old_boot;
        s_set(&node->instance, old_instance);
        free(old_instance);
        return CHAT__STATUS__STATUS_INTERNAL;
    }
    free(old_instance);
    *node_out = node;
    *regranted = regrant;
    return CHAT__STATUS__STATUS_OK;
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
        if (node->live && node->has_peer && has_room) {
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

int reg_state_grant(reg_state_t *state, reg_room_t *room, reg_node_t *node)
{
    Chat__RoomInfo info;
    Chat__RegistryRoomRecord rec;
    s_fill_record(room, &info, &rec);
    rec.node = node->name;
    rec.instance = node->instance;
    rec.epoch = room->epoch + 1;
    Chat__RegistryRoomRecord *recs[] = {&rec};
    if (reg_store_put(state->store, recs, 1, NULL, 0) != 0)
        return -1;
    if (!room->node || strcmp(room->node, node->name) != 0) {
        reg_node_t *previous = room->node ? zhashx_lookup(state->nodes, room->node) : NULL;
        if (previous && previous->rooms > 0)
            previous->rooms--;
        node->rooms++;
        s_set(&room->node, node->name);
    }
    s_set(&room->instance, node->instance);
    room->epoch++;
    room->acked = false;
    return 0;
}

size_t reg_state_rooms_granted(reg_state_t *state, const reg_node_t *node)
{
    size_t count = 0;
    for (reg_room_t *room = zhashx_first(state->rooms); room; room = zhashx_next(state->rooms))
        if (room->node && room->instance && strcmp(room->node, node->name) == 0 &&
            strcmp(room->instance, node->instance) == 0)
            count++;
    return count;
}
