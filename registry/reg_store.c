/*  reg_store: see reg_store.h. */
#include "reg_store.h"
#include "chat_clock.h"
#include "chat_log.h"

#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct reg_store {
    MDB_env *env;  //  the environment
    MDB_dbi rooms; //  room id -> RegistryRoomRecord
    MDB_dbi names; //  lower-cased name -> room id
    MDB_dbi nodes; //  node -> RegistryNodeRecord
    MDB_dbi meta;  //  "boot" -> uint64
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

void reg_store_name_key(const char *name, char *out, size_t size)
{
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[i] = '\0';
}

static int s_fail(const char *what, int rc)
{
    chat_error("registry store: %s: %s", what, mdb_strerror(rc));
    return -1;
}

static int s_put_room(reg_store_t *store, MDB_txn *txn, const Chat__RegistryRoomRecord *rec)
{
    size_t size = chat__registry_room_record__get_packed_size(rec);
    MDB_val key = {strlen(rec->room->id), rec->room->id};
    MDB_val val = {size, NULL};
    int rc = mdb_put(txn, store->rooms, &key, &val, MDB_RESERVE);
    if (rc)
        return s_fail("put room", rc);
    chat__registry_room_record__pack(rec, val.mv_data);

    char lower[257];
    reg_store_name_key(rec->room->name, lower, sizeof lower);
    MDB_val name_key = {strlen(lower), lower};
    MDB_val name_val = {strlen(rec->room->id), rec->room->id};
    rc = mdb_put(txn, store->names, &name_key, &name_val, 0);
    return rc ? s_fail("put name", rc) : 0;
}

static int s_put_node(reg_store_t *store, MDB_txn *txn, const Chat__RegistryNodeRecord *rec)
{
    size_t size = chat__registry_node_record__get_packed_size(rec);
    MDB_val key = {strlen(rec->node), rec->node};
    MDB_val val = {size, NULL};
    int rc = mdb_put(txn, store->nodes, &key, &val, MDB_RESERVE);
    if (rc)
        return s_fail("put node", rc);
    chat__registry_node_record__pack(rec, val.mv_data);
    return 0;
}

//  Seeds the default rooms into a store that has no room yet.
static int s_seed(reg_store_t *store, MDB_txn *txn)
{
    MDB_stat st;
    int rc = mdb_stat(txn, store->rooms, &st);
    if (rc)
        return s_fail("stat rooms", rc);
    if (st.ms_entries > 0)
        return 0;
    int64_t now = chat_wall_ms();
    for (size_t i = 0; i < sizeof s_defaults / sizeof s_defaults[0]; i++) {
        Chat__RoomInfo room = CHAT__ROOM_INFO__INIT;
        room.id = (char *)s_defaults[i].id;
        room.name = (char *)s_defaults[i].name;
        room.description = (char *)s_defaults[i].description;
        room.created_at = now;
        Chat__RegistryRoomRecord rec = CHAT__REGISTRY_ROOM_RECORD__INIT;
        rec.room = &room;
        if (s_put_room(store, txn, &rec) != 0)
            return -1;
    }
    chat_info("new catalog: seeded the default rooms");
    return 0;
}

reg_store_t *reg_store_open(const char *path, uint64_t map_size_mb)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        chat_error("registry store: mkdir %s: %s", path, strerror(errno));
        return NULL;
    }
    reg_store_t *store = calloc(1, sizeof *store);
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&store->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(store->env, 4);
    if (!rc)
        rc = mdb_env_set_mapsize(store->env, (size_t)map_size_mb << 20);
    if (!rc)
        rc = mdb_env_open(store->env, path, MDB_NOTLS, 0644);
    if (!rc)
        rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, "rooms", MDB_CREATE, &store->rooms);
    if (!rc)
        rc = mdb_dbi_open(txn, "names", MDB_CREATE, &store->names);
    if (!rc)
        rc = mdb_dbi_open(txn, "nodes", MDB_CREATE, &store->nodes);
    if (!rc)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &store->meta);
    if (rc) {
        s_fail(path, rc);
    } else if (s_seed(store, txn) != 0) {
        rc = -1;
    } else {
        rc = mdb_txn_commit(txn);
        txn = NULL;
        if (rc)
            s_fail("commit", rc);
    }
    if (rc) {
        if (txn)
            mdb_txn_abort(txn);
        reg_store_destroy(&store);
        return NULL;
    }
    return store;
}

