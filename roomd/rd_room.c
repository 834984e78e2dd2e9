/*  rd_room: see rd_room.h.
 *
 *  Messages first_seq .. last_seq live in a ring (a growable circular
 *  array): every pending message, and at least the newest RD_ROOM_RECENT
 *  committed ones. Member changes since the last commit are kept in an undo
 *  log so that a failed commit can put the members back.
 */
#include "rd_room.h"
#include "rd_dedup.h"
#include "chat_text.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD_CLIENT_MSG_ID_MAX 256
#define RD_GATEWAY_ID_MAX 128

typedef struct {
    char *gateway; //  gateway id of the connection
    uint64_t conn; //  connection number on that gateway
} s_session_t;

typedef struct {
    char *id;              //  user id (the key in members)
    char *name;            //  display name given at the first join
    s_session_t *sessions; //  the user's sessions in this room, at least one
    size_t count;          //  sessions used
    size_t cap;            //  sessions allocated
} s_member_t;

typedef struct {
    bool added;      //  true: the change added the session; false: removed it
    char *user_id;   //  user of the session
    char *user_name; //  that user's name (to re-create a removed member)
    char *gateway;   //  session gateway
    uint64_t conn;   //  session conn
} s_undo_t;

struct rd_room {
    char *id;               //  room id
    char *name;             //  catalog name
    char *description;      //  catalog description
    int64_t created_at;     //  catalog creation time, ms
    uint64_t epoch;         //  grant this room is served under
    uint64_t last_seq;      //  newest seq, pending included
    uint64_t committed_seq; //  newest committed seq
    rd_msg_t **ring;        //  messages last_seq - ring_count + 1 .. last_seq
    size_t ring_cap;        //  slots in ring (a power of two)
    size_t ring_head;       //  slot of the oldest message
    size_t ring_count;      //  messages in ring
    rd_dedup_t *dedup;      //  recent client_msg_ids
    zhashx_t *members;      //  user id -> s_member_t
    size_t sessions;        //  sessions over all members
    s_undo_t *undo;         //  member changes since the last commit, oldest first
    size_t undo_count;      //  undo used
    size_t undo_cap;        //  undo allocated
    Chat__User *user_buf;   //  users for rd_room_info
    Chat__User **user_ptrs; //  pointers into user_buf
    size_t user_cap;        //  entries allocated in both
};

// ------------------------------------------------------------------ members

static void s_member_free(void **item)
{
    s_member_t *m = *item;
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        free(m->sessions[i].gateway);
    free(m->sessions);
    free(m->name);
    free(m->id);
    free(m);
    *item = NULL;
}

static s_member_t *s_member_new(const char *id, const char *name)
{
    s_member_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->id = strdup(id);
    m->name = strdup(name);
    if (!m->id || !m->name) {
        void *item = m;
        s_member_free(&item);
        return NULL;
    }
    return m;
}

static ssize_t s_member_find(const s_member_t *m, const char *gateway, uint64_t conn)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->sessions[i].conn == conn && strcmp(m->sessions[i].gateway, gateway) == 0)
            return (ssize_t)i;
    return -1;
}

static int s_member_add_session(s_member_t *m, const char *gateway, uint64_t conn)
{
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 2;
        s_session_t *grown = realloc(m->sessions, cap * sizeof *grown);
        if (!grown)
            return -1;
        m->sessions = grown;
        m->cap = cap;
    }
    char *copy = strdup(gateway);
    if (!copy)
        return -1;
    m->sessions[m->count++] = (s_session_t){copy, conn};
    return 0;
}

static void s_member_remove_session(s_member_t *m, size_t index)
{
    free(m->sessions[index].gateway);
    m->sessions[index] = m->sessions[--m->count];
}

// --------------------------------------------------------------------- ring

static rd_msg_t **s_ring_slot(const rd_room_t *self, size_t index)
{
    return &self->ring[(self->ring_head + index) & (self->ring_cap - 1)];
}

