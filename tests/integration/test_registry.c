/*  The registry binary, driven by scripted roomds and gateways over ZeroMQ. */
#include "chat_clock.h"
#include "chat_test.h"
#include "chat_wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static char *s_dir;
static chat_proc_t *s_registry;
static int s_port, s_pub_port;
static uint64_t s_next_id = 1;

//  Starts the registry: on free ports the first time (s_port 0), on the same
//  ports when it is restarted.
static void s_start_registry(const char *lease_ms)
{
    char bind[64] = "tcp://127.0.0.1:*", pub[64] = "tcp://127.0.0.1:*";
    if (s_port > 0) {
        snprintf(bind, sizeof bind, "%s", chat_tcp(s_port));
        snprintf(pub, sizeof pub, "%s", chat_tcp(s_pub_port));
    }
    const char *args[] = {"--bind",
                          bind,
                          "--pub-bind",
                          pub,
                          "--data",
                          s_dir,
                          "--heartbeat-ms",
                          "200",
                          "--lease-ms",
                          lease_ms,
                          "--assign-timeout-ms",
                          "1500",
                          "--log-level",
                          "debug",
                          NULL};
    s_registry = chat_proc_start("registry", args, s_dir, "registry");
    cr_assert_not_null(s_registry);
    cr_assert(chat_proc_wait_ready(s_registry, 20000), "the registry did not bind");
    s_port = chat_proc_ready_port(s_registry, "bind");
    s_pub_port = chat_proc_ready_port(s_registry, "pub");
}

static bool s_answers(const Chat__Envelope *reply, void *arg)
{
    return reply->body_case == CHAT__ENVELOPE__BODY_STATS_REPLY;
}

static void s_wait_registry(void)
{
    Chat__StatsRequest stats = CHAT__STATS_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = s_next_id++;
    env.body_case = CHAT__ENVELOPE__BODY_STATS;
    env.stats = &stats;
    cr_assert(chat_wait_for(chat_tcp(s_port), &env, s_answers, NULL, 20000),
              "the registry at port %d did not answer Stats in 20 s", s_port);
}

static void s_setup(void)
{
    s_dir = chat_temp_dir("registry");
    //  The registry's three ports (requests, events, Raft on + 2), below the
    //  ephemeral range.
    s_port = chat_free_ports(3);
    s_pub_port = s_port + 1;
    s_start_registry("1000");
    s_wait_registry();
}

static void s_teardown(void)
{
    cr_expect(chat_proc_stop_clean(&s_registry), "the registry did not exit cleanly");
    chat_remove_tree(s_dir);
    free(s_dir);
}

TestSuite(registry, .init = s_setup, .fini = s_teardown, .timeout = 60);

// ---------------------------------------------------------- a fake roomd

typedef struct {
    const char *node;    //  node name
    zsock_t *sock;       //  DEALER to the registry
    char instance[96];   //  instance issued at registration
    size_t assigned;     //  grants received
    uint64_t last_epoch; //  epoch of the last grant received
    bool refuse;         //  answer grants with UNAVAILABLE
} s_roomd_t;

static s_roomd_t *s_roomd_new(const char *node)
{
    s_roomd_t *r = calloc(1, sizeof *r);
    r->node = node;
    r->sock = zsock_new(ZMQ_DEALER);
    chat_wire_tune(r->sock);
    cr_assert_eq(zsock_connect(r->sock, "%s", chat_tcp(s_port)), 0);
    return r;
}

static void s_roomd_destroy(s_roomd_t **r)
{
    zsock_destroy(&(*r)->sock);
    free(*r);
    *r = NULL;
}

//  Receives the next envelope on sock within ms, or NULL.
static Chat__Envelope *s_recv(zsock_t *sock, chat_peer_t *peer, int ms)
{
    int64_t deadline = chat_mono_ms() + ms;
    zpoller_t *poller = zpoller_new(sock, NULL);
    Chat__Envelope *env = NULL;
    while (!env && chat_mono_ms() < deadline) {
        zpoller_wait(poller, (int)(deadline - chat_mono_ms()));
        if (chat_wire_recv(sock, peer, &env) != CHAT_WIRE_GOT)
            env = NULL;
    }
    zpoller_destroy(&poller);
    return env;
}

