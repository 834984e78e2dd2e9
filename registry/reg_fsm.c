/*  reg_fsm: see reg_fsm.h. One function per command; each validates, then
 *  writes its records into the transaction and changes the tables. */
#define _GNU_SOURCE
#include "reg_fsm.h"
#include "chat_log.h"
#include "chat_text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reg_fsm {
    reg_state_t *state;   //  the tables (borrowed)
    reg_store_t *store;   //  their durable copy (borrowed)
    reg_store_txn_t *txn; //  the batch being applied, committed by reg_fsm_flush
    uint64_t applied;     //  index of the last command applied
    bool seeded;          //  the default rooms were created
};

typedef struct {
    const char *id;          //  room id
    const char *name;        //  display name
    const char *description; //  catalog description
} s_default_room_t;

static const s_default_room_t s_defaults[] = {
    {"general", "general", "General discussion"},
    {"random", "random", "Random chat"},
    {"tech", "tech", "Technology discussions"},
};

reg_fsm_t *reg_fsm_new(reg_state_t *state, reg_store_t *store)
{
    reg_fsm_t *fsm = calloc(1, sizeof *fsm);
    if (!fsm)
        return NULL;
    fsm->state = state;
    fsm->store = store;
    fsm->applied = reg_store_applied(store);
    fsm->seeded = reg_store_seeded(store);
    return fsm;
}

void reg_fsm_destroy(reg_fsm_t **fsm)
{
    if (!fsm || !*fsm)
        return;
    reg_fsm_flush(*fsm);
    free(*fsm);
    *fsm = NULL;
}

int reg_fsm_flush(reg_fsm_t *fsm)
{
    if (!fsm->txn)
        return 0;
    if (reg_store_commit(&fsm->txn) == 0)
        return 0;
    chat_error("state machine: the batch up to entry %llu could not be stored",
               (unsigned long long)fsm->applied);
    return -1;
}

uint64_t reg_fsm_applied(const reg_fsm_t *fsm)
{
    return fsm->applied;
}

bool reg_fsm_seeded(const reg_fsm_t *fsm)
{
    return fsm->seeded;
}

// ---------------------------------------------------------------- helpers

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

//  Writes room's record into txn.
static int s_put_room(reg_store_txn_t *txn, const reg_room_t *room)
{
    Chat__RoomInfo info;
    Chat__RegistryRoomRecord rec;
    reg_state_room_record(room, &info, &rec);
    return reg_store_put_room(txn, &rec);
}

static int s_put_node(reg_store_txn_t *txn, const reg_node_t *node)
{
    Chat__RegistryNodeRecord rec;
    reg_state_node_record(node, &rec);
    return reg_store_put_node(txn, &rec);
}

//  Adds a room to the tables and to txn. Returns it, or NULL on a storage
//  error (or a taken id, which callers rule out first).
static reg_room_t *s_add_room(reg_fsm_t *fsm, reg_store_txn_t *txn, const char *id,
                              const char *name, const char *description, int64_t created_at,
                              const char *token)
{
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    info.id = (char *)id;
    info.name = (char *)name;
    info.description = (char *)description;
    info.created_at = created_at;
    Chat__RegistryRoomRecord rec = CHAT__REGISTRY_ROOM_RECORD__INIT;
    rec.room = &info;
    rec.token = (char *)(token ? token : "");
    if (reg_store_put_room(txn, &rec) != 0)
        return NULL;
    reg_room_t *room = reg_state_add_room(fsm->state, &rec);
    if (room)
        room->acked = true;
    return room;
}

// ------------------------------------------------------------ create_room

//  A free room id for name: its slug, then slug-2, slug-3, ... (caller frees).
static char *s_new_room_id(reg_fsm_t *fsm, const char *name)
{
    char slug[CHAT_ROOM_ID_MAX + 1];
    if (chat_room_slug(name, slug) == 0)
        strcpy(slug, "room");
    if (!reg_state_room(fsm->state, slug))
        return strdup(slug);
    char id[CHAT_ROOM_ID_MAX + 1];
    for (unsigned n = 2;; n++) {
        char suffix[16];
        int suffix_len = snprintf(suffix, sizeof suffix, "-%u", n);
        size_t keep = strlen(slug);
        if (keep + (size_t)suffix_len > CHAT_ROOM_ID_MAX)
            keep = CHAT_ROOM_ID_MAX - (size_t)suffix_len;
        int len = snprintf(id, sizeof id, "%.*s%s", (int)keep, slug, suffix);
        if (len > 0 && (size_t)len < sizeof id && !reg_state_room(fsm->state, id))
            return strdup(id);
    }
}