static int s_ring_push(rd_room_t *self, rd_msg_t *msg)
{
    if (self->ring_count == self->ring_cap) {
        size_t cap = self->ring_cap ? self->ring_cap * 2 : 128;
        rd_msg_t **grown = malloc(cap * sizeof *grown);
        if (!grown)
            return -1;
        for (size_t i = 0; i < self->ring_count; i++)
            grown[i] = *s_ring_slot(self, i);
        free(self->ring);
        self->ring = grown;
        self->ring_cap = cap;
        self->ring_head = 0;
    }
    *s_ring_slot(self, self->ring_count++) = msg;
    return 0;
}

static void s_ring_pop_front(rd_room_t *self)
{
    rd_msg_destroy(s_ring_slot(self, 0));
    self->ring_head = (self->ring_head + 1) & (self->ring_cap - 1);
    self->ring_count--;
}

static void s_ring_pop_back(rd_room_t *self)
{
    rd_msg_destroy(s_ring_slot(self, --self->ring_count));
}

static uint64_t s_ring_first_seq(const rd_room_t *self)
{
    return self->last_seq - self->ring_count + 1;
}

// --------------------------------------------------------------- lifecycle

rd_room_t *rd_room_new(const char *id, const char *name, const char *description,
                       int64_t created_at, uint64_t epoch)
{
    rd_room_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->id = strdup(id ? id : "");
    self->dedup = rd_dedup_new(RD_ROOM_DEDUP_WINDOW);
    self->members = zhashx_new();
    if (!self->id || !self->dedup || !self->members ||
        rd_room_set_catalog(self, name, description, created_at) != 0) {
        rd_room_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->members, s_member_free);
    self->epoch = epoch;
    return self;
}

static void s_undo_clear(rd_room_t *self)
{
    for (size_t i = 0; i < self->undo_count; i++) {
        free(self->undo[i].user_id);
        free(self->undo[i].user_name);
        free(self->undo[i].gateway);
    }
    self->undo_count = 0;
}

void rd_room_destroy(rd_room_t **p)
{
    if (!p || !*p)
        return;
    rd_room_t *self = *p;
    while (self->ring_count > 0)
        s_ring_pop_front(self);
    free(self->ring);
    rd_dedup_destroy(&self->dedup);
    zhashx_destroy(&self->members);
    s_undo_clear(self);
    free(self->undo);
    free(self->user_buf);
    free(self->user_ptrs);
    free(self->id);
    free(self->name);
    free(self->description);
    free(self);
    *p = NULL;
}

int rd_room_load(rd_room_t *self, const rd_msglist_t *tail)
{
    for (size_t i = 0; i < tail->count; i++) {
        const Chat__ChatMessage *pb = tail->items[i];
        if (i > 0 && pb->seq != self->last_seq + 1)
            return -1;
        if (i + RD_ROOM_RECENT >= tail->count) {
            rd_msg_t *msg = rd_msg_from_pb(pb);
            if (!msg || s_ring_push(self, msg) != 0) {
                rd_msg_destroy(&msg);
                return -1;
            }
        }
        self->last_seq = pb->seq;
        rd_dedup_add(self->dedup, pb->client_msg_id, pb->seq);
    }
    self->committed_seq = self->last_seq;
    return 0;
}

const char *rd_room_id(const rd_room_t *self)
{
    return self->id;
}

uint64_t rd_room_epoch(const rd_room_t *self)
{
    return self->epoch;
}

void rd_room_set_epoch(rd_room_t *self, uint64_t epoch)
{
    self->epoch = epoch;
}

int rd_room_set_catalog(rd_room_t *self, const char *name, const char *description,
                        int64_t created_at)
{
    char *n = strdup(name ? name : "");
    char *d = strdup(description ? description : "");
    if (!n || !d) {
        free(n);
        free(d);
        return -1;
    }
    free(self->name);
    free(self->description);
    self->name = n;
    self->description = d;
    self->created_at = created_at;
    return 0;
}

uint64_t rd_room_last_seq(const rd_room_t *self)
{
    return self->last_seq;
}

uint64_t rd_room_committed_seq(const rd_room_t *self)
{
    return self->committed_seq;
}

size_t rd_room_user_count(const rd_room_t *self)
{
    return zhashx_size(self->members);
}

