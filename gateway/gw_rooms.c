/*  gw_rooms: see gw_rooms.h. */
#include "gw_rooms.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_text.h"
#include "gw_bridge.h"
#include "gw_buf.h"
#include "gw_json.h"
#include "gw_ops.h"
#include "gw_placement.h"
#include "gw_session.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  Events held while a gap is repaired; past this the newest are dropped
//  (the repair fetches them from history later).
#define S_HELD_MAX 20000
//  Pause before retrying a failed repair.
#define S_REPAIR_RETRY_MS 300

typedef struct {
    gw_session_t *session; //  the member
    uint64_t cursor;       //  it gets events with seq > cursor
} s_member_t;

//  An event delivered while joins were in flight.
typedef struct {
    uint64_t seq;      //  its seq
    gw_buf_t *message; //  messageReceived frame
    gw_buf_t *extra;   //  userJoined / userLeft frame, or NULL
    char *joined_user; //  with a userJoined: who joined (not told to themselves)
} s_record_t;

struct gw_room {
    char *id;                //  room id (also the topic)
    s_member_t *members;     //  joined local sessions
    uint32_t n_members;      //  entries in members
    uint32_t cap_members;    //  capacity of members
    uint32_t joins;          //  joins in flight
    bool synced;             //  delivered is known (a JoinReply came)
    bool repairing;          //  a repair request is in flight
    uint64_t delivered;      //  highest seq given to members
    uint64_t known;          //  highest seq heard of (events, ticks)
    int64_t repair_after_ms; //  no repair before this (after a failure)
    Chat__Envelope **held;   //  events past a gap, ascending seq, owned
    uint32_t n_held;         //  entries in held
    uint32_t cap_held;       //  capacity of held
    s_record_t *records;     //  deliveries while joins are in flight
    uint32_t n_records;      //  entries in records
    uint32_t cap_records;    //  capacity of records
};

struct gw_rooms {
    zhashx_t *rooms; //  room id -> gw_room_t (owned)
};

static chat_log_limit_t s_log_event;

static void s_records_clear(gw_room_t *room)
{
    for (uint32_t i = 0; i < room->n_records; i++) {
        gw_buf_unref(&room->records[i].message);
        gw_buf_unref(&room->records[i].extra);
        free(room->records[i].joined_user);
    }
    free(room->records);
    room->records = NULL;
    room->n_records = room->cap_records = 0;
}

static void s_room_free(void **item)
{
    gw_room_t *room = *item;
    if (!room)
        return;
    s_records_clear(room);
    for (uint32_t i = 0; i < room->n_held; i++)
        chat_envelope_free(&room->held[i]);
    free(room->held);
    free(room->members);
    free(room->id);
    free(room);
    *item = NULL;
}

gw_rooms_t *gw_rooms_new(void)
{
    gw_rooms_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->rooms = zhashx_new();
    zhashx_set_destructor(self->rooms, s_room_free);
    return self;
}

void gw_rooms_destroy(gw_rooms_t **p)
{
    if (!p || !*p)
        return;
    zhashx_destroy(&(*p)->rooms);
    free(*p);
    *p = NULL;
}

const char *gw_room_id(const gw_room_t *room)
{
    return room->id;
}

gw_room_t *gw_rooms_find(gw_t *gw, const char *room_id)
{
    return zhashx_lookup(gw->rooms->rooms, room_id);
}

size_t gw_rooms_count(gw_t *gw)
{
    return zhashx_size(gw->rooms->rooms);
}

//  Frees the room when nobody is in or joining it.
static void s_release(gw_t *gw, gw_room_t *room)
{
    if (room->n_members || room->joins)
        return;
    gw_bridge_subscribe(gw, room->id, false);
    zhashx_delete(gw->rooms->rooms, room->id);
}

gw_room_t *gw_rooms_join_begin(gw_t *gw, gw_session_t *s, const char *room_id)
{
    gw_room_t *room = gw_rooms_find(gw, room_id);
    if (!room) {
        room = calloc(1, sizeof *room);
        if (!room)
            abort();
        room->id = strdup(room_id);
        zhashx_insert(gw->rooms->rooms, room_id, room);
        gw_bridge_subscribe(gw, room_id, true);
    }
    room->joins++;
    gw_session_room_add(s, room);
    return room;
}

// ------------------------------------------------------------ delivery

//  Records a delivery for joiners whose reply is still to come.
static void s_record(gw_room_t *room, uint64_t seq, gw_buf_t *message, gw_buf_t *extra,
                     const char *joined_user)
{
    if (room->n_records == room->cap_records) {
        uint32_t cap = room->cap_records ? room->cap_records * 2 : 16;
        s_record_t *grown = realloc(room->records, cap * sizeof *grown);
        if (!grown)
            abort();
        room->records = grown;
        room->cap_records = cap;
    }
    s_record_t *r = &room->records[room->n_records++];
    r->seq = seq;
    r->message = gw_buf_ref(message);
    r->extra = extra ? gw_buf_ref(extra) : NULL;
    r->joined_user = joined_user ? strdup(joined_user) : NULL;
}

