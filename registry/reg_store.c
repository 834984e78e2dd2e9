/*  reg_store: see reg_store.h. */
#include "reg_store.h"
#include "chat_log.h"

#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct reg_store {
    MDB_env *env;    //  the environment
    MDB_dbi rooms;   //  room id -> RegistryRoomRecord
    MDB_dbi names;   //  lower-cased name -> room id
    MDB_dbi nodes;   //  node -> RegistryNodeRecord
    MDB_dbi members; //  registry id (u64 big-endian) -> RegistryMember
    MDB_dbi meta;    //  "boot", "applied" -> u64; "seeded" -> 1 byte
};

struct reg_store_txn {
    reg_store_t *store; //  the store written to
    MDB_txn *txn;       //  the LMDB write transaction
};

static const char *s_meta_applied = "applied";
static const char *s_meta_seeded = "seeded";
static const char *s_meta_boot = "boot";

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

// -------------------------------------------------------------- meta

//  Reads a u64 meta value; 0 when absent.
static uint64_t s_meta_u64(reg_store_t *store, MDB_txn *txn, const char *name)
{
    MDB_val key = {strlen(name), (void *)name};
    MDB_val val;
    uint64_t value = 0;
    if (mdb_get(txn, store->meta, &key, &val) == 0 && val.mv_size == sizeof value)
        memcpy(&value, val.mv_data, sizeof value);
    return value;
}

static int s_put_meta(reg_store_t *store, MDB_txn *txn, const char *name, const void *data,
                      size_t size)
{
    MDB_val key = {strlen(name), (void *)name};
    MDB_val val = {size, (void *)data};
    int rc = mdb_put(txn, store->meta, &key, &val, 0);
    return rc ? s_fail(name, rc) : 0;
}

//  A store written before the registry used Raft has rooms, no seeded mark
//  and no applied index: its default rooms exist, so it is marked seeded.
//  (A store the state machine wrote is never touched: every registry must
//  read back exactly what it applied.)
static int s_mark_legacy_seeded(reg_store_t *store, MDB_txn *txn)
{
    MDB_val key = {strlen(s_meta_seeded), (void *)s_meta_seeded};
    MDB_val applied = {strlen(s_meta_applied), (void *)s_meta_applied};
    MDB_val val;
    if (mdb_get(txn, store->meta, &key, &val) == 0 ||
        mdb_get(txn, store->meta, &applied, &val) == 0)
        return 0;
    MDB_stat st;
    int rc = mdb_stat(txn, store->rooms, &st);
    if (rc)
        return s_fail("stat rooms", rc);
    if (st.ms_entries == 0)
        return 0;
    chat_info("catalog of %zu rooms from before the quorum: kept as this registry's state",
              (size_t)st.ms_entries);
    uint8_t one = 1;
    return s_put_meta(store, txn, s_meta_seeded, &one, 1);
}

// --------------------------------------------------------- lifecycle

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
        rc = mdb_env_set_maxdbs(store->env, 5);
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
        rc = mdb_dbi_open(txn, "members", MDB_CREATE, &store->members);
    if (!rc)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &store->meta);
    if (rc) {
        s_fail(path, rc);
    } else if (s_mark_legacy_seeded(store, txn) != 0) {
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
    reg_store_txn_t *txn = reg_store_begin(store);
    if (!txn)
        return 0;
    uint64_t boot = s_meta_u64(store, txn->txn, s_meta_boot) + 1;
    if (s_put_meta(store, txn->txn, s_meta_boot, &boot, sizeof boot) != 0) {
        reg_store_abort(&txn);
        return 0;
    }
    return reg_store_commit(&txn) == 0 ? boot : 0;
}

//  Reads one meta value in a read transaction of its own.
static bool s_read_meta(reg_store_t *store, const char *name, uint64_t *value, bool *present)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        s_fail("begin read", rc);
        return false;
    }
    MDB_val key = {strlen(name), (void *)name};
    MDB_val val;
    *present = mdb_get(txn, store->meta, &key, &val) == 0;
    *value = *present ? s_meta_u64(store, txn, name) : 0;
    mdb_txn_abort(txn);
    return true;
}

uint64_t reg_store_applied(reg_store_t *store)
{
    uint64_t value = 0;
    bool present = false;
    s_read_meta(store, s_meta_applied, &value, &present);
    return value;
}

bool reg_store_seeded(reg_store_t *store)
{
    uint64_t value = 0;
    bool present = false;
    s_read_meta(store, s_meta_seeded, &value, &present);
    return present;
}

// ----------------------------------------------------------- reading

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
    void (*fn)(const void *rec, void *arg); //  caller's callback
    void *arg;                              //  caller's argument
    const ProtobufCMessageDescriptor *type; //  what the values are
    const char *what;                       //  for the log
} s_walk_t;

//  The fields every record needs: a room its catalog fields, a node and a
//  member their keys.
static bool s_complete(const s_walk_t *walk, const ProtobufCMessage *msg)
{
    if (walk->type == &chat__registry_room_record__descriptor) {
        const Chat__RegistryRoomRecord *rec = (const void *)msg;
        return rec->room && rec->room->id && *rec->room->id && rec->room->name;
    }
    if (walk->type == &chat__registry_node_record__descriptor)
        return *((const Chat__RegistryNodeRecord *)(const void *)msg)->node != '\0';
    return ((const Chat__RegistryMember *)(const void *)msg)->id > 0;
}