size_t rd_room_session_count(const rd_room_t *self)
{
    return self->sessions;
}

bool rd_room_dirty(const rd_room_t *self)
{
    return self->last_seq != self->committed_seq || self->undo_count > 0;
}

// ---------------------------------------------------------------- changes

static int s_undo_push(rd_room_t *self, bool added, const s_member_t *m, const char *gateway,
                       uint64_t conn)
{
    if (self->undo_count == self->undo_cap) {
        size_t cap = self->undo_cap ? self->undo_cap * 2 : 8;
        s_undo_t *grown = realloc(self->undo, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->undo = grown;
        self->undo_cap = cap;
    }
    s_undo_t u = {added, strdup(m->id), strdup(m->name), strdup(gateway), conn};
    if (!u.user_id || !u.user_name || !u.gateway) {
        free(u.user_id);
        free(u.user_name);
        free(u.gateway);
        return -1;
    }
    self->undo[self->undo_count++] = u;
    return 0;
}

//  Appends a message with the next seq. Returns it, or NULL when out of memory.
static rd_msg_t *s_append(rd_room_t *self, rd_msg_fields_t *fields)
{
    fields->seq = self->last_seq + 1;
    fields->room_id = self->id;
    rd_msg_t *msg = rd_msg_new(fields);
    if (!msg || s_ring_push(self, msg) != 0) {
        rd_msg_destroy(&msg);
        return NULL;
    }
    self->last_seq = fields->seq;
    rd_dedup_add(self->dedup, fields->client_msg_id, fields->seq);
    return msg;
}

//  Appends "<name> joined the room" or "<name> left the room".
static rd_msg_t *s_append_line(rd_room_t *self, const s_member_t *m, bool joined, int64_t now_ms)
{
    char content[CHAT_USER_NAME_MAX * 4 + 32];
    snprintf(content, sizeof content, "%s %s the room", m->name, joined ? "joined" : "left");
    rd_msg_fields_t f = {
        .user_id = "system",
        .user_name = "System",
        .content = content,
        .timestamp = now_ms,
        .type = joined ? CHAT__MESSAGE_TYPE__MESSAGE_JOIN : CHAT__MESSAGE_TYPE__MESSAGE_LEAVE,
        .subject_id = m->id,
        .subject_name = joined ? m->name : NULL,
    };
    return s_append(self, &f);
}

static bool s_valid_session(const char *gateway)
{
    return gateway && *gateway && strlen(gateway) <= RD_GATEWAY_ID_MAX;
}

//  Adds a session (creating the member); no line, no undo.
static s_member_t *s_add_session(rd_room_t *self, const char *user_id, const char *user_name,
                                 const char *gateway, uint64_t conn, bool *user_new)
{
    s_member_t *m = zhashx_lookup(self->members, user_id);
    *user_new = m == NULL;
    if (!m) {
        m = s_member_new(user_id, user_name);
        if (!m)
            return NULL;
        if (zhashx_insert(self->members, user_id, m) != 0) {
            void *item = m;
            s_member_free(&item);
            return NULL;
        }
    }
    if (s_member_add_session(m, gateway, conn) != 0) {
        if (*user_new)
            zhashx_delete(self->members, user_id);
        return NULL;
    }
    self->sessions++;
    return m;
}

//  Removes session index of m, recording the change; appends the leave line
//  when m has no session left (and then frees m). Returns the line or NULL.
static const rd_msg_t *s_remove_session(rd_room_t *self, s_member_t *m, size_t index, bool record,
                                        int64_t now_ms)
{
    if (record)
        s_undo_push(self, false, m, m->sessions[index].gateway, m->sessions[index].conn);
    s_member_remove_session(m, index);
    self->sessions--;
    if (m->count > 0)
        return NULL;
    const rd_msg_t *line = record ? s_append_line(self, m, false, now_ms) : NULL;
    zhashx_delete(self->members, m->id);
    return line;
}

Chat__Status rd_room_join(rd_room_t *self, const char *user_id, const char *user_name,
                          const char *gateway, uint64_t conn, bool quiet, int64_t now_ms,
                          rd_join_t *out)
{
    memset(out, 0, sizeof *out);
    if (!chat_valid_user_id(user_id) || !s_valid_session(gateway))
        return CHAT__STATUS__STATUS_BAD_REQUEST;
    if (!user_name || !*user_name)
        user_name = user_id;
    else if (!chat_valid_text(user_name, CHAT_USER_NAME_MAX))
        return CHAT__STATUS__STATUS_BAD_REQUEST;

    out->cursor = self->last_seq;
    s_member_t *m = zhashx_lookup(self->members, user_id);
    if (m && s_member_find(m, gateway, conn) >= 0)
        return CHAT__STATUS__STATUS_OK;

    bool user_new;
    m = s_add_session(self, user_id, user_name, gateway, conn, &user_new);
    if (!m)
        return CHAT__STATUS__STATUS_INTERNAL;
    if (s_undo_push(self, true, m, gateway, conn) != 0) {
        s_remove_session(self, m, (size_t)s_member_find(m, gateway, conn), false, now_ms);
        return CHAT__STATUS__STATUS_INTERNAL;
    }
    out->session_added = true;
    if (user_new && !quiet) {
        out->line = s_append_line(self, m, true, now_ms);
        if (!out->line)
            return CHAT__STATUS__STATUS_INTERNAL;
    }
    return CHAT__STATUS__STATUS_OK;
}

Chat__Status rd_room_leave(rd_room_t *self, const char *user_id, const char *gateway, uint64_t conn,
                           int64_t now_ms, const rd_msg_t **line)
{
    if (line)
        *line = NULL;
    if (!chat_valid_user_id(user_id) || !s_valid_session(gateway))
        return CHAT__STATUS__STATUS_BAD_REQUEST;
    s_member_t *m = zhashx_lookup(self->members, user_id);
    ssize_t index = m ? s_member_find(m, gateway, conn) : -1;
    if (index < 0)
        return CHAT__STATUS__STATUS_NOT_IN_ROOM;
    const rd_msg_t *appended = s_remove_session(self, m, (size_t)index, true, now_ms);
    if (line)
        *line = appended;
    return CHAT__STATUS__STATUS_OK;
}

//  True when the message with seq is known and was made by a send with this id.
static bool s_is_duplicate(const rd_room_t *self, const char *client_msg_id, uint64_t *seq)
{
    if (!rd_dedup_find(self->dedup, client_msg_id, seq))
        return false;
    const rd_msg_t *msg = rd_room_msg(self, *seq);
    //  Older than memory: trust the 64-bit hash (see rd_dedup.h).
    return !msg || strcmp(msg->pb.client_msg_id, client_msg_id) == 0;
}

Chat__Status rd_room_send(rd_room_t *self, const char *user_id, const char *user_name,
                          const char *gateway, uint64_t conn, const char *content,
                          const char *client_msg_id, int64_t now_ms, rd_send_t *out)
{
    memset(out, 0, sizeof *out);
    if (!chat_valid_user_id(user_id) || !s_valid_session(gateway))
        return CHAT__STATUS__STATUS_BAD_REQUEST;
    if (client_msg_id && strlen(client_msg_id) > RD_CLIENT_MSG_ID_MAX)
        return CHAT__STATUS__STATUS_BAD_REQUEST;
    s_member_t *m = zhashx_lookup(self->members, user_id);
    if (!m || s_member_find(m, gateway, conn) < 0)
        return CHAT__STATUS__STATUS_NOT_IN_ROOM;
    if (client_msg_id && *client_msg_id && s_is_duplicate(self, client_msg_id, &out->seq)) {
        out->duplicate = true;
        return CHAT__STATUS__STATUS_OK;
    }
    if (!content || chat_text_blank(content))
        return CHAT__STATUS__STATUS_EMPTY_MESSAGE;
    long length = chat_utf8_length(content, strlen(content));
    if (length < 0)
        return CHAT__STATUS__STATUS_BAD_REQUEST;
    if (length > CHAT_CONTENT_MAX)
        return CHAT__STATUS__STATUS_MESSAGE_TOO_LONG;
    if (!user_name || !*user_name || !chat_valid_text(user_name, CHAT_USER_NAME_MAX))
        user_name = m->name;

    rd_msg_fields_t f = {
        .user_id = user_id,
        .user_name = user_name,
        .content = content,
        .timestamp = now_ms,
        .type = CHAT__MESSAGE_TYPE__MESSAGE_TEXT,
        .client_msg_id = client_msg_id,
    };
    rd_msg_t *msg = s_append(self, &f);
    if (!msg)
        return CHAT__STATUS__STATUS_INTERNAL;
    out->seq = msg->pb.seq;
    return CHAT__STATUS__STATUS_OK;
}

//  A session found while walking the members: (user, conn), the user id copied.
typedef struct {
    char *user_id; //  copy of the member's id
    uint64_t conn; //  the session's conn
} s_found_t;

size_t rd_room_drop_gateway(rd_room_t *self, const char *gateway, int64_t now_ms)
{
    //  Collect first: members must not change while the hash is walked.
    size_t count = 0;
    for (s_member_t *m = zhashx_first(self->members); m; m = zhashx_next(self->members))
        for (size_t i = 0; i < m->count; i++)
            count += strcmp(m->sessions[i].gateway, gateway) == 0;
    s_found_t *found = count ? calloc(count, sizeof *found) : NULL;
    if (!found)
        return 0;
    size_t n = 0;
    for (s_member_t *m = zhashx_first(self->members); m; m = zhashx_next(self->members))
        for (size_t i = 0; i < m->count; i++)
            if (strcmp(m->sessions[i].gateway, gateway) == 0)
                found[n++] = (s_found_t){strdup(m->id), m->sessions[i].conn};
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        const rd_msg_t *line;
        if (found[i].user_id && rd_room_leave(self, found[i].user_id, gateway, found[i].conn,
                                              now_ms, &line) == CHAT__STATUS__STATUS_OK)
            removed++;
        free(found[i].user_id);
    }
    free(found);
    return removed;
}

