/*  rd_host: see rd_host.h. */
#include "rd_host.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_text.h"
#include "rd_gateways.h"
#include "rd_outbox.h"
#include "rd_room.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define RD_EXPIRY_CHECK_MS 250
#define RD_PASSIVATION_CHECK_MS 1000
#define RD_ROOMS_INFO_MAX 10000 //  rooms one RoomsInfo may ask about

//  What the turn's flush did to a grant's part of the batch.
typedef enum {
    S_STORED = 0, //  committed (or nothing to write)
    S_FAILED,     //  LMDB failed: rolled back, requests get INTERNAL
    S_CONFLICT,   //  stored seq did not continue the room's: reload from disk
    S_FENCED,     //  a newer epoch is stored: not ours any more
    S_GONE,       //  the registry took the grant away during the turn
} s_outcome_t;

typedef struct {
    char *room_id;         //  the room (key in grants)
    char *name;            //  catalog name
    char *description;     //  catalog description
    int64_t created_at;    //  catalog creation time, ms
    uint64_t epoch;        //  the grant's epoch
    rd_room_t *room;       //  the RoomActor when in memory, else NULL
    uint64_t last_seq;     //  last seq while not in memory (when last_seq_known)
    bool last_seq_known;   //  last_seq has been read
    bool fenced;           //  a newer epoch is stored: requests get NOT_OWNER
    bool revoked;          //  no longer granted: dropped after the flush
    bool in_batch;         //  listed in the turn's dirty list
    s_outcome_t outcome;   //  result of this turn's flush for this grant
    uint64_t stored_epoch; //  epoch found on disk by the flush
    int64_t last_used;     //  monotonic ms of the last request
} s_grant_t;

struct rd_host {
    rd_store_t *store;        //  LMDB (borrowed)
    rd_reader_t reader;       //  store as a reader of old messages
    rd_host_opts_t opts;      //  settings
    char *instance;           //  "<node>/<boot>", or NULL before registration
    zhashx_t *grants;         //  room id -> s_grant_t
    rd_gateways_t *gateways;  //  gateways holding sessions here
    s_grant_t **dirty;        //  grants with something to write this turn
    size_t dirty_count;       //  dirty used
    size_t dirty_cap;         //  dirty allocated
    rd_outbox_t *outbox;      //  replies held until the commit
    rd_msglist_t list;        //  scratch list of messages
    uint8_t *buf;             //  scratch buffer to pack events and errors
    size_t buf_size;          //  its size
    size_t loaded;            //  rooms in memory
    uint64_t messages;        //  messages committed since start
    int64_t now;              //  monotonic ms of the latest request or timer
    int64_t next_tick;        //  when ticks are due
    int64_t next_expiry;      //  when session expiry is checked
    int64_t next_passivation; //  when idle rooms are checked
    bool recount;             //  gateway session counts must be recomputed
    bool revocations;         //  some grant was revoked: drop it after the flush
};

static chat_log_limit_t s_bad_log;

// ------------------------------------------------------------------ grants

static void s_grant_free(void **item)
{
    s_grant_t *g = *item;
    if (!g)
        return;
    rd_room_destroy(&g->room);
    free(g->room_id);
    free(g->name);
    free(g->description);
    free(g);
    *item = NULL;
}

rd_host_t *rd_host_new(rd_store_t *store, const rd_host_opts_t *opts)
{
    rd_host_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->reader = rd_store_reader(store);
    self->opts = *opts;
    if (self->opts.tick_ms <= 0)
        self->opts.tick_ms = 1000;
    self->grants = zhashx_new();
    self->gateways = rd_gateways_new();
    self->outbox = rd_outbox_new();
    if (!self->grants || !self->gateways || !self->outbox) {
        rd_host_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->grants, s_grant_free);
    return self;
}

void rd_host_destroy(rd_host_t **p)
{
    if (!p || !*p)
        return;
    rd_host_t *self = *p;
    zhashx_destroy(&self->grants);
    rd_gateways_destroy(&self->gateways);
    rd_outbox_destroy(&self->outbox);
    rd_msglist_free(&self->list);
    free(self->dirty);
    free(self->buf);
    free(self->instance);
    free(self);
    *p = NULL;
}

void rd_host_set_instance(rd_host_t *self, const char *instance)
{
    char *copy = strdup(instance);
    if (!copy)
        return;
    free(self->instance);
    self->instance = copy;
}

static void s_mark_dirty(rd_host_t *self, s_grant_t *g)
{
    if (g->in_batch)
        return;
    if (self->dirty_count == self->dirty_cap) {
        size_t cap = self->dirty_cap ? self->dirty_cap * 2 : 64;
        s_grant_t **grown = realloc(self->dirty, cap * sizeof *grown);
        if (!grown) {
            chat_error("out of memory: a room's changes wait for the next turn");
            return;
        }
        self->dirty = grown;
        self->dirty_cap = cap;
    }
    self->dirty[self->dirty_count++] = g;
    g->in_batch = true;
}

