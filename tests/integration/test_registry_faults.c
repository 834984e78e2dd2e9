/*  The registry quorum under a seeded schedule of faults.
 *
 *  Three registries (snapshots every 64 entries, so that restarts and the
 *  wiped registry go through snapshots too), two roomds, and four client
 *  threads that create rooms and place them (lookups), while the schedule
 *  SIGKILLs and restarts registries, the leader most often, now and then
 *  two at once (no quorum for a moment), and once wipes a registry's data.
 *  At the end every registry holds the same catalog, with every room a
 *  client was told was created, exactly once, and every placement a client
 *  was told, at its epoch or a later one.
 *
 *  It prints its seed. Replay one, or run the long version:
 *      CHAT_FAULT_SEED=1234 build/tests/integration_registry_faults
 *      CHAT_FAULT_SECONDS=600 build/tests/integration_registry_faults
 *  (default: 25 seconds of faults, a fresh seed).
 */
#define _GNU_SOURCE
#include "chat_clock.h"
#include "chat_wire.h"
#include "reg_cluster.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_CLIENTS 4

static regt_cluster_t s_c;
static chat_proc_t *s_roomds[2];

//  What the clients were told.
typedef struct {
    char id[72];    //  room id the create answered
    char name[40];  //  the name asked for
    char node[40];  //  placement a lookup answered ("" when none)
    uint64_t epoch; //  its epoch
} s_ack_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_ack_t *s_acks; //  every acknowledged room (grows)
static size_t s_n_acks;
static size_t s_acks_cap;
static atomic_bool s_running;
static atomic_uint s_attempts, s_failures, s_placed;

static void s_teardown(void)
{
    for (int i = 0; i < 2; i++)
        if (s_roomds[i])
            cr_expect(chat_proc_stop_clean(&s_roomds[i]), "roomd %d did not exit cleanly", i);
    regt_stop(&s_c);
}

TestSuite(registry_faults, .fini = s_teardown, .timeout = 1800);

// ------------------------------------------------------------ clients

typedef struct {
    int number;            //  client number
    uint64_t req_id;       //  its own request ids
    chat_quorum_t *quorum; //  its connections to the registries, kept
} s_client_t;

//  The leader's answer to env (NULL after 3 s without one).
static Chat__Envelope *s_ask(s_client_t *client, Chat__Envelope *env)
{
    env->req_id = ++client->req_id;
    return chat_quorum_request(client->quorum, env, 3000);
}

//  Creates room name; fills ack->id when the quorum says it was created.
static bool s_create(s_client_t *client, const char *name, s_ack_t *ack)
{
    Chat__CreateRoomRequest req = CHAT__CREATE_ROOM_REQUEST__INIT;
    req.name = (char *)name;
    req.description = "fault test";
    req.token = (char *)name; //  names are unique: so are tokens
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
    env.create_room = &req;
    Chat__Envelope *reply = s_ask(client, &env);
    bool ok = reply && reply->body_case == CHAT__ENVELOPE__BODY_CREATE_ROOM_REPLY &&
              reply->create_room_reply->status == CHAT__STATUS__STATUS_OK &&
              reply->create_room_reply->room;
    if (ok) {
        cr_expect_str_eq(reply->create_room_reply->room->name, name);
        snprintf(ack->id, sizeof ack->id, "%s", reply->create_room_reply->room->id);
        snprintf(ack->name, sizeof ack->name, "%s", name);
    }
    chat_envelope_free(&reply);
    return ok;
}

//  Places room id (a lookup with place); fills ack's placement when told one.
static void s_place(s_client_t *client, s_ack_t *ack)
{
    Chat__LookupRequest req = CHAT__LOOKUP_REQUEST__INIT;
    req.room_id = ack->id;
    req.place = true;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &req;
    Chat__Envelope *reply = s_ask(client, &env);
    if (reply && reply->body_case == CHAT__ENVELOPE__BODY_LOOKUP_REPLY &&
        reply->lookup_reply->status == CHAT__STATUS__STATUS_OK && reply->lookup_reply->placement) {
        snprintf(ack->node, sizeof ack->node, "%s", reply->lookup_reply->placement->node);
        ack->epoch = reply->lookup_reply->placement->epoch;
        atomic_fetch_add(&s_placed, 1);
    }
    chat_envelope_free(&reply);
}

