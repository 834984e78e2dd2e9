/*  ctl_commands: see ctl_commands.h. */
#include "ctl_commands.h"
#include "chat_clock.h"
#include "chat_error.h"
#include "chat_registry.h"
#include "chat_request.h"
#include "chat_wire.h"
#include "ctl_table.h"

#include <cjson/cJSON.h>
#include <czmq.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_ENVELOPE(env, CASE, field, value)                                                        \
    do {                                                                                           \
        chat__envelope__init(&(env));                                                              \
        (env).req_id = (uint64_t)getpid();                                                         \
        (env).body_case = CHAT__ENVELOPE__BODY_##CASE;                                             \
        (env).field = (value);                                                                     \
    } while (0)

//  Sends request to endpoint; on no answer, or an answer of another kind,
//  prints why and returns NULL with *code set to the exit code.
static Chat__Envelope *s_call(const ctl_context_t *ctx, const char *endpoint, const char *what,
                              const Chat__Envelope *request, Chat__Envelope__BodyCase expect,
                              int *code)
{
    Chat__Envelope *reply = chat_request(endpoint, request, (int)ctx->timeout_ms);
    if (!reply) {
        fprintf(stderr, "chatctl: the %s at %s did not answer within %ld ms\n", what, endpoint,
                ctx->timeout_ms);
        *code = CTL_EXIT_NO_ANSWER;
        return NULL;
    }
    if (reply->body_case != expect) {
        const char *why = reply->body_case == CHAT__ENVELOPE__BODY_ERROR && reply->error->message
                              ? reply->error->message
                              : "unexpected reply";
        fprintf(stderr, "chatctl: the %s at %s refused the request: %s\n", what, endpoint, why);
        chat_envelope_free(&reply);
        *code = CTL_EXIT_ERROR;
        return NULL;
    }
    return reply;
}

//  The registry quorum's leader's answer to request (the first registry's,
//  leader or not, with --local); on no answer, an answer of another kind,
//  or no leader, prints why and returns NULL with *code set.
static Chat__Envelope *s_registry_call(const ctl_context_t *ctx, const Chat__Envelope *request,
                                       Chat__Envelope__BodyCase expect, int *code)
{
    chat_registry_t list;
    if (chat_registry_parse(&list, ctx->registry) != 0) {
        fprintf(stderr, "chatctl: --registry %s is not a list of endpoints\n", ctx->registry);
        *code = CTL_EXIT_USAGE;
        return NULL;
    }
    if (ctx->local)
        return s_call(ctx, chat_registry_current(&list), "registry", request, expect, code);
    Chat__Envelope *reply = chat_request_leader(ctx->registry, request, (int)ctx->timeout_ms);
    if (reply && reply->body_case == CHAT__ENVELOPE__BODY_ERROR &&
        reply->error->status == CHAT__STATUS__STATUS_NOT_LEADER) {
        fprintf(stderr,
                "chatctl: no registry of %s led within %ld ms (an election, or fewer than a"
                " majority of the quorum run)\n",
                ctx->registry, ctx->timeout_ms);
        chat_envelope_free(&reply);
        *code = CTL_EXIT_NO_ANSWER;
        return NULL;
    }
    if (!reply) {
        fprintf(stderr, "chatctl: the registry at %s did not answer within %ld ms\n", ctx->registry,
                ctx->timeout_ms);
        *code = CTL_EXIT_NO_ANSWER;
        return NULL;
    }
    if (reply->body_case != expect) {
        const char *why = reply->body_case == CHAT__ENVELOPE__BODY_ERROR && reply->error->message
                              ? reply->error->message
                              : "unexpected reply";
        fprintf(stderr, "chatctl: the registry refused the request: %s\n", why);
        chat_envelope_free(&reply);
        *code = CTL_EXIT_ERROR;
        return NULL;
    }
    return reply;
}

//  Prints a status error and returns CTL_EXIT_ERROR.
static int s_status_error(const char *subject, Chat__Status status)
{
    fprintf(stderr, "chatctl: %s: %s (%s)\n", subject, chat_status_message(status),
            chat_status_code(status));
    return CTL_EXIT_ERROR;
}

static void s_print_json(cJSON *json)
{
    char *text = cJSON_Print(json);
    puts(text);
    free(text);
    cJSON_Delete(json);
}

