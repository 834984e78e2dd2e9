/*  A registry quorum of three real processes (reg_cluster): leadership,
 *  failover within 2 s, no acknowledged change lost, a wiped member
 *  catching up, a minority refusing changes, membership changes on a
 *  running quorum, chatctl, and roomds and gateways following the leader. */
#define _GNU_SOURCE
#include "chat_clock.h"
#include "chat_wire.h"
#include "chat_ws_client.h"
#include "reg_cluster.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static regt_cluster_t s_c;

static void s_teardown(void)
{
    regt_stop(&s_c);
}

TestSuite(quorum, .fini = s_teardown, .timeout = 150);

//  The status reply of registry i; asserts it answers.
static Chat__RegistryStatusReply *s_status(size_t i, Chat__Envelope **keep)
{
    *keep = regt_status(&s_c, i, 3000);
    cr_assert_not_null(*keep, "registry %zu does not answer RegistryStatus", i + 1);
    return (*keep)->registry_status_reply;
}

//  True when registry i's catalog lists a room with that id.
static bool s_has_room(size_t i, const char *id)
{
    char *catalog = regt_catalog(&s_c, i, NULL);
    cr_assert_not_null(catalog, "registry %zu does not answer ListRooms{local}", i + 1);
    char needle[128];
    snprintf(needle, sizeof needle, "%s|", id);
    bool found = strncmp(catalog, needle, strlen(needle)) == 0;
    snprintf(needle, sizeof needle, "\n%s|", id);
    found = found || strstr(catalog, needle) != NULL;
    free(catalog);
    return found;
}

//  Whether the log of registry i holds text.
static bool s_log_has(size_t i, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/registry-%zu.log", s_c.dir, i + 1);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

// ------------------------------------------------------------ leadership

Test(quorum, one_registry_leads_and_the_others_name_it)
{
    regt_start(&s_c, 3, NULL);
    int leader = regt_leader(&s_c, 5000);
    cr_assert_geq(leader, 0);
    int leaders = 0;
    for (size_t i = 0; i < 3; i++) {
        Chat__Envelope *keep = NULL;
        Chat__RegistryStatusReply *st = s_status(i, &keep);
        cr_expect_eq(st->id, i + 1);
        cr_expect_eq(st->leader_id, (uint64_t)leader + 1, "registry %zu names %" PRIu64, i + 1,
                     st->leader_id);
        cr_expect_eq(st->n_members, 3);
        leaders += strcmp(st->role, "leader") == 0;
        chat_envelope_free(&keep);
    }
    cr_expect_eq(leaders, 1);

    //  A follower answers a request with the leader's endpoint.
    size_t follower = (size_t)(leader + 1) % 3;
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    lookup.room_id = "general";
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = 7;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &lookup;
    Chat__Envelope *reply = chat_request(regt_endpoint(&s_c, follower), &env, 3000);
    cr_assert_not_null(reply);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_ERROR);
    cr_expect_eq(reply->error->status, CHAT__STATUS__STATUS_NOT_LEADER);
    cr_expect_str_eq(reply->error->leader_endpoint, regt_endpoint(&s_c, (size_t)leader));
    cr_expect_eq(reply->error->leader_id, (uint64_t)leader + 1);
    chat_envelope_free(&reply);
    //  Through the list, the leader answers.
    reply = regt_call(&s_c, &env, 3000);
    cr_assert_not_null(reply);
    cr_expect_eq(reply->body_case, CHAT__ENVELOPE__BODY_LOOKUP_REPLY);
    chat_envelope_free(&reply);
    regt_wait_converged(&s_c, 5000);
}

Test(quorum, a_new_leader_answers_create_room_within_2s_of_a_sigkill)
{
    regt_start(&s_c, 3, NULL);
    cr_assert_eq(regt_create_room(&s_c, "Before", 5000), CHAT__STATUS__STATUS_OK);
    for (int round = 0; round < 3; round++) {
        int leader = regt_leader(&s_c, 5000);
        cr_assert_geq(leader, 0);
        regt_kill(&s_c, (size_t)leader, SIGKILL);
        int64_t killed = chat_mono_ms();
        char name[32];
        snprintf(name, sizeof name, "After kill %d", round);
        int status = regt_create_room(&s_c, name, 5000);
        int64_t took = chat_mono_ms() - killed;
        fprintf(stderr, "failover %d: registry %d killed, create-room answered in %" PRId64 " ms\n",
                round, leader + 1, took);
        cr_assert_eq(status, CHAT__STATUS__STATUS_OK, "no new leader answered create-room");
        cr_expect_lt(took, 2000, "a new leader answered after %" PRId64 " ms", took);
        regt_start_one(&s_c, (size_t)leader);
    }
    //  Nothing acknowledged is lost, and every registry holds it all.
    regt_wait_converged(&s_c, 10000);
    for (size_t i = 0; i < 3; i++) {
        cr_expect(s_has_room(i, "before"));
        cr_expect(s_has_room(i, "after-kill-0") && s_has_room(i, "after-kill-2"));
    }
}