static void s_unload(rd_host_t *self, s_grant_t *g)
{
    if (!g->room)
        return;
    g->last_seq = rd_room_committed_seq(g->room);
    g->last_seq_known = true;
    rd_room_destroy(&g->room);
    self->loaded--;
}

static int s_set_catalog(s_grant_t *g, const Chat__RoomInfo *info)
{
    char *name = strdup(info->name ? info->name : "");
    char *description = strdup(info->description ? info->description : "");
    if (!name || !description) {
        free(name);
        free(description);
        return -1;
    }
    free(g->name);
    free(g->description);
    g->name = name;
    g->description = description;
    g->created_at = info->created_at;
    if (g->room)
        rd_room_set_catalog(g->room, name, description, info->created_at);
    return 0;
}

int rd_host_grant(rd_host_t *self, const Chat__Assignment *a)
{
    if (!a || !a->room || !chat_valid_room_id(a->room->id) || a->epoch == 0) {
        chat_wire_count_bad("assignment without a valid room or epoch");
        return -1;
    }
    s_grant_t *g = zhashx_lookup(self->grants, a->room->id);
    if (g && a->epoch < g->epoch) {
        chat_warn("ignored a stale grant of %s at epoch %" PRIu64 " (holding %" PRIu64 ")",
                  a->room->id, a->epoch, g->epoch);
        return -1;
    }
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g || !(g->room_id = strdup(a->room->id))) {
            free(g);
            return -1;
        }
        g->last_used = self->now;
        if (zhashx_insert(self->grants, g->room_id, g) != 0) {
            void *item = g;
            s_grant_free(&item);
            return -1;
        }
    } else if (a->epoch == g->epoch && !g->revoked && !g->fenced) {
        s_set_catalog(g, a->room);
        return 0; //  the grant we hold: nothing to store
    }
    if (s_set_catalog(g, a->room) != 0)
        return -1;
    if (a->epoch != g->epoch)
        chat_info("room %s granted at epoch %" PRIu64, g->room_id, a->epoch);
    g->epoch = a->epoch;
    g->revoked = false;
    g->fenced = false;
    if (g->room)
        rd_room_set_epoch(g->room, a->epoch);
    s_mark_dirty(self, g);
    return 0;
}

void rd_host_grant_all(rd_host_t *self, Chat__Assignment *const *list, size_t count)
{
    for (s_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants))
        g->revoked = true;
    for (size_t i = 0; i < count; i++) {
        const Chat__Assignment *a = list[i];
        s_grant_t *g = a && a->room ? zhashx_lookup(self->grants, a->room->id) : NULL;
        if (g)
            g->revoked = false; //  still ours; a newer epoch is applied below
        rd_host_grant(self, a);
    }
    for (s_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants))
        if (g->revoked) {
            chat_info("room %s is no longer granted to this instance", g->room_id);
            self->revocations = true;
        }
}

size_t rd_host_grant_count(const rd_host_t *self)
{
    size_t count = 0;
    for (s_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants))
        count += !g->revoked;
    return count;
}

void rd_host_stats(const rd_host_t *self, Chat__NodeStats *stats)
{
    chat__node_stats__init(stats);
    stats->rooms_assigned = (uint32_t)rd_host_grant_count(self);
    stats->rooms_active = (uint32_t)self->loaded;
    stats->members = rd_gateways_total(self->gateways);
    stats->messages = self->messages;
    stats->commits = rd_store_commits(self->store);
    stats->bad_frames = chat_wire_bad_frames();
}

// ---------------------------------------------------------------- gateways

static void s_count_session(void *arg, const char *gateway, uint64_t conn)
{
    rd_host_t *self = arg;
    rd_gateways_add_session(self->gateways, gateway, self->now);
}

//  Recomputes every gateway's session count from the rooms in memory.
static void s_recount(rd_host_t *self)
{
    rd_gateways_reset_counts(self->gateways);
    for (s_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants))
        if (g->room)
            rd_room_each_session(g->room, s_count_session, self);
    self->recount = false;
}

// ------------------------------------------------------------ loading rooms