//  The check of trimmed name and description.
static Chat__Status s_check_clean(reg_fsm_t *fsm, const char *name, const char *description)
{
    long desc_len = chat_utf8_length(description, strlen(description));
    if (!chat_valid_text(name, CHAT_ROOM_NAME_MAX) || desc_len < 0 || desc_len > CHAT_ROOM_DESC_MAX)
        return CHAT__STATUS__STATUS_INVALID_ROOM;
    if (reg_state_room_named(fsm->state, name))
        return CHAT__STATUS__STATUS_ROOM_EXISTS;
    return CHAT__STATUS__STATUS_OK;
}

Chat__Status reg_fsm_check_room(reg_fsm_t *fsm, const char *name, const char *description)
{
    char *clean_name = s_trimmed(name);
    char *clean_desc = s_trimmed(description);
    Chat__Status status = s_check_clean(fsm, clean_name, clean_desc);
    free(clean_name);
    free(clean_desc);
    return status;
}

static int s_create_room(reg_fsm_t *fsm, reg_store_txn_t *txn, const Chat__CreateRoomCommand *c,
                         reg_fsm_result_t *result)
{
    result->room = reg_state_room_by_token(fsm->state, c->token);
    result->found = result->room != NULL;
    if (result->found)
        return 0; //  a resend of a create that was applied: its room
    char *name = s_trimmed(c->name);
    char *description = s_trimmed(c->description);
    result->status = s_check_clean(fsm, name, description);
    int rc = 0;
    if (result->status == CHAT__STATUS__STATUS_OK) {
        char *id = s_new_room_id(fsm, name);
        result->room = s_add_room(fsm, txn, id, name, description, c->created_at, c->token);
        rc = result->room ? 0 : -1;
        free(id);
    }
    free(name);
    free(description);
    return rc;
}

void reg_fsm_create_room_command(Chat__RegistryCommand *cmd, Chat__CreateRoomCommand *body,
                                 const char *name, const char *description, int64_t created_at,
                                 const char *token)
{
    chat__create_room_command__init(body);
    body->name = (char *)(name ? name : "");
    body->description = (char *)(description ? description : "");
    body->created_at = created_at;
    body->token = (char *)(token ? token : "");
    chat__registry_command__init(cmd);
    cmd->kind_case = CHAT__REGISTRY_COMMAND__KIND_CREATE_ROOM;
    cmd->create_room = body;
}

// ----------------------------------------------------------------- seed

static int s_seed(reg_fsm_t *fsm, reg_store_txn_t *txn, const Chat__SeedCommand *c)
{
    if (fsm->seeded)
        return 0;
    for (size_t i = 0; i < sizeof s_defaults / sizeof s_defaults[0]; i++) {
        const s_default_room_t *d = &s_defaults[i];
        if (reg_state_room(fsm->state, d->id) || reg_state_room_named(fsm->state, d->name))
            continue; //  adopted from a roomd before the seed
        if (!s_add_room(fsm, txn, d->id, d->name, d->description, c->created_at, NULL))
            return -1;
    }
    if (reg_store_set_seeded(txn) != 0)
        return -1;
    fsm->seeded = true;
    chat_info("new catalog: seeded the default rooms");
    return 0;
}

// ---------------------------------------------------------- register_node

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