//  Answers a grant, counting it. Returns true when env was a grant.
static bool s_roomd_handle(s_roomd_t *r, const Chat__Envelope *env)
{
    if (env->body_case != CHAT__ENVELOPE__BODY_ASSIGN)
        return false;
    cr_expect_str_eq(env->assign->instance, r->instance);
    Chat__AssignReply reply = CHAT__ASSIGN_REPLY__INIT;
    reply.status = r->refuse ? CHAT__STATUS__STATUS_UNAVAILABLE : CHAT__STATUS__STATUS_OK;
    reply.room_id = env->assign->assignment->room->id;
    reply.epoch = env->assign->assignment->epoch;
    r->assigned++;
    r->last_epoch = reply.epoch;
    Chat__Envelope out = CHAT__ENVELOPE__INIT;
    out.req_id = env->req_id;
    out.body_case = CHAT__ENVELOPE__BODY_ASSIGN_REPLY;
    out.assign_reply = &reply;
    chat_wire_send(r->sock, NULL, &out);
    return true;
}

//  Sends a request from the roomd and returns the reply (answering grants meanwhile).
static Chat__Envelope *s_roomd_call(s_roomd_t *r, Chat__Envelope *env)
{
    env->req_id = s_next_id++;
    cr_assert_eq(chat_wire_send(r->sock, NULL, env), 0);
    int64_t deadline = chat_mono_ms() + 5000;
    while (chat_mono_ms() < deadline) {
        Chat__Envelope *got = s_recv(r->sock, NULL, 200);
        if (got && got->req_id == env->req_id)
            return got;
        if (got)
            s_roomd_handle(r, got);
        chat_envelope_free(&got);
    }
    return NULL;
}

static Chat__RegisterReply *s_register(s_roomd_t *r, const char *prev, Chat__Envelope **keep)
{
    char cmd[64], pub[64];
    snprintf(cmd, sizeof cmd, "tcp://%s.test:5600", r->node);
    snprintf(pub, sizeof pub, "tcp://%s.test:5601", r->node);
    Chat__RegisterRequest req = CHAT__REGISTER_REQUEST__INIT;
    req.node = (char *)r->node;
    req.cmd_endpoint = cmd;
    req.pub_endpoint = pub;
    req.prev_instance = (char *)(prev ? prev : "");
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER;
    env.register_ = &req;
    *keep = s_roomd_call(r, &env);
    cr_assert_not_null(*keep, "no register reply");
    cr_assert_eq((*keep)->body_case, CHAT__ENVELOPE__BODY_REGISTER_REPLY);
    Chat__RegisterReply *reply = (*keep)->register_reply;
    if (reply->status == CHAT__STATUS__STATUS_OK)
        snprintf(r->instance, sizeof r->instance, "%s", reply->instance);
    return reply;
}