//  Queues the frames of one event to the member (the frames are borrowed).
static void s_give(gw_t *gw, gw_session_t *s, gw_buf_t *message, gw_buf_t *extra,
                   const char *joined_user)
{
    gw_buf_t *ref = gw_buf_ref(message);
    gw_session_send(gw, s, &ref);
    gw->metrics.deliveries++;
    if (extra && !(joined_user && s->user_id && strcmp(joined_user, s->user_id) == 0)) {
        ref = gw_buf_ref(extra);
        gw_session_send(gw, s, &ref);
        gw->metrics.deliveries++;
    }
}

//  Delivers message seq to every member past its cursor. ev carries the
//  joined/left user when it came as an event (NULL from a repair, where the
//  stored line's subject says it).
static void s_deliver(gw_t *gw, gw_room_t *room, const Chat__ChatMessage *m,
                      const Chat__RoomEvent *ev)
{
    gw_buf_t *message = gw_json_message_received(m);
    gw_buf_t *extra = NULL;
    const char *joined_user = NULL;
    //  A line repaired from history names its subject itself.
    const Chat__User *subject = m->subject && m->subject->id && *m->subject->id ? m->subject : NULL;
    if (ev && ev->joined && ev->joined->id && *ev->joined->id) {
        extra = gw_json_user_joined(room->id, ev->joined);
        joined_user = ev->joined->id;
    } else if (ev && ev->left_user_id && *ev->left_user_id) {
        extra = gw_json_user_left(room->id, ev->left_user_id);
    } else if (subject && m->type == CHAT__MESSAGE_TYPE__MESSAGE_JOIN) {
        extra = gw_json_user_joined(room->id, subject);
        joined_user = subject->id;
    } else if (subject && m->type == CHAT__MESSAGE_TYPE__MESSAGE_LEAVE) {
        extra = gw_json_user_left(room->id, subject->id);
    }
    for (uint32_t i = 0; i < room->n_members; i++)
        if (room->members[i].cursor < m->seq)
            s_give(gw, room->members[i].session, message, extra, joined_user);
    if (room->joins)
        s_record(room, m->seq, message, extra, joined_user);
    room->delivered = m->seq;
    gw_buf_unref(&message);
    gw_buf_unref(&extra);
}

//  Asks for the range after delivered when something past it is known.
static void s_repair(gw_t *gw, gw_room_t *room)
{
    if (!room->synced || room->repairing || room->known <= room->delivered)
        return;
    if (chat_mono_ms() < room->repair_after_ms)
        return;
    room->repairing = true;
    gw->metrics.gaps++;
    gw_ops_repair(gw, room->id, room->delivered);
}

//  Delivers held events that follow delivered; repairs when a gap remains.
static void s_drain(gw_t *gw, gw_room_t *room)
{
    uint32_t used = 0;
    while (used < room->n_held) {
        Chat__RoomEvent *ev = room->held[used]->room_event;
        if (ev->seq > room->delivered + 1)
            break;
        if (ev->seq == room->delivered + 1)
            s_deliver(gw, room, ev->message, ev);
        else
            gw->metrics.duplicates++;
        chat_envelope_free(&room->held[used]);
        used++;
    }
    if (used) {
        memmove(room->held, room->held + used, (room->n_held - used) * sizeof *room->held);
        room->n_held -= used;
    }
    s_repair(gw, room);
}

//  Keeps an event for later, in seq order, without duplicates.
static void s_hold(gw_t *gw, gw_room_t *room, Chat__Envelope **env)
{
    uint64_t seq = (*env)->room_event->seq;
    uint32_t at = room->n_held;
    while (at > 0 && room->held[at - 1]->room_event->seq > seq)
        at--;
    if ((at > 0 && room->held[at - 1]->room_event->seq == seq) || room->n_held >= S_HELD_MAX) {
        gw->metrics.duplicates++;
        return;
    }
    if (room->n_held == room->cap_held) {
        uint32_t cap = room->cap_held ? room->cap_held * 2 : 16;
        Chat__Envelope **grown = realloc(room->held, cap * sizeof *grown);
        if (!grown)
            abort();
        room->held = grown;
        room->cap_held = cap;
    }
    memmove(room->held + at + 1, room->held + at, (room->n_held - at) * sizeof *room->held);
    room->held[at] = *env;
    room->n_held++;
    *env = NULL;
}