//  A name for an adopted room that no other room has: its own, else
//  "<name> (<id>)" (caller frees).
static char *s_free_name(reg_fsm_t *fsm, const char *name, const char *id)
{
    reg_room_t *owner = reg_state_room_named(fsm->state, name);
    if (!owner || strcmp(owner->id, id) == 0)
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
//  what a registry that lost its catalog rebuilds it from, so that no room
//  is placed away from its history. Returns 0 or -1.
static int s_adopt_held(reg_fsm_t *fsm, reg_store_txn_t *txn, reg_node_t *node,
                        const Chat__RegisterRequest *req)
{
    for (size_t i = 0; i < req->n_held; i++) {
        const Chat__Assignment *held = req->held[i];
        if (!s_valid_held(held)) {
            chat_warn("node %s reported a malformed room: skipped", node->name);
            continue;
        }
        const Chat__RoomInfo *info = held->room;
        reg_room_t *room = reg_state_room(fsm->state, info->id);
        if (room && room->node && strcmp(room->node, node->name) != 0) {
            chat_warn("node %s holds a history of %s, which is placed on %s: left there",
                      node->name, info->id, room->node);
            continue;
        }
        if (room && room->node && room->epoch >= held->epoch)
            continue; //  the catalog knows this already
        bool created = !room;
        if (created) {
            char *name = s_free_name(fsm, info->name, info->id);
            if (name)
                room =
                    s_add_room(fsm, txn, info->id, name, info->description, info->created_at, NULL);
            free(name);
            if (!room)
                return -1;
        }
        uint64_t epoch = room->epoch > held->epoch ? room->epoch : held->epoch;
        reg_state_place(fsm->state, room, node->name, node->instance, epoch, true);
        if (s_put_room(txn, room) != 0)
            return -1;
        chat_info("room %s: adopted from node %s at epoch %lu (%s)", room->id, node->name,
                  (unsigned long)room->epoch, created ? "new to the catalog" : "placed there");
    }
    return 0;
}

//  Moves every room of node to its current instance with epoch + 1.
static int s_regrant(reg_fsm_t *fsm, reg_store_txn_t *txn, reg_node_t *node)
{
    for (reg_room_t *room = reg_state_first_room(fsm->state); room;
         room = reg_state_next_room(fsm->state)) {
        if (!room->node || strcmp(room->node, node->name) != 0)
            continue;
        //  The register reply carries the grant: it is confirmed with it.
        reg_state_place(fsm->state, room, node->name, node->instance, room->epoch + 1, true);
        if (s_put_room(txn, room) != 0)
            return -1;
    }
    return 0;
}

Chat__Status reg_fsm_check_register(reg_fsm_t *fsm, const Chat__RegisterRequest *req)
{
    if (!req || !reg_state_valid_node_name(req->node) || !s_valid_endpoint(req->cmd_endpoint) ||
        !s_valid_endpoint(req->pub_endpoint))
        return CHAT__STATUS__STATUS_BAD_REQUEST;
    reg_node_t *node = reg_state_node(fsm->state, req->node);
    uint64_t prev_boot = 0;
    if (node && s_instance_boot(req->prev_instance, req->node, &prev_boot) &&
        prev_boot < node->boot)
        return CHAT__STATUS__STATUS_NOT_OWNER;
    return CHAT__STATUS__STATUS_OK;
}

static int s_register_node(reg_fsm_t *fsm, reg_store_txn_t *txn, const Chat__RegisterNodeCommand *c,
                           reg_fsm_result_t *result)
{
    const Chat__RegisterRequest *req = c->request;
    result->status = reg_fsm_check_register(fsm, req);
    if (result->status != CHAT__STATUS__STATUS_OK)
        return 0;
    reg_node_t *node = reg_state_node(fsm->state, req->node);
    uint64_t prev_boot = 0;
    bool has_prev = s_instance_boot(req->prev_instance, req->node, &prev_boot);
    //  Keep the instance when the roomd re-registers after the registry lost
    //  track of it; issue a new one for a new process.
    bool keep = has_prev && (!node || prev_boot >= node->boot);
    uint64_t old_boot = node ? node->boot : 0;
    node = reg_state_add_node(fsm->state, req->node);
    reg_state_set_node(node, keep ? prev_boot : old_boot + 1, req->cmd_endpoint, req->pub_endpoint,
                       req->max_rooms);
    if (s_adopt_held(fsm, txn, node, req) != 0)
        return -1;
    result->regranted = !keep && node->rooms > 0;
    if (result->regranted && s_regrant(fsm, txn, node) != 0)
        return -1;
    result->node = node;
    return s_put_node(txn, node);
}

// ---------------------------------------------------------------- grant

static int s_grant(reg_fsm_t *fsm, reg_store_txn_t *txn, const Chat__GrantCommand *c,
                   reg_fsm_result_t *result)
{
    reg_room_t *room = reg_state_room(fsm->state, c->room_id);
    reg_node_t *node = reg_state_node(fsm->state, c->node);
    result->room = room;
    if (!room) {
        result->status = CHAT__STATUS__STATUS_NOT_FOUND;
        return 0;
    }
    if (!node || !*node->instance || strcmp(node->instance, c->instance) != 0 ||
        c->epoch != room->epoch + 1) {
        //  Decided on a state that has moved on (another grant came first,
        //  or the node has a newer instance): nothing changes.
        result->status = CHAT__STATUS__STATUS_NOT_OWNER;
        return 0;
    }
    reg_state_place(fsm->state, room, node->name, node->instance, c->epoch, false);
    return s_put_room(txn, room);
}

// --------------------------------------------------------------- member

static int s_member(reg_fsm_t *fsm, reg_store_txn_t *txn, const Chat__MemberCommand *c,
                    reg_fsm_result_t *result)
{
    const Chat__RegistryMember *m = c->member;
    if (!m || m->id == 0) {
        result->status = CHAT__STATUS__STATUS_BAD_REQUEST;
        return 0;
    }
    if (c->remove) {
        reg_state_remove_member(fsm->state, m->id);
        return reg_store_del_member(txn, m->id);
    }
    Chat__RegistryMember rec = *m;
    rec.voter = false; //  the Raft configuration says who votes, not the table
    reg_state_set_member(fsm->state, &rec);
    return reg_store_put_member(txn, &rec);
}

// ---------------------------------------------------------------- frames

#define S_FRAME_HEADER 8
#define S_FRAME_FORMAT 1

static void s_put_u32(uint8_t *at, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        at[i] = (uint8_t)(value >> (8 * i));
}

static uint32_t s_get_u32(const uint8_t *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
}

//  msg framed into a buffer from alloc (see reg_fsm.h).
static int s_frame(const ProtobufCMessage *msg, void *(*alloc)(size_t size), void **data,
                   size_t *size)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    size_t total = (S_FRAME_HEADER + len + 7) / 8 * 8;
    uint8_t *buf = len <= UINT32_MAX ? alloc(total) : NULL;
    if (!buf)
        return -1;
    memset(buf, 0, total);
    s_put_u32(buf, (uint32_t)len);
    s_put_u32(buf + 4, S_FRAME_FORMAT);
    protobuf_c_message_pack(msg, buf + S_FRAME_HEADER);
    *data = buf;
    *size = total;
    return 0;
}

