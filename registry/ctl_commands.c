/*  ctl_commands: see ctl_commands.h. */
#include "ctl_commands.h"
#include "ctl_common.h"
#include "chat_clock.h"
#include "chat_error.h"
#include "chat_wire.h"
#include "ctl_table.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void s_format_time(int64_t ms, char *out, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M:%SZ", &tm);
}

// ------------------------------------------------------------------ nodes

static cJSON *s_node_json(const Chat__NodeInfo *node)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "node", node->node);
    cJSON_AddStringToObject(obj, "instance", node->instance);
    cJSON_AddBoolToObject(obj, "live", node->live);
    cJSON_AddStringToObject(obj, "cmdEndpoint", node->cmd_endpoint);
    cJSON_AddStringToObject(obj, "pubEndpoint", node->pub_endpoint);
    cJSON_AddNumberToObject(obj, "maxRooms", node->max_rooms);
    cJSON_AddNumberToObject(obj, "lastHeartbeatMsAgo", (double)node->last_heartbeat_ms_ago);
    const Chat__NodeStats *st = node->stats;
    if (st) {
        cJSON_AddNumberToObject(obj, "roomsAssigned", st->rooms_assigned);
        cJSON_AddNumberToObject(obj, "roomsActive", st->rooms_active);
        cJSON_AddNumberToObject(obj, "members", st->members);
        cJSON_AddNumberToObject(obj, "messages", (double)st->messages);
        cJSON_AddNumberToObject(obj, "commits", (double)st->commits);
        cJSON_AddNumberToObject(obj, "badFrames", (double)st->bad_frames);
    }
    return obj;
}

int ctl_nodes(const ctl_context_t *ctx, int argc, char **argv)
{
    if (!ctl_no_args(argc, "nodes"))
        return CTL_EXIT_USAGE;
    Chat__ListNodesRequest req = CHAT__LIST_NODES_REQUEST__INIT;
    Chat__Envelope env;
    CTL_ENVELOPE(env, LIST_NODES, list_nodes, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        ctl_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_LIST_NODES_REPLY, &code);
    if (!reply)
        return code;
    const Chat__ListNodesReply *list = reply->list_nodes_reply;
    if (ctx->json) {
        cJSON *array = cJSON_CreateArray();
        for (size_t i = 0; i < list->n_nodes; i++)
            cJSON_AddItemToArray(array, s_node_json(list->nodes[i]));
        ctl_print_json(array);
    } else {
        const char *headers[] = {"node",    "instance", "state",     "rooms",    "active",
                                 "members", "messages", "heartbeat", "endpoint", NULL};
        ctl_table_t *table = ctl_table_new(headers);
        for (size_t i = 0; i < list->n_nodes; i++) {
            const Chat__NodeInfo *n = list->nodes[i];
            char rooms[32], active[16], members[16], messages[24], beat[32];
            const Chat__NodeStats *st = n->stats;
            if (n->max_rooms)
                snprintf(rooms, sizeof rooms, "%u/%u", st ? st->rooms_assigned : 0, n->max_rooms);
            else
                snprintf(rooms, sizeof rooms, "%u", st ? st->rooms_assigned : 0);
            snprintf(active, sizeof active, "%u", st ? st->rooms_active : 0);
            snprintf(members, sizeof members, "%u", st ? st->members : 0);
            snprintf(messages, sizeof messages, "%" PRIu64, st ? st->messages : 0);
            if (n->last_heartbeat_ms_ago < 0)
                snprintf(beat, sizeof beat, "not yet");
            else
                snprintf(beat, sizeof beat, "%.1fs ago", (double)n->last_heartbeat_ms_ago / 1000);
            const char *row[] = {n->node,  n->instance, n->live ? "live" : "dead",
                                 rooms,    active,      members,
                                 messages, beat,        n->cmd_endpoint};
            ctl_table_add(table, row);
        }
        ctl_table_print(table, stdout);
        ctl_table_destroy(&table);
        if (list->n_nodes == 0)
            printf("(no roomd has registered)\n");
    }
    chat_envelope_free(&reply);
    return CTL_EXIT_OK;
}

// ------------------------------------------------------------------ rooms

static cJSON *s_room_json(const Chat__RoomInfo *room)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "id", room->id);
    cJSON_AddStringToObject(obj, "name", room->name);
    cJSON_AddStringToObject(obj, "description", room->description);
    cJSON_AddNumberToObject(obj, "createdAt", (double)room->created_at);
    return obj;
}