static void *s_client_main(void *arg)
{
    s_client_t *client = arg;
    client->quorum = chat_quorum_new(s_c.list);
    cr_assert_not_null(client->quorum);
    for (int n = 0; atomic_load(&s_running); n++) {
        char name[40];
        snprintf(name, sizeof name, "c%d-%d", client->number, n);
        s_ack_t ack;
        memset(&ack, 0, sizeof ack);
        atomic_fetch_add(&s_attempts, 1);
        if (!s_create(client, name, &ack)) {
            atomic_fetch_add(&s_failures, 1);
            continue;
        }
        s_place(client, &ack);
        pthread_mutex_lock(&s_lock);
        if (s_n_acks == s_acks_cap) {
            s_acks_cap = s_acks_cap ? 2 * s_acks_cap : 4096;
            s_acks = realloc(s_acks, s_acks_cap * sizeof *s_acks);
            cr_assert_not_null(s_acks);
        }
        s_acks[s_n_acks++] = ack;
        pthread_mutex_unlock(&s_lock);
    }
    chat_quorum_destroy(&client->quorum);
    return NULL;
}

// ------------------------------------------------------------ the schedule

//  A registry that runs, other than skip (-1: any), picked by the seed.
static int s_pick_running(unsigned *seed, int skip)
{
    int candidates[REGT_MAX], n = 0;
    for (int i = 0; i < (int)s_c.count; i++)
        if (s_c.proc[i] && i != skip)
            candidates[n++] = i;
    return n ? candidates[rand_r(seed) % n] : -1;
}

static void s_restart_all(void)
{
    for (size_t i = 0; i < s_c.count; i++)
        if (!s_c.proc[i])
            regt_start_one(&s_c, i);
}

//  One fault of the schedule. Returns a word for the log.
static const char *s_fault(unsigned *seed, bool wipe)
{
    int roll = rand_r(seed) % 100;
    int leader = regt_leader(&s_c, 1500);
    if (wipe) {
        int victim = s_pick_running(seed, leader);
        if (victim < 0)
            return "none";
        regt_kill(&s_c, (size_t)victim, SIGKILL);
        regt_wipe(&s_c, (size_t)victim);
        chat_sleep_ms(200 + rand_r(seed) % 1000);
        regt_start_one(&s_c, (size_t)victim);
        return "wipe";
    }
    if (roll < 60 && leader >= 0) {
        regt_kill(&s_c, (size_t)leader, SIGKILL);
        chat_sleep_ms(300 + rand_r(seed) % 1200);
        regt_start_one(&s_c, (size_t)leader);
        return "kill-leader";
    }
    if (roll < 85) {
        int victim = s_pick_running(seed, leader);
        if (victim < 0)
            return "none";
        regt_kill(&s_c, (size_t)victim, rand_r(seed) % 4 ? SIGKILL : SIGTERM);
        chat_sleep_ms(200 + rand_r(seed) % 1500);
        regt_start_one(&s_c, (size_t)victim);
        return "kill-follower";
    }
    //  Two at once: no majority for a moment.
    int a = s_pick_running(seed, -1);
    if (a >= 0)
        regt_kill(&s_c, (size_t)a, SIGKILL);
    int b = s_pick_running(seed, -1);
    if (b >= 0)
        regt_kill(&s_c, (size_t)b, SIGKILL);
    chat_sleep_ms(500 + rand_r(seed) % 1000);
    s_restart_all();
    return "kill-two";
}

// ------------------------------------------------------------ the checks

//  Field k (0-based, '|'-separated) of a catalog line, into out.
static void s_field(const char *line, int k, char *out, size_t size)
{
    for (int i = 0; i < k && line; i++) {
        line = strchr(line, '|');
        line = line ? line + 1 : NULL;
    }
    size_t n = 0;
    while (line && line[n] && line[n] != '|' && line[n] != '\n' && n + 1 < size)
        n++;
    memcpy(out, line ? line : "", n);
    out[n] = '\0';
}

//  The catalog's lines by room id, and how many rooms carry each name.
typedef struct {
    zhashx_t *lines; //  id -> its line (pointing into the text)
    zhashx_t *names; //  name -> count (as a pointer-sized integer)
} s_index_t;

static void s_index(char *catalog, s_index_t *ix)
{
    ix->lines = zhashx_new();
    ix->names = zhashx_new();
    for (char *line = catalog; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char id[96], name[96];
        s_field(line, 0, id, sizeof id);
        s_field(line, 1, name, sizeof name);
        zhashx_insert(ix->lines, id, line);
        uintptr_t count = (uintptr_t)zhashx_lookup(ix->names, name);
        zhashx_update(ix->names, name, (void *)(count + 1));
        line = next;
    }
}

