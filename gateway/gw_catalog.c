/*  gw_catalog: see gw_catalog.h. */
#define _GNU_SOURCE
#include "gw_catalog.h"
#include "chat_text.h"
#include "chat_wire.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Rooms added since the last listing past which the name order is sorted
//  again as a whole rather than by inserting each (a snapshot's pages).
#define S_INSERT_MAX 256

typedef struct {
    char *id;                      //  room id (inside text)
    char *name;                    //  display name (inside text)
    char *description;             //  description (inside text)
    char *key;                     //  the name folded (inside text): order and search
    char *text;                    //  one allocation for the four strings
    int64_t created_at;            //  ms since the Unix epoch
    uint64_t last_seq;             //  from the latest figures
    const Chat__RoomInfo *figures; //  users: in the reply of figures_node, or NULL
    uint32_t users;                //  users online (figures' count), 0 without figures
    uint32_t stamp;                //  the figures call that saw it last
    uint16_t node;                 //  node slot it is placed on, 0 = not known
    uint16_t figures_node;         //  node slot whose reply figures points into, 0 = none
    bool seq_known;                //  last_seq came from a roomd (or it had nothing)
} s_entry_t;

//  A growing array of entry pointers.
typedef struct {
    s_entry_t **items; //  the entries
    size_t n;          //  used
    size_t cap;        //  allocated
} s_list_t;

struct gw_catalog {
    zhashx_t *by_id;                                   //  id -> s_entry_t (owned)
    s_list_t by_key;                                   //  settled rooms in name order
    s_list_t pending;                                  //  rooms added since, not in by_key yet
    bool resort;                                       //  a name changed: sort by_key again
    s_list_t online;                                   //  rooms with users, in listing order
    bool online_dirty;                                 //  online must be rebuilt
    s_list_t by_created;                               //  every room, oldest first
    bool created_dirty;                                //  by_created must be rebuilt
    char *text;                                        //  by_key's keys, each ended by NUL
    size_t text_len;                                   //  bytes used in text
    size_t text_cap;                                   //  bytes allocated
    uint32_t *starts;                                  //  offset of by_key[i]'s key; [n] = end
    size_t starts_cap;                                 //  entries allocated in starts
    bool text_dirty;                                   //  text must be rebuilt
    Chat__Envelope *replies[GW_CATALOG_NODES_MAX + 1]; //  node slot -> last figures (owned)
    uint32_t unknown[GW_CATALOG_NODES_MAX + 1];        //  rooms per node slot without a last seq
    uint32_t stamp;                                    //  figures calls so far
    uint64_t version;                                  //  bumped by every listing change
};

//  Sorts list with cmp (qsort must not be given the NULL of an empty list).
static void s_sort(s_list_t *list, int (*cmp)(const void *, const void *))
{
    if (list->n > 1)
        qsort(list->items, list->n, sizeof *list->items, cmp);
}

static void s_push(s_list_t *list, s_entry_t *e)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 256;
        s_entry_t **grown = realloc(list->items, cap * sizeof *grown);
        if (!grown)
            abort();
        list->items = grown;
        list->cap = cap;
    }
    list->items[list->n++] = e;
}

static void s_entry_free(void **item)
{
    s_entry_t *e = *item;
    if (e) {
        free(e->text);
        free(e);
    }
    *item = NULL;
}

gw_catalog_t *gw_catalog_new(void)
{
    gw_catalog_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->by_id = zhashx_new();
    if (!self->by_id)
        abort();
    zhashx_set_destructor(self->by_id, s_entry_free);
    zhashx_set_key_hasher(self->by_id, chat_text_hash);
    self->version = 1;
    return self;
}

void gw_catalog_destroy(gw_catalog_t **p)
{
    if (!p || !*p)
        return;
    gw_catalog_t *self = *p;
    zhashx_destroy(&self->by_id);
    free(self->by_key.items);
    free(self->pending.items);
    free(self->online.items);
    free(self->by_created.items);
    free(self->text);
    free(self->starts);
    for (size_t i = 0; i <= GW_CATALOG_NODES_MAX; i++)
        chat_envelope_free(&self->replies[i]);
    free(self);
    *p = NULL;
}

void gw_catalog_fold(const char *text, char *out, size_t size)
{
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++) {
        char c = text[i];
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = '\0';
}

