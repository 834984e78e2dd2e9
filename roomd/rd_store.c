/*  rd_store: see rd_store.h. */
#include "rd_store.h"
#include "chat_log.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RD_KEY_MAX 512

struct rd_store {
    MDB_env *env;     //  the environment
    MDB_dbi rooms;    //  room id -> RoomdRoomRecord
    MDB_dbi messages; //  room id, NUL, be64 seq -> ChatMessage
    MDB_dbi node;     //  "name" -> node name
    MDB_txn *batch;   //  open write transaction of the current batch, or NULL
    uint64_t commits; //  write transactions committed
};

static const char s_node_key[] = "name";

//  Creates dir and its parents (like mkdir -p). Returns 0 or -1 with errno.
static int s_mkdirs(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int s_open_dbs(rd_store_t *self)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "rooms", MDB_CREATE, &self->rooms);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "messages", MDB_CREATE, &self->messages);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "node", MDB_CREATE, &self->node);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    return rc;
}

rd_store_t *rd_store_open(const char *dir, size_t map_size_mb)
{
    if (s_mkdirs(dir) != 0) {
        chat_error("cannot create data directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    rd_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    int rc = mdb_env_create(&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(self->env, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize(self->env, map_size_mb * 1024 * 1024);
    if (rc == 0)
        rc = mdb_env_open(self->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0644);
    if (rc == 0)
        rc = s_open_dbs(self);
    if (rc != 0) {
        chat_error("cannot open LMDB in %s: %s", dir, mdb_strerror(rc));
        if (self->env)
            mdb_env_close(self->env);
        free(self);
        return NULL;
    }
    return self;
}

void rd_store_destroy(rd_store_t **p)
{
    if (!p || !*p)
        return;
    rd_store_t *self = *p;
    rd_store_abort(self);
    mdb_env_close(self->env);
    free(self);
    *p = NULL;
}

//  The messages key of (room, seq) into buf; returns its size, 0 when the id is too long.
static size_t s_msg_key(uint8_t *buf, const char *room_id, uint64_t seq)
{
    size_t len = strlen(room_id);
    if (len + 9 > RD_KEY_MAX)
        return 0;
    memcpy(buf, room_id, len);
    buf[len] = 0;
    for (int i = 0; i < 8; i++)
        buf[len + 1 + i] = (uint8_t)(seq >> (56 - 8 * i));
    return len + 9;
}

//  The seq of a messages key when it belongs to room_id (of length len); else false.
static bool s_key_seq(const MDB_val *key, const char *room_id, size_t len, uint64_t *seq)
{
    const uint8_t *k = key->mv_data;
    if (key->mv_size != len + 9 || memcmp(k, room_id, len) != 0 || k[len] != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | k[len + 1 + i];
    *seq = v;
    return true;
}

static int s_read_begin(rd_store_t *self, MDB_txn **txn)
{
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, txn);
    if (rc != 0)
        chat_error("LMDB read transaction: %s", mdb_strerror(rc));
    return rc;
}

int rd_store_node_get(rd_store_t *self, char **name)
{
    *name = NULL;
    MDB_txn *txn;
    if (s_read_begin(self, &txn) != 0)
        return RD_STORE_ERROR;
    MDB_val key = {sizeof s_node_key - 1, (void *)s_node_key};
    MDB_val val;
    int rc = mdb_get(txn, self->node, &key, &val);
    int result = RD_STORE_OK;
    if (rc == MDB_NOTFOUND) {
        result = RD_STORE_NOTFOUND;
    } else if (rc != 0) {
        chat_error("LMDB get node name: %s", mdb_strerror(rc));
        result = RD_STORE_ERROR;
    } else {
        *name = strndup(val.mv_data, val.mv_size);
        if (!*name)
            result = RD_STORE_ERROR;
    }
    mdb_txn_abort(txn);
    return result;
}

int rd_store_node_put(rd_store_t *self, const char *name)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc == 0) {
        MDB_val key = {sizeof s_node_key - 1, (void *)s_node_key};
        MDB_val val = {strlen(name), (void *)name};
        rc = mdb_put(txn, self->node, &key, &val, 0);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != 0) {
        chat_error("LMDB put node name: %s", mdb_strerror(rc));
        return RD_STORE_ERROR;
    }
    return RD_STORE_OK;
}