//  Brings a granted room into memory from LMDB. Returns 0, or -1 (the grant
//  is marked fenced when a newer epoch is stored).
static int s_load(rd_host_t *self, s_grant_t *g)
{
    Chat__RoomdRoomRecord *record = NULL;
    int rc = rd_store_room_get(self->store, g->room_id, &record);
    if (rc == RD_STORE_ERROR)
        return -1;
    if (record && record->epoch > g->epoch) {
        chat_warn("room %s: epoch %" PRIu64 " is stored, this instance holds %" PRIu64
                  ": another process owns it",
                  g->room_id, record->epoch, g->epoch);
        g->fenced = true;
    }
    if (record)
        chat__roomd_room_record__free_unpacked(record, NULL);
    if (g->fenced)
        return -1;

    uint64_t last = 0;
    if (rd_store_last_seq(self->store, g->room_id, &last) != RD_STORE_OK)
        return -1;
    rd_room_t *room = rd_room_new(g->room_id, g->name, g->description, g->created_at, g->epoch);
    if (!room)
        return -1;
    rd_msglist_reset(&self->list);
    uint64_t lo = last > RD_ROOM_DEDUP_WINDOW ? last - RD_ROOM_DEDUP_WINDOW + 1 : 1;
    if (rd_store_range(self->store, g->room_id, lo, last, &self->list) != RD_STORE_OK ||
        (last > 0 && self->list.count != last - lo + 1) || rd_room_load(room, &self->list) != 0) {
        chat_error("room %s: its stored messages %" PRIu64 "..%" PRIu64 " cannot be loaded",
                   g->room_id, lo, last);
        rd_msglist_reset(&self->list);
        rd_room_destroy(&room);
        return -1;
    }
    rd_msglist_reset(&self->list);
    g->room = room;
    self->loaded++;
    chat_debug("room %s loaded, last seq %" PRIu64, g->room_id, last);
    return 0;
}

// ----------------------------------------------------------------- replies

static void s_queue(rd_host_t *self, const chat_peer_t *peer, const Chat__Envelope *env,
                    s_grant_t *g)
{
    rd_outbox_add(self->outbox, peer, env, g);
}

static void s_bad_request(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                          const char *why)
{
    chat_wire_count_bad(why);
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    error.status = CHAT__STATUS__STATUS_BAD_REQUEST;
    error.message = (char *)why;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ERROR;
    env.error = &error;
    s_queue(self, peer, &env, NULL);
}

//  Finds the grant a request targets and checks instance and epoch (reads
//  may name neither: epoch 0, empty instance). Loads the room. Returns the
//  grant, or NULL with *status saying why.
static s_grant_t *s_target(rd_host_t *self, const Chat__RoomTarget *t, bool write,
                           Chat__Status *status, uint64_t *epoch)
{
    *status = CHAT__STATUS__STATUS_OK;
    *epoch = 0;
    if (!t || !t->room_id || !*t->room_id || strlen(t->room_id) > CHAT_ROOM_ID_MAX) {
        chat_wire_count_bad("request without a valid room target");
        *status = CHAT__STATUS__STATUS_BAD_REQUEST;
        return NULL;
    }
    s_grant_t *g = zhashx_lookup(self->grants, t->room_id);
    if (!g || g->revoked) {
        *status = CHAT__STATUS__STATUS_NOT_OWNER;
        return NULL;
    }
    *epoch = g->epoch;
    const char *instance = t->instance ? t->instance : "";
    bool instance_ok =
        self->instance && (strcmp(instance, self->instance) == 0 || (!write && *instance == '\0'));
    bool epoch_ok = t->epoch == g->epoch || (!write && t->epoch == 0);
    if (!instance_ok || !epoch_ok || g->fenced) {
        *status = CHAT__STATUS__STATUS_NOT_OWNER;
        return NULL;
    }
    if (!g->room && s_load(self, g) != 0) {
        *status = g->fenced ? CHAT__STATUS__STATUS_NOT_OWNER : CHAT__STATUS__STATUS_INTERNAL;
        return NULL;
    }
    g->last_used = self->now;
    return g;
}

static void s_join(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                   const Chat__JoinRequest *req)
{
    if (!req->user || !req->session) {
        s_bad_request(self, peer, req_id, "join without user or session");
        return;
    }
    Chat__JoinReply reply = CHAT__JOIN_REPLY__INIT;
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_JOIN_REPLY;
    env.join_reply = &reply;
    s_grant_t *g = s_target(self, req->target, true, &reply.status, &reply.epoch);
    if (g) {
        rd_room_t *room = g->room;
        //  The history is read first: it ends at the cursor, and a failed read joins nobody.
        uint64_t cursor = rd_room_last_seq(room);
        rd_msglist_reset(&self->list);
        bool truncated = false;
        if (rd_room_join_history(room, &self->reader, cursor, req->has_since, req->since,
                                 &self->list, &truncated) != 0) {
            reply.status = CHAT__STATUS__STATUS_INTERNAL;
        } else {
            rd_join_t joined;
            reply.status = rd_room_join(room, req->user->id, req->user->name, req->session->gateway,
                                        req->session->conn, req->quiet, chat_wall_ms(), &joined);
            if (reply.status == CHAT__STATUS__STATUS_BAD_REQUEST)
                chat_wire_count_bad("join with an invalid user or session");
            if (reply.status == CHAT__STATUS__STATUS_OK) {
                //  A join counts as a heartbeat of its gateway.
                rd_gateways_seen(self->gateways, req->session->gateway, self->now);
                if (joined.session_added)
                    rd_gateways_add_session(self->gateways, req->session->gateway, self->now);
                rd_room_info(room, &info);
                reply.room = &info;
                reply.history = self->list.items;
                reply.n_history = self->list.count;
                reply.truncated = truncated;
                reply.cursor = joined.cursor;
            }
            if (rd_room_dirty(room))
                s_mark_dirty(self, g);
        }
    }
    s_queue(self, peer, &env, g);
    rd_msglist_reset(&self->list);
}

