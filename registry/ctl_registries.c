/*  ctl_registries: chatctl's commands about the registry quorum itself:
 *  registries (each member's status), registry-add, registry-remove. See
 *  ctl_commands.h. */
#include "chat_clock.h"
#include "chat_error.h"
#include "chat_registry.h"
#include "chat_wire.h"
#include "ctl_common.h"
#include "ctl_table.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    CTL_ENVELOPE(env, REGISTRY_STATUS, registry_status, &req);
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
    if (!ctl_no_args(argc, "registries"))
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
        ctl_print_json(obj);
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
    CTL_ENVELOPE(env, REGISTRY_MEMBER, registry_member, req);
    int code = CTL_EXIT_OK;
    Chat__Envelope *reply =
        ctl_registry_call(ctx, &env, CHAT__ENVELOPE__BODY_REGISTRY_MEMBER_REPLY, &code);
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
        ctl_print_json(obj);
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