//  Checks what a roomd event must carry. Returns false for a malformed one.
static bool s_event_valid(const Chat__Envelope *env, const chat_peer_t *topic)
{
    if (env->body_case != CHAT__ENVELOPE__BODY_ROOM_EVENT)
        return false;
    const Chat__RoomEvent *ev = env->room_event;
    if (!ev->room_id || !chat_peer_is(topic, ev->room_id))
        return false;
    if (ev->tick)
        return true;
    return ev->message && ev->message->seq == ev->seq && ev->seq > 0 && ev->message->room_id &&
           strcmp(ev->message->room_id, ev->room_id) == 0;
}

void gw_rooms_on_event(gw_t *gw, const chat_peer_t *topic, Chat__Envelope **env)
{
    if (!s_event_valid(*env, topic)) {
        chat_wire_count_bad("room event without a message, seq or matching topic");
        return;
    }
    Chat__RoomEvent *ev = (*env)->room_event;
    gw_room_t *room = gw_rooms_find(gw, ev->room_id);
    if (!room)
        return; //  a topic that shares our prefix, or a room we just left
    gw->metrics.events_in++;
    if (ev->seq > room->known)
        room->known = ev->seq;
    if (ev->tick) {
        s_repair(gw, room);
        return;
    }
    if (!room->synced) {
        s_hold(gw, room, env);
        return;
    }
    if (ev->seq <= room->delivered) {
        gw->metrics.duplicates++;
        return;
    }
    if (ev->seq == room->delivered + 1 && room->n_held == 0) {
        s_deliver(gw, room, ev->message, ev);
        return;
    }
    chat_log_limited(&s_log_event, CHAT_LOG_DEBUG, "room %s: gap after %llu (got %llu)", room->id,
                     (unsigned long long)room->delivered, (unsigned long long)ev->seq);
    s_hold(gw, room, env);
    s_drain(gw, room);
}

void gw_rooms_on_repair(gw_t *gw, const char *room_id, const Chat__HistoryReply *reply)
{
    gw_room_t *room = gw_rooms_find(gw, room_id);
    if (!room)
        return;
    room->repairing = false;
    if (!reply || reply->status != CHAT__STATUS__STATUS_OK) {
        room->repair_after_ms = chat_mono_ms() + S_REPAIR_RETRY_MS;
        return;
    }
    uint64_t before = room->delivered;
    for (size_t i = 0; i < reply->n_messages; i++) {
        const Chat__ChatMessage *m = reply->messages[i];
        if (!m || m->seq != room->delivered + 1)
            continue;
        //  The held event of the same seq knows who joined or left.
        const Chat__RoomEvent *ev = NULL;
        if (room->n_held && room->held[0]->room_event->seq == m->seq)
            ev = room->held[0]->room_event;
        s_deliver(gw, room, m, ev);
        gw->metrics.repaired++;
        if (ev) {
            chat_envelope_free(&room->held[0]);
            memmove(room->held, room->held + 1, (room->n_held - 1) * sizeof *room->held);
            room->n_held--;
        }
    }
    if (room->delivered == before && room->known > room->delivered)
        room->repair_after_ms = chat_mono_ms() + S_REPAIR_RETRY_MS;
    s_drain(gw, room);
}

void gw_rooms_tick(gw_t *gw, int64_t now_ms)
{
    for (gw_room_t *room = zhashx_first(gw->rooms->rooms); room;
         room = zhashx_next(gw->rooms->rooms))
        if (room->synced && !room->repairing && room->known > room->delivered &&
            now_ms >= room->repair_after_ms)
            s_repair(gw, room);
}

// ------------------------------------------------------------ membership

static gw_sroom_t *s_entry(gw_session_t *s, gw_room_t *room)
{
    for (uint16_t i = 0; i < s->n_rooms; i++)
        if (s->rooms[i].room == room)
            return &s->rooms[i];
    return NULL;
}

static void s_member_add(gw_room_t *room, gw_session_t *s, uint64_t cursor, gw_sroom_t *entry)
{
    if (room->n_members == room->cap_members) {
        uint32_t cap = room->cap_members ? room->cap_members * 2 : 4;
        s_member_t *grown = realloc(room->members, cap * sizeof *grown);
        if (!grown)
            abort();
        room->members = grown;
        room->cap_members = cap;
    }
    entry->index = room->n_members;
    entry->joined = true;
    room->members[room->n_members++] = (s_member_t){s, cursor};
}