static void s_leave(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                    const Chat__LeaveRequest *req)
{
    if (!req->session) {
        s_bad_request(self, peer, req_id, "leave without a session");
        return;
    }
    Chat__LeaveReply reply = CHAT__LEAVE_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_LEAVE_REPLY;
    env.leave_reply = &reply;
    s_grant_t *g = s_target(self, req->target, true, &reply.status, &reply.epoch);
    if (g) {
        const rd_msg_t *line;
        reply.status = rd_room_leave(g->room, req->user_id, req->session->gateway,
                                     req->session->conn, chat_wall_ms(), &line);
        if (reply.status == CHAT__STATUS__STATUS_BAD_REQUEST)
            chat_wire_count_bad("leave with an invalid user or session");
        if (reply.status == CHAT__STATUS__STATUS_OK) {
            rd_gateways_remove_session(self->gateways, req->session->gateway);
            s_mark_dirty(self, g);
        }
    }
    s_queue(self, peer, &env, g);
}

static void s_send(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                   const Chat__SendRequest *req)
{
    if (!req->session) {
        s_bad_request(self, peer, req_id, "send without a session");
        return;
    }
    Chat__SendReply reply = CHAT__SEND_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_SEND_REPLY;
    env.send_reply = &reply;
    char message_id[CHAT_ROOM_ID_MAX + 32];
    s_grant_t *g = s_target(self, req->target, true, &reply.status, &reply.epoch);
    if (g) {
        rd_send_t sent;
        reply.status = rd_room_send(g->room, req->user_id, req->user_name, req->session->gateway,
                                    req->session->conn, req->content, req->client_msg_id,
                                    chat_wall_ms(), &sent);
        if (reply.status == CHAT__STATUS__STATUS_BAD_REQUEST)
            chat_wire_count_bad("send with an invalid user, session or content");
        if (reply.status == CHAT__STATUS__STATUS_OK) {
            reply.seq = sent.seq;
            snprintf(message_id, sizeof message_id, "%s:%" PRIu64, g->room_id, sent.seq);
            reply.message_id = message_id;
            if (!sent.duplicate)
                s_mark_dirty(self, g);
        }
    }
    s_queue(self, peer, &env, g);
}

static void s_history(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                      const Chat__HistoryRequest *req)
{
    Chat__HistoryReply reply = CHAT__HISTORY_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_HISTORY_REPLY;
    env.history_reply = &reply;
    s_grant_t *g = s_target(self, req->target, false, &reply.status, &reply.epoch);
    rd_msglist_reset(&self->list);
    if (g) {
        bool more = false;
        if (rd_room_history(g->room, &self->reader, req->has_after, req->after, req->has_before,
                            req->before, req->limit, &self->list, &more) != 0) {
            reply.status = CHAT__STATUS__STATUS_INTERNAL;
        } else {
            reply.messages = self->list.items;
            reply.n_messages = self->list.count;
            reply.has_more = more;
        }
    }
    s_queue(self, peer, &env, g);
    rd_msglist_reset(&self->list);
}

static void s_room_state(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                         const Chat__RoomStateRequest *req)
{
    Chat__RoomStateReply reply = CHAT__ROOM_STATE_REPLY__INIT;
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ROOM_STATE_REPLY;
    env.room_state_reply = &reply;
    s_grant_t *g = s_target(self, req->target, false, &reply.status, &reply.epoch);
    rd_msglist_reset(&self->list);
    if (g) {
        uint64_t last = rd_room_last_seq(g->room);
        uint64_t lo = last > RD_ROOM_RECENT ? last - RD_ROOM_RECENT + 1 : 1;
        if (rd_room_range(g->room, &self->reader, lo, last, &self->list) != 0) {
            reply.status = CHAT__STATUS__STATUS_INTERNAL;
        } else {
            rd_room_info(g->room, &info);
            reply.room = &info;
            reply.messages = self->list.items;
            reply.n_messages = self->list.count;
        }
    }
    s_queue(self, peer, &env, g);
    rd_msglist_reset(&self->list);
}