//  The message inside a frame, or NULL when data is not one.
static const uint8_t *s_unframe(const void *data, size_t size, size_t *len)
{
    const uint8_t *bytes = data;
    if (!data || size < S_FRAME_HEADER || s_get_u32(bytes + 4) != S_FRAME_FORMAT)
        return NULL;
    *len = s_get_u32(bytes);
    return *len <= size - S_FRAME_HEADER ? bytes + S_FRAME_HEADER : NULL;
}

int reg_fsm_encode(const Chat__RegistryCommand *cmd, void *(*alloc)(size_t size), void **data,
                   size_t *size)
{
    return s_frame(&cmd->base, alloc, data, size);
}

// ---------------------------------------------------------------- apply

//  The command's own work, inside txn.
static int s_dispatch(reg_fsm_t *fsm, reg_store_txn_t *txn, const Chat__RegistryCommand *cmd,
                      reg_fsm_result_t *result)
{
    switch (cmd->kind_case) {
    case CHAT__REGISTRY_COMMAND__KIND_CREATE_ROOM:
        return s_create_room(fsm, txn, cmd->create_room, result);
    case CHAT__REGISTRY_COMMAND__KIND_REGISTER_NODE:
        return s_register_node(fsm, txn, cmd->register_node, result);
    case CHAT__REGISTRY_COMMAND__KIND_GRANT:
        return s_grant(fsm, txn, cmd->grant, result);
    case CHAT__REGISTRY_COMMAND__KIND_SEED:
        return s_seed(fsm, txn, cmd->seed);
    case CHAT__REGISTRY_COMMAND__KIND_MEMBER:
        return s_member(fsm, txn, cmd->member, result);
    default:
        result->status = CHAT__STATUS__STATUS_BAD_REQUEST;
        return 0;
    }
}