void rd_room_each_session(const rd_room_t *self, rd_session_fn *fn, void *arg)
{
    for (s_member_t *m = zhashx_first(self->members); m; m = zhashx_next(self->members))
        for (size_t i = 0; i < m->count; i++)
            fn(arg, m->sessions[i].gateway, m->sessions[i].conn);
}

// ------------------------------------------------------------------- reads

const rd_msg_t *rd_room_msg(const rd_room_t *self, uint64_t seq)
{
    if (self->ring_count == 0 || seq < s_ring_first_seq(self) || seq > self->last_seq)
        return NULL;
    return *s_ring_slot(self, seq - s_ring_first_seq(self));
}

int rd_room_range(const rd_room_t *self, const rd_reader_t *reader, uint64_t lo, uint64_t hi,
                  rd_msglist_t *list)
{
    if (lo == 0)
        lo = 1;
    if (hi > self->last_seq)
        hi = self->last_seq;
    if (lo > hi)
        return 0;
    uint64_t mem_low = self->ring_count ? s_ring_first_seq(self) : self->last_seq + 1;
    if (lo < mem_low) {
        uint64_t disk_hi = hi < mem_low ? hi : mem_low - 1;
        if (!reader || !reader->range ||
            reader->range(reader->ctx, self->id, lo, disk_hi, list) != 0)
            return -1;
        lo = disk_hi + 1;
    }
    for (uint64_t seq = lo; seq <= hi; seq++) {
        rd_msg_t *msg = *s_ring_slot(self, seq - mem_low);
        if (rd_msglist_push(list, &msg->pb, false) != 0)
            return -1;
    }
    return 0;
}