//  Fills info for a room that is not in memory: catalog and last seq, no users.
static void s_info_passive(rd_host_t *self, s_grant_t *g, Chat__RoomInfo *info)
{
    chat__room_info__init(info);
    info->id = g->room_id;
    info->name = g->name;
    info->description = g->description;
    info->created_at = g->created_at;
    if (!g->last_seq_known &&
        rd_store_last_seq(self->store, g->room_id, &g->last_seq) == RD_STORE_OK)
        g->last_seq_known = true;
    info->last_seq = g->last_seq;
}

static void s_rooms_info(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                         const Chat__RoomsInfoRequest *req)
{
    if (req->n_room_ids > RD_ROOMS_INFO_MAX) {
        s_bad_request(self, peer, req_id, "rooms info for too many rooms");
        return;
    }
    Chat__RoomsInfoReply reply = CHAT__ROOMS_INFO_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY;
    env.rooms_info_reply = &reply;
    Chat__RoomInfo *infos = calloc(req->n_room_ids + 1, sizeof *infos);
    Chat__RoomInfo **ptrs = calloc(req->n_room_ids + 1, sizeof *ptrs);
    if (!infos || !ptrs) {
        reply.status = CHAT__STATUS__STATUS_INTERNAL;
    } else {
        for (size_t i = 0; i < req->n_room_ids; i++) {
            s_grant_t *g = zhashx_lookup(self->grants, req->room_ids[i]);
            if (!g || g->revoked || g->fenced)
                continue;
            Chat__RoomInfo *info = &infos[reply.n_rooms];
            if (g->room)
                rd_room_info(g->room, info);
            else
                s_info_passive(self, g, info);
            ptrs[reply.n_rooms++] = info;
        }
        reply.rooms = ptrs;
    }
    s_queue(self, peer, &env, NULL);
    free(infos);
    free(ptrs);
}

static void s_gateway_heartbeat(rd_host_t *self, const chat_peer_t *peer, uint64_t req_id,
                                const Chat__GatewayHeartbeat *req)
{
    if (!req->gateway || !*req->gateway || strlen(req->gateway) > 128) {
        s_bad_request(self, peer, req_id, "gateway heartbeat without a gateway id");
        return;
    }
    rd_gateways_seen(self->gateways, req->gateway, self->now);
    Chat__GatewayHeartbeatReply reply = CHAT__GATEWAY_HEARTBEAT_REPLY__INIT;
    reply.instance = self->instance ? self->instance : "";
    reply.sessions = rd_gateways_sessions(self->gateways, req->gateway);
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT_REPLY;
    env.gateway_heartbeat_reply = &reply;
    s_queue(self, peer, &env, NULL);
}

void rd_host_request(rd_host_t *self, const chat_peer_t *peer, const Chat__Envelope *env,
                     int64_t now_ms)
{
    self->now = now_ms;
    if (env->req_id == 0) {
        s_bad_request(self, peer, 0, "request without a req_id");
        return;
    }
    switch (env->body_case) {
    case CHAT__ENVELOPE__BODY_JOIN:
        s_join(self, peer, env->req_id, env->join);
        break;
    case CHAT__ENVELOPE__BODY_LEAVE:
        s_leave(self, peer, env->req_id, env->leave);
        break;
    case CHAT__ENVELOPE__BODY_SEND:
        s_send(self, peer, env->req_id, env->send);
        break;
    case CHAT__ENVELOPE__BODY_HISTORY:
        s_history(self, peer, env->req_id, env->history);
        break;
    case CHAT__ENVELOPE__BODY_ROOM_STATE:
        s_room_state(self, peer, env->req_id, env->room_state);
        break;
    case CHAT__ENVELOPE__BODY_ROOMS_INFO:
        s_rooms_info(self, peer, env->req_id, env->rooms_info);
        break;
    case CHAT__ENVELOPE__BODY_GATEWAY_HEARTBEAT:
        s_gateway_heartbeat(self, peer, env->req_id, env->gateway_heartbeat);
        break;
    default:
        chat_log_limited(&s_bad_log, CHAT_LOG_WARN, "roomd does not serve body %d",
                         (int)env->body_case);
        s_bad_request(self, peer, env->req_id, "roomd does not serve this request");
        break;
    }
}