Test(quorum, a_minority_never_accepts_a_change)
{
    regt_start(&s_c, 3, NULL);
    int leader = regt_leader(&s_c, 5000);
    size_t lone = (size_t)(leader + 1) % 3;
    //  Two of three gone: the leader and the other follower.
    for (size_t i = 0; i < 3; i++)
        if (i != lone)
            regt_kill(&s_c, i, SIGKILL);
    cr_expect_neq(regt_create_room(&s_c, "Minority", 2500), CHAT__STATUS__STATUS_OK,
                  "one registry of three accepted a change");
    cr_expect_not(s_has_room(lone, "minority"), "a change was applied without a majority");
    Chat__Envelope *keep = NULL;
    Chat__RegistryStatusReply *st = s_status(lone, &keep);
    cr_expect_str_neq(st->role, "leader", "a registry alone leads");
    chat_envelope_free(&keep);

    //  A majority again: changes are accepted.
    regt_start_one(&s_c, (lone + 1) % 3);
    cr_expect_eq(regt_create_room(&s_c, "Majority", 10000), CHAT__STATUS__STATUS_OK);
    regt_start_one(&s_c, (lone + 2) % 3);
    regt_wait_converged(&s_c, 10000);
}

Test(quorum, a_wiped_registry_catches_up_from_the_others)
{
    const char *extra[] = {"--snapshot-threshold", "16", "--snapshot-trailing", "4", NULL};
    regt_start(&s_c, 3, extra);
    for (int i = 0; i < 30; i++) {
        char name[32];
        snprintf(name, sizeof name, "Early %d", i);
        cr_assert_eq(regt_create_room(&s_c, name, 5000), CHAT__STATUS__STATUS_OK);
    }
    int leader = regt_leader(&s_c, 5000);
    size_t wiped = (size_t)(leader + 1) % 3;
    regt_kill(&s_c, wiped, SIGKILL);
    regt_wipe(&s_c, wiped);
    for (int i = 0; i < 30; i++) {
        char name[32];
        snprintf(name, sizeof name, "Late %d", i);
        cr_assert_eq(regt_create_room(&s_c, name, 5000), CHAT__STATUS__STATUS_OK);
    }
    regt_start_one(&s_c, wiped);
    regt_wait_converged(&s_c, 15000);
    cr_expect(s_has_room(wiped, "early-0") && s_has_room(wiped, "late-29"));
    cr_expect(s_log_has(wiped, "restored a snapshot"),
              "the wiped registry did not get the state as a snapshot");
}

// ------------------------------------------------------------ membership