static void s_format_time(int64_t ms, char *out, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static bool s_no_args(int argc, const char *usage)
{
    if (argc == 0)
        return true;
    fprintf(stderr, "usage: chatctl %s\n", usage);
    return false;
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
    if (!s_no_args(argc, "nodes"))
        return CTL_EXIT_USAGE;
    Chat__ListNodesRequest req = CHAT__LIST_NODES_REQUEST__INIT;
    Chat__Envelope env;
    S_ENVELOPE(env, LIST_NODES, list_nodes, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        s_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_LIST_NODES_REPLY, &code);
    if (!reply)
        return code;
    const Chat__ListNodesReply *list = reply->list_nodes_reply;
    if (ctx->json) {
        cJSON *array = cJSON_CreateArray();
        for (size_t i = 0; i < list->n_nodes; i++)
            cJSON_AddItemToArray(array, s_node_json(list->nodes[i]));
        s_print_json(array);
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
    if (!s_no_args(argc, "rooms"))
        return CTL_EXIT_USAGE;
    Chat__ListRoomsRequest req = CHAT__LIST_ROOMS_REQUEST__INIT;
    req.local = ctx->local;
    Chat__Envelope env;
    S_ENVELOPE(env, LIST_ROOMS, list_rooms, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        s_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_LIST_ROOMS_REPLY, &code);
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
        s_print_json(array);
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
    S_ENVELOPE(env, LOOKUP, lookup, &req);
    Chat__Envelope *reply = s_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_LOOKUP_REPLY, code);
    if (reply && reply->lookup_reply->status != CHAT__STATUS__STATUS_OK) {
        *code = s_status_error(room_id, reply->lookup_reply->status);
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
        s_print_json(obj);
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
    S_ENVELOPE(env, CREATE_ROOM, create_room, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        s_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_CREATE_ROOM_REPLY, &code);
    if (!reply)
        return code;
    const Chat__CreateRoomReply *created = reply->create_room_reply;
    if (created->status != CHAT__STATUS__STATUS_OK || !created->room) {
        code = s_status_error(argv[0], created->status);
    } else if (ctx->json) {
        s_print_json(s_room_json(created->room));
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
        s_print_json(obj);
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
    S_ENVELOPE(env, HISTORY, history, &req);
    Chat__Envelope *reply =
        s_call(ctx, p->cmd_endpoint, "roomd", &env, CHAT__ENVELOPE__BODY_HISTORY_REPLY, &code);
    if (reply) {
        if (reply->history_reply->status != CHAT__STATUS__STATUS_OK)
            code = s_status_error(argv[0], reply->history_reply->status);
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
    if (!s_no_args(argc, "stats"))
        return CTL_EXIT_USAGE;
    Chat__StatsRequest req = CHAT__STATS_REQUEST__INIT;
    Chat__Envelope env;
    S_ENVELOPE(env, STATS, stats, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *stats = s_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_STATS_REPLY, &code);
    if (!stats)
        return code;
    Chat__ListNodesRequest nodes_req = CHAT__LIST_NODES_REQUEST__INIT;
    S_ENVELOPE(env, LIST_NODES, list_nodes, &nodes_req);
    Chat__Envelope *nodes =
        s_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_LIST_NODES_REPLY, &code);
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
        s_print_json(obj);
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
    S_ENVELOPE(env, ROOMS_INFO, rooms_info, &req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        s_call(ctx, argv[0], "roomd", &env, CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY, &code);
    if (!reply)
        return code;
    if (ctx->json) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "endpoint", argv[0]);
        cJSON_AddBoolToObject(obj, "serving", true);
        s_print_json(obj);
    } else {
        printf("roomd at %s serves requests\n", argv[0]);
    }
    chat_envelope_free(&reply);
    return CTL_EXIT_OK;
}

// ------------------------------------------------------------- registries

//  What chatctl knows of one registry.
typedef struct {
    char endpoint[CHAT_ENDPOINT_MAX]; //  its request endpoint
    Chat__Envelope *status;           //  its RegistryStatusReply, NULL when it did not answer
} s_registry_row_t;

//  Asks rows[from..n) for their status at once, waiting for all of them
//  up to the timeout.
static void s_ask_status(const ctl_context_t *ctx, s_registry_row_t *rows, size_t from, size_t n)
{
    Chat__RegistryStatusRequest req = CHAT__REGISTRY_STATUS_REQUEST__INIT;
    Chat__Envelope env;
    S_ENVELOPE(env, REGISTRY_STATUS, registry_status, &req);
    zsock_t *socks[CHAT_REGISTRY_MAX] = {NULL};
    zpoller_t *poller = zpoller_new(NULL);
    size_t waiting = 0;
    for (size_t i = from; i < n; i++) {
        socks[i] = zsock_new(ZMQ_DEALER);
        chat_wire_tune(socks[i]);
        if (zsock_connect(socks[i], "%s", rows[i].endpoint) == 0 &&
            chat_wire_send(socks[i], NULL, &env) == 0) {
            zpoller_add(poller, socks[i]);
            waiting++;
        }
    }
    int64_t deadline = chat_mono_ms() + ctx->timeout_ms;
    while (waiting > 0 && chat_mono_ms() < deadline) {
        void *which = zpoller_wait(poller, (int)(deadline - chat_mono_ms()));
        if (!which)
            continue;
        Chat__Envelope *got = NULL;
        if (chat_wire_recv(which, NULL, &got) != CHAT_WIRE_GOT ||
            got->body_case != CHAT__ENVELOPE__BODY_REGISTRY_STATUS_REPLY) {
            chat_envelope_free(&got);
            continue;
        }
        for (size_t i = from; i < n; i++)
            if ((void *)socks[i] == which && !rows[i].status) {
                rows[i].status = got;
                got = NULL;
                waiting--;
            }
        chat_envelope_free(&got);
    }
    zpoller_destroy(&poller);
    for (size_t i = from; i < n; i++)
        zsock_destroy(&socks[i]);
}

//  Adds the members the answers name that rows lack. Returns the new count.
static size_t s_add_members(s_registry_row_t *rows, size_t n)
{
    size_t count = n;
    for (size_t i = 0; i < n; i++) {
        const Chat__RegistryStatusReply *st =
            rows[i].status ? rows[i].status->registry_status_reply : NULL;
        for (size_t m = 0; st && m < st->n_members; m++) {
            const char *endpoint = st->members[m]->endpoint;
            bool known = !endpoint || !*endpoint;
            for (size_t k = 0; !known && k < count; k++)
                known = strcmp(rows[k].endpoint, endpoint) == 0;
            if (!known && count < CHAT_REGISTRY_MAX)
                snprintf(rows[count++].endpoint, CHAT_ENDPOINT_MAX, "%s", endpoint);
        }
    }
    return count;
}

//  The answer that describes the configuration best: the leader's, else the
//  one in the highest term.
static const Chat__RegistryStatusReply *s_best(const s_registry_row_t *rows, size_t n)
{
    const Chat__RegistryStatusReply *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const Chat__RegistryStatusReply *st =
            rows[i].status ? rows[i].status->registry_status_reply : NULL;
        if (!st)
            continue;
        bool leads = strcmp(st->role, "leader") == 0;
        bool best_leads = best && strcmp(best->role, "leader") == 0;
        if (!best || (leads && !best_leads) || (leads == best_leads && st->term > best->term))
            best = st;
    }
    return best;
}

//  The row of registry id (by its own answer), or of its endpoint.
static const s_registry_row_t *s_row_of(const s_registry_row_t *rows, size_t n, uint64_t id,
                                        const char *endpoint)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].status && rows[i].status->registry_status_reply->id == id)
            return &rows[i];
    for (size_t i = 0; endpoint && *endpoint && i < n; i++)
        if (strcmp(rows[i].endpoint, endpoint) == 0)
            return &rows[i];
    return NULL;
}