int reg_fsm_apply(reg_fsm_t *fsm, uint64_t index, const Chat__RegistryCommand *cmd,
                  reg_fsm_result_t *result)
{
    memset(result, 0, sizeof *result);
    result->status = CHAT__STATUS__STATUS_OK;
    if (index <= fsm->applied) {
        result->replayed = true;
        return 0;
    }
    if (!fsm->txn)
        fsm->txn = reg_store_begin(fsm->store);
    if (!fsm->txn)
        return -1;
    int rc = cmd ? s_dispatch(fsm, fsm->txn, cmd, result) : 0;
    if (!cmd)
        result->status = CHAT__STATUS__STATUS_BAD_REQUEST;
    if (rc == 0)
        rc = reg_store_set_applied(fsm->txn, index);
    if (rc != 0) {
        reg_store_abort(&fsm->txn);
        chat_error("state machine: entry %llu could not be stored", (unsigned long long)index);
        return -1;
    }
    fsm->applied = index;
    return 0;
}

int reg_fsm_apply_bytes(reg_fsm_t *fsm, uint64_t index, const void *data, size_t size,
                        reg_fsm_result_t *result)
{
    size_t len = 0;
    const uint8_t *msg = s_unframe(data, size, &len);
    Chat__RegistryCommand *cmd = msg ? chat__registry_command__unpack(NULL, len, msg) : NULL;
    if (!cmd && index > fsm->applied) {
        char hex[2 * 24 + 1] = "";
        for (size_t i = 0; i < size && i < 24; i++)
            snprintf(hex + 2 * i, 3, "%02x", ((const unsigned char *)data)[i]);
        chat_error("state machine: entry %llu (%zu bytes: %s...) does not decode: skipped",
                   (unsigned long long)index, size, hex);
    }
    int rc = reg_fsm_apply(fsm, index, cmd, result);
    if (cmd)
        chat__registry_command__free_unpacked(cmd, NULL);
    return rc;
}

// ------------------------------------------------------------ snapshots

int reg_fsm_snapshot(reg_fsm_t *fsm, void *(*alloc)(size_t size), void **data, size_t *size)
{
    reg_state_t *state = fsm->state;
    size_t n_rooms = reg_state_room_count(state), n_nodes = reg_state_node_count(state);
    size_t n_members = reg_state_member_count(state);
    Chat__RegistryRoomRecord *rooms = calloc(n_rooms + 1, sizeof *rooms);
    Chat__RoomInfo *infos = calloc(n_rooms + 1, sizeof *infos);
    Chat__RegistryRoomRecord **room_ptrs = calloc(n_rooms + 1, sizeof *room_ptrs);
    Chat__RegistryNodeRecord *nodes = calloc(n_nodes + 1, sizeof *nodes);
    Chat__RegistryNodeRecord **node_ptrs = calloc(n_nodes + 1, sizeof *node_ptrs);
    Chat__RegistryMember *members = calloc(n_members + 1, sizeof *members);
    Chat__RegistryMember **member_ptrs = calloc(n_members + 1, sizeof *member_ptrs);
    int rc = -1;
    if (!rooms || !infos || !room_ptrs || !nodes || !node_ptrs || !members || !member_ptrs)
        goto done;
    size_t i = 0;
    for (reg_room_t *room = reg_state_first_room(state); room && i < n_rooms;
         room = reg_state_next_room(state), i++) {
        reg_state_room_record(room, &infos[i], &rooms[i]);
        room_ptrs[i] = &rooms[i];
    }
    i = 0;
    for (reg_node_t *node = reg_state_first_node(state); node && i < n_nodes;
         node = reg_state_next_node(state), i++) {
        reg_state_node_record(node, &nodes[i]);
        node_ptrs[i] = &nodes[i];
    }
    for (i = 0; i < n_members; i++) {
        const reg_member_t *m = reg_state_member_at(state, i);
        chat__registry_member__init(&members[i]);
        members[i].id = m->id;
        members[i].endpoint = m->endpoint;
        members[i].pub_endpoint = m->pub_endpoint;
        members[i].raft_address = m->raft_address;
        member_ptrs[i] = &members[i];
    }
    Chat__RegistrySnapshot snap = CHAT__REGISTRY_SNAPSHOT__INIT;
    snap.applied_index = fsm->applied;
    snap.seeded = fsm->seeded;
    snap.rooms = room_ptrs;
    snap.n_rooms = n_rooms;
    snap.nodes = node_ptrs;
    snap.n_nodes = n_nodes;
    snap.members = member_ptrs;
    snap.n_members = n_members;
    rc = s_frame(&snap.base, alloc, data, size);
done:
    free(rooms);
    free(infos);
    free(room_ptrs);
    free(nodes);
    free(node_ptrs);
    free(members);
    free(member_ptrs);
    return rc;
}