static Chat__RegistryMemberReply *s_change(bool remove, uint64_t id, int base,
                                           Chat__Envelope **keep)
{
    char endpoint[64], pub[64], raft[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", base);
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", base + 1);
    snprintf(raft, sizeof raft, "127.0.0.1:%d", base + 2);
    Chat__RegistryMember member = CHAT__REGISTRY_MEMBER__INIT;
    member.id = id;
    member.endpoint = endpoint;
    member.pub_endpoint = pub;
    member.raft_address = raft;
    Chat__RegistryMemberRequest req = CHAT__REGISTRY_MEMBER_REQUEST__INIT;
    req.remove = remove;
    req.member = &member;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTRY_MEMBER;
    env.registry_member = &req;
    *keep = regt_call(&s_c, &env, 20000);
    cr_assert_not_null(*keep, "no answer to a membership change");
    cr_assert_eq((*keep)->body_case, CHAT__ENVELOPE__BODY_REGISTRY_MEMBER_REPLY);
    return (*keep)->registry_member_reply;
}

//  Voters in the configuration as the leader sees it.
static size_t s_voters(void)
{
    int leader = regt_leader(&s_c, 5000);
    cr_assert_geq(leader, 0);
    Chat__Envelope *keep = NULL;
    Chat__RegistryStatusReply *st = s_status((size_t)leader, &keep);
    size_t voters = 0;
    for (size_t i = 0; i < st->n_members; i++)
        voters += st->members[i]->voter;
    chat_envelope_free(&keep);
    return voters;
}

Test(quorum, registries_join_and_leave_a_running_quorum)
{
    regt_start(&s_c, 3, NULL);
    cr_assert_eq(regt_create_room(&s_c, "Before join", 5000), CHAT__STATUS__STATUS_OK);
    regt_start_joiner(&s_c, 3);
    Chat__Envelope *keep = NULL;
    Chat__RegistryMemberReply *r = s_change(false, 4, s_c.base[3], &keep);
    cr_assert_eq(r->status, CHAT__STATUS__STATUS_OK, "registry-add: %s", r->message);
    chat_envelope_free(&keep);
    cr_expect_eq(s_voters(), 4);
    regt_wait_converged(&s_c, 10000);
    cr_expect(s_has_room(3, "before-join"), "the new registry did not catch up");

    //  Remove a follower, then the leader itself (it hands over first).
    int leader = regt_leader(&s_c, 5000);
    size_t follower = (size_t)(leader + 1) % 3;
    r = s_change(true, follower + 1, s_c.base[follower], &keep);
    cr_assert_eq(r->status, CHAT__STATUS__STATUS_OK, "registry-remove: %s", r->message);
    chat_envelope_free(&keep);
    regt_kill(&s_c, follower, SIGTERM);
    cr_expect_eq(s_voters(), 3);
    r = s_change(true, (uint64_t)leader + 1, s_c.base[leader], &keep);
    cr_assert_eq(r->status, CHAT__STATUS__STATUS_OK, "removing the leader: %s", r->message);
    chat_envelope_free(&keep);
    regt_kill(&s_c, (size_t)leader, SIGTERM);
    cr_expect_eq(s_voters(), 2);
    //  The two left (one of them the newcomer) still make changes.
    cr_expect_eq(regt_create_room(&s_c, "After leave", 10000), CHAT__STATUS__STATUS_OK);
    regt_wait_converged(&s_c, 10000);
}

// --------------------------------------------------------------- chatctl

//  Runs chatctl with args; returns its exit code, stdout in out.
static int s_chatctl(const char *args, char *out, size_t size)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "%s/chatctl --registry %s %s 2>&1", CHAT_BIN_DIR, s_c.list, args);
    FILE *pipe = popen(cmd, "r");
    cr_assert_not_null(pipe);
    size_t n = fread(out, 1, size - 1, pipe);
    out[n] = '\0';
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(quorum, chatctl_lists_the_registries_and_creates_through_the_leader)
{
    regt_start(&s_c, 3, NULL);
    char out[16384];
    cr_assert_eq(s_chatctl("create-room 'Through chatctl'", out, sizeof out), 0, "%s", out);
    regt_wait_converged(&s_c, 5000);
    cr_assert_eq(s_chatctl("--json registries", out, sizeof out), 0, "%s", out);
    cJSON *obj = cJSON_Parse(out);
    cr_assert_not_null(obj, "not JSON: %s", out);
    int leader_id = (int)cJSON_GetObjectItem(obj, "leaderId")->valuedouble;
    cJSON *list = cJSON_GetObjectItem(obj, "registries");
    cr_assert_eq(cJSON_GetArraySize(list), 3, "%s", out);
    int leaders = 0;
    cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        bool leads = strcmp(cJSON_GetObjectItem(item, "role")->valuestring, "leader") == 0;
        leaders += leads;
        if (leads)
            cr_expect_eq((int)cJSON_GetObjectItem(item, "id")->valuedouble, leader_id);
        cr_expect_gt(cJSON_GetObjectItem(item, "appliedIndex")->valuedouble, 3, "%s", out);
        cr_expect_gt(cJSON_GetObjectItem(item, "term")->valuedouble, 0);
        cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(item, "voter")));
    }
    cr_expect_eq(leaders, 1);
    cJSON_Delete(obj);
    cr_assert_eq(s_chatctl("registries", out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "APPLIED") && strstr(out, "leader: registry"), "%s", out);
    //  --local: one registry's own catalog, leader or not.
    int follower = (regt_leader(&s_c, 5000) + 1) % 3;
    char args[256];
    snprintf(args, sizeof args, "--registry %s --local --json rooms",
             regt_endpoint(&s_c, (size_t)follower));
    cr_assert_eq(s_chatctl(args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "through-chatctl"), "%s", out);
}