static void s_add_placement_json(cJSON *obj, const Chat__Placement *p)
{
    cJSON_AddStringToObject(obj, "node", p ? p->node : "");
    cJSON_AddStringToObject(obj, "instance", p ? p->instance : "");
    cJSON_AddNumberToObject(obj, "epoch", p ? (double)p->epoch : 0);
    cJSON_AddStringToObject(obj, "cmdEndpoint", p && p->cmd_endpoint ? p->cmd_endpoint : "");
    cJSON_AddStringToObject(obj, "pubEndpoint", p && p->pub_endpoint ? p->pub_endpoint : "");
}

int ctl_rooms(const ctl_context_t *ctx, int argc, char **argv)
{
    if (!ctl_no_args(argc, "rooms"))
        return CTL_EXIT_USAGE;
    Chat__ListRoomsRequest req = CHAT__LIST_ROOMS_REQUEST__INIT;
    req.local = ctx->local;
    Chat__Envelope env;
    CTL_ENVELOPE(env, LIST_ROOMS, list_rooms, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        ctl_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_LIST_ROOMS_REPLY, &code);
    if (!reply)
        return code;
    const Chat__ListRoomsReply *list = reply->list_rooms_reply;
    if (ctx->json) {
        cJSON *array = cJSON_CreateArray();
        for (size_t i = 0; i < list->n_rooms; i++) {
            const Chat__CatalogEntry *e = list->rooms[i];
            cJSON *obj = s_room_json(e->room);
            s_add_placement_json(obj, e->placement);
            cJSON_AddStringToObject(obj, "state",
                                    !e->placement ? "unplaced"
                                    : e->live     ? "live"
                                                  : "down");
            cJSON_AddItemToArray(array, obj);
        }
        ctl_print_json(array);
    } else {
        const char *headers[] = {"id", "name", "node", "epoch", "state", "description", NULL};
        ctl_table_t *table = ctl_table_new(headers);
        for (size_t i = 0; i < list->n_rooms; i++) {
            const Chat__CatalogEntry *e = list->rooms[i];
            char epoch[24] = "-";
            if (e->placement)
                snprintf(epoch, sizeof epoch, "%" PRIu64, e->placement->epoch);
            const char *row[] = {e->room->id,
                                 e->room->name,
                                 e->placement ? e->placement->node : NULL,
                                 epoch,
                                 !e->placement ? "unplaced"
                                 : e->live     ? "live"
                                               : "down",
                                 e->room->description};
            ctl_table_add(table, row);
        }
        ctl_table_print(table, stdout);
        ctl_table_destroy(&table);
    }
    chat_envelope_free(&reply);
    return CTL_EXIT_OK;
}

// ------------------------------------------------------------------ where

//  Looks room_id up (placing it when it has no home yet). Returns the reply
//  with status OK, or NULL with *code set after printing why.
static Chat__Envelope *s_lookup(const ctl_context_t *ctx, const char *room_id, int *code)
{
    Chat__LookupRequest req = CHAT__LOOKUP_REQUEST__INIT;
    req.room_id = (char *)room_id;
    req.place = true;
    Chat__Envelope env;
    CTL_ENVELOPE(env, LOOKUP, lookup, &req);
    Chat__Envelope *reply = ctl_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_LOOKUP_REPLY, code);
    if (reply && reply->lookup_reply->status != CHAT__STATUS__STATUS_OK) {
        *code = ctl_status_error(room_id, reply->lookup_reply->status);
        const Chat__Placement *p = reply->lookup_reply->placement;
        if (p && p->node[0])
            fprintf(stderr, "chatctl: %s lives on node %s, which is not live\n", room_id, p->node);
        chat_envelope_free(&reply);
    }
    return reply;
}

int ctl_where(const ctl_context_t *ctx, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: chatctl where ROOM\n");
        return CTL_EXIT_USAGE;
    }
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply = s_lookup(ctx, argv[0], &code);
    if (!reply)
        return code;
    const Chat__Placement *p = reply->lookup_reply->placement;
    if (ctx->json) {
        cJSON *obj = s_room_json(reply->lookup_reply->room);
        s_add_placement_json(obj, p);
        ctl_print_json(obj);
    } else {
        const char *headers[] = {"room", "node", "instance", "epoch", "commands", "events", NULL};
        ctl_table_t *table = ctl_table_new(headers);
        char epoch[24];
        snprintf(epoch, sizeof epoch, "%" PRIu64, p->epoch);
        const char *row[] = {p->room_id, p->node,         p->instance,
                             epoch,      p->cmd_endpoint, p->pub_endpoint};
        ctl_table_add(table, row);
        ctl_table_print(table, stdout);
        ctl_table_destroy(&table);
    }
    chat_envelope_free(&reply);
    return CTL_EXIT_OK;
}

// ------------------------------------------------------------ create-room