void rd_host_assign(rd_host_t *self, uint64_t req_id, const Chat__AssignRequest *assign)
{
    Chat__AssignReply reply = CHAT__ASSIGN_REPLY__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ASSIGN_REPLY;
    env.assign_reply = &reply;
    const Chat__Assignment *a = assign->assignment;
    if (!a || !a->room || !chat_valid_room_id(a->room->id) || a->epoch == 0) {
        chat_wire_count_bad("assign without a valid room or epoch");
        reply.status = CHAT__STATUS__STATUS_BAD_REQUEST;
        s_queue(self, NULL, &env, NULL);
        return;
    }
    reply.room_id = a->room->id;
    reply.epoch = a->epoch;
    s_grant_t *g = NULL;
    if (!self->instance || strcmp(assign->instance ? assign->instance : "", self->instance) != 0) {
        reply.status = CHAT__STATUS__STATUS_NOT_OWNER;
    } else if (rd_host_grant(self, a) != 0) {
        g = zhashx_lookup(self->grants, a->room->id);
        reply.status = CHAT__STATUS__STATUS_NOT_OWNER;
        reply.epoch = g ? g->epoch : 0;
        g = NULL;
    } else {
        g = zhashx_lookup(self->grants, a->room->id);
        //  Re-sent grant already stored: still answer after this turn's commit.
    }
    s_queue(self, NULL, &env, g);
}

// -------------------------------------------------------------------- flush

bool rd_host_pending(const rd_host_t *self)
{
    return self->dirty_count > 0 || rd_outbox_count(self->outbox) > 0 || self->revocations;
}

static uint8_t *s_scratch(rd_host_t *self, size_t size)
{
    if (size > self->buf_size) {
        size_t next = self->buf_size ? self->buf_size : 4096;
        while (next < size)
            next *= 2;
        uint8_t *grown = realloc(self->buf, next);
        if (!grown)
            return NULL;
        self->buf = grown;
        self->buf_size = next;
    }
    return self->buf;
}

//  Sends env through sink: to peer, the registry (peer NULL), or as an event (topic).
static void s_emit(rd_host_t *self, const rd_sink_t *sink, const chat_peer_t *peer,
                   const char *topic, const Chat__Envelope *env)
{
    size_t size = chat__envelope__get_packed_size(env);
    uint8_t *buf = s_scratch(self, size);
    if (!buf) {
        chat_error("out of memory packing %zu bytes", size);
        return;
    }
    chat__envelope__pack(env, buf);
    if (topic)
        sink->publish(sink->ctx, topic, buf, size);
    else
        sink->reply(sink->ctx, peer, buf, size);
}

//  Replaces a held reply with one of the same kind that carries status.
static void s_send_error(rd_host_t *self, const rd_sink_t *sink, const rd_outbox_entry_t *e,
                         Chat__Status status, uint64_t epoch, const char *room_id)
{
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = e->req_id;
    env.body_case = e->kind;
    Chat__JoinReply join = CHAT__JOIN_REPLY__INIT;
    Chat__LeaveReply leave = CHAT__LEAVE_REPLY__INIT;
    Chat__SendReply send = CHAT__SEND_REPLY__INIT;
    Chat__HistoryReply history = CHAT__HISTORY_REPLY__INIT;
    Chat__RoomStateReply state = CHAT__ROOM_STATE_REPLY__INIT;
    Chat__AssignReply assign = CHAT__ASSIGN_REPLY__INIT;
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    switch (e->kind) {
    case CHAT__ENVELOPE__BODY_JOIN_REPLY:
        join.status = status;
        join.epoch = epoch;
        env.join_reply = &join;
        break;
    case CHAT__ENVELOPE__BODY_LEAVE_REPLY:
        leave.status = status;
        leave.epoch = epoch;
        env.leave_reply = &leave;
        break;
    case CHAT__ENVELOPE__BODY_SEND_REPLY:
        send.status = status;
        send.epoch = epoch;
        env.send_reply = &send;
        break;
    case CHAT__ENVELOPE__BODY_HISTORY_REPLY:
        history.status = status;
        history.epoch = epoch;
        env.history_reply = &history;
        break;
    case CHAT__ENVELOPE__BODY_ROOM_STATE_REPLY:
        state.status = status;
        state.epoch = epoch;
        env.room_state_reply = &state;
        break;
    case CHAT__ENVELOPE__BODY_ASSIGN_REPLY:
        assign.status = status;
        assign.epoch = epoch;
        assign.room_id = (char *)room_id;
        env.assign_reply = &assign;
        break;
    default:
        error.status = status;
        env.body_case = CHAT__ENVELOPE__BODY_ERROR;
        env.error = &error;
        break;
    }
    s_emit(self, sink, e->peer, NULL, &env);
}