int rd_room_join_history(const rd_room_t *self, const rd_reader_t *reader, uint64_t cursor,
                         bool has_since, uint64_t since, rd_msglist_t *list, bool *truncated)
{
    *truncated = false;
    uint64_t want = RD_ROOM_RECENT;
    uint64_t lo = 1;
    if (has_since) {
        if (since >= cursor)
            return 0;
        want = RD_JOIN_SINCE_MAX;
        lo = since + 1;
        *truncated = cursor - since > want;
    }
    if (cursor >= want && cursor - want + 1 > lo)
        lo = cursor - want + 1;
    return rd_room_range(self, reader, lo, cursor, list);
}

int rd_room_history(const rd_room_t *self, const rd_reader_t *reader, bool has_after,
                    uint64_t after, bool has_before, uint64_t before, uint32_t limit,
                    rd_msglist_t *list, bool *has_more)
{
    *has_more = false;
    if (has_after) {
        if (limit == 0)
            limit = RD_HISTORY_DEFAULT;
        if (limit > RD_HISTORY_AFTER_MAX)
            limit = RD_HISTORY_AFTER_MAX;
        if (after >= self->last_seq)
            return 0;
        uint64_t hi = self->last_seq - after > limit ? after + limit : self->last_seq;
        *has_more = hi < self->last_seq;
        return rd_room_range(self, reader, after + 1, hi, list);
    }
    if (limit == 0)
        limit = RD_HISTORY_DEFAULT;
    if (limit > RD_HISTORY_BEFORE_MAX)
        limit = RD_HISTORY_BEFORE_MAX;
    uint64_t hi = self->last_seq;
    if (has_before && before <= hi)
        hi = before ? before - 1 : 0;
    if (hi == 0)
        return 0;
    uint64_t lo = hi > limit ? hi - limit + 1 : 1;
    *has_more = lo > 1;
    return rd_room_range(self, reader, lo, hi, list);
}

