#define _GNU_SOURCE
/*  The registry's state machine (reg_fsm) over its tables and LMDB store,
 *  driven by commands as the Raft log would apply them: no network. */
#include "chat_test.h"
#include "reg_fsm.h"
#include "reg_state.h"
#include "reg_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  One registry's state: store, tables, state machine, next log index.
typedef struct {
    char *dir;          //  LMDB directory
    reg_store_t *store; //  LMDB
    reg_state_t *state; //  tables
    reg_fsm_t *fsm;     //  state machine
    uint64_t index;     //  index of the next entry to apply
} s_member_t;

static s_member_t s_a;

static void s_open(s_member_t *m)
{
    m->store = reg_store_open(m->dir, 16);
    cr_assert_not_null(m->store);
    m->state = reg_state_new(m->store, 1000);
    cr_assert_not_null(m->state);
    m->fsm = reg_fsm_new(m->state, m->store);
    cr_assert_not_null(m->fsm);
}

static void s_close(s_member_t *m)
{
    reg_fsm_destroy(&m->fsm);
    reg_state_destroy(&m->state);
    reg_store_destroy(&m->store);
}

static void s_member_start(s_member_t *m, const char *tag)
{
    m->dir = chat_temp_dir(tag);
    m->index = 1;
    s_open(m);
}

static void s_member_end(s_member_t *m)
{
    s_close(m);
    chat_remove_tree(m->dir);
    free(m->dir);
}

//  Applies cmd at m's next index as a batch of its own (one loop turn);
//  the storage must not fail.
static reg_fsm_result_t s_apply(s_member_t *m, const Chat__RegistryCommand *cmd)
{
    reg_fsm_result_t result;
    cr_assert_eq(reg_fsm_apply(m->fsm, m->index++, cmd, &result), 0);
    cr_assert_eq(reg_fsm_flush(m->fsm), 0);
    return result;
}

static reg_fsm_result_t s_seed(s_member_t *m, int64_t at)
{
    Chat__SeedCommand seed = CHAT__SEED_COMMAND__INIT;
    seed.created_at = at;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_SEED;
    cmd.seed = &seed;
    return s_apply(m, &cmd);
}

static reg_fsm_result_t s_create(s_member_t *m, const char *name, const char *desc, int64_t at,
                                 const char *token)
{
    Chat__RegistryCommand cmd;
    Chat__CreateRoomCommand body;
    reg_fsm_create_room_command(&cmd, &body, name, desc, at, token);
    return s_apply(m, &cmd);
}

//  Registers node holding rooms (id, name, epoch triples), endpoints made
//  from its name.
static reg_fsm_result_t s_register_holding(s_member_t *m, const char *node, const char *prev,
                                           const char *const *held, size_t count)
{
    Chat__RoomInfo infos[8];
    Chat__Assignment items[8];
    Chat__Assignment *list[8];
    for (size_t i = 0; i < count; i++) {
        chat__room_info__init(&infos[i]);
        infos[i].id = (char *)held[3 * i];
        infos[i].name = (char *)held[3 * i + 1];
        infos[i].description = "held";
        infos[i].created_at = 77;
        chat__assignment__init(&items[i]);
        items[i].room = &infos[i];
        items[i].epoch = strtoull(held[3 * i + 2], NULL, 10);
        list[i] = &items[i];
    }
    char cmd_ep[64], pub_ep[64];
    snprintf(cmd_ep, sizeof cmd_ep, "tcp://%s:5600", node);
    snprintf(pub_ep, sizeof pub_ep, "tcp://%s:5601", node);
    Chat__RegisterRequest req = CHAT__REGISTER_REQUEST__INIT;
    req.node = (char *)node;
    req.cmd_endpoint = cmd_ep;
    req.pub_endpoint = pub_ep;
    req.prev_instance = (char *)(prev ? prev : "");
    req.held = list;
    req.n_held = count;
    Chat__RegisterNodeCommand body = CHAT__REGISTER_NODE_COMMAND__INIT;
    body.request = &req;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_REGISTER_NODE;
    cmd.register_node = &body;
    return s_apply(m, &cmd);
}

static reg_fsm_result_t s_register(s_member_t *m, const char *node, const char *prev)
{
    return s_register_holding(m, node, prev, NULL, 0);
}

//  A registered node that the leader would see as live.
static reg_node_t *s_live_node(s_member_t *m, const char *name)
{
    reg_fsm_result_t r = s_register(m, name, NULL);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    r.node->live = true;
    r.node->has_peer = true;
    return r.node;
}