//  Gives a late joiner what was delivered between its cursor and now.
static void s_catch_up(gw_t *gw, gw_room_t *room, gw_session_t *s, uint64_t cursor)
{
    uint64_t next = cursor + 1;
    for (uint32_t i = 0; i < room->n_records && next <= room->delivered; i++) {
        s_record_t *r = &room->records[i];
        if (r->seq < next)
            continue;
        if (r->seq > next)
            break;
        s_give(gw, s, r->message, r->extra, r->joined_user);
        next++;
    }
    if (next <= room->delivered)
        chat_warn("room %s: joiner %s missed %llu..%llu (not recorded)", room->id, s->user_id,
                  (unsigned long long)next, (unsigned long long)room->delivered);
}

//  One join is over: stop recording when it was the last.
static void s_join_over(gw_t *gw, gw_room_t *room)
{
    if (room->joins)
        room->joins--;
    if (!room->joins)
        s_records_clear(room);
}

void gw_rooms_join_done(gw_t *gw, gw_room_t *room, gw_session_t *s, uint64_t cursor)
{
    gw_sroom_t *entry = s ? s_entry(s, room) : NULL;
    if (entry && !entry->joined) {
        if (!room->synced) {
            room->synced = true;
            room->delivered = cursor;
            if (room->known < cursor)
                room->known = cursor;
        }
        if (cursor < room->delivered)
            s_catch_up(gw, room, s, cursor);
        s_member_add(room, s, cursor, entry);
    }
    s_join_over(gw, room);
    if (room->synced)
        s_drain(gw, room);
    s_release(gw, room);
}

void gw_rooms_join_failed(gw_t *gw, gw_room_t *room, gw_session_t *s)
{
    gw_sroom_t *entry = s ? s_entry(s, room) : NULL;
    if (entry && !entry->joined)
        gw_session_room_remove(s, room);
    s_join_over(gw, room);
    s_release(gw, room);
}

void gw_rooms_leave(gw_t *gw, gw_session_t *s, gw_room_t *room)
{
    gw_sroom_t *entry = s_entry(s, room);
    if (!entry)
        return;
    if (entry->joined) {
        uint32_t i = entry->index;
        room->members[i] = room->members[--room->n_members];
        if (i < room->n_members) {
            gw_sroom_t *moved = s_entry(room->members[i].session, room);
            if (moved)
                moved->index = i;
        }
    }
    gw_session_room_remove(s, room);
    s_release(gw, room);
}

// ------------------------------------------------------------ roomd liveness

typedef struct {
    const char *instance; //  borrowed from the placement cache
    uint32_t sessions;    //  local members in its rooms
} s_count_t;

void gw_rooms_heartbeat(gw_t *gw)
{
    s_count_t counts[64];
    size_t n = 0;
    for (gw_room_t *room = zhashx_first(gw->rooms->rooms); room;
         room = zhashx_next(gw->rooms->rooms)) {
        const gw_place_t *p = gw_placements_get(gw, room->id);
        if (!p || (!room->n_members && !room->joins))
            continue;
        size_t i = 0;
        while (i < n && strcmp(counts[i].instance, p->instance) != 0)
            i++;
        if (i == n) {
            if (n == sizeof counts / sizeof counts[0])
                continue;
            counts[n++] = (s_count_t){p->instance, 0};
        }
        counts[i].sessions += room->n_members;
    }
    //  Copy the instances first: sending may not touch the cache, but be safe.
    char *instances[64];
    for (size_t i = 0; i < n; i++)
        instances[i] = strdup(counts[i].instance);
    for (size_t i = 0; i < n; i++) {
        gw_ops_heartbeat(gw, instances[i], counts[i].sessions);
        free(instances[i]);
    }
}

void gw_rooms_on_heartbeat_reply(gw_t *gw, const char *instance, uint32_t sent,
                                 const Chat__GatewayHeartbeatReply *reply)
{
    if (reply->sessions >= sent)
        return;
    chat_info("roomd %s holds %u of our %u sessions: re-joining", instance, reply->sessions, sent);
    //  Collect the room ids first: re-joining may touch the room table.
    zlistx_t *ids = zlistx_new();
    zlistx_set_destructor(ids, (zlistx_destructor_fn *)zstr_free);
    for (gw_room_t *room = zhashx_first(gw->rooms->rooms); room;
         room = zhashx_next(gw->rooms->rooms)) {
        const gw_place_t *p = gw_placements_get(gw, room->id);
        if (p && strcmp(p->instance, instance) == 0 && room->n_members)
            zlistx_add_end(ids, strdup(room->id));
    }
    for (char *id = zlistx_first(ids); id; id = zlistx_next(ids))
        gw_rooms_rejoin(gw, id);
    zlistx_destroy(&ids);
}

void gw_rooms_rejoin(gw_t *gw, const char *room_id)
{
    gw_room_t *room = gw_rooms_find(gw, room_id);
    if (!room)
        return;
    for (uint32_t i = 0; i < room->n_members; i++)
        gw_ops_rejoin(gw, room->members[i].session, room_id);
}