static void s_register_ok(s_roomd_t *r)
{
    Chat__Envelope *env = NULL;
    Chat__RegisterReply *reply = s_register(r, NULL, &env);
    cr_assert_eq(reply->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(reply->heartbeat_ms, 200);
    cr_expect_eq(reply->lease_ms, 1000);
    chat_envelope_free(&env);
}

static Chat__HeartbeatReply *s_heartbeat(s_roomd_t *r, uint32_t count, Chat__Envelope **keep)
{
    Chat__HeartbeatRequest req = CHAT__HEARTBEAT_REQUEST__INIT;
    req.instance = r->instance;
    req.assigned_count = count;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &req;
    *keep = s_roomd_call(r, &env);
    cr_assert_not_null(*keep);
    cr_assert_eq((*keep)->body_case, CHAT__ENVELOPE__BODY_HEARTBEAT_REPLY);
    return (*keep)->heartbeat_reply;
}

// --------------------------------------------------------- a gateway

//  Looks room up (placing it), while every roomd in roomds answers grants.
static Chat__Envelope *s_lookup(const char *room, s_roomd_t **roomds, size_t n)
{
    zsock_t *gw = zsock_new(ZMQ_DEALER);
    chat_wire_tune(gw);
    cr_assert_eq(zsock_connect(gw, "%s", chat_tcp(s_port)), 0);
    Chat__LookupRequest req = CHAT__LOOKUP_REQUEST__INIT;
    req.room_id = (char *)room;
    req.place = true;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = s_next_id++;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &req;
    cr_assert_eq(chat_wire_send(gw, NULL, &env), 0);
    Chat__Envelope *reply = NULL;
    int64_t deadline = chat_mono_ms() + 8000;
    while (!reply && chat_mono_ms() < deadline) {
        reply = s_recv(gw, NULL, 20);
        for (size_t i = 0; i < n; i++) {
            Chat__Envelope *got = s_recv(roomds[i]->sock, NULL, 5);
            if (got)
                s_roomd_handle(roomds[i], got);
            chat_envelope_free(&got);
        }
    }
    zsock_destroy(&gw);
    cr_assert_not_null(reply, "no lookup reply for %s", room);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_LOOKUP_REPLY);
    return reply;
}

static Chat__Envelope *s_simple(Chat__Envelope *env)
{
    env->req_id = s_next_id++;
    Chat__Envelope *reply = chat_request(chat_tcp(s_port), env, 5000);
    cr_assert_not_null(reply);
    return reply;
}

static Chat__Envelope *s_create_room(const char *name)
{
    Chat__CreateRoomRequest req = CHAT__CREATE_ROOM_REQUEST__INIT;
    req.name = (char *)name;
    req.description = "made by a test";
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
    env.create_room = &req;
    return s_simple(&env);
}

// ----------------------------------------------------------------- tests

Test(registry, places_a_room_only_after_the_roomd_confirms_the_grant)
{
    s_roomd_t *a = s_roomd_new("roomd-a");
    s_register_ok(a);
    cr_expect_str_eq(a->instance, "roomd-a/1");
    Chat__Envelope *reply = s_lookup("general", &a, 1);
    Chat__LookupReply *lookup = reply->lookup_reply;
    cr_assert_eq(lookup->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(a->assigned, 1, "the roomd got the grant before the answer");
    cr_expect_str_eq(lookup->placement->node, "roomd-a");
    cr_expect_str_eq(lookup->placement->instance, "roomd-a/1");
    cr_expect_str_eq(lookup->placement->cmd_endpoint, "tcp://roomd-a.test:5600");
    cr_expect_str_eq(lookup->placement->pub_endpoint, "tcp://roomd-a.test:5601");
    cr_expect_eq(lookup->placement->epoch, 1);
    cr_expect_str_eq(lookup->room->description, "General discussion");
    chat_envelope_free(&reply);

    //  A second lookup is answered from the table: no new grant.
    reply = s_lookup("general", &a, 1);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(a->assigned, 1);
    chat_envelope_free(&reply);
    s_roomd_destroy(&a);
}

Test(registry, a_refused_grant_answers_unavailable_and_is_retried_on_the_next_lookup)
{
    s_roomd_t *a = s_roomd_new("roomd-a");
    s_register_ok(a);
    a->refuse = true;
    Chat__Envelope *reply = s_lookup("tech", &a, 1);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_UNAVAILABLE);
    chat_envelope_free(&reply);
    a->refuse = false;
    reply = s_lookup("tech", &a, 1);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(reply->lookup_reply->placement->epoch, 1, "the same grant, sent again");
    cr_expect_eq(a->assigned, 2);
    chat_envelope_free(&reply);
    s_roomd_destroy(&a);
}