//  Reads and decodes a room record inside txn.
static int s_room_get(rd_store_t *self, MDB_txn *txn, const char *room_id,
                      Chat__RoomdRoomRecord **record)
{
    *record = NULL;
    MDB_val key = {strlen(room_id), (void *)room_id};
    MDB_val val;
    int rc = mdb_get(txn, self->rooms, &key, &val);
    if (rc == MDB_NOTFOUND)
        return RD_STORE_NOTFOUND;
    if (rc != 0) {
        chat_error("LMDB get room %s: %s", room_id, mdb_strerror(rc));
        return RD_STORE_ERROR;
    }
    *record = chat__roomd_room_record__unpack(NULL, val.mv_size, val.mv_data);
    if (!*record) {
        chat_error("room record of %s does not decode", room_id);
        return RD_STORE_ERROR;
    }
    return RD_STORE_OK;
}

int rd_store_room_get(rd_store_t *self, const char *room_id, Chat__RoomdRoomRecord **record)
{
    *record = NULL;
    if (strlen(room_id) == 0 || strlen(room_id) >= RD_KEY_MAX)
        return RD_STORE_NOTFOUND;
    MDB_txn *txn;
    if (s_read_begin(self, &txn) != 0)
        return RD_STORE_ERROR;
    int result = s_room_get(self, txn, room_id, record);
    mdb_txn_abort(txn);
    return result;
}

int rd_store_rooms(rd_store_t *self, Chat__RoomdRoomRecord ***records, size_t *count)
{
    *records = NULL;
    *count = 0;
    MDB_txn *txn;
    if (s_read_begin(self, &txn) != 0)
        return RD_STORE_ERROR;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, self->rooms, &cursor);
    if (rc != 0) {
        chat_error("LMDB cursor: %s", mdb_strerror(rc));
        mdb_txn_abort(txn);
        return RD_STORE_ERROR;
    }
    size_t cap = 0;
    Chat__RoomdRoomRecord **list = NULL;
    MDB_val key, val;
    for (rc = mdb_cursor_get(cursor, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT)) {
        Chat__RoomdRoomRecord *rec =
            chat__roomd_room_record__unpack(NULL, val.mv_size, val.mv_data);
        if (!rec || !rec->room || !rec->room->id || !*rec->room->id) {
            chat_error("a room record that does not decode was skipped");
            if (rec)
                chat__roomd_room_record__free_unpacked(rec, NULL);
            continue;
        }
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            Chat__RoomdRoomRecord **grown = realloc(list, cap * sizeof *list);
            if (!grown) {
                chat__roomd_room_record__free_unpacked(rec, NULL);
                rc = ENOMEM;
                break;
            }
            list = grown;
        }
        list[(*count)++] = rec;
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND) {
        chat_error("LMDB walk of rooms: %s", mdb_strerror(rc));
        rd_store_rooms_free(list, *count);
        *count = 0;
        return RD_STORE_ERROR;
    }
    *records = list;
    return RD_STORE_OK;
}

void rd_store_rooms_free(Chat__RoomdRoomRecord **records, size_t count)
{
    for (size_t i = 0; records && i < count; i++)
        chat__roomd_room_record__free_unpacked(records[i], NULL);
    free(records);
}