void reg_store_destroy(reg_store_t **store_p)
{
    if (!store_p || !*store_p)
        return;
    reg_store_t *store = *store_p;
    if (store->env)
        mdb_env_close(store->env);
    free(store);
    *store_p = NULL;
}

uint64_t reg_store_next_boot(reg_store_t *store)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc) {
        s_fail("begin", rc);
        return 0;
    }
    MDB_val key = {4, "boot"};
    MDB_val val;
    uint64_t boot = 0;
    rc = mdb_get(txn, store->meta, &key, &val);
    if (rc == 0 && val.mv_size == sizeof boot)
        memcpy(&boot, val.mv_data, sizeof boot);
    boot++;
    val.mv_size = sizeof boot;
    val.mv_data = &boot;
    rc = mdb_put(txn, store->meta, &key, &val, 0);
    if (!rc)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc) {
        s_fail("boot counter", rc);
        return 0;
    }
    return boot;
}

//  Walks every record of one DB, handing each value's bytes to fn.
static int s_each(reg_store_t *store, MDB_dbi dbi, void (*fn)(const MDB_val *val, void *arg),
                  void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cursor;
    int rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return s_fail("begin read", rc);
    rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc) {
        mdb_txn_abort(txn);
        return s_fail("cursor", rc);
    }
    MDB_val key, val;
    for (rc = mdb_cursor_get(cursor, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT))
        fn(&val, arg);
    int result = rc == MDB_NOTFOUND ? 0 : s_fail("walk", rc);
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    return result;
}

typedef struct {
    void (*fn)(const Chat__RegistryRoomRecord *rec, void *arg); //  caller's callback
    void *arg;                                                  //  caller's argument
} s_room_walk_t;

static void s_room_value(const MDB_val *val, void *arg)
{
    s_room_walk_t *walk = arg;
    Chat__RegistryRoomRecord *rec =
        chat__registry_room_record__unpack(NULL, val->mv_size, val->mv_data);
    if (!rec || !rec->room || !rec->room->id || !rec->room->name)
        chat_error("registry store: a corrupt room record (%zu bytes) was skipped", val->mv_size);
    else
        walk->fn(rec, walk->arg);
    if (rec)
        chat__registry_room_record__free_unpacked(rec, NULL);
}

typedef struct {
    void (*fn)(const Chat__RegistryNodeRecord *rec, void *arg); //  caller's callback
    void *arg;                                                  //  caller's argument
} s_node_walk_t;

static void s_node_value(const MDB_val *val, void *arg)
{
    s_node_walk_t *walk = arg;
    Chat__RegistryNodeRecord *rec =
        chat__registry_node_record__unpack(NULL, val->mv_size, val->mv_data);
    if (!rec || !rec->node || !*rec->node)
        chat_error("registry store: a corrupt node record (%zu bytes) was skipped", val->mv_size);
    else
        walk->fn(rec, walk->arg);
    if (rec)
        chat__registry_node_record__free_unpacked(rec, NULL);
}

int reg_store_each_room(reg_store_t *store,
                        void (*fn)(const Chat__RegistryRoomRecord *rec, void *arg), void *arg)
{
    s_room_walk_t walk = {fn, arg};
    return s_each(store, store->rooms, s_room_value, &walk);
}

int reg_store_each_node(reg_store_t *store,
                        void (*fn)(const Chat__RegistryNodeRecord *rec, void *arg), void *arg)
{
    s_node_walk_t walk = {fn, arg};
    return s_each(store, store->nodes, s_node_value, &walk);
}

int reg_store_put(reg_store_t *store, Chat__RegistryRoomRecord *const *rooms, size_t room_count,
                  Chat__RegistryNodeRecord *const *nodes, size_t node_count)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc)
        return s_fail("begin", rc);
    for (size_t i = 0; i < room_count; i++)
        if (s_put_room(store, txn, rooms[i]) != 0)
            goto abort;
    for (size_t i = 0; i < node_count; i++)
        if (s_put_node(store, txn, nodes[i]) != 0)
            goto abort;
    rc = mdb_txn_commit(txn);
    return rc ? s_fail("commit", rc) : 0;
abort:
    mdb_txn_abort(txn);
    return -1;
}