Test(registry, unknown_rooms_are_not_found_and_rooms_without_roomds_are_unavailable)
{
    Chat__Envelope *reply = s_lookup("no-such-room", NULL, 0);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_NOT_FOUND);
    chat_envelope_free(&reply);
    reply = s_lookup("general", NULL, 0);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_UNAVAILABLE);
    cr_expect_null(reply->lookup_reply->placement);
    chat_envelope_free(&reply);
}

Test(registry, rooms_spread_over_two_roomds)
{
    s_roomd_t *roomds[2] = {s_roomd_new("roomd-a"), s_roomd_new("roomd-b")};
    s_register_ok(roomds[0]);
    s_register_ok(roomds[1]);
    int on_a = 0, on_b = 0;
    for (int i = 0; i < 16; i++) {
        char name[32];
        snprintf(name, sizeof name, "spread %d", i);
        Chat__Envelope *created = s_create_room(name);
        cr_assert_eq(created->create_room_reply->status, CHAT__STATUS__STATUS_OK);
        Chat__Envelope *reply = s_lookup(created->create_room_reply->room->id, roomds, 2);
        cr_assert_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_OK);
        if (strcmp(reply->lookup_reply->placement->node, "roomd-a") == 0)
            on_a++;
        else
            on_b++;
        chat_envelope_free(&reply);
        chat_envelope_free(&created);
    }
    cr_expect_gt(on_a, 2, "roomd-a got %d of 16", on_a);
    cr_expect_gt(on_b, 2, "roomd-b got %d of 16", on_b);
    cr_expect_eq(roomds[0]->assigned + roomds[1]->assigned, 16);
    s_roomd_destroy(&roomds[0]);
    s_roomd_destroy(&roomds[1]);
}

Test(registry, max_rooms_is_respected)
{
    s_roomd_t *a = s_roomd_new("roomd-a");
    char cmd[] = "tcp://roomd-a.test:5600", pub[] = "tcp://roomd-a.test:5601";
    Chat__RegisterRequest req = CHAT__REGISTER_REQUEST__INIT;
    req.node = "roomd-a";
    req.cmd_endpoint = cmd;
    req.pub_endpoint = pub;
    req.max_rooms = 1;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER;
    env.register_ = &req;
    Chat__Envelope *reg = s_roomd_call(a, &env);
    cr_assert_eq(reg->register_reply->status, CHAT__STATUS__STATUS_OK);
    snprintf(a->instance, sizeof a->instance, "%s", reg->register_reply->instance);
    chat_envelope_free(&reg);
    Chat__Envelope *reply = s_lookup("general", &a, 1);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&reply);
    reply = s_lookup("random", &a, 1);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_UNAVAILABLE);
    chat_envelope_free(&reply);
    s_roomd_destroy(&a);
}