//  Writes every dirty grant's part and commits. Sets each grant's outcome.
static int s_write_batch(rd_host_t *self)
{
    if (rd_store_begin(self->store) != RD_STORE_OK) {
        for (size_t i = 0; i < self->dirty_count; i++)
            self->dirty[i]->outcome = self->dirty[i]->revoked ? S_GONE : S_FAILED;
        return -1;
    }
    for (size_t i = 0; i < self->dirty_count; i++) {
        s_grant_t *g = self->dirty[i];
        if (g->revoked) {
            g->outcome = S_GONE;
            continue;
        }
        rd_msglist_reset(&self->list);
        if (g->room && rd_room_pending(g->room, &self->list) != 0) {
            g->outcome = S_FAILED;
            continue;
        }
        Chat__RoomInfo catalog = CHAT__ROOM_INFO__INIT;
        catalog.id = g->room_id;
        catalog.name = g->name;
        catalog.description = g->description;
        catalog.created_at = g->created_at;
        rd_store_write_t w = {
            .room_id = g->room_id,
            .catalog = &catalog,
            .epoch = g->epoch,
            .messages = self->list.items,
            .count = self->list.count,
        };
        switch (rd_store_write_room(self->store, &w, &g->stored_epoch)) {
        case RD_STORE_OK:
            g->outcome = S_STORED;
            break;
        case RD_STORE_FENCED:
            g->outcome = S_FENCED;
            break;
        case RD_STORE_CONFLICT:
            g->outcome = S_CONFLICT;
            break;
        default:
            g->outcome = S_FAILED;
            break;
        }
    }
    rd_msglist_reset(&self->list);
    if (rd_store_commit(self->store) != RD_STORE_OK) {
        for (size_t i = 0; i < self->dirty_count; i++)
            if (self->dirty[i]->outcome == S_STORED)
                self->dirty[i]->outcome = S_FAILED;
        return -1;
    }
    for (size_t i = 0; i < self->dirty_count; i++)
        if (self->dirty[i]->outcome == S_FAILED || self->dirty[i]->outcome == S_CONFLICT)
            return -1;
    return 0;
}

static void s_send_replies(rd_host_t *self, const rd_sink_t *sink)
{
    size_t count = rd_outbox_count(self->outbox);
    for (size_t i = 0; i < count; i++) {
        rd_outbox_entry_t e;
        rd_outbox_get(self->outbox, i, &e);
        s_grant_t *g = e.tag;
        if (!g || g->outcome == S_STORED)
            sink->reply(sink->ctx, e.peer, e.data, e.size);
        else if (g->outcome == S_FENCED)
            s_send_error(self, sink, &e, CHAT__STATUS__STATUS_NOT_OWNER, g->stored_epoch,
                         g->room_id);
        else if (g->outcome == S_GONE)
            s_send_error(self, sink, &e, CHAT__STATUS__STATUS_NOT_OWNER, 0, g->room_id);
        else
            s_send_error(self, sink, &e, CHAT__STATUS__STATUS_INTERNAL, g->epoch, g->room_id);
    }
    rd_outbox_clear(self->outbox);
}

//  Publishes the committed messages of a room, oldest first.
static void s_publish_pending(rd_host_t *self, s_grant_t *g, const rd_sink_t *sink)
{
    rd_room_t *room = g->room;
    for (uint64_t seq = rd_room_committed_seq(room) + 1; seq <= rd_room_last_seq(room); seq++) {
        const rd_msg_t *msg = rd_room_msg(room, seq);
        if (!msg)
            continue;
        Chat__RoomEvent event = CHAT__ROOM_EVENT__INIT;
        Chat__User joined = CHAT__USER__INIT;
        event.room_id = g->room_id;
        event.epoch = g->epoch;
        event.seq = seq;
        event.message = (Chat__ChatMessage *)&msg->pb;
        if (msg->pb.type == CHAT__MESSAGE_TYPE__MESSAGE_JOIN && msg->subject_id) {
            joined.id = (char *)msg->subject_id;
            joined.name = (char *)(msg->subject_name ? msg->subject_name : msg->subject_id);
            event.joined = &joined;
        } else if (msg->pb.type == CHAT__MESSAGE_TYPE__MESSAGE_LEAVE && msg->subject_id) {
            event.left_user_id = (char *)msg->subject_id;
        }
        Chat__Envelope env = CHAT__ENVELOPE__INIT;
        env.body_case = CHAT__ENVELOPE__BODY_ROOM_EVENT;
        env.room_event = &event;
        s_emit(self, sink, NULL, g->room_id, &env);
        self->messages++;
    }
}