//  A random token in hex (falls back to pid and time without /dev/urandom).
static void s_token(char *out, size_t size)
{
    uint8_t bytes[16];
    int fd = open("/dev/urandom", O_RDONLY);
    ssize_t got = fd >= 0 ? read(fd, bytes, sizeof bytes) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof bytes) {
        snprintf(out, size, "ctl-%d-%" PRId64, (int)getpid(), chat_wall_ms());
        return;
    }
    for (size_t i = 0; i < sizeof bytes && 2 * i + 2 < size; i++)
        snprintf(out + 2 * i, size - 2 * i, "%02x", bytes[i]);
}

int ctl_create_room(const ctl_context_t *ctx, int argc, char **argv)
{
    if (argc < 1 || argc > 2) {
        fprintf(stderr, "usage: chatctl create-room NAME [DESCRIPTION]\n");
        return CTL_EXIT_USAGE;
    }
    Chat__CreateRoomRequest req = CHAT__CREATE_ROOM_REQUEST__INIT;
    req.name = argv[0];
    req.description = argc > 1 ? argv[1] : "";
    //  The request may reach a leader twice (it is resent across a failover):
    //  the token makes the second one answer the room the first made.
    char token[40];
    s_token(token, sizeof token);
    req.token = token;
    Chat__Envelope env;
    CTL_ENVELOPE(env, CREATE_ROOM, create_room, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        ctl_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_CREATE_ROOM_REPLY, &code);
    if (!reply)
        return code;
    const Chat__CreateRoomReply *created = reply->create_room_reply;
    if (created->status != CHAT__STATUS__STATUS_OK || !created->room) {
        code = ctl_status_error(argv[0], created->status);
    } else if (ctx->json) {
        ctl_print_json(s_room_json(created->room));
    } else {
        printf("created room %s (\"%s\")\n", created->room->id, created->room->name);
    }
    chat_envelope_free(&reply);
    return code;
}

// ---------------------------------------------------------------- history

static void s_print_history(const ctl_context_t *ctx, const char *room_id,
                            const Chat__HistoryReply *history)
{
    if (ctx->json) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "roomId", room_id);
        cJSON *messages = cJSON_AddArrayToObject(obj, "messages");
        for (size_t i = 0; i < history->n_messages; i++) {
            const Chat__ChatMessage *m = history->messages[i];
            cJSON *msg = cJSON_CreateObject();
            char id[128];
            snprintf(id, sizeof id, "%s:%" PRIu64, room_id, m->seq);
            cJSON_AddStringToObject(msg, "id", id);
            cJSON_AddNumberToObject(msg, "seq", (double)m->seq);
            cJSON_AddStringToObject(msg, "userId", m->user_id);
            cJSON_AddStringToObject(msg, "userName", m->user_name);
            cJSON_AddStringToObject(msg, "content", m->content);
            cJSON_AddNumberToObject(msg, "timestamp", (double)m->timestamp);
            cJSON_AddStringToObject(msg, "messageType", chat_message_type_name(m->type));
            cJSON_AddItemToArray(messages, msg);
        }
        cJSON_AddBoolToObject(obj, "hasMore", history->has_more);
        ctl_print_json(obj);
        return;
    }
    const char *headers[] = {"seq", "time", "user", "type", "content", NULL};
    ctl_table_t *table = ctl_table_new(headers);
    for (size_t i = 0; i < history->n_messages; i++) {
        const Chat__ChatMessage *m = history->messages[i];
        char seq[24], when[32];
        snprintf(seq, sizeof seq, "%" PRIu64, m->seq);
        s_format_time(m->timestamp, when, sizeof when);
        //  One line per message in a table: newlines would break the columns.
        char *content = strdup(m->content);
        for (char *p = content; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        const char *row[] = {seq, when, m->user_name, chat_message_type_name(m->type), content};
        ctl_table_add(table, row);
        free(content);
    }
    ctl_table_print(table, stdout);
    ctl_table_destroy(&table);
    if (history->has_more)
        printf("(older messages exist: raise --limit)\n");
}

int ctl_history(const ctl_context_t *ctx, int argc, char **argv)
{
    if (argc != 1 || ctx->limit < 1 || ctx->limit > 200) {
        fprintf(stderr, "usage: chatctl history ROOM [--limit 1..200]\n");
        return CTL_EXIT_USAGE;
    }
    int code = CTL_EXIT_OK;
    Chat__Envelope *where = s_lookup(ctx, argv[0], &code);
    if (!where)
        return code;
    const Chat__Placement *p = where->lookup_reply->placement;
    Chat__RoomTarget target = CHAT__ROOM_TARGET__INIT;
    target.room_id = p->room_id;
    target.instance = p->instance;
    target.epoch = 0; //  a read: any epoch of the current instance
    Chat__HistoryRequest req = CHAT__HISTORY_REQUEST__INIT;
    req.target = &target;
    req.limit = (uint32_t)ctx->limit;
    Chat__Envelope env;
    CTL_ENVELOPE(env, HISTORY, history, &req);
    Chat__Envelope *reply =
        ctl_call(ctx, p->cmd_endpoint, "roomd", &env, CHAT__ENVELOPE__BODY_HISTORY_REPLY, &code);
    if (reply) {
        if (reply->history_reply->status != CHAT__STATUS__STATUS_OK)
            code = ctl_status_error(argv[0], reply->history_reply->status);
        else
            s_print_history(ctx, p->room_id, reply->history_reply);
        chat_envelope_free(&reply);
    }
    chat_envelope_free(&where);
    return code;
}