Test(registry, a_restarted_roomd_gets_its_rooms_back_with_a_higher_epoch)
{
    s_roomd_t *a = s_roomd_new("roomd-a");
    s_register_ok(a);
    Chat__Envelope *reply = s_lookup("general", &a, 1);
    cr_assert_eq(reply->lookup_reply->placement->epoch, 1);
    chat_envelope_free(&reply);

    //  A new process of the same node registers without prev_instance.
    s_roomd_t *a2 = s_roomd_new("roomd-a");
    Chat__Envelope *env = NULL;
    Chat__RegisterReply *reg = s_register(a2, NULL, &env);
    cr_assert_eq(reg->status, CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(reg->instance, "roomd-a/2");
    cr_assert_eq(reg->n_assignments, 1);
    cr_expect_str_eq(reg->assignments[0]->room->id, "general");
    cr_expect_eq(reg->assignments[0]->epoch, 2);
    chat_envelope_free(&env);

    reply = s_lookup("general", &a2, 1);
    cr_expect_str_eq(reply->lookup_reply->placement->instance, "roomd-a/2");
    cr_expect_eq(reply->lookup_reply->placement->epoch, 2);
    chat_envelope_free(&reply);

    //  The old process's heartbeat is refused, and so is its re-registration.
    Chat__HeartbeatReply *beat = s_heartbeat(a, 1, &env);
    cr_expect_eq(beat->status, CHAT__STATUS__STATUS_UNKNOWN_INSTANCE);
    chat_envelope_free(&env);
    reg = s_register(a, "roomd-a/1", &env);
    cr_expect_eq(reg->status, CHAT__STATUS__STATUS_NOT_OWNER);
    chat_envelope_free(&env);
    s_roomd_destroy(&a);
    s_roomd_destroy(&a2);
}

Test(registry, a_heartbeat_with_the_wrong_count_gets_the_full_assignment_list)
{
    s_roomd_t *a = s_roomd_new("roomd-a");
    s_register_ok(a);
    Chat__Envelope *reply = s_lookup("general", &a, 1);
    chat_envelope_free(&reply);
    Chat__Envelope *env = NULL;
    Chat__HeartbeatReply *beat = s_heartbeat(a, 1, &env);
    cr_expect_eq(beat->status, CHAT__STATUS__STATUS_OK);
    cr_expect_not(beat->full);
    chat_envelope_free(&env);
    beat = s_heartbeat(a, 0, &env);
    cr_expect(beat->full);
    cr_assert_eq(beat->n_assignments, 1);
    cr_expect_str_eq(beat->assignments[0]->room->id, "general");
    cr_expect_eq(beat->assignments[0]->epoch, 1);
    chat_envelope_free(&env);
    s_roomd_destroy(&a);
}

Test(registry, a_roomd_that_misses_its_lease_makes_its_rooms_unavailable_until_it_returns)
{
    s_roomd_t *a = s_roomd_new("roomd-a");
    s_register_ok(a);
    Chat__Envelope *reply = s_lookup("general", &a, 1);
    cr_assert_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&reply);

    //  Silent for longer than the 1 s lease.
    int64_t deadline = chat_mono_ms() + 5000;
    Chat__Status status = CHAT__STATUS__STATUS_OK;
    while (status == CHAT__STATUS__STATUS_OK && chat_mono_ms() < deadline) {
        chat_sleep_ms(200);
        reply = s_lookup("general", NULL, 0);
        status = reply->lookup_reply->status;
        if (status == CHAT__STATUS__STATUS_UNAVAILABLE)
            cr_expect_str_eq(reply->lookup_reply->placement->node, "roomd-a",
                             "the room stays where its history is");
        chat_envelope_free(&reply);
    }
    cr_assert_eq(status, CHAT__STATUS__STATUS_UNAVAILABLE);

    Chat__Envelope *env = NULL;
    Chat__HeartbeatReply *beat = s_heartbeat(a, 1, &env);
    cr_expect_eq(beat->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&env);
    reply = s_lookup("general", &a, 1);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_OK);
    cr_expect_eq(reply->lookup_reply->placement->epoch, 1, "same instance, same grant");
    chat_envelope_free(&reply);
    s_roomd_destroy(&a);
}

Test(registry, a_restarted_registry_keeps_rooms_placements_and_instances)
{
    s_roomd_t *a = s_roomd_new("roomd-a");
    s_register_ok(a);
    Chat__Envelope *created = s_create_room("Survivor");
    cr_assert_eq(created->create_room_reply->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&created);
    Chat__Envelope *reply = s_lookup("survivor", &a, 1);
    cr_assert_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&reply);

    cr_assert_neq(chat_proc_signal(s_registry, SIGKILL, 5000), -1);
    chat_proc_stop(&s_registry);
    s_start_registry("1000");
    s_wait_registry();

    //  Lookups work at once, before the roomd's next heartbeat.
    reply = s_lookup("survivor", NULL, 0);
    cr_expect_eq(reply->lookup_reply->status, CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(reply->lookup_reply->placement->instance, "roomd-a/1");
    cr_expect_eq(reply->lookup_reply->placement->epoch, 1);
    chat_envelope_free(&reply);

    //  The roomd's heartbeat is recognised: nothing to re-register.
    Chat__Envelope *env = NULL;
    Chat__HeartbeatReply *beat = s_heartbeat(a, 1, &env);
    cr_expect_eq(beat->status, CHAT__STATUS__STATUS_OK);
    cr_expect_not(beat->full);
    chat_envelope_free(&env);
    s_roomd_destroy(&a);
}

