/*  reg_cluster: see reg_cluster.h. */
#define _GNU_SOURCE
#include "reg_cluster.h"
#include "chat_clock.h"
#include "chat_wire.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *regt_endpoint(const regt_cluster_t *c, size_t i)
{
    return chat_tcp(c->base[i]);
}

static void s_start(regt_cluster_t *c, size_t i, bool join)
{
    char id[16], data[600], log[32];
    snprintf(id, sizeof id, "%zu", i + 1);
    snprintf(data, sizeof data, "%s/registry-%zu", c->dir, i + 1);
    snprintf(log, sizeof log, "registry-%zu", i + 1);
    char bind[64], pub[64];
    snprintf(bind, sizeof bind, "%s", chat_tcp(c->base[i]));
    snprintf(pub, sizeof pub, "%s", chat_tcp(c->base[i] + 1));
    const char *args[48] = {"--id",       id,    "--bind",      bind,    "--pub-bind",     pub,
                            "--data",     data,  "--log-level", "debug", "--heartbeat-ms", "200",
                            "--lease-ms", "1500"};
    int n = 14;
    if (join) {
        args[n++] = "--join";
    } else {
        args[n++] = "--peers";
        args[n++] = c->peers;
    }
    for (int k = 0; c->extra[k] && n < 46; k++)
        args[n++] = c->extra[k];
    args[n] = NULL;
    c->joined[i] = join;
    c->proc[i] = chat_proc_start("registry", args, c->dir, log);
    cr_assert_not_null(c->proc[i]);
}

void regt_start_one(regt_cluster_t *c, size_t i)
{
    cr_assert_null(c->proc[i], "registry %zu runs already", i + 1);
    s_start(c, i, c->joined[i]);
}

void regt_start_joiner(regt_cluster_t *c, size_t i)
{
    cr_assert_lt(i, REGT_MAX);
    c->base[i] = chat_free_ports(3);
    cr_assert_gt(c->base[i], 0, "no three free ports");
    s_start(c, i, true);
}

void regt_start(regt_cluster_t *c, size_t count, const char *const *extra)
{
    memset(c, 0, sizeof *c);
    c->dir = chat_temp_dir("quorum");
    c->count = count;
    c->req_id = 1000;
    for (size_t k = 0; extra && extra[k] && k < 15; k++)
        c->extra[k] = extra[k];
    size_t used = 0, lused = 0;
    for (size_t i = 0; i < count; i++) {
        c->base[i] = chat_free_ports(3);
        cr_assert_gt(c->base[i], 0, "no three free ports");
        used += (size_t)snprintf(c->peers + used, sizeof c->peers - used, "%s%zu@127.0.0.1:%d",
                                 i ? "," : "", i + 1, c->base[i]);
        lused += (size_t)snprintf(c->list + lused, sizeof c->list - lused, "%s%s", i ? "," : "",
                                  chat_tcp(c->base[i]));
    }
    for (size_t i = 0; i < count; i++)
        s_start(c, i, false);
    cr_assert_geq(regt_leader(c, 15000), 0, "no registry of %s came to lead in 15 s", c->list);
}

void regt_stop(regt_cluster_t *c)
{
    chat_quorum_destroy(&c->quorum);
    for (size_t i = 0; i < REGT_MAX; i++)
        if (c->proc[i])
            cr_expect(chat_proc_stop_clean(&c->proc[i]), "registry %zu did not exit cleanly",
                      i + 1);
    chat_remove_tree(c->dir);
    free(c->dir);
    c->dir = NULL;
}

void regt_kill(regt_cluster_t *c, size_t i, int sig)
{
    cr_assert_not_null(c->proc[i]);
    cr_assert_neq(chat_proc_signal(c->proc[i], sig, 10000), -1, "registry %zu did not die", i + 1);
    chat_proc_stop(&c->proc[i]);
}

void regt_wipe(regt_cluster_t *c, size_t i)
{
    cr_assert_null(c->proc[i], "wiping a running registry");
    char data[600];
    snprintf(data, sizeof data, "%s/registry-%zu", c->dir, i + 1);
    chat_remove_tree(data);
}

Chat__Envelope *regt_status(regt_cluster_t *c, size_t i, int ms)
{
    Chat__RegistryStatusRequest req = CHAT__REGISTRY_STATUS_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = ++c->req_id;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTRY_STATUS;
    env.registry_status = &req;
    Chat__Envelope *reply = chat_request(regt_endpoint(c, i), &env, ms);
    if (reply && reply->body_case != CHAT__ENVELOPE__BODY_REGISTRY_STATUS_REPLY)
        chat_envelope_free(&reply);
    return reply;
}

int regt_leader(regt_cluster_t *c, int ms)
{
    int64_t deadline = chat_mono_ms() + ms;
    do {
        for (size_t i = 0; i < REGT_MAX; i++) {
            if (!c->proc[i])
                continue;
            Chat__Envelope *st = regt_status(c, i, 300);
            bool ready = st && st->registry_status_reply->ready;
            chat_envelope_free(&st);
            if (ready)
                return (int)i;
        }
        chat_sleep_ms(20);
    } while (chat_mono_ms() < deadline);
    return -1;
}

Chat__Envelope *regt_call(regt_cluster_t *c, Chat__Envelope *env, int ms)
{
    env->req_id = ++c->req_id;
    if (!c->quorum)
        c->quorum = chat_quorum_new(c->list);
    return chat_quorum_request(c->quorum, env, ms);
}