// ------------------------------------------------------------------ stats

int ctl_stats(const ctl_context_t *ctx, int argc, char **argv)
{
    if (!ctl_no_args(argc, "stats"))
        return CTL_EXIT_USAGE;
    Chat__StatsRequest req = CHAT__STATS_REQUEST__INIT;
    Chat__Envelope env;
    CTL_ENVELOPE(env, STATS, stats, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *stats = ctl_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_STATS_REPLY, &code);
    if (!stats)
        return code;
    Chat__ListNodesRequest nodes_req = CHAT__LIST_NODES_REQUEST__INIT;
    CTL_ENVELOPE(env, LIST_NODES, list_nodes, &nodes_req);
    Chat__Envelope *nodes =
        ctl_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_LIST_NODES_REPLY, &code);
    if (!nodes) {
        chat_envelope_free(&stats);
        return code;
    }
    //  Cluster totals from the roomds' last heartbeats.
    uint64_t totals[5] = {0};
    const char *total_names[] = {"rooms_active", "members", "messages", "commits",
                                 "roomd_bad_frames"};
    const Chat__ListNodesReply *list = nodes->list_nodes_reply;
    for (size_t i = 0; i < list->n_nodes; i++) {
        const Chat__NodeStats *st = list->nodes[i]->stats;
        if (!st || !list->nodes[i]->live)
            continue;
        totals[0] += st->rooms_active;
        totals[1] += st->members;
        totals[2] += st->messages;
        totals[3] += st->commits;
        totals[4] += st->bad_frames;
    }
    const Chat__StatsReply *reg = stats->stats_reply;
    if (ctx->json) {
        cJSON *obj = cJSON_CreateObject();
        cJSON *r = cJSON_AddObjectToObject(obj, "registry");
        for (size_t i = 0; i < reg->n_counters; i++)
            cJSON_AddNumberToObject(r, reg->counters[i]->name, (double)reg->counters[i]->value);
        cJSON *c = cJSON_AddObjectToObject(obj, "roomds");
        for (size_t i = 0; i < 5; i++)
            cJSON_AddNumberToObject(c, total_names[i], (double)totals[i]);
        ctl_print_json(obj);
    } else {
        const char *headers[] = {"counter", "value", NULL};
        ctl_table_t *table = ctl_table_new(headers);
        for (size_t i = 0; i < reg->n_counters; i++) {
            char name[96], value[24];
            snprintf(name, sizeof name, "registry.%s", reg->counters[i]->name);
            snprintf(value, sizeof value, "%" PRIu64, reg->counters[i]->value);
            const char *row[] = {name, value};
            ctl_table_add(table, row);
        }
        for (size_t i = 0; i < 5; i++) {
            char name[96], value[24];
            snprintf(name, sizeof name, "roomds.%s", total_names[i]);
            snprintf(value, sizeof value, "%" PRIu64, totals[i]);
            const char *row[] = {name, value};
            ctl_table_add(table, row);
        }
        ctl_table_print(table, stdout);
        ctl_table_destroy(&table);
    }
    chat_envelope_free(&stats);
    chat_envelope_free(&nodes);
    return CTL_EXIT_OK;
}

// ------------------------------------------------------------------ probe

int ctl_probe(const ctl_context_t *ctx, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: chatctl probe tcp://HOST:PORT\n");
        return CTL_EXIT_USAGE;
    }
    //  A roomd binds its command socket only once registered, and answers
    //  RoomsInfo from its loop: an answer means it serves requests.
    Chat__RoomsInfoRequest req = CHAT__ROOMS_INFO_REQUEST__INIT;
    Chat__Envelope env;
    CTL_ENVELOPE(env, ROOMS_INFO, rooms_info, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        ctl_call(ctx, argv[0], "roomd", &env, CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY, &code);
    if (!reply)
        return code;
    if (ctx->json) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "endpoint", argv[0]);
        cJSON_AddBoolToObject(obj, "serving", true);
        ctl_print_json(obj);
    } else {
        printf("roomd at %s serves requests\n", argv[0]);
    }
    chat_envelope_free(&reply);
    return CTL_EXIT_OK;
}