static cJSON *s_registry_json(uint64_t id, const char *endpoint, const char *raft, int voter,
                              const Chat__RegistryStatusReply *st)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddNumberToObject(obj, "id", (double)id);
    cJSON_AddStringToObject(obj, "endpoint", endpoint ? endpoint : "");
    cJSON_AddStringToObject(obj, "raftAddress", raft ? raft : "");
    if (voter >= 0)
        cJSON_AddBoolToObject(obj, "voter", voter);
    cJSON_AddBoolToObject(obj, "member", voter >= 0);
    cJSON_AddBoolToObject(obj, "reachable", st != NULL);
    cJSON_AddStringToObject(obj, "role", st ? st->role : "unreachable");
    if (st) {
        cJSON_AddNumberToObject(obj, "term", (double)st->term);
        cJSON_AddNumberToObject(obj, "leaderId", (double)st->leader_id);
        cJSON_AddNumberToObject(obj, "appliedIndex", (double)st->applied_index);
        cJSON_AddNumberToObject(obj, "commitIndex", (double)st->commit_index);
        cJSON_AddNumberToObject(obj, "lastIndex", (double)st->last_index);
        cJSON_AddBoolToObject(obj, "ready", st->ready);
    }
    return obj;
}

static void s_registry_cells(const Chat__RegistryStatusReply *st, char *term, char *applied,
                             char *commit)
{
    snprintf(term, 24, "%s", "-");
    snprintf(applied, 24, "%s", "-");
    snprintf(commit, 24, "%s", "-");
    if (!st)
        return;
    snprintf(term, 24, "%" PRIu64, st->term);
    snprintf(applied, 24, "%" PRIu64, st->applied_index);
    snprintf(commit, 24, "%" PRIu64, st->commit_index);
}