Test(registry, room_creation_is_published_and_placements_carry_sequence_numbers)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_subscribe(sub, "registry");
    cr_assert_eq(zsock_connect(sub, "%s", chat_tcp(s_pub_port)), 0);
    //  Wait for a heartbeat: the subscription is in place.
    chat_peer_t topic;
    Chat__Envelope *event = s_recv(sub, &topic, 3000);
    cr_assert_not_null(event, "no heartbeat on the PUB socket");
    cr_expect(chat_peer_is(&topic, "registry"));
    uint64_t boot = event->registry_event->boot;
    uint64_t last_seq = event->registry_event->seq;
    chat_envelope_free(&event);

    Chat__CreateRoomRequest req = CHAT__CREATE_ROOM_REQUEST__INIT;
    req.name = "Published";
    req.description = "";
    req.origin_gateway = "gw-test";
    req.origin_conn = 7;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
    env.create_room = &req;
    Chat__Envelope *reply = s_simple(&env);
    cr_assert_eq(reply->create_room_reply->status, CHAT__STATUS__STATUS_OK);
    chat_envelope_free(&reply);

    bool seen = false;
    int64_t deadline = chat_mono_ms() + 3000;
    while (!seen && chat_mono_ms() < deadline) {
        event = s_recv(sub, &topic, 500);
        if (!event)
            continue;
        Chat__RegistryEvent *e = event->registry_event;
        cr_expect_eq(e->boot, boot);
        cr_expect_eq(e->seq, last_seq + 1, "no gap in the event sequence");
        last_seq = e->seq;
        if (e->kind_case == CHAT__REGISTRY_EVENT__KIND_ROOM_CREATED) {
            cr_expect_str_eq(e->room_created->room->id, "published");
            cr_expect_str_eq(e->room_created->origin_gateway, "gw-test");
            cr_expect_eq(e->room_created->origin_conn, 7);
            seen = true;
        }
        chat_envelope_free(&event);
    }
    cr_expect(seen);
    zsock_destroy(&sub);
}

//  A ListRooms page: after, limit (0: every room).
static Chat__Envelope *s_list(const char *after, uint32_t limit)
{
    Chat__ListRoomsRequest req = CHAT__LIST_ROOMS_REQUEST__INIT;
    req.after = (char *)after;
    req.limit = limit;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_ROOMS;
    env.list_rooms = &req;
    Chat__Envelope *reply = s_simple(&env);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_LIST_ROOMS_REPLY);
    cr_assert_eq(reply->list_rooms_reply->status, CHAT__STATUS__STATUS_OK);
    return reply;
}