//  Sets e's strings from room (one allocation).
static void s_entry_text(s_entry_t *e, const Chat__RoomInfo *room)
{
    const char *desc = room->description ? room->description : "";
    size_t id = strlen(room->id) + 1, name = strlen(room->name) + 1, d = strlen(desc) + 1;
    char *text = malloc(id + name + d + name);
    if (!text)
        abort();
    memcpy(text, room->id, id);
    memcpy(text + id, room->name, name);
    memcpy(text + id + name, desc, d);
    gw_catalog_fold(room->name, text + id + name + d, name);
    free(e->text);
    e->text = text;
    e->id = text;
    e->name = text + id;
    e->description = text + id + name;
    e->key = text + id + name + d;
}

static void s_changed(gw_catalog_t *self)
{
    self->version++;
}

int gw_catalog_put(gw_catalog_t *self, const Chat__RoomInfo *room)
{
    if (!room || !chat_valid_room_id(room->id) || !room->name || !*room->name)
        return -1;
    s_entry_t *e = zhashx_lookup(self->by_id, room->id);
    if (e) {
        const char *desc = room->description ? room->description : "";
        bool renamed = strcmp(e->name, room->name) != 0;
        if (!renamed && strcmp(e->description, desc) == 0 && e->created_at == room->created_at)
            return 0;
        s_entry_text(e, room);
        e->created_at = room->created_at;
        self->resort = self->resort || renamed;
        self->created_dirty = true;
        self->text_dirty = true;
        s_changed(self);
        return 0;
    }
    e = calloc(1, sizeof *e);
    if (!e)
        abort();
    s_entry_text(e, room);
    e->created_at = room->created_at;
    zhashx_insert(self->by_id, e->id, e);
    s_push(&self->pending, e);
    self->created_dirty = true;
    s_changed(self);
    return 1;
}

size_t gw_catalog_count(const gw_catalog_t *self)
{
    return zhashx_size(self->by_id);
}

bool gw_catalog_has(const gw_catalog_t *self, const char *room_id)
{
    return room_id && zhashx_lookup(self->by_id, room_id) != NULL;
}

uint64_t gw_catalog_version(const gw_catalog_t *self)
{
    return self->version;
}

// ------------------------------------------------------------ nodes and figures

void gw_catalog_place(gw_catalog_t *self, const char *room_id, uint32_t node)
{
    s_entry_t *e = room_id ? zhashx_lookup(self->by_id, room_id) : NULL;
    if (!e || node > GW_CATALOG_NODES_MAX || e->node == node)
        return;
    if (!e->seq_known) {
        if (e->node)
            self->unknown[e->node]--;
        if (node)
            self->unknown[node]++;
    }
    e->node = (uint16_t)node;
}

size_t gw_catalog_unknown(gw_catalog_t *self, uint32_t node, const char **ids, size_t max)
{
    if (node == 0 || node > GW_CATALOG_NODES_MAX || !self->unknown[node])
        return 0;
    size_t n = 0;
    for (s_entry_t *e = zhashx_first(self->by_id); e && n < max; e = zhashx_next(self->by_id))
        if (e->node == node && !e->seq_known)
            ids[n++] = e->id;
    return n;
}

static void s_seq_known(gw_catalog_t *self, s_entry_t *e)
{
    if (e->seq_known)
        return;
    e->seq_known = true;
    if (e->node)
        self->unknown[e->node]--;
}

//  Forgets the figures e takes from node's reply. Returns true when e had users.
static bool s_clear_figures(s_entry_t *e, uint32_t node)
{
    if (e->figures_node != node)
        return false;
    bool had = e->users > 0;
    e->figures = NULL;
    e->figures_node = 0;
    e->users = 0;
    return had;
}