int ctl_registries(const ctl_context_t *ctx, int argc, char **argv)
{
    if (!s_no_args(argc, "registries"))
        return CTL_EXIT_USAGE;
    chat_registry_t list;
    if (chat_registry_parse(&list, ctx->registry) != 0) {
        fprintf(stderr, "chatctl: --registry %s is not a list of endpoints\n", ctx->registry);
        return CTL_EXIT_USAGE;
    }
    s_registry_row_t rows[CHAT_REGISTRY_MAX];
    memset(rows, 0, sizeof rows);
    size_t n = ctx->local ? 1 : list.count;
    for (size_t i = 0; i < n; i++)
        snprintf(rows[i].endpoint, CHAT_ENDPOINT_MAX, "%s", list.endpoints[i]);
    s_ask_status(ctx, rows, 0, n);
    if (!ctx->local) {
        size_t more = s_add_members(rows, n);
        s_ask_status(ctx, rows, n, more);
        n = more;
    }
    const Chat__RegistryStatusReply *conf = s_best(rows, n);
    if (!conf) {
        fprintf(stderr, "chatctl: the registry at %s did not answer within %ld ms\n", ctx->registry,
                ctx->timeout_ms);
        return CTL_EXIT_NO_ANSWER;
    }
    bool shown[CHAT_REGISTRY_MAX] = {false};
    cJSON *array = cJSON_CreateArray();
    const char *headers[] = {"id",    "role",     "term", "applied", "commit",
                             "voter", "endpoint", "raft", NULL};
    ctl_table_t *table = ctl_table_new(headers);
    //  The configuration's members first, each with its own answer.
    for (size_t m = 0; m < conf->n_members; m++) {
        const Chat__RegistryMember *member = conf->members[m];
        if (ctx->local && member->id != conf->id)
            continue;
        const s_registry_row_t *row = s_row_of(rows, n, member->id, member->endpoint);
        const Chat__RegistryStatusReply *st =
            row && row->status ? row->status->registry_status_reply : NULL;
        if (row)
            shown[row - rows] = true;
        cJSON_AddItemToArray(array, s_registry_json(member->id, member->endpoint,
                                                    member->raft_address, member->voter, st));
        char id[24], term[24], applied[24], commit[24];
        snprintf(id, sizeof id, "%" PRIu64, member->id);
        s_registry_cells(st, term, applied, commit);
        const char *cells[] = {id,
                               st ? st->role : "unreachable",
                               term,
                               applied,
                               commit,
                               member->voter ? "yes" : "no",
                               member->endpoint,
                               member->raft_address};
        ctl_table_add(table, cells);
    }
    //  Registries asked that the configuration lacks (started with --join).
    for (size_t i = 0; i < n; i++) {
        const Chat__RegistryStatusReply *st =
            rows[i].status ? rows[i].status->registry_status_reply : NULL;
        if (shown[i] || (ctx->local && st != conf))
            continue;
        cJSON_AddItemToArray(array,
                             s_registry_json(st ? st->id : 0, rows[i].endpoint, NULL, -1, st));
        char id[24], term[24], applied[24], commit[24];
        snprintf(id, sizeof id, "%" PRIu64, st ? st->id : 0);
        s_registry_cells(st, term, applied, commit);
        const char *cells[] = {st ? id : "?",
                               st ? st->role : "unreachable",
                               term,
                               applied,
                               commit,
                               "not a member",
                               rows[i].endpoint,
                               NULL};
        ctl_table_add(table, cells);
    }
    if (ctx->json) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddNumberToObject(obj, "leaderId", (double)conf->leader_id);
        cJSON_AddNumberToObject(obj, "term", (double)conf->term);
        cJSON_AddItemToObject(obj, "registries", array);
        s_print_json(obj);
    } else {
        cJSON_Delete(array);
        ctl_table_print(table, stdout);
        if (conf->leader_id)
            printf("leader: registry %" PRIu64 " in term %" PRIu64 "\n", conf->leader_id,
                   conf->term);
        else
            printf("no leader known (term %" PRIu64 ")\n", conf->term);
    }
    ctl_table_destroy(&table);
    for (size_t i = 0; i < n; i++)
        chat_envelope_free(&rows[i].status);
    return CTL_EXIT_OK;
}

