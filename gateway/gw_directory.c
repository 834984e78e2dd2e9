/*  gw_directory: see gw_directory.h. */
#include "gw_directory.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_wire.h"
#include "gw_catalog.h"
#include "gw_ops.h"
#include "gw_session.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Pages kept encoded at one catalog version.
#define S_CACHE_MAX 32
//  Rooms of unknown last seq one RoomsInfo asks about by id (roomd's limit
//  is 10,000).
#define S_ASK_MAX 5000

//  A roomd node, as the registry tells of it.
typedef struct {
    char *name;     //  node name
    char *instance; //  its current instance, "" when not known
    bool live;      //  the registry counts it live
    bool placed;    //  a room was placed on it (the bridge knows its endpoints)
} s_node_t;

//  A page encoded once, for every session that asks for it.
typedef struct {
    char *key;       //  the request: "*" for v1, else limit, cursor and folded query
    gw_buf_t *open;  //  the message without its closing brace (gw_json_rooms_open)
    gw_buf_t *whole; //  the frame for requests without a ref, made on first use
    gw_buf_t *head;  //  the first fragment for requests with a ref, made on first use
} s_page_t;

//  A getRooms waiting for the catalog or for a refresh round.
typedef struct s_waiter {
    uint64_t conn;         //  the session
    char *ref;             //  ref to echo, or NULL
    bool paged;            //  a page (else v1)
    char *query;           //  paged: the query
    char *cursor;          //  paged: the cursor, or NULL
    uint32_t limit;        //  paged: the limit
    uint64_t round;        //  rounds that must be done first
    int64_t deadline_ms;   //  unavailable after this when there is no catalog
    struct s_waiter *next; //  the next in arrival order
} s_waiter_t;

struct gw_directory {
    gw_catalog_t *catalog;       //  the rooms
    zhashx_t *slots;             //  node name -> slot (uintptr_t, 1-based)
    s_node_t *nodes;             //  node slots 1..n_nodes at [slot - 1]
    size_t n_nodes;              //  slots used
    bool loaded;                 //  a whole snapshot came once
    uint64_t rounds_started;     //  refresh rounds started
    uint64_t rounds_done;        //  refresh rounds finished
    int asking;                  //  RoomsInfo of the current round still due
    int64_t round_ms;            //  when the last round started, 0 = never
    int64_t demand_ms;           //  when the last getRooms came
    s_waiter_t *waiters;         //  held requests, oldest first
    s_waiter_t **tail;           //  where the next one goes
    size_t n_waiters;            //  entries in waiters
    s_page_t cache[S_CACHE_MAX]; //  pages at cache_version
    size_t cache_next;           //  the slot the next new page takes
    uint64_t cache_version;      //  the catalog version of the cached pages
};

gw_directory_t *gw_directory_new(void)
{
    gw_directory_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->catalog = gw_catalog_new();
    self->slots = zhashx_new();
    if (!self->slots)
        abort();
    self->tail = &self->waiters;
    return self;
}

static void s_page_clear(s_page_t *page)
{
    free(page->key);
    gw_buf_unref(&page->open);
    gw_buf_unref(&page->whole);
    gw_buf_unref(&page->head);
    page->key = NULL;
}

static void s_waiter_free(s_waiter_t *w)
{
    free(w->ref);
    free(w->query);
    free(w->cursor);
    free(w);
}

void gw_directory_destroy(gw_directory_t **p)
{
    if (!p || !*p)
        return;
    gw_directory_t *self = *p;
    while (self->waiters) {
        s_waiter_t *w = self->waiters;
        self->waiters = w->next;
        s_waiter_free(w);
    }
    for (size_t i = 0; i < S_CACHE_MAX; i++)
        s_page_clear(&self->cache[i]);
    for (size_t i = 0; i < self->n_nodes; i++) {
        free(self->nodes[i].name);
        free(self->nodes[i].instance);
    }
    free(self->nodes);
    zhashx_destroy(&self->slots);
    gw_catalog_destroy(&self->catalog);
    free(self);
    *p = NULL;
}

size_t gw_directory_rooms(gw_t *gw)
{
    return gw_catalog_count(gw->directory->catalog);
}

size_t gw_directory_waiting(gw_t *gw)
{
    return gw->directory->n_waiters;
}

static char *s_dup(const char *text)
{
    if (!text)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        abort();
    return copy;
}

// ------------------------------------------------------------ nodes