Test(registry, list_rooms_pages_through_the_catalog_in_id_order)
{
    const char *names[] = {"Kilo", "Alpha", "Zulu", "Echo", "Bravo"};
    for (size_t i = 0; i < 5; i++) {
        Chat__Envelope *made = s_create_room(names[i]);
        cr_assert_eq(made->create_room_reply->status, CHAT__STATUS__STATUS_OK);
        chat_envelope_free(&made);
    }
    //  Without limit: every room, oldest first, as before.
    Chat__Envelope *all = s_list("", 0);
    const Chat__ListRoomsReply *list = all->list_rooms_reply;
    cr_assert_eq(list->n_rooms, 8);
    cr_expect_str_eq(list->rooms[7]->room->id, "bravo", "the newest last");
    cr_expect_str_eq(list->next_after, "");
    cr_expect_eq(list->total, 8);
    chat_envelope_free(&all);
    //  Pages of 3 in id order.
    const char *order[] = {"alpha", "bravo", "echo", "general", "kilo", "random", "tech", "zulu"};
    char after[80] = "";
    size_t seen = 0;
    for (int page = 0; page < 3; page++) {
        Chat__Envelope *reply = s_list(after, 3);
        list = reply->list_rooms_reply;
        cr_expect_eq(list->total, 8);
        for (size_t i = 0; i < list->n_rooms; i++, seen++)
            cr_expect_str_eq(list->rooms[i]->room->id, order[seen]);
        if (page < 2)
            cr_expect_str_eq(list->next_after, order[seen - 1]);
        else
            cr_expect_str_eq(list->next_after, "", "the last page says so");
        snprintf(after, sizeof after, "%s", list->next_after);
        chat_envelope_free(&reply);
    }
    cr_expect_eq(seen, 8);
}

Test(registry, garbage_leaves_the_registry_alive_and_counted)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    chat_wire_tune(sock);
    cr_assert_eq(zsock_connect(sock, "%s", chat_tcp(s_port)), 0);
    zstr_send(sock, "definitely not protobuf \xff\xfe");
    zstr_sendm(sock, "two");
    zstr_send(sock, "frames");
    zsock_send(sock, "b", "", (size_t)0);
    srand(42);
    for (int i = 0; i < 200; i++) {
        uint8_t junk[64];
        size_t len = 1 + (size_t)(rand() % 64);
        for (size_t k = 0; k < len; k++)
            junk[k] = (uint8_t)rand();
        zsock_send(sock, "b", junk, len);
    }
    //  Well-formed envelopes that are not registry requests, or lack fields.
    Chat__JoinRequest join = CHAT__JOIN_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = 99;
    env.body_case = CHAT__ENVELOPE__BODY_JOIN;
    env.join = &join;
    chat_wire_send(sock, NULL, &env);
    Chat__Envelope *reply = s_recv(sock, NULL, 3000);
    cr_assert_not_null(reply);
    cr_expect_eq(reply->body_case, CHAT__ENVELOPE__BODY_ERROR);
    cr_expect_eq(reply->error->status, CHAT__STATUS__STATUS_BAD_REQUEST);
    chat_envelope_free(&reply);
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &lookup;
    chat_wire_send(sock, NULL, &env);
    reply = s_recv(sock, NULL, 3000);
    cr_assert_not_null(reply);
    cr_expect_eq(reply->body_case, CHAT__ENVELOPE__BODY_ERROR);
    chat_envelope_free(&reply);
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT; //  all fields empty
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER;
    env.register_ = &reg;
    chat_wire_send(sock, NULL, &env);
    reply = s_recv(sock, NULL, 3000);
    cr_assert_not_null(reply);
    cr_expect_eq(reply->register_reply->status, CHAT__STATUS__STATUS_BAD_REQUEST);
    chat_envelope_free(&reply);
    zsock_destroy(&sock);

    cr_assert(chat_proc_alive(s_registry));
    Chat__StatsRequest stats = CHAT__STATS_REQUEST__INIT;
    Chat__Envelope req = CHAT__ENVELOPE__INIT;
    req.body_case = CHAT__ENVELOPE__BODY_STATS;
    req.stats = &stats;
    reply = s_simple(&req);
    cr_assert_eq(reply->body_case, CHAT__ENVELOPE__BODY_STATS_REPLY);
    uint64_t bad_frames = 0;
    for (size_t i = 0; i < reply->stats_reply->n_counters; i++)
        if (strcmp(reply->stats_reply->counters[i]->name, "bad_frames") == 0)
            bad_frames = reply->stats_reply->counters[i]->value;
    cr_expect_geq(bad_frames, 150, "most random frames are counted as bad (%lu)",
                  (unsigned long)bad_frames);
    chat_envelope_free(&reply);
}