//  After the replies: events and commit for stored rooms; rollback or unload for the rest.
static void s_finish_rooms(rd_host_t *self, const rd_sink_t *sink)
{
    for (size_t i = 0; i < self->dirty_count; i++) {
        s_grant_t *g = self->dirty[i];
        switch (g->outcome) {
        case S_STORED:
            if (g->room) {
                s_publish_pending(self, g, sink);
                rd_room_commit(g->room);
            }
            break;
        case S_FAILED:
            if (g->room)
                rd_room_rollback(g->room);
            self->recount = true;
            break;
        case S_FENCED:
            chat_warn("room %s: epoch %" PRIu64 " is stored, this instance holds %" PRIu64
                      ": it stops serving the room",
                      g->room_id, g->stored_epoch, g->epoch);
            g->fenced = true;
            s_unload(self, g);
            self->recount = true;
            break;
        case S_CONFLICT:
            chat_error("room %s: stored messages do not continue this instance's; reloading",
                       g->room_id);
            s_unload(self, g);
            g->last_seq_known = false;
            self->recount = true;
            break;
        case S_GONE:
            s_unload(self, g);
            self->recount = true;
            break;
        }
        g->outcome = S_STORED;
        g->in_batch = false;
    }
    self->dirty_count = 0;
}

static void s_drop_revoked(rd_host_t *self)
{
    if (!self->revocations)
        return;
    self->revocations = false;
    zlistx_t *gone = NULL;
    for (s_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants)) {
        if (!g->revoked)
            continue;
        if (!gone)
            gone = zlistx_new();
        if (gone)
            zlistx_add_end(gone, g->room_id);
    }
    if (!gone)
        return;
    for (char *id = zlistx_first(gone); id; id = zlistx_next(gone)) {
        s_grant_t *g = zhashx_lookup(self->grants, id);
        if (g && g->room) {
            s_unload(self, g);
            self->recount = true;
        }
        zhashx_delete(self->grants, id); //  frees id
    }
    zlistx_destroy(&gone);
}

int rd_host_flush(rd_host_t *self, const rd_sink_t *sink)
{
    int result = self->dirty_count > 0 ? s_write_batch(self) : 0;
    s_send_replies(self, sink);
    s_finish_rooms(self, sink);
    s_drop_revoked(self);
    if (self->recount)
        s_recount(self);
    return result;
}

// ------------------------------------------------------------------- timers

static void s_ticks(rd_host_t *self, const rd_sink_t *sink)
{
    for (s_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants)) {
        if (!g->room || g->fenced || g->revoked)
            continue;
        Chat__RoomEvent event = CHAT__ROOM_EVENT__INIT;
        event.room_id = g->room_id;
        event.epoch = g->epoch;
        event.seq = rd_room_committed_seq(g->room);
        event.tick = true;
        Chat__Envelope env = CHAT__ENVELOPE__INIT;
        env.body_case = CHAT__ENVELOPE__BODY_ROOM_EVENT;
        env.room_event = &event;
        s_emit(self, sink, NULL, g->room_id, &env);
    }
}

//  Removes the sessions of gateways silent for longer than the session lease.
static void s_expire_sessions(rd_host_t *self)
{
    zlistx_t *silent = rd_gateways_expire(self->gateways, self->now, self->opts.session_lease_ms);
    if (!silent)
        return;
    int64_t wall = chat_wall_ms();
    for (char *id = zlistx_first(silent); id; id = zlistx_next(silent)) {
        size_t removed = 0;
        for (s_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants)) {
            if (!g->room)
                continue;
            size_t n = rd_room_drop_gateway(g->room, id, wall);
            if (n > 0) {
                removed += n;
                s_mark_dirty(self, g);
            }
        }
        if (removed > 0)
            chat_info("gateway %s is silent: removed its %zu sessions", id, removed);
    }
    zlistx_destroy(&silent);
}

static void s_passivate(rd_host_t *self)
{
    for (s_grant_t *g = zhashx_first(self->grants); g; g = zhashx_next(self->grants)) {
        if (!g->room || g->in_batch || rd_room_dirty(g->room) || rd_room_user_count(g->room) > 0 ||
            self->now - g->last_used < self->opts.idle_ms)
            continue;
        chat_debug("room %s is idle: it leaves memory", g->room_id);
        s_unload(self, g);
    }
}

static int64_t s_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int64_t rd_host_timers(rd_host_t *self, int64_t now_ms, const rd_sink_t *sink)
{
    self->now = now_ms;
    if (now_ms >= self->next_tick) {
        s_ticks(self, sink);
        self->next_tick = now_ms + self->opts.tick_ms;
    }
    if (now_ms >= self->next_expiry) {
        s_expire_sessions(self);
        self->next_expiry = now_ms + s_min(RD_EXPIRY_CHECK_MS, self->opts.session_lease_ms / 4 + 1);
    }
    if (now_ms >= self->next_passivation) {
        s_passivate(self);
        self->next_passivation =
            now_ms + s_min(RD_PASSIVATION_CHECK_MS, self->opts.idle_ms / 4 + 1);
    }
    return s_min(self->next_tick, s_min(self->next_expiry, self->next_passivation));
}