//  The slot of node name (made when new), 0 when there is no room for it.
static uint32_t s_slot(gw_directory_t *self, const char *name)
{
    if (!name || !*name)
        return 0;
    uintptr_t slot = (uintptr_t)zhashx_lookup(self->slots, name);
    if (slot)
        return (uint32_t)slot;
    if (self->n_nodes == GW_CATALOG_NODES_MAX)
        return 0;
    s_node_t *grown = realloc(self->nodes, (self->n_nodes + 1) * sizeof *grown);
    if (!grown)
        abort();
    self->nodes = grown;
    self->nodes[self->n_nodes] = (s_node_t){s_dup(name), s_dup(""), false, false};
    slot = ++self->n_nodes;
    zhashx_insert(self->slots, name, (void *)slot);
    return (uint32_t)slot;
}

//  What the registry says of node slot: its instance (NULL or "": not
//  told) and whether it is live. A new instance forgot the rooms the old
//  one held in memory: their figures go until the next round.
static void s_node_state(gw_directory_t *self, uint32_t slot, const char *instance, bool live)
{
    if (!slot)
        return;
    s_node_t *node = &self->nodes[slot - 1];
    bool moved = instance && *instance && strcmp(node->instance, instance) != 0;
    if (moved) {
        free(node->instance);
        node->instance = s_dup(instance);
    }
    if (moved || (node->live && !live))
        gw_catalog_node_gone(self->catalog, slot);
    node->live = live;
}

//  The slot of the node whose current instance is instance, 0 when none.
static uint32_t s_slot_of_instance(const gw_directory_t *self, const char *instance)
{
    for (size_t i = 0; instance && i < self->n_nodes; i++)
        if (strcmp(self->nodes[i].instance, instance) == 0)
            return (uint32_t)(i + 1);
    return 0;
}

// ------------------------------------------------------------ the registry's side

//  A room's placement: its node slot (live, at that instance when live says so).
static void s_placed(gw_directory_t *self, const Chat__Placement *p, bool live)
{
    if (!p || !p->room_id || !p->node || !*p->node)
        return;
    uint32_t slot = s_slot(self, p->node);
    if (!slot)
        return;
    s_node_state(self, slot, p->instance, live);
    self->nodes[slot - 1].placed = true;
    gw_catalog_place(self->catalog, p->room_id, slot);
}

void gw_directory_on_created(gw_t *gw, const Chat__RoomInfo *room)
{
    gw_catalog_put(gw->directory->catalog, room);
}

void gw_directory_on_event(gw_t *gw, const Chat__RegistryEvent *ev)
{
    gw_directory_t *self = gw->directory;
    switch (ev->kind_case) {
    case CHAT__REGISTRY_EVENT__KIND_ROOM_CREATED:
        if (ev->room_created)
            gw_catalog_put(self->catalog, ev->room_created->room);
        break;
    case CHAT__REGISTRY_EVENT__KIND_PLACEMENT:
        //  The registry grants rooms to live nodes only.
        s_placed(self, ev->placement, true);
        break;
    case CHAT__REGISTRY_EVENT__KIND_NODE_STATE:
        if (ev->node_state)
            s_node_state(self, s_slot(self, ev->node_state->node), ev->node_state->instance,
                         ev->node_state->live);
        break;
    default:
        break;
    }
}

void gw_directory_on_snapshot(gw_t *gw, const Chat__ListRoomsReply *reply, bool last)
{
    gw_directory_t *self = gw->directory;
    for (size_t i = 0; i < reply->n_rooms; i++) {
        const Chat__CatalogEntry *e = reply->rooms[i];
        if (!e || gw_catalog_put(self->catalog, e->room) < 0)
            continue;
        if (e->placement)
            s_placed(self, e->placement, e->live);
    }
    gw_catalog_prepare(self->catalog);
    if (last && !self->loaded) {
        self->loaded = true;
        chat_info("directory: %zu rooms", gw_catalog_count(self->catalog));
    }
}

// ------------------------------------------------------------ pages