static reg_fsm_result_t s_grant_at(s_member_t *m, const char *room, const char *node,
                                   const char *instance, uint64_t epoch)
{
    Chat__GrantCommand grant = CHAT__GRANT_COMMAND__INIT;
    grant.room_id = (char *)room;
    grant.node = (char *)node;
    grant.instance = (char *)instance;
    grant.epoch = epoch;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_GRANT;
    cmd.grant = &grant;
    return s_apply(m, &cmd);
}

//  The grant a leader would propose: node's instance, the room's epoch + 1.
static reg_fsm_result_t s_grant(s_member_t *m, const char *room_id, const reg_node_t *node)
{
    reg_room_t *room = reg_state_room(m->state, room_id);
    cr_assert_not_null(room);
    return s_grant_at(m, room_id, node->name, node->instance, room->epoch + 1);
}

static reg_fsm_result_t s_member(s_member_t *m, uint64_t id, const char *endpoint, bool remove)
{
    Chat__RegistryMember member = CHAT__REGISTRY_MEMBER__INIT;
    member.id = id;
    member.endpoint = (char *)endpoint;
    member.pub_endpoint = "tcp://pub:1";
    member.raft_address = "127.0.0.1:7000";
    Chat__MemberCommand body = CHAT__MEMBER_COMMAND__INIT;
    body.member = &member;
    body.remove = remove;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_MEMBER;
    cmd.member = &body;
    return s_apply(m, &cmd);
}