int regt_create_room(regt_cluster_t *c, const char *name, int ms)
{
    Chat__CreateRoomRequest req = CHAT__CREATE_ROOM_REQUEST__INIT;
    req.name = (char *)name;
    req.description = "quorum test";
    req.token = (char *)name;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
    env.create_room = &req;
    Chat__Envelope *reply = regt_call(c, &env, ms);
    int status = reply && reply->body_case == CHAT__ENVELOPE__BODY_CREATE_ROOM_REPLY
                     ? (int)reply->create_room_reply->status
                     : -1;
    chat_envelope_free(&reply);
    return status;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *regt_catalog(regt_cluster_t *c, size_t i, uint64_t *applied)
{
    Chat__ListRoomsRequest req = CHAT__LIST_ROOMS_REQUEST__INIT;
    req.local = true;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = ++c->req_id;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_ROOMS;
    env.list_rooms = &req;
    Chat__Envelope *reply = chat_request(regt_endpoint(c, i), &env, 2000);
    if (!reply || reply->body_case != CHAT__ENVELOPE__BODY_LIST_ROOMS_REPLY) {
        chat_envelope_free(&reply);
        return NULL;
    }
    const Chat__ListRoomsReply *list = reply->list_rooms_reply;
    char **lines = calloc(list->n_rooms + 1, sizeof *lines);
    size_t total = 1;
    for (size_t k = 0; k < list->n_rooms; k++) {
        const Chat__CatalogEntry *e = list->rooms[k];
        const Chat__Placement *p = e->placement;
        cr_assert(asprintf(&lines[k], "%s|%s|%s|%" PRId64 "|%s|%s|%" PRIu64 "\n", e->room->id,
                           e->room->name, e->room->description, e->room->created_at,
                           p ? p->node : "", p ? p->instance : "", p ? p->epoch : 0) > 0);
        total += strlen(lines[k]);
    }
    qsort(lines, list->n_rooms, sizeof *lines, s_cmp);
    char *text = calloc(1, total);
    for (size_t k = 0; k < list->n_rooms; k++) {
        strcat(text, lines[k]);
        free(lines[k]);
    }
    free(lines);
    if (applied)
        *applied = list->applied_index;
    chat_envelope_free(&reply);
    return text;
}

void regt_wait_converged(regt_cluster_t *c, int ms)
{
    int64_t deadline = chat_mono_ms() + ms;
    char *want = NULL, *differs = NULL;
    size_t who = 0;
    uint64_t want_applied = 0, got_applied = 0;
    bool same = false;
    for (;;) {
        free(want);
        free(differs);
        want = differs = NULL;
        int leader = regt_leader(c, 2000);
        if (leader >= 0)
            want = regt_catalog(c, (size_t)leader, &want_applied);
        same = want != NULL;
        for (size_t i = 0; same && i < REGT_MAX; i++) {
            if (!c->proc[i] || (int)i == leader)
                continue;
            char *got = regt_catalog(c, i, &got_applied);
            if (!got || strcmp(got, want) != 0 || got_applied != want_applied) {
                same = false;
                who = i;
                differs = got;
            } else {
                free(got);
            }
        }
        if (same || chat_mono_ms() >= deadline)
            break;
        chat_sleep_ms(100);
    }
    cr_assert(same,
              "the registries did not converge in %d ms: registry %zu at %" PRIu64
              " holds\n%s\nthe leader at %" PRIu64 " holds\n%s",
              ms, who + 1, got_applied, differs ? differs : "(nothing)", want_applied,
              want ? want : "(no leader)");
    free(want);
}

chat_proc_t *regt_start_roomd(regt_cluster_t *c, const char *node, const char *const *extra)
{
    char data[600];
    snprintf(data, sizeof data, "%s/%s", c->dir, node);
    //  Free ports of its choice (port *): its ready file says which.
    const char *bind = "tcp://127.0.0.1:*", *pub = "tcp://127.0.0.1:*";
    const char *args[32] = {"--registry", c->list, "--bind", bind, "--pub-bind",  pub,
                            "--node",     node,    "--data", data, "--log-level", "debug"};
    int n = 12;
    for (int k = 0; extra && extra[k] && n < 30; k++)
        args[n++] = extra[k];
    args[n] = NULL;
    chat_proc_t *proc = chat_proc_start("roomd", args, c->dir, node);
    cr_assert_not_null(proc);
    return proc;
}

//  Roomds the leader has heard since it leads.
static size_t s_roomds_heard(regt_cluster_t *c)
{
    Chat__ListNodesRequest req = CHAT__LIST_NODES_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_NODES;
    env.list_nodes = &req;
    Chat__Envelope *reply = regt_call(c, &env, 1000);
    size_t heard = 0;
    if (reply && reply->body_case == CHAT__ENVELOPE__BODY_LIST_NODES_REPLY)
        for (size_t i = 0; i < reply->list_nodes_reply->n_nodes; i++) {
            const Chat__NodeInfo *n = reply->list_nodes_reply->nodes[i];
            heard += n->live && n->last_heartbeat_ms_ago >= 0;
        }
    chat_envelope_free(&reply);
    return heard;
}

void regt_wait_roomds(regt_cluster_t *c, size_t count, int ms)
{
    int64_t deadline = chat_mono_ms() + ms;
    size_t heard = 0;
    while ((heard = s_roomds_heard(c)) < count && chat_mono_ms() < deadline)
        chat_sleep_ms(50);
    cr_assert_geq(heard, count, "the leader heard %zu roomds of %zu within %d ms", heard, count,
                  ms);
}