//  The seq of the newest message of room_id in txn (0 when none).
static int s_last_seq(rd_store_t *self, MDB_txn *txn, const char *room_id, uint64_t *last_seq)
{
    *last_seq = 0;
    uint8_t buf[RD_KEY_MAX];
    size_t size = s_msg_key(buf, room_id, UINT64_MAX);
    if (size == 0)
        return RD_STORE_OK;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, self->messages, &cursor);
    if (rc != 0) {
        chat_error("LMDB cursor: %s", mdb_strerror(rc));
        return RD_STORE_ERROR;
    }
    MDB_val key = {size, buf};
    MDB_val val;
    rc = mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get(cursor, &key, &val, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cursor, &key, &val, MDB_LAST);
    int result = RD_STORE_OK;
    if (rc == 0)
        s_key_seq(&key, room_id, size - 9, last_seq);
    else if (rc != MDB_NOTFOUND) {
        chat_error("LMDB last seq of %s: %s", room_id, mdb_strerror(rc));
        result = RD_STORE_ERROR;
    }
    mdb_cursor_close(cursor);
    return result;
}

int rd_store_last_seq(rd_store_t *self, const char *room_id, uint64_t *last_seq)
{
    MDB_txn *txn;
    if (s_read_begin(self, &txn) != 0)
        return RD_STORE_ERROR;
    int result = s_last_seq(self, txn, room_id, last_seq);
    mdb_txn_abort(txn);
    return result;
}

int rd_store_range(rd_store_t *self, const char *room_id, uint64_t lo, uint64_t hi,
                   rd_msglist_t *list)
{
    uint8_t buf[RD_KEY_MAX];
    size_t size = s_msg_key(buf, room_id, lo);
    if (size == 0 || lo > hi)
        return RD_STORE_OK;
    MDB_txn *txn;
    if (s_read_begin(self, &txn) != 0)
        return RD_STORE_ERROR;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, self->messages, &cursor);
    if (rc != 0) {
        chat_error("LMDB cursor: %s", mdb_strerror(rc));
        mdb_txn_abort(txn);
        return RD_STORE_ERROR;
    }
    int result = RD_STORE_OK;
    MDB_val key = {size, buf};
    MDB_val val;
    uint64_t seq;
    for (rc = mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE);
         rc == 0 && s_key_seq(&key, room_id, size - 9, &seq) && seq <= hi;
         rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT)) {
        Chat__ChatMessage *msg = chat__chat_message__unpack(NULL, val.mv_size, val.mv_data);
        if (!msg) {
            chat_error("stored message %s:%llu does not decode", room_id, (unsigned long long)seq);
            result = RD_STORE_ERROR;
            break;
        }
        if (rd_msglist_push(list, msg, true) != 0) {
            result = RD_STORE_ERROR;
            break;
        }
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        chat_error("LMDB range of %s: %s", room_id, mdb_strerror(rc));
        result = RD_STORE_ERROR;
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    return result;
}

static int s_reader_range(void *ctx, const char *room_id, uint64_t lo, uint64_t hi,
                          rd_msglist_t *list)
{
    return rd_store_range(ctx, room_id, lo, hi, list) == RD_STORE_OK ? 0 : -1;
}

rd_reader_t rd_store_reader(rd_store_t *self)
{
    return (rd_reader_t){s_reader_range, self};
}

int rd_store_begin(rd_store_t *self)
{
    rd_store_abort(self);
    int rc = mdb_txn_begin(self->env, NULL, 0, &self->batch);
    if (rc != 0) {
        self->batch = NULL;
        chat_error("LMDB write transaction: %s", mdb_strerror(rc));
        return RD_STORE_ERROR;
    }
    return RD_STORE_OK;
}

//  Stores each message under its key, packed straight into LMDB's page.
static int s_put_messages(rd_store_t *self, MDB_txn *txn, const rd_store_write_t *w)
{
    uint8_t buf[RD_KEY_MAX];
    for (size_t i = 0; i < w->count; i++) {
        const Chat__ChatMessage *msg = w->messages[i];
        MDB_val key = {s_msg_key(buf, w->room_id, msg->seq), buf};
        MDB_val val = {chat__chat_message__get_packed_size(msg), NULL};
        int rc = mdb_put(txn, self->messages, &key, &val, MDB_RESERVE | MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST)
            return RD_STORE_CONFLICT;
        if (rc != 0) {
            chat_error("LMDB put message %s:%llu: %s", w->room_id, (unsigned long long)msg->seq,
                       mdb_strerror(rc));
            return RD_STORE_ERROR;
        }
        chat__chat_message__pack(msg, val.mv_data);
    }
    return RD_STORE_OK;
}