bool gw_catalog_figures(gw_catalog_t *self, uint32_t node, Chat__Envelope **reply,
                        char *const *asked, size_t n)
{
    Chat__Envelope *env = *reply;
    *reply = NULL;
    if (node == 0 || node > GW_CATALOG_NODES_MAX || !env ||
        env->body_case != CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY) {
        chat_envelope_free(&env);
        return false;
    }
    const Chat__RoomsInfoReply *fresh = env->rooms_info_reply;
    uint32_t stamp = ++self->stamp;
    bool changed = false;
    //  What changes for the rooms in the new reply, before the old one goes.
    for (size_t i = 0; i < fresh->n_rooms; i++) {
        const Chat__RoomInfo *info = fresh->rooms[i];
        s_entry_t *e = info && info->id ? zhashx_lookup(self->by_id, info->id) : NULL;
        if (!e)
            continue;
        e->stamp = stamp;
        changed = changed || e->users != info->n_users || e->last_seq != info->last_seq;
    }
    Chat__Envelope *old = self->replies[node];
    for (size_t i = 0; old && i < old->rooms_info_reply->n_rooms; i++) {
        const Chat__RoomInfo *info = old->rooms_info_reply->rooms[i];
        s_entry_t *e = info && info->id ? zhashx_lookup(self->by_id, info->id) : NULL;
        if (e && s_clear_figures(e, node) && e->stamp != stamp)
            changed = true;
    }
    for (size_t i = 0; i < fresh->n_rooms; i++) {
        const Chat__RoomInfo *info = fresh->rooms[i];
        s_entry_t *e = info && info->id ? zhashx_lookup(self->by_id, info->id) : NULL;
        if (!e)
            continue;
        if (e->figures_node && e->figures_node != node)
            s_clear_figures(e, e->figures_node); //  it moved: the newest reply wins
        e->figures = info;
        e->figures_node = (uint16_t)node;
        e->users = (uint32_t)info->n_users;
        e->last_seq = info->last_seq;
        s_seq_known(self, e);
    }
    for (size_t i = 0; i < n; i++) {
        s_entry_t *e = asked[i] ? zhashx_lookup(self->by_id, asked[i]) : NULL;
        if (e)
            s_seq_known(self, e);
    }
    chat_envelope_free(&self->replies[node]);
    self->replies[node] = env;
    if (changed) {
        self->online_dirty = true;
        s_changed(self);
    }
    return changed;
}

bool gw_catalog_node_gone(gw_catalog_t *self, uint32_t node)
{
    if (node == 0 || node > GW_CATALOG_NODES_MAX || !self->replies[node])
        return false;
    const Chat__RoomsInfoReply *old = self->replies[node]->rooms_info_reply;
    bool changed = false;
    for (size_t i = 0; i < old->n_rooms; i++) {
        const Chat__RoomInfo *info = old->rooms[i];
        s_entry_t *e = info && info->id ? zhashx_lookup(self->by_id, info->id) : NULL;
        if (e && s_clear_figures(e, node))
            changed = true;
    }
    chat_envelope_free(&self->replies[node]);
    if (changed) {
        self->online_dirty = true;
        s_changed(self);
    }
    return changed;
}

// ------------------------------------------------------------ orders

//  Name order: folded name, then id.
static int s_key_cmp(const s_entry_t *a, const char *key, const char *id)
{
    int c = strcmp(a->key, key);
    return c ? c : strcmp(a->id, id);
}

static int s_by_key(const void *a, const void *b)
{
    const s_entry_t *y = *(s_entry_t *const *)b;
    return s_key_cmp(*(s_entry_t *const *)a, y->key, y->id);
}

//  Listing order: most users first, then name order.
static int s_by_listing(const void *a, const void *b)
{
    const s_entry_t *x = *(s_entry_t *const *)a, *y = *(s_entry_t *const *)b;
    if (x->users != y->users)
        return x->users > y->users ? -1 : 1;
    return s_key_cmp(x, y->key, y->id);
}