//  The cache slot of the page asked for, built when missing; NULL when the
//  cursor is not one of the catalog's.
static s_page_t *s_page(gw_t *gw, bool paged, const char *query, const char *cursor, uint32_t limit)
{
    gw_directory_t *self = gw->directory;
    uint64_t version = gw_catalog_version(self->catalog);
    if (version != self->cache_version) {
        for (size_t i = 0; i < S_CACHE_MAX; i++)
            s_page_clear(&self->cache[i]);
        self->cache_version = version;
    }
    char folded[GW_ROOMS_QUERY_MAX * 4 + 1];
    gw_catalog_fold(query ? query : "", folded, sizeof folded);
    char key[GW_ROOMS_QUERY_MAX * 4 + GW_ROOMS_CURSOR_MAX + 32];
    if (paged)
        snprintf(key, sizeof key, "%u\n%s\n%s", limit, cursor ? cursor : "", folded);
    else
        snprintf(key, sizeof key, "*");
    for (size_t i = 0; i < S_CACHE_MAX; i++)
        if (self->cache[i].key && strcmp(self->cache[i].key, key) == 0) {
            gw->metrics.directory_shared++;
            return &self->cache[i];
        }
    size_t cap = paged ? limit : gw_catalog_count(self->catalog);
    Chat__RoomInfo *infos = calloc(cap + 1, sizeof *infos);
    Chat__RoomInfo **ptrs = calloc(cap + 1, sizeof *ptrs);
    if (!infos || !ptrs)
        abort();
    gw_rooms_paging_t paging = {NULL, 0};
    char next[GW_CATALOG_CURSOR_MAX];
    long n;
    if (paged) {
        n = gw_catalog_page(self->catalog, query, cursor, limit, infos, &paging.total, next);
        paging.cursor = next[0] ? next : NULL;
    } else {
        n = (long)gw_catalog_all(self->catalog, infos);
    }
    s_page_t *page = NULL;
    if (n >= 0) {
        for (long i = 0; i < n; i++)
            ptrs[i] = &infos[i];
        page = &self->cache[self->cache_next];
        self->cache_next = (self->cache_next + 1) % S_CACHE_MAX;
        s_page_clear(page);
        page->key = s_dup(key);
        page->open = gw_json_rooms_open(ptrs, (size_t)n, paged ? &paging : NULL);
        gw->metrics.directory_pages++;
    }
    free(ptrs);
    free(infos);
    return page;
}

//  Answers one getRooms of s.
static void s_answer(gw_t *gw, gw_session_t *s, const char *ref, bool paged, const char *query,
                     const char *cursor, uint32_t limit)
{
    s_page_t *page = s_page(gw, paged, query, cursor, limit);
    if (!page) {
        gw_session_error(gw, s, GW_ERR_BAD_REQUEST, "Unknown cursor", ref);
        return;
    }
    if (!ref) {
        if (!page->whole)
            page->whole = gw_json_close(page->open, false);
        gw_buf_t *whole = gw_buf_ref(page->whole);
        gw_session_send(gw, s, &whole);
        return;
    }
    if (!page->head)
        page->head = gw_json_close(page->open, true);
    gw_buf_t *head = gw_buf_ref(page->head);
    gw_session_send(gw, s, &head);
    gw_buf_t *tail = gw_json_ref_tail(ref);
    gw_session_send(gw, s, &tail);
}

// ------------------------------------------------------------ requests

//  True when a request needing round can be answered now.
static bool s_ready(const gw_directory_t *self, uint64_t round)
{
    return self->loaded && self->rounds_done >= round;
}

void gw_directory_get_rooms(gw_t *gw, gw_session_t *s, const gw_request_t *req)
{
    gw_directory_t *self = gw->directory;
    int64_t now = chat_mono_ms();
    self->demand_ms = now;
    //  A page may show the figures of the last round while rounds keep
    //  coming (someone keeps asking); after a quiet spell, and for every
    //  room (v1), which must show what happened before it was asked, the
    //  next round.
    bool fresh = self->round_ms && now - self->round_ms <= 2 * gw->config.directory_refresh_ms;
    uint64_t round = req->paged && fresh ? 1 : self->rounds_started + 1;
    if (s_ready(self, round)) {
        s_answer(gw, s, req->ref, req->paged, req->query, req->cursor, req->limit);
        return;
    }
    if (s->pending >= gw->config.max_pending) {
        gw_metrics_error(&gw->metrics, GW_ERR_RATE_LIMITED);
        gw_buf_t *buf =
            gw_json_error(GW_ERR_RATE_LIMITED, "Too many requests in flight", 100, req->ref);
        gw_session_send(gw, s, &buf);
        return;
    }
    s_waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    *w = (s_waiter_t){s->conn,
                      s_dup(req->ref),
                      req->paged,
                      s_dup(req->paged ? req->query : NULL),
                      s_dup(req->paged ? req->cursor : NULL),
                      req->limit,
                      round,
                      now + gw->config.directory_wait_ms,
                      NULL};
    *self->tail = w;
    self->tail = &w->next;
    self->n_waiters++;
    s->pending++;
    gw_directory_tick(gw, now);
}