//  Stores the room record: catalog (given or kept), epoch, last seq.
static int s_put_record(rd_store_t *self, MDB_txn *txn, const rd_store_write_t *w,
                        const Chat__RoomdRoomRecord *stored)
{
    Chat__RoomdRoomRecord record = CHAT__ROOMD_ROOM_RECORD__INIT;
    Chat__RoomInfo catalog = CHAT__ROOM_INFO__INIT;
    const Chat__RoomInfo *from = w->catalog ? w->catalog : (stored ? stored->room : NULL);
    if (from) {
        catalog.id = from->id;
        catalog.name = from->name;
        catalog.description = from->description;
        catalog.created_at = from->created_at;
    } else {
        catalog.id = (char *)w->room_id;
    }
    record.room = &catalog;
    record.epoch = w->epoch;
    record.last_seq = stored ? stored->last_seq : 0;
    if (w->count > 0)
        record.last_seq = w->messages[w->count - 1]->seq;

    MDB_val key = {strlen(w->room_id), (void *)w->room_id};
    MDB_val val = {chat__roomd_room_record__get_packed_size(&record), NULL};
    int rc = mdb_put(txn, self->rooms, &key, &val, MDB_RESERVE);
    if (rc != 0) {
        chat_error("LMDB put room %s: %s", w->room_id, mdb_strerror(rc));
        return RD_STORE_ERROR;
    }
    chat__roomd_room_record__pack(&record, val.mv_data);
    return RD_STORE_OK;
}

//  The checks and puts of one room inside its nested transaction.
static int s_write_room(rd_store_t *self, MDB_txn *txn, const rd_store_write_t *w,
                        uint64_t *stored_epoch)
{
    Chat__RoomdRoomRecord *stored = NULL;
    int result = s_room_get(self, txn, w->room_id, &stored);
    if (result == RD_STORE_ERROR)
        return result;
    *stored_epoch = stored ? stored->epoch : 0;
    uint64_t stored_last = stored ? stored->last_seq : 0;
    if (stored && stored->epoch > w->epoch)
        result = RD_STORE_FENCED;
    else if (w->count > 0 && w->messages[0]->seq != stored_last + 1)
        result = RD_STORE_CONFLICT;
    else
        result = s_put_messages(self, txn, w);
    if (result == RD_STORE_OK)
        result = s_put_record(self, txn, w, stored);
    if (stored)
        chat__roomd_room_record__free_unpacked(stored, NULL);
    return result;
}

int rd_store_write_room(rd_store_t *self, const rd_store_write_t *w, uint64_t *stored_epoch)
{
    *stored_epoch = 0;
    if (!self->batch || strlen(w->room_id) == 0 || strlen(w->room_id) + 9 > RD_KEY_MAX)
        return RD_STORE_ERROR;
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, self->batch, 0, &txn);
    if (rc != 0) {
        chat_error("LMDB nested transaction: %s", mdb_strerror(rc));
        return RD_STORE_ERROR;
    }
    int result = s_write_room(self, txn, w, stored_epoch);
    if (result != RD_STORE_OK) {
        mdb_txn_abort(txn);
        return result;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        chat_error("LMDB nested commit of %s: %s", w->room_id, mdb_strerror(rc));
        return RD_STORE_ERROR;
    }
    return RD_STORE_OK;
}

int rd_store_commit(rd_store_t *self)
{
    if (!self->batch)
        return RD_STORE_ERROR;
    int rc = mdb_txn_commit(self->batch);
    self->batch = NULL;
    if (rc != 0) {
        chat_error("LMDB commit: %s", mdb_strerror(rc));
        return RD_STORE_ERROR;
    }
    self->commits++;
    return RD_STORE_OK;
}

void rd_store_abort(rd_store_t *self)
{
    if (self->batch) {
        mdb_txn_abort(self->batch);
        self->batch = NULL;
    }
}

uint64_t rd_store_commits(const rd_store_t *self)
{
    return self->commits;
}