static int s_by_creation(const void *a, const void *b)
{
    const s_entry_t *x = *(s_entry_t *const *)a, *y = *(s_entry_t *const *)b;
    if (x->created_at != y->created_at)
        return x->created_at < y->created_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

//  The first position in by_key whose room sorts after (key, id).
static size_t s_key_after(const gw_catalog_t *self, const char *key, const char *id)
{
    size_t lo = 0, hi = self->by_key.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_key_cmp(self->by_key.items[mid], key, id) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

//  Sorts the pending rooms and merges them into by_key: O(pending log
//  pending + rooms), so a snapshot merged page by page never sorts the
//  whole catalog in one go.
static void s_merge_pending(gw_catalog_t *self)
{
    s_list_t *keys = &self->by_key, *pending = &self->pending;
    s_sort(pending, s_by_key);
    size_t n = keys->n, m = pending->n;
    for (size_t i = 0; i < m; i++)
        s_push(keys, NULL); //  room for the merge, filled from the end
    size_t i = n, j = m, k = n + m;
    while (j > 0) {
        if (i > 0 && s_by_key(&keys->items[i - 1], &pending->items[j - 1]) > 0)
            keys->items[--k] = keys->items[--i];
        else
            keys->items[--k] = pending->items[--j];
    }
}

//  Moves the pending rooms into by_key: one by one when they are few, else
//  merged in as a sorted run (a snapshot's page).
static void s_settle_names(gw_catalog_t *self)
{
    if (!self->pending.n && !self->resort)
        return;
    s_list_t *keys = &self->by_key;
    if (self->resort) {
        for (size_t i = 0; i < self->pending.n; i++)
            s_push(keys, self->pending.items[i]);
        s_sort(keys, s_by_key);
    } else if (self->pending.n > S_INSERT_MAX) {
        s_merge_pending(self);
    } else {
        for (size_t i = 0; i < self->pending.n; i++) {
            s_entry_t *e = self->pending.items[i];
            size_t at = s_key_after(self, e->key, e->id);
            s_push(keys, e);
            memmove(&keys->items[at + 1], &keys->items[at],
                    (keys->n - 1 - at) * sizeof *keys->items);
            keys->items[at] = e;
        }
    }
    self->pending.n = 0;
    self->resort = false;
    self->text_dirty = true;
}

//  The folded names of by_key in one text, for memmem.
static void s_settle_text(gw_catalog_t *self)
{
    if (!self->text_dirty)
        return;
    size_t n = self->by_key.n;
    if (n + 1 > self->starts_cap) {
        size_t cap = (n + 1) * 2;
        uint32_t *grown = realloc(self->starts, cap * sizeof *grown);
        if (!grown)
            abort();
        self->starts = grown;
        self->starts_cap = cap;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = self->by_key.items[i]->key;
        size_t k = strlen(key) + 1;
        if (len + k > self->text_cap) {
            size_t cap = self->text_cap ? self->text_cap * 2 : 65536;
            while (cap < len + k)
                cap *= 2;
            char *grown = realloc(self->text, cap);
            if (!grown)
                abort();
            self->text = grown;
            self->text_cap = cap;
        }
        self->starts[i] = (uint32_t)len;
        memcpy(self->text + len, key, k);
        len += k;
    }
    self->starts[n] = (uint32_t)len;
    self->text_len = len;
    self->text_dirty = false;
}

static void s_settle_online(gw_catalog_t *self)
{
    if (!self->online_dirty)
        return;
    //  Only rooms in a figures reply can have users: walk the replies.
    self->online.n = 0;
    for (size_t node = 1; node <= GW_CATALOG_NODES_MAX; node++) {
        const Chat__Envelope *env = self->replies[node];
        for (size_t i = 0; env && i < env->rooms_info_reply->n_rooms; i++) {
            const Chat__RoomInfo *info = env->rooms_info_reply->rooms[i];
            s_entry_t *e = info && info->id ? zhashx_lookup(self->by_id, info->id) : NULL;
            if (e && e->figures == info && e->users)
                s_push(&self->online, e);
        }
    }
    s_sort(&self->online, s_by_listing);
    self->online_dirty = false;
}

// ------------------------------------------------------------ listings

static void s_info(const s_entry_t *e, Chat__RoomInfo *info)
{
    chat__room_info__init(info);
    info->id = e->id;
    info->name = e->name;
    info->description = e->description;
    info->created_at = e->created_at;
    info->last_seq = e->last_seq;
    if (e->figures) {
        info->users = e->figures->users;
        info->n_users = e->figures->n_users;
    }
}

//  Where a cursor points: (users, key, id) of the last room shown.
typedef struct {
    bool set;        //  a cursor was given
    uint32_t users;  //  its users
    const char *key; //  its room's folded name
    const char *id;  //  its room's id
} s_cursor_t;

//  Parses "<users>.<id>" naming a room of the catalog. Returns 0 or -1.
static int s_cursor_parse(const gw_catalog_t *self, const char *text, s_cursor_t *cursor)
{
    memset(cursor, 0, sizeof *cursor);
    if (!text)
        return 0;
    char *end = NULL;
    if (*text < '0' || *text > '9')
        return -1;
    unsigned long users = strtoul(text, &end, 10);
    if (!end || *end != '.' || users > UINT32_MAX)
        return -1;
    const s_entry_t *e = zhashx_lookup(self->by_id, end + 1);
    if (!e)
        return -1;
    *cursor = (s_cursor_t){true, (uint32_t)users, e->key, e->id};
    return 0;
}

//  True when e comes after the cursor in the listing.
static bool s_after_cursor(const s_entry_t *e, const s_cursor_t *cursor)
{
    if (!cursor->set || e->users < cursor->users)
        return true;
    return e->users == cursor->users && s_key_cmp(e, cursor->key, cursor->id) > 0;
}

//  The index in by_key of the next room at or after byte offset *pos of
//  text whose key contains q (qlen bytes, > 0); moves *pos past it. -1 at
//  the end.
static long s_next_match(const gw_catalog_t *self, const char *q, size_t qlen, size_t *pos)
{
    if (*pos >= self->text_len)
        return -1;
    const char *hit = memmem(self->text + *pos, self->text_len - *pos, q, qlen);
    if (!hit)
        return -1;
    uint32_t off = (uint32_t)(hit - self->text);
    //  The key holding off: the last start <= off.
    size_t lo = 0, hi = self->by_key.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->starts[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t index = lo - 1;
    *pos = self->starts[index + 1];
    return (long)index;
}

//  Gathers a page: the rooms given so far, and whether more follow.
typedef struct {
    Chat__RoomInfo *out;   //  the caller's array
    uint32_t limit;        //  its size
    uint32_t n;            //  rooms in it
    const s_entry_t *last; //  the last room in it
    bool more;             //  a room after last matched too
} s_page_t;

static void s_page_add(s_page_t *page, const s_entry_t *e)
{
    if (page->n == page->limit) {
        page->more = true;
        return;
    }
    s_info(e, &page->out[page->n++]);
    page->last = e;
}

void gw_catalog_prepare(gw_catalog_t *self)
{
    s_settle_names(self);
}

long gw_catalog_page(gw_catalog_t *self, const char *query, const char *cursor_text, uint32_t limit,
                     Chat__RoomInfo *out, uint64_t *total, char *next)
{
    next[0] = '\0';
    *total = 0;
    s_cursor_t cursor;
    if (s_cursor_parse(self, cursor_text, &cursor) != 0)
        return -1;
    s_settle_names(self);
    s_settle_online(self);
    char q[256];
    gw_catalog_fold(query ? query : "", q, sizeof q);
    size_t qlen = strlen(q);
    s_page_t page = {out, limit, 0, NULL, false};
    uint64_t count = 0;
    //  Rooms with users come first, in their own order.
    for (size_t i = 0; i < self->online.n; i++) {
        const s_entry_t *e = self->online.items[i];
        if (qlen && !strstr(e->key, q))
            continue;
        count++;
        if (!page.more && s_after_cursor(e, &cursor))
            s_page_add(&page, e);
    }
    //  Then the others in name order, from after the cursor when it is
    //  among them.
    size_t from = cursor.set && cursor.users == 0 ? s_key_after(self, cursor.key, cursor.id) : 0;
    if (!qlen) {
        count = self->by_key.n;
        for (size_t i = from; i < self->by_key.n && !page.more; i++)
            if (!self->by_key.items[i]->users)
                s_page_add(&page, self->by_key.items[i]);
    } else {
        //  Every match is counted: the total needs one pass over all names.
        s_settle_text(self);
        size_t pos = 0;
        long index;
        while ((index = s_next_match(self, q, qlen, &pos)) >= 0) {
            const s_entry_t *e = self->by_key.items[index];
            if (e->users)
                continue;
            count++;
            if (!page.more && (size_t)index >= from)
                s_page_add(&page, e);
        }
    }
    *total = count;
    if (page.more && page.last)
        snprintf(next, GW_CATALOG_CURSOR_MAX, "%u.%s", page.last->users, page.last->id);
    return page.n;
}

size_t gw_catalog_all(gw_catalog_t *self, Chat__RoomInfo *out)
{
    if (self->created_dirty) {
        self->by_created.n = 0;
        for (s_entry_t *e = zhashx_first(self->by_id); e; e = zhashx_next(self->by_id))
            s_push(&self->by_created, e);
        s_sort(&self->by_created, s_by_creation);
        self->created_dirty = false;
    }
    for (size_t i = 0; i < self->by_created.n; i++)
        s_info(self->by_created.items[i], &out[i]);
    return self->by_created.n;
}