static int s_by_id(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  Everything replicated in m's tables, as text in a stable order
//  (caller frees): two registries hold the same state iff equal.
static char *s_dump(s_member_t *m)
{
    size_t n = reg_state_room_count(m->state) + reg_state_node_count(m->state) +
               reg_state_member_count(m->state);
    char **lines = calloc(n + 1, sizeof *lines);
    size_t i = 0;
    for (reg_room_t *r = reg_state_first_room(m->state); r; r = reg_state_next_room(m->state))
        cr_assert(asprintf(&lines[i++], "room %s|%s|%s|%lld|%s|%s|%s|%llu", r->id, r->name,
                           r->description, (long long)r->created_at, r->token ? r->token : "",
                           r->node ? r->node : "", r->instance ? r->instance : "",
                           (unsigned long long)r->epoch) > 0);
    for (reg_node_t *d = reg_state_first_node(m->state); d; d = reg_state_next_node(m->state))
        cr_assert(asprintf(&lines[i++], "node %s|%llu|%s|%s|%s|%u|%zu", d->name,
                           (unsigned long long)d->boot, d->instance, d->cmd_endpoint,
                           d->pub_endpoint, d->max_rooms, d->rooms) > 0);
    for (size_t k = 0; k < reg_state_member_count(m->state); k++) {
        const reg_member_t *mb = reg_state_member_at(m->state, k);
        cr_assert(asprintf(&lines[i++], "member %llu|%s|%s|%s", (unsigned long long)mb->id,
                           mb->endpoint, mb->pub_endpoint, mb->raft_address) > 0);
    }
    qsort(lines, i, sizeof *lines, s_by_id);
    size_t total = 64;
    for (size_t k = 0; k < i; k++)
        total += strlen(lines[k]) + 1;
    char *out = calloc(1, total);
    snprintf(out, total, "applied %llu seeded %d\n", (unsigned long long)reg_fsm_applied(m->fsm),
             reg_fsm_seeded(m->fsm));
    for (size_t k = 0; k < i; k++) {
        strcat(out, lines[k]);
        strcat(out, "\n");
        free(lines[k]);
    }
    free(lines);
    return out;
}

static void s_setup(void)
{
    s_member_start(&s_a, "regfsm");
    cr_assert_eq(s_seed(&s_a, 1764370000000).status, CHAT__STATUS__STATUS_OK);
}

static void s_teardown(void)
{
    s_member_end(&s_a);
}

TestSuite(registry_fsm, .init = s_setup, .fini = s_teardown);

// ------------------------------------------------------------ catalog

Test(registry_fsm, the_seed_makes_the_default_rooms_once)
{
    cr_expect_eq(reg_state_room_count(s_a.state), 3);
    reg_room_t *general = reg_state_room(s_a.state, "general");
    cr_assert_not_null(general);
    cr_expect_str_eq(general->description, "General discussion");
    cr_expect_str_eq(reg_state_room(s_a.state, "random")->description, "Random chat");
    cr_expect_str_eq(reg_state_room(s_a.state, "tech")->description, "Technology discussions");
    cr_expect_null(general->node);
    cr_expect_eq(general->created_at, 1764370000000, "the leader's clock, in the command");
    cr_expect(reg_fsm_seeded(s_a.fsm));
    s_seed(&s_a, 5);
    cr_expect_eq(reg_state_room_count(s_a.state), 3, "a second seed changes nothing");
    cr_expect_eq(general->created_at, 1764370000000);
}

Test(registry_fsm, room_names_are_unique_case_insensitively_and_ids_are_slugs)
{
    reg_fsm_result_t r = s_create(&s_a, "  Test Room ", "A test room", 5, NULL);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(r.room->id, "test-room");
    cr_expect_str_eq(r.room->name, "Test Room");
    cr_expect_eq(r.room->created_at, 5);
    r = s_create(&s_a, "TEST ROOM", "", 6, NULL);
    cr_expect_eq(r.status, CHAT__STATUS__STATUS_ROOM_EXISTS);
    cr_expect_null(r.room);
    cr_expect_eq(s_create(&s_a, "General", "", 6, NULL).status, CHAT__STATUS__STATUS_ROOM_EXISTS);
    r = s_create(&s_a, "test-room", "", 7, NULL);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(r.room->id, "test-room-2");
    r = s_create(&s_a, "\xe6\x97\xa5\xe6\x9c\xac", "", 8, NULL);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(r.room->id, "room");
    cr_expect_eq(reg_fsm_check_room(s_a.fsm, " test room", ""), CHAT__STATUS__STATUS_ROOM_EXISTS);
    cr_expect_eq(reg_fsm_check_room(s_a.fsm, "Fresh", ""), CHAT__STATUS__STATUS_OK);
}

Test(registry_fsm, bad_room_names_and_descriptions_are_refused)
{
    char long_name[80];
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    char long_desc[300];
    memset(long_desc, 'd', 257);
    long_desc[257] = '\0';
    cr_expect_eq(s_create(&s_a, "", "", 1, NULL).status, CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(s_create(&s_a, "   ", "", 1, NULL).status, CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(s_create(&s_a, long_name, "", 1, NULL).status, CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(s_create(&s_a, "ok", long_desc, 1, NULL).status,
                 CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(s_create(&s_a, "bad \xff utf8", "", 1, NULL).status,
                 CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(reg_fsm_check_room(s_a.fsm, "", ""), CHAT__STATUS__STATUS_INVALID_ROOM);
    long_name[64] = '\0';
    cr_expect_eq(s_create(&s_a, long_name, "", 1, NULL).status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(reg_state_room_count(s_a.state), 4);
    cr_expect_eq(reg_fsm_applied(s_a.fsm), s_a.index - 1, "refused commands are applied too");
}

Test(registry_fsm, a_create_sent_again_with_its_token_answers_the_room_it_made)
{
    reg_fsm_result_t r = s_create(&s_a, "Once", "", 5, "tok-1");
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    reg_room_t *first = r.room;
    cr_expect_not(r.found);
    r = s_create(&s_a, "Once", "", 9, "tok-1");
    cr_expect_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect(r.found);
    cr_expect_eq(r.room, first);
    cr_expect_eq(first->created_at, 5);
    cr_expect_eq(s_create(&s_a, "Once", "", 9, "tok-2").status, CHAT__STATUS__STATUS_ROOM_EXISTS);
    cr_expect_eq(reg_state_room_count(s_a.state), 4);
    s_close(&s_a);
    s_open(&s_a);
    cr_expect_str_eq(reg_state_room_by_token(s_a.state, "tok-1")->id, "once");
}

// --------------------------------------------------------- idempotence

Test(registry_fsm, an_entry_applied_before_changes_nothing_when_replayed)
{
    reg_node_t *node = s_live_node(&s_a, "roomd-a");
    uint64_t applied = reg_fsm_applied(s_a.fsm);
    cr_expect_eq(applied, s_a.index - 1);
    //  The log is replayed after a restart: the same entries, same indexes.
    s_close(&s_a);
    s_open(&s_a);
    cr_expect_eq(reg_fsm_applied(s_a.fsm), applied, "the applied index is stored with the state");
    node = reg_state_node(s_a.state, "roomd-a");
    cr_assert_not_null(node);
    Chat__RegistryCommand cmd;
    Chat__CreateRoomCommand body;
    reg_fsm_create_room_command(&cmd, &body, "Replayed", "", 1, NULL);
    reg_fsm_result_t r;
    cr_assert_eq(reg_fsm_apply(s_a.fsm, applied, &cmd, &r), 0);
    cr_expect(r.replayed);
    cr_expect_null(reg_state_room(s_a.state, "replayed"));
    cr_assert_eq(reg_fsm_apply(s_a.fsm, applied + 1, &cmd, &r), 0);
    cr_assert_eq(reg_fsm_flush(s_a.fsm), 0);
    cr_expect_not(r.replayed);
    cr_expect_not_null(reg_state_room(s_a.state, "replayed"));
    cr_expect_eq(node->boot, 1, "registration is not issued twice");
}

Test(registry_fsm, a_batch_is_stored_with_its_applied_index_in_one_commit)
{
    uint64_t before = reg_store_applied(s_a.store);
    Chat__RegistryCommand cmd;
    Chat__CreateRoomCommand body;
    reg_fsm_result_t r;
    const char *names[] = {"Batch one", "Batch two", "Batch three"};
    for (int i = 0; i < 3; i++) {
        reg_fsm_create_room_command(&cmd, &body, names[i], "", i, NULL);
        cr_assert_eq(reg_fsm_apply(s_a.fsm, s_a.index++, &cmd, &r), 0);
        cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    }
    cr_expect_eq(reg_fsm_applied(s_a.fsm), s_a.index - 1, "the tables are applied");
    cr_expect_eq(reg_store_applied(s_a.store), before, "nothing is committed before the flush");
    cr_assert_eq(reg_fsm_flush(s_a.fsm), 0);
    cr_expect_eq(reg_store_applied(s_a.store), s_a.index - 1);
    s_close(&s_a);
    s_open(&s_a);
    cr_expect_not_null(reg_state_room(s_a.state, "batch-three"));
}

Test(registry_fsm, a_catalog_never_seeded_stays_so_when_reopened)
{
    //  (found by fuzz_registry_fsm) A room before any seed: the store must
    //  not be taken for one written before the quorum when it is reopened.
    s_member_t b;
    s_member_start(&b, "regfsm-unseeded");
    cr_assert_eq(s_create(&b, "Early", "", 1, NULL).status, CHAT__STATUS__STATUS_OK);
    s_close(&b);
    s_open(&b);
    cr_expect_not(reg_fsm_seeded(b.fsm));
    cr_assert_eq(s_seed(&b, 2).status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(reg_state_room_count(b.state), 4, "the seed still applies");
    s_member_end(&b);
}

Test(registry_fsm, an_entry_that_does_not_decode_is_skipped_on_every_registry)
{
    reg_fsm_result_t r;
    const char junk[] = "\xff\xff\xff\x01 not a command";
    cr_assert_eq(reg_fsm_apply_bytes(s_a.fsm, s_a.index, junk, sizeof junk, &r), 0);
    cr_assert_eq(reg_fsm_flush(s_a.fsm), 0);
    cr_expect_eq(r.status, CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(reg_fsm_applied(s_a.fsm), s_a.index);
    s_a.index++;
    Chat__RegistryCommand empty = CHAT__REGISTRY_COMMAND__INIT;
    cr_expect_eq(s_apply(&s_a, &empty).status, CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(reg_state_room_count(s_a.state), 3);
}

Test(registry_fsm, encoded_entries_are_whole_multiples_of_8_bytes_and_apply)
{
    //  libraft 0.15 misplaces the data of entries of any other size.
    char name[40] = "";
    for (int i = 0; i < 16; i++) {
        strcat(name, "x");
        Chat__RegistryCommand cmd;
        Chat__CreateRoomCommand body;
        reg_fsm_create_room_command(&cmd, &body, name, "", i, NULL);
        void *data = NULL;
        size_t size = 0;
        cr_assert_eq(reg_fsm_encode(&cmd, malloc, &data, &size), 0);
        cr_expect_eq(size % 8, 0, "%zu bytes", size);
        reg_fsm_result_t r;
        cr_assert_eq(reg_fsm_apply_bytes(s_a.fsm, s_a.index++, data, size, &r), 0);
        cr_expect_eq(r.status, CHAT__STATUS__STATUS_OK);
        free(data);
        cr_assert_eq(reg_fsm_flush(s_a.fsm), 0);
    }
    cr_expect_not_null(reg_state_room(s_a.state, "xxxxxxxxxxxxxxxx"));
}

// ------------------------------------------------------ nodes, grants

Test(registry_fsm, rooms_nodes_and_grants_survive_a_reopen)
{
    cr_assert_eq(s_create(&s_a, "Durable", "kept", 9, NULL).status, CHAT__STATUS__STATUS_OK);
    reg_node_t *node = s_live_node(&s_a, "roomd-a");
    reg_fsm_result_t r = s_grant(&s_a, "durable", node);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(r.room->epoch, 1);
    cr_expect_not(r.room->acked, "a grant waits for the roomd's confirmation");
    cr_expect_eq(node->rooms, 1);
    cr_expect_eq(reg_store_next_boot(s_a.store), 1);
    s_close(&s_a);
    s_open(&s_a);
    reg_room_t *room = reg_state_room(s_a.state, "durable");
    cr_assert_not_null(room);
    cr_expect_str_eq(room->description, "kept");
    cr_expect_str_eq(room->node, "roomd-a");
    cr_expect_str_eq(room->instance, "roomd-a/1");
    cr_expect_eq(room->epoch, 1);
    node = reg_state_node(s_a.state, "roomd-a");
    cr_assert_not_null(node);
    cr_expect_eq(node->rooms, 1);
    cr_expect(node->live, "known nodes get a lease of grace after a restart");
    cr_expect_not(node->has_peer);
    cr_expect_eq(reg_store_next_boot(s_a.store), 2);
}

Test(registry_fsm, a_grant_decided_on_an_older_state_is_refused)
{
    reg_node_t *a = s_live_node(&s_a, "roomd-a");
    cr_assert_eq(s_grant_at(&s_a, "general", "roomd-a", "roomd-a/1", 1).status,
                 CHAT__STATUS__STATUS_OK);
    //  A deposed leader decided epoch 1 too: applied after the first, refused.
    reg_fsm_result_t r = s_grant_at(&s_a, "general", "roomd-b", "roomd-b/1", 1);
    cr_expect_eq(r.status, CHAT__STATUS__STATUS_NOT_OWNER);
    cr_expect_eq(s_grant_at(&s_a, "general", "roomd-a", "roomd-a/1", 3).status,
                 CHAT__STATUS__STATUS_NOT_OWNER, "epochs are not skipped");
    cr_expect_eq(s_grant_at(&s_a, "general", "roomd-a", "roomd-a/7", 2).status,
                 CHAT__STATUS__STATUS_NOT_OWNER, "only the node's current instance");
    cr_expect_eq(s_grant_at(&s_a, "nowhere", "roomd-a", "roomd-a/1", 1).status,
                 CHAT__STATUS__STATUS_NOT_FOUND);
    reg_room_t *general = reg_state_room(s_a.state, "general");
    cr_expect_str_eq(general->node, "roomd-a");
    cr_expect_eq(general->epoch, 1);
    cr_expect_eq(a->rooms, 1);
}

Test(registry_fsm, a_new_process_of_a_node_takes_its_rooms_with_a_higher_epoch)
{
    reg_node_t *node = s_live_node(&s_a, "roomd-a");
    cr_expect_str_eq(node->instance, "roomd-a/1");
    cr_assert_eq(s_grant(&s_a, "general", node).status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(reg_state_rooms_granted(s_a.state, node), 1);

    reg_fsm_result_t r = s_register(&s_a, "roomd-a", NULL);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect(r.regranted);
    cr_expect_str_eq(r.node->instance, "roomd-a/2");
    reg_room_t *general = reg_state_room(s_a.state, "general");
    cr_expect_str_eq(general->instance, "roomd-a/2");
    cr_expect_eq(general->epoch, 2);
    cr_expect(general->acked, "the register reply carries the grant");
    cr_expect_eq(reg_state_rooms_granted(s_a.state, r.node), 1);
}

Test(registry_fsm, re_registering_with_the_current_instance_changes_nothing)
{
    reg_node_t *node = s_live_node(&s_a, "roomd-a");
    cr_assert_eq(s_grant(&s_a, "general", node).status, CHAT__STATUS__STATUS_OK);
    reg_fsm_result_t r = s_register(&s_a, "roomd-a", "roomd-a/1");
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect_not(r.regranted);
    cr_expect_str_eq(r.node->instance, "roomd-a/1");
    cr_expect_eq(reg_state_room(s_a.state, "general")->epoch, 1);
}

Test(registry_fsm, an_older_process_of_a_node_is_told_it_was_superseded)
{
    s_live_node(&s_a, "roomd-a");
    reg_fsm_result_t r = s_register(&s_a, "roomd-a", NULL);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(r.node->instance, "roomd-a/2");
    cr_expect_eq(s_register(&s_a, "roomd-a", "roomd-a/1").status, CHAT__STATUS__STATUS_NOT_OWNER);
}

Test(registry_fsm, a_registry_that_lost_its_data_adopts_the_roomds_instance)
{
    reg_fsm_result_t r = s_register(&s_a, "roomd-a", "roomd-a/7");
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(r.node->instance, "roomd-a/7");
    cr_expect_eq(r.node->boot, 7);
}

Test(registry_fsm, registration_fields_are_validated)
{
    cr_expect_eq(s_register(&s_a, "bad name", NULL).status, CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(s_register(&s_a, "", NULL).status, CHAT__STATUS__STATUS_BAD_REQUEST);
    Chat__RegisterRequest req = CHAT__REGISTER_REQUEST__INIT;
    req.node = "roomd-a";
    req.cmd_endpoint = "nowhere";
    req.pub_endpoint = "tcp://x:1";
    Chat__RegisterNodeCommand body = CHAT__REGISTER_NODE_COMMAND__INIT;
    body.request = &req;
    Chat__RegistryCommand cmd = CHAT__REGISTRY_COMMAND__INIT;
    cmd.kind_case = CHAT__REGISTRY_COMMAND__KIND_REGISTER_NODE;
    cmd.register_node = &body;
    cr_expect_eq(s_apply(&s_a, &cmd).status, CHAT__STATUS__STATUS_BAD_REQUEST);
    body.request = NULL;
    cr_expect_eq(s_apply(&s_a, &cmd).status, CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(reg_state_node_count(s_a.state), 0);
}

Test(registry_fsm, placement_skips_dead_and_full_nodes)
{
    reg_node_t *a = s_live_node(&s_a, "roomd-a");
    reg_node_t *b = s_live_node(&s_a, "roomd-b");
    a->max_rooms = 1;
    b->live = false;
    reg_node_t *chosen = reg_state_choose_node(s_a.state, "general");
    cr_assert_eq(chosen, a);
    cr_assert_eq(s_grant(&s_a, "general", a).status, CHAT__STATUS__STATUS_OK);
    cr_expect_null(reg_state_choose_node(s_a.state, "random"), "a is full and b is dead");
    b->live = true;
    cr_expect_eq(reg_state_choose_node(s_a.state, "random"), b);
    b->has_peer = false;
    cr_expect_null(reg_state_choose_node(s_a.state, "random"), "b cannot be told of a grant yet");
}

Test(registry_fsm, nodes_are_found_by_instance)
{
    reg_node_t *a = s_live_node(&s_a, "roomd-a");
    cr_expect_eq(reg_state_node_by_instance(s_a.state, "roomd-a/1"), a);
    cr_expect_null(reg_state_node_by_instance(s_a.state, "roomd-a/2"));
    cr_expect_null(reg_state_node_by_instance(s_a.state, "roomd-b/1"));
    cr_expect_null(reg_state_node_by_instance(s_a.state, "/1"));
    cr_expect_null(reg_state_node_by_instance(s_a.state, "garbage"));
}

Test(registry_fsm, a_catalog_that_lost_its_data_adopts_the_rooms_a_roomd_holds)
{
    //  A new catalog: the default rooms, never placed.
    const char *held[] = {"book-club", "Book Club", "4", "general", "general",
                          "6",         "Bad Id!",   "x", "1"};
    reg_fsm_result_t r = s_register_holding(&s_a, "roomd-a", "roomd-a/3", held, 3);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    reg_node_t *node = r.node;
    cr_expect_str_eq(node->instance, "roomd-a/3", "the roomd's instance is kept");
    cr_expect_not(r.regranted);
    reg_room_t *book = reg_state_room(s_a.state, "book-club");
    cr_assert_not_null(book, "a room the catalog lacked is added");
    cr_expect_str_eq(book->name, "Book Club");
    cr_expect_str_eq(book->description, "held");
    cr_expect_eq(book->created_at, 77);
    cr_expect_str_eq(book->node, "roomd-a");
    cr_expect_str_eq(book->instance, "roomd-a/3");
    cr_expect_eq(book->epoch, 4, "the epoch the roomd stored");
    reg_room_t *general = reg_state_room(s_a.state, "general");
    cr_expect_str_eq(general->node, "roomd-a", "a never-placed room goes where its history is");
    cr_expect_eq(general->epoch, 6);
    cr_expect_null(reg_state_room(s_a.state, "Bad Id!"), "malformed rooms are skipped");
    cr_expect_eq(node->rooms, 2);
    cr_expect_eq(reg_state_rooms_granted(s_a.state, node), 2);

    //  It survives a reopen, and a taken name is made unique.
    s_close(&s_a);
    s_open(&s_a);
    cr_assert_eq(s_create(&s_a, "Book Club", "", 1, NULL).status, CHAT__STATUS__STATUS_ROOM_EXISTS);
    cr_assert_eq(s_create(&s_a, "Chess", "", 1, NULL).status, CHAT__STATUS__STATUS_OK);
    const char *chess[] = {"chess-old", "chess", "2"};
    cr_assert_eq(s_register_holding(&s_a, "roomd-b", NULL, chess, 1).status,
                 CHAT__STATUS__STATUS_OK);
    reg_room_t *old = reg_state_room(s_a.state, "chess-old");
    cr_assert_not_null(old);
    cr_expect_str_eq(old->name, "chess (chess-old)");
    cr_expect_eq(old->epoch, 3, "a new instance takes its rooms at epoch + 1");
}

Test(registry_fsm, a_room_placed_elsewhere_is_not_taken_by_another_holder)
{
    reg_node_t *a = s_live_node(&s_a, "roomd-a");
    cr_assert_eq(s_grant(&s_a, "general", a).status, CHAT__STATUS__STATUS_OK);
    const char *held[] = {"general", "general", "9"};
    reg_fsm_result_t r = s_register_holding(&s_a, "roomd-b", NULL, held, 1);
    cr_assert_eq(r.status, CHAT__STATUS__STATUS_OK);
    reg_room_t *general = reg_state_room(s_a.state, "general");
    cr_expect_str_eq(general->node, "roomd-a");
    cr_expect_eq(general->epoch, 1);
    cr_expect_eq(r.node->rooms, 0);
}

// -------------------------------------------------------------- members

Test(registry_fsm, members_are_added_replaced_and_removed)
{
    s_member(&s_a, 2, "tcp://b:5555", false);
    s_member(&s_a, 3, "tcp://c:5555", false);
    s_member(&s_a, 2, "tcp://b2:5555", false);
    cr_expect_eq(reg_state_member_count(s_a.state), 2);
    cr_expect_str_eq(reg_state_member(s_a.state, 2)->endpoint, "tcp://b2:5555");
    s_member(&s_a, 3, "", true);
    cr_expect_null(reg_state_member(s_a.state, 3));
    cr_expect_eq(s_member(&s_a, 0, "tcp://x:1", false).status, CHAT__STATUS__STATUS_BAD_REQUEST);
    s_close(&s_a);
    s_open(&s_a);
    cr_expect_eq(reg_state_member_count(s_a.state), 1);
    cr_expect_str_eq(reg_state_member(s_a.state, 2)->raft_address, "127.0.0.1:7000");
}

// ------------------------------------------------------------ snapshots

//  A state with rooms, nodes, placements, tokens and members.
static void s_busy(s_member_t *m)
{
    reg_node_t *a = s_live_node(m, "roomd-a");
    s_live_node(m, "roomd-b");
    for (int i = 0; i < 20; i++) {
        char name[32], token[32];
        snprintf(name, sizeof name, "Room %d", i);
        snprintf(token, sizeof token, "t%d", i);
        cr_assert_eq(s_create(m, name, "busy", 100 + i, token).status, CHAT__STATUS__STATUS_OK);
    }
    cr_assert_eq(s_grant(m, "room-3", a).status, CHAT__STATUS__STATUS_OK);
    cr_assert_eq(s_register(m, "roomd-a", NULL).status, CHAT__STATUS__STATUS_OK);
    s_member(m, 1, "tcp://a:5555", false);
}

Test(registry_fsm, a_snapshot_restored_on_a_new_registry_gives_the_same_state)
{
    s_busy(&s_a);
    void *data = NULL;
    size_t size = 0;
    cr_assert_eq(reg_fsm_snapshot(s_a.fsm, malloc, &data, &size), 0);

    s_member_t b;
    s_member_start(&b, "regfsm-b");
    cr_assert_eq(reg_fsm_restore(b.fsm, data, size, 5000), 0);
    char *want = s_dump(&s_a), *got = s_dump(&b);
    cr_expect_str_eq(got, want);
    cr_expect_eq(reg_state_node(b.state, "roomd-a")->rooms, 1);
    cr_expect_not_null(reg_state_room_by_token(b.state, "t7"));

    //  The same entries applied after it keep both alike; and the restored
    //  state is in LMDB: it survives a reopen.
    b.index = s_a.index;
    cr_assert_eq(s_create(&s_a, "After", "", 1, "ta").status, CHAT__STATUS__STATUS_OK);
    cr_assert_eq(s_create(&b, "After", "", 1, "ta").status, CHAT__STATUS__STATUS_OK);
    s_close(&b);
    s_open(&b);
    free(want);
    free(got);
    want = s_dump(&s_a);
    got = s_dump(&b);
    cr_expect_str_eq(got, want);
    free(want);
    free(got);
    free(data);
    s_member_end(&b);
}

Test(registry_fsm, a_snapshot_behind_the_applied_state_is_not_restored)
{
    void *data = NULL;
    size_t size = 0;
    cr_assert_eq(reg_fsm_snapshot(s_a.fsm, malloc, &data, &size), 0);
    s_busy(&s_a);
    char *before = s_dump(&s_a);
    cr_assert_eq(reg_fsm_restore(s_a.fsm, data, size, 5000), 0);
    char *after = s_dump(&s_a);
    cr_expect_str_eq(after, before);
    free(before);
    free(after);
    free(data);
}

Test(registry_fsm, a_snapshot_that_does_not_decode_changes_nothing)
{
    s_busy(&s_a);
    char *before = s_dump(&s_a);
    const char junk[] = "\x0a\xff\xff\xff\xff junk";
    cr_expect_eq(reg_fsm_restore(s_a.fsm, junk, sizeof junk, 5000), -1);
    char *after = s_dump(&s_a);
    cr_expect_str_eq(after, before);
    free(before);
    free(after);
}

Test(registry_fsm, pages_of_rooms_come_in_id_order_and_cover_the_catalog_once)
{
    s_seed(&s_a, 1);
    //  Created out of id order; the three default rooms are there too.
    const char *names[] = {"zeta", "alpha", "Mid Room", "beta", "omega", "delta"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_eq(s_create(&s_a, names[i], "", 1000 + (int64_t)i, NULL).status,
                     CHAT__STATUS__STATUS_OK);
    size_t total = reg_state_room_count(s_a.state);
    cr_assert_eq(total, 9);
    reg_room_t *page[4];
    char after[80] = "";
    size_t seen = 0;
    char prev[80] = "";
    for (int pages = 0; pages < 10; pages++) {
        size_t n = reg_state_rooms_after(s_a.state, after, page, 4);
        for (size_t i = 0; i < n; i++) {
            cr_expect(strcmp(page[i]->id, prev) > 0, "%s after %s", page[i]->id, prev);
            snprintf(prev, sizeof prev, "%s", page[i]->id);
        }
        seen += n;
        if (n < 4)
            break;
        snprintf(after, sizeof after, "%s", page[n - 1]->id);
    }
    cr_expect_eq(seen, total, "every room once");
    //  A room created between two pages shows in a later page when its id
    //  sorts after the last one read.
    cr_assert_eq(reg_state_rooms_after(s_a.state, "", page, 2), 2);
    cr_expect_str_eq(page[0]->id, "alpha");
    cr_expect_str_eq(page[1]->id, "beta");
    cr_assert_eq(s_create(&s_a, "Charlie", "", 2000, NULL).status, CHAT__STATUS__STATUS_OK);
    cr_assert_eq(reg_state_rooms_after(s_a.state, "beta", page, 1), 1);
    cr_expect_str_eq(page[0]->id, "charlie");
    cr_expect_eq(reg_state_rooms_after(s_a.state, "zeta", page, 4), 0, "nothing after the last");
}

Test(registry_fsm, the_id_order_survives_a_reopen)
{
    s_seed(&s_a, 1);
    cr_assert_eq(s_create(&s_a, "b2", "", 1, NULL).status, CHAT__STATUS__STATUS_OK);
    cr_assert_eq(s_create(&s_a, "a1", "", 2, NULL).status, CHAT__STATUS__STATUS_OK);
    s_close(&s_a);
    s_open(&s_a);
    reg_room_t *page[8];
    size_t n = reg_state_rooms_after(s_a.state, NULL, page, 8);
    cr_assert_eq(n, 5);
    const char *ids[] = {"a1", "b2", "general", "random", "tech"};
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(page[i]->id, ids[i]);
}