Test(registry_faults, a_seeded_schedule_of_kills_and_a_wipe_loses_nothing_acknowledged)
{
    const char *seed_env = getenv("CHAT_FAULT_SEED");
    const char *secs_env = getenv("CHAT_FAULT_SECONDS");
    unsigned seed =
        seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)(time(NULL) ^ (getpid() << 8));
    int seconds = secs_env ? atoi(secs_env) : 25;
    fprintf(stderr,
            "registry fault test: seed %u, %d s of faults (replay: CHAT_FAULT_SEED=%u"
            " CHAT_FAULT_SECONDS=%d %s/../tests/integration_registry_faults)\n",
            seed, seconds, seed, seconds, CHAT_BIN_DIR);

    zsys_init(); //  once, before the client threads make sockets
    const char *extra[] = {
        "--snapshot-threshold", "64", "--snapshot-trailing", "16", "--log-level", "info", NULL};
    regt_start(&s_c, 3, extra);
    const char *roomd_extra[] = {"--log-level", "info", NULL};
    s_roomds[0] = regt_start_roomd(&s_c, "roomd-a", roomd_extra);
    s_roomds[1] = regt_start_roomd(&s_c, "roomd-b", roomd_extra);
    regt_wait_roomds(&s_c, 2, 15000);

    atomic_store(&s_running, true);
    pthread_t threads[S_CLIENTS];
    s_client_t clients[S_CLIENTS];
    for (int i = 0; i < S_CLIENTS; i++) {
        clients[i] = (s_client_t){.number = i, .req_id = (uint64_t)(i + 1) << 40};
        cr_assert_eq(pthread_create(&threads[i], NULL, s_client_main, &clients[i]), 0);
    }
    unsigned schedule = seed;
    int64_t start = chat_mono_ms(), end = start + seconds * 1000L;
    int64_t wipe_at = start + (seconds * 1000L) / 3 + rand_r(&schedule) % (seconds * 333 + 1);
    bool wiped = false;
    int faults = 0;
    while (chat_mono_ms() < end) {
        chat_sleep_ms(800 + rand_r(&schedule) % 2000);
        bool wipe = !wiped && chat_mono_ms() >= wipe_at;
        const char *what = s_fault(&schedule, wipe);
        wiped = wiped || wipe;
        faults++;
        fprintf(stderr, "  %5.1f s: %s\n", (double)(chat_mono_ms() - start) / 1000, what);
    }
    if (!wiped)
        fprintf(stderr, "  %5.1f s: %s\n", (double)(chat_mono_ms() - start) / 1000,
                s_fault(&schedule, true));
    atomic_store(&s_running, false);
    for (int i = 0; i < S_CLIENTS; i++)
        pthread_join(threads[i], NULL);
    s_restart_all();
    fprintf(stderr,
            "registry fault test: %d faults; %u creates tried, %zu acknowledged, %u not"
            " (timeouts, no leader), %u placed\n",
            faults, atomic_load(&s_attempts), s_n_acks, atomic_load(&s_failures),
            atomic_load(&s_placed));
    cr_assert_gt(s_n_acks, 20, "too few rooms were created to show anything");

    //  Every registry ends with the same catalog...
    regt_wait_converged(&s_c, 30000);
    char *catalog = regt_catalog(&s_c, 0, NULL);
    cr_assert_not_null(catalog);
    s_index_t ix;
    s_index(catalog, &ix);
    //  ...holding every acknowledged room once, where the clients were told.
    for (size_t i = 0; i < s_n_acks; i++) {
        const s_ack_t *ack = &s_acks[i];
        const char *line = zhashx_lookup(ix.lines, ack->id);
        cr_assert_not_null(line, "seed %u: acknowledged room %s (%s) is lost", seed, ack->id,
                           ack->name);
        char name[64], node[64], epoch[32];
        s_field(line, 1, name, sizeof name);
        cr_expect_str_eq(name, ack->name, "seed %u: room %s", seed, ack->id);
        uintptr_t copies = (uintptr_t)zhashx_lookup(ix.names, ack->name);
        cr_expect_eq(copies, 1, "seed %u: %s is in the catalog %zu times", seed, ack->name,
                     (size_t)copies);
        if (!*ack->node)
            continue;
        s_field(line, 4, node, sizeof node);
        s_field(line, 6, epoch, sizeof epoch);
        cr_expect_str_eq(node, ack->node, "seed %u: room %s moved from the node a client was told",
                         seed, ack->id);
        cr_expect_geq(strtoull(epoch, NULL, 10), ack->epoch,
                      "seed %u: room %s went back from epoch %" PRIu64, seed, ack->id, ack->epoch);
    }
    zhashx_destroy(&ix.lines);
    zhashx_destroy(&ix.names);
    free(catalog);
    free(s_acks);
    s_acks = NULL;
}