static void s_value(const MDB_val *val, void *arg)
{
    s_walk_t *walk = arg;
    ProtobufCMessage *msg = protobuf_c_message_unpack(walk->type, NULL, val->mv_size, val->mv_data);
    if (!msg || !s_complete(walk, msg))
        chat_error("registry store: a corrupt %s record (%zu bytes) was skipped", walk->what,
                   val->mv_size);
    else
        walk->fn(msg, walk->arg);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

int reg_store_each_room(reg_store_t *store,
                        void (*fn)(const Chat__RegistryRoomRecord *rec, void *arg), void *arg)
{
    s_walk_t walk = {(void (*)(const void *, void *))fn, arg,
                     &chat__registry_room_record__descriptor, "room"};
    return s_each(store, store->rooms, s_value, &walk);
}

int reg_store_each_node(reg_store_t *store,
                        void (*fn)(const Chat__RegistryNodeRecord *rec, void *arg), void *arg)
{
    s_walk_t walk = {(void (*)(const void *, void *))fn, arg,
                     &chat__registry_node_record__descriptor, "node"};
    return s_each(store, store->nodes, s_value, &walk);
}

int reg_store_each_member(reg_store_t *store,
                          void (*fn)(const Chat__RegistryMember *rec, void *arg), void *arg)
{
    s_walk_t walk = {(void (*)(const void *, void *))fn, arg, &chat__registry_member__descriptor,
                     "member"};
    return s_each(store, store->members, s_value, &walk);
}

// ----------------------------------------------------------- writing

reg_store_txn_t *reg_store_begin(reg_store_t *store)
{
    reg_store_txn_t *txn = calloc(1, sizeof *txn);
    int rc = txn ? mdb_txn_begin(store->env, NULL, 0, &txn->txn) : ENOMEM;
    if (rc) {
        s_fail("begin", rc);
        free(txn);
        return NULL;
    }
    txn->store = store;
    return txn;
}

//  Packs msg into the value of key in dbi.
static int s_put_message(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, const ProtobufCMessage *msg,
                         const char *what)
{
    MDB_val val = {protobuf_c_message_get_packed_size(msg), NULL};
    int rc = mdb_put(txn, dbi, (MDB_val *)key, &val, MDB_RESERVE);
    if (rc)
        return s_fail(what, rc);
    protobuf_c_message_pack(msg, val.mv_data);
    return 0;
}

int reg_store_put_room(reg_store_txn_t *t, const Chat__RegistryRoomRecord *rec)
{
    MDB_val key = {strlen(rec->room->id), rec->room->id};
    if (s_put_message(t->txn, t->store->rooms, &key, &rec->base, "put room") != 0)
        return -1;
    char lower[257];
    reg_store_name_key(rec->room->name, lower, sizeof lower);
    MDB_val name_key = {strlen(lower), lower};
    MDB_val name_val = {strlen(rec->room->id), rec->room->id};
    int rc = mdb_put(t->txn, t->store->names, &name_key, &name_val, 0);
    return rc ? s_fail("put name", rc) : 0;
}

int reg_store_put_node(reg_store_txn_t *t, const Chat__RegistryNodeRecord *rec)
{
    MDB_val key = {strlen(rec->node), rec->node};
    return s_put_message(t->txn, t->store->nodes, &key, &rec->base, "put node");
}

//  A member id as a key that sorts numerically.
static void s_member_key(uint64_t id, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--, id >>= 8)
        out[i] = (uint8_t)id;
}

int reg_store_put_member(reg_store_txn_t *t, const Chat__RegistryMember *rec)
{
    uint8_t bytes[8];
    s_member_key(rec->id, bytes);
    MDB_val key = {sizeof bytes, bytes};
    return s_put_message(t->txn, t->store->members, &key, &rec->base, "put member");
}

int reg_store_del_member(reg_store_txn_t *t, uint64_t id)
{
    uint8_t bytes[8];
    s_member_key(id, bytes);
    MDB_val key = {sizeof bytes, bytes};
    int rc = mdb_del(t->txn, t->store->members, &key, NULL);
    return rc && rc != MDB_NOTFOUND ? s_fail("delete member", rc) : 0;
}

int reg_store_set_applied(reg_store_txn_t *t, uint64_t index)
{
    return s_put_meta(t->store, t->txn, s_meta_applied, &index, sizeof index);
}

int reg_store_set_seeded(reg_store_txn_t *t)
{
    uint8_t one = 1;
    return s_put_meta(t->store, t->txn, s_meta_seeded, &one, 1);
}

int reg_store_clear(reg_store_txn_t *t)
{
    reg_store_t *store = t->store;
    MDB_dbi dbis[] = {store->rooms, store->names, store->nodes, store->members};
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        int rc = mdb_drop(t->txn, dbis[i], 0);
        if (rc)
            return s_fail("clear", rc);
    }
    MDB_val key = {strlen(s_meta_seeded), (void *)s_meta_seeded};
    int rc = mdb_del(t->txn, store->meta, &key, NULL);
    return rc && rc != MDB_NOTFOUND ? s_fail("clear seeded", rc) : 0;
}

int reg_store_commit(reg_store_txn_t **txn_p)
{
    reg_store_txn_t *t = *txn_p;
    int rc = mdb_txn_commit(t->txn);
    free(t);
    *txn_p = NULL;
    return rc ? s_fail("commit", rc) : 0;
}

void reg_store_abort(reg_store_txn_t **txn_p)
{
    if (!txn_p || !*txn_p)
        return;
    mdb_txn_abort((*txn_p)->txn);
    free(*txn_p);
    *txn_p = NULL;
}