//  Sends a membership change to the leader and reports the answer.
static int s_member_change(const ctl_context_t *ctx, Chat__RegistryMemberRequest *req,
                           const char *what)
{
    Chat__Envelope env;
    S_ENVELOPE(env, REGISTRY_MEMBER, registry_member, req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        s_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_REGISTRY_MEMBER_REPLY, &code);
    if (!reply)
        return code;
    const Chat__RegistryMemberReply *r = reply->registry_member_reply;
    if (r->status != CHAT__STATUS__STATUS_OK) {
        fprintf(stderr, "chatctl: %s: %s\n", what,
                r->message && *r->message ? r->message : chat_status_message(r->status));
        code = CTL_EXIT_ERROR;
    } else if (ctx->json) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "done", what);
        cJSON_AddNumberToObject(obj, "id", (double)req->member->id);
        s_print_json(obj);
    } else {
        printf("%s: done\n", what);
    }
    chat_envelope_free(&reply);
    return code;
}

//  Parses a registry id (> 0).
static bool s_parse_id(const char *text, uint64_t *id)
{
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (!*text || *end || value == 0)
        return false;
    *id = value;
    return true;
}

int ctl_registry_add(const ctl_context_t *ctx, int argc, char **argv)
{
    uint64_t id = 0;
    char endpoint[CHAT_ENDPOINT_MAX], pub[CHAT_ENDPOINT_MAX], raft[CHAT_ENDPOINT_MAX];
    const char *address = argc == 2 ? argv[1] : "";
    if (strncmp(address, "tcp://", 6) == 0)
        address += 6;
    snprintf(endpoint, sizeof endpoint, "tcp://%s", address);
    if (argc != 2 || !s_parse_id(argv[0], &id) || !*address ||
        chat_endpoint_port_offset(endpoint, 1, pub, sizeof pub) != 0 ||
        chat_endpoint_port_offset(address, 2, raft, sizeof raft) != 0) {
        fprintf(stderr, "usage: chatctl registry-add ID HOST:PORT   (the registry's request port;"
                        " events on PORT+1, Raft on PORT+2)\n");
        return CTL_EXIT_USAGE;
    }
    Chat__RegistryMember member = CHAT__REGISTRY_MEMBER__INIT;
    member.id = id;
    member.endpoint = endpoint;
    member.pub_endpoint = pub;
    member.raft_address = raft;
    Chat__RegistryMemberRequest req = CHAT__REGISTRY_MEMBER_REQUEST__INIT;
    req.member = &member;
    char what[64];
    snprintf(what, sizeof what, "adding registry %" PRIu64, id);
    return s_member_change(ctx, &req, what);
}

int ctl_registry_remove(const ctl_context_t *ctx, int argc, char **argv)
{
    uint64_t id = 0;
    if (argc != 1 || !s_parse_id(argv[0], &id)) {
        fprintf(stderr, "usage: chatctl registry-remove ID\n");
        return CTL_EXIT_USAGE;
    }
    Chat__RegistryMember member = CHAT__REGISTRY_MEMBER__INIT;
    member.id = id;
    Chat__RegistryMemberRequest req = CHAT__REGISTRY_MEMBER_REQUEST__INIT;
    req.remove = true;
    req.member = &member;
    char what[64];
    snprintf(what, sizeof what, "removing registry %" PRIu64, id);
    return s_member_change(ctx, &req, what);
}