void rd_room_info(rd_room_t *self, Chat__RoomInfo *info)
{
    chat__room_info__init(info);
    info->id = self->id;
    info->name = self->name;
    info->description = self->description;
    info->created_at = self->created_at;
    info->last_seq = self->last_seq;
    size_t count = zhashx_size(self->members);
    if (count > self->user_cap) {
        size_t cap = count * 2;
        Chat__User *buf = realloc(self->user_buf, cap * sizeof *buf);
        if (buf)
            self->user_buf = buf;
        Chat__User **ptrs = realloc(self->user_ptrs, cap * sizeof *ptrs);
        if (ptrs)
            self->user_ptrs = ptrs;
        if (!buf || !ptrs)
            return; //  out of memory: the room without its users
        self->user_cap = cap;
    }
    size_t n = 0;
    for (s_member_t *m = zhashx_first(self->members); m; m = zhashx_next(self->members)) {
        chat__user__init(&self->user_buf[n]);
        self->user_buf[n].id = m->id;
        self->user_buf[n].name = m->name;
        self->user_ptrs[n] = &self->user_buf[n];
        n++;
    }
    info->users = self->user_ptrs;
    info->n_users = n;
}

// ---------------------------------------------------------- commit, rollback

int rd_room_pending(const rd_room_t *self, rd_msglist_t *list)
{
    for (uint64_t seq = self->committed_seq + 1; seq <= self->last_seq; seq++) {
        const rd_msg_t *msg = rd_room_msg(self, seq);
        if (!msg || rd_msglist_push(list, (Chat__ChatMessage *)&msg->pb, false) != 0)
            return -1;
    }
    return 0;
}

void rd_room_commit(rd_room_t *self)
{
    self->committed_seq = self->last_seq;
    s_undo_clear(self);
    while (self->ring_count > RD_ROOM_RECENT)
        s_ring_pop_front(self);
}

void rd_room_rollback(rd_room_t *self)
{
    while (self->last_seq > self->committed_seq && self->ring_count > 0) {
        s_ring_pop_back(self);
        self->last_seq--;
    }
    self->last_seq = self->committed_seq;
    rd_dedup_forget_above(self->dedup, self->committed_seq);
    //  Undo member changes newest first, without recording or appending lines.
    for (size_t i = self->undo_count; i-- > 0;) {
        s_undo_t *u = &self->undo[i];
        if (u->added) {
            s_member_t *m = zhashx_lookup(self->members, u->user_id);
            ssize_t index = m ? s_member_find(m, u->gateway, u->conn) : -1;
            if (index >= 0)
                s_remove_session(self, m, (size_t)index, false, 0);
        } else {
            bool user_new;
            s_add_session(self, u->user_id, u->user_name, u->gateway, u->conn, &user_new);
        }
    }
    s_undo_clear(self);
}