//  True when every record of the snapshot has what the tables need.
static bool s_valid_snapshot(const Chat__RegistrySnapshot *snap)
{
    for (size_t i = 0; i < snap->n_rooms; i++) {
        const Chat__RegistryRoomRecord *r = snap->rooms[i];
        if (!r->room || !chat_valid_room_id(r->room->id) || !r->room->name)
            return false;
    }
    for (size_t i = 0; i < snap->n_nodes; i++)
        if (!reg_state_valid_node_name(snap->nodes[i]->node))
            return false;
    for (size_t i = 0; i < snap->n_members; i++)
        if (snap->members[i]->id == 0)
            return false;
    return true;
}

//  Writes the snapshot's records in place of the store's, in one transaction.
static int s_store_snapshot(reg_fsm_t *fsm, const Chat__RegistrySnapshot *snap)
{
    reg_store_txn_t *txn = reg_store_begin(fsm->store);
    if (!txn)
        return -1;
    int rc = reg_store_clear(txn);
    for (size_t i = 0; rc == 0 && i < snap->n_rooms; i++)
        rc = reg_store_put_room(txn, snap->rooms[i]);
    for (size_t i = 0; rc == 0 && i < snap->n_nodes; i++)
        rc = reg_store_put_node(txn, snap->nodes[i]);
    for (size_t i = 0; rc == 0 && i < snap->n_members; i++)
        rc = reg_store_put_member(txn, snap->members[i]);
    if (rc == 0 && snap->seeded)
        rc = reg_store_set_seeded(txn);
    if (rc == 0)
        rc = reg_store_set_applied(txn, snap->applied_index);
    if (rc == 0)
        rc = reg_store_commit(&txn);
    reg_store_abort(&txn);
    return rc;
}

int reg_fsm_restore(reg_fsm_t *fsm, const void *data, size_t size, int64_t now_ms)
{
    if (reg_fsm_flush(fsm) != 0)
        return -1;
    size_t len = 0;
    const uint8_t *msg = s_unframe(data, size, &len);
    Chat__RegistrySnapshot *snap = msg ? chat__registry_snapshot__unpack(NULL, len, msg) : NULL;
    if (!snap || !s_valid_snapshot(snap)) {
        chat_error("state machine: a snapshot of %zu bytes does not decode", size);
        if (snap)
            chat__registry_snapshot__free_unpacked(snap, NULL);
        return -1;
    }
    int rc = 0;
    if (snap->applied_index <= fsm->applied) {
        chat_info("snapshot at %llu: the state is at %llu already",
                  (unsigned long long)snap->applied_index, (unsigned long long)fsm->applied);
    } else if (s_store_snapshot(fsm, snap) != 0) {
        rc = -1;
    } else {
        rc = reg_state_reload(fsm->state, now_ms);
        fsm->applied = snap->applied_index;
        fsm->seeded = snap->seeded;
        chat_info("restored a snapshot at %llu: %zu rooms, %zu nodes",
                  (unsigned long long)snap->applied_index, snap->n_rooms, snap->n_nodes);
    }
    chat__registry_snapshot__free_unpacked(snap, NULL);
    return rc;
}