//  Answers (or fails, past their deadline without a catalog) the held
//  requests that can be; keeps the others in order.
static void s_serve_waiters(gw_t *gw, int64_t now)
{
    gw_directory_t *self = gw->directory;
    s_waiter_t *keep = NULL, **keep_tail = &keep;
    size_t kept = 0;
    s_waiter_t *w = self->waiters;
    self->waiters = NULL;
    self->tail = &self->waiters;
    self->n_waiters = 0;
    while (w) {
        s_waiter_t *next = w->next;
        bool late = now >= w->deadline_ms;
        if (!s_ready(self, w->round) && !late) {
            w->next = NULL;
            *keep_tail = w;
            keep_tail = &w->next;
            kept++;
        } else {
            gw_session_t *s = gw_session_find(gw, w->conn);
            if (s && s->pending)
                s->pending--;
            if (s && self->loaded)
                s_answer(gw, s, w->ref, w->paged, w->query, w->cursor, w->limit);
            else if (s)
                gw_session_error(gw, s, GW_ERR_UNAVAILABLE, "The room directory is not loaded yet",
                                 w->ref);
            s_waiter_free(w);
        }
        w = next;
    }
    //  Answering sends nothing that holds new requests: append the kept ones.
    *self->tail = keep;
    if (keep)
        self->tail = keep_tail;
    self->n_waiters += kept;
}

// ------------------------------------------------------------ refresh rounds

//  A round of RoomsInfo is over: answer what waited for it.
static void s_round_done(gw_t *gw)
{
    gw_directory_t *self = gw->directory;
    self->rounds_done = self->rounds_started;
    s_serve_waiters(gw, chat_mono_ms());
}

//  Asks every live roomd for its figures.
static void s_start_round(gw_t *gw, int64_t now)
{
    gw_directory_t *self = gw->directory;
    self->rounds_started++;
    self->round_ms = now;
    gw->metrics.directory_rounds++;
    //  Count them all first: an op may end at once, and the round must not
    //  end before the last one started.
    size_t n = 0;
    uint32_t *slots = calloc(self->n_nodes + 1, sizeof *slots);
    if (!slots)
        abort();
    //  A node that holds none of the rooms has no figures to give (and the
    //  gateway may not even know its endpoints).
    for (size_t i = 0; i < self->n_nodes; i++)
        if (self->nodes[i].live && self->nodes[i].placed && *self->nodes[i].instance)
            slots[n++] = (uint32_t)(i + 1);
    self->asking = (int)n;
    const char **ids = calloc(S_ASK_MAX, sizeof *ids);
    if (!ids)
        abort();
    for (size_t k = 0; k < n; k++) {
        size_t asked = gw_catalog_unknown(self->catalog, slots[k], ids, S_ASK_MAX);
        char *instance = s_dup(self->nodes[slots[k] - 1].instance);
        gw_ops_rooms_info(gw, instance, ids, asked);
        free(instance);
    }
    free(ids);
    free(slots);
    if (n == 0)
        s_round_done(gw);
}

void gw_directory_on_rooms_info(gw_t *gw, const char *instance, char *const *asked, size_t n,
                                Chat__Envelope **reply)
{
    gw_directory_t *self = gw->directory;
    uint32_t slot = s_slot_of_instance(self, instance);
    if (reply && *reply && slot)
        gw_catalog_figures(self->catalog, slot, reply, asked, n);
    if (reply)
        chat_envelope_free(reply);
    if (self->asking > 0 && --self->asking == 0)
        s_round_done(gw);
}

void gw_directory_tick(gw_t *gw, int64_t now_ms)
{
    gw_directory_t *self = gw->directory;
    bool due = self->loaded && self->asking == 0 &&
               (!self->round_ms || now_ms - self->round_ms >= gw->config.directory_refresh_ms);
    bool wanted = self->demand_ms && (!self->round_ms || self->demand_ms >= self->round_ms);
    if (due && wanted)
        s_start_round(gw, now_ms);
    if (self->waiters)
        s_serve_waiters(gw, now_ms);
}
