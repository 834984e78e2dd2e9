/*  roomd's side of the registry protocol (rd_registry_link), against a
 *  scripted registry on an inproc ROUTER. */
#include "chat_test.h"
#include "rd_registry_link.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

static char *s_dir;
static rd_store_t *s_store;
static rd_host_t *s_host;
static zsock_t *s_registry;
static zsock_t *s_dealer;
static rd_registry_link_t *s_link;
static chat_peer_t s_peer;
static int64_t s_now = 10000;

static void s_ignore_reply(void *ctx, const chat_peer_t *peer, const void *data, size_t size)
{
}

static void s_ignore_publish(void *ctx, const char *topic, const void *data, size_t size)
{
}

static rd_sink_t s_sink = {s_ignore_reply, s_ignore_publish, NULL};

static void s_setup(void)
{
    s_dir = chat_temp_dir("rdlink");
    s_store = rd_store_open(s_dir, 16);
    rd_host_opts_t opts = {.idle_ms = 60000, .session_lease_ms = 5000, .tick_ms = 1000};
    s_host = rd_host_new(s_store, &opts);
    s_registry = zsock_new(ZMQ_ROUTER);
    chat_wire_tune(s_registry);
    cr_assert_eq(zsock_bind(s_registry, "inproc://registry-link-test"), 0);
    s_dealer = zsock_new(ZMQ_DEALER);
    chat_wire_tune(s_dealer);
    cr_assert_eq(zsock_connect(s_dealer, "inproc://registry-link-test"), 0);
    rd_registry_link_opts_t link_opts = {.node = "n",
                                         .cmd_endpoint = "tcp://host:5600",
                                         .pub_endpoint = "tcp://host:5601",
                                         .max_rooms = 3};
    s_link = rd_registry_link_new(s_dealer, s_host, &link_opts);
    cr_assert_not_null(s_link);
}

static void s_teardown(void)
{
    rd_registry_link_destroy(&s_link);
    zsock_destroy(&s_dealer);
    zsock_destroy(&s_registry);
    rd_host_destroy(&s_host);
    rd_store_destroy(&s_store);
    chat_remove_tree(s_dir);
    free(s_dir);
}

TestSuite(link, .init = s_setup, .fini = s_teardown, .timeout = 30);

//  Runs the link's timers, then returns what the scripted registry received (or NULL).
static Chat__Envelope *s_registry_recv(void)
{
    rd_registry_link_timers(s_link, s_now);
    zpoller_t *poller = zpoller_new(s_registry, NULL);
    Chat__Envelope *env = NULL;
    if (zpoller_wait(poller, 200))
        chat_wire_recv(s_registry, &s_peer, &env);
    zpoller_destroy(&poller);
    return env;
}

static void s_deliver(Chat__Envelope *reply)
{
    rd_registry_link_handle(s_link, reply, s_now);
    rd_host_flush(s_host, &s_sink);
}

static Chat__Assignment s_assignment(Chat__RoomInfo *info, const char *room, uint64_t epoch)
{
    chat__room_info__init(info);
    info->id = (char *)room;
    info->name = (char *)room;
    Chat__Assignment a = CHAT__ASSIGNMENT__INIT;
    a.room = info;
    a.epoch = epoch;
    return a;
}

//  Expects a register (with prev_instance prev) and answers it.
static void s_register(const char *prev, Chat__Status status, const char *instance,
                       Chat__Assignment **list, size_t count)
{
    Chat__Envelope *req = s_registry_recv();
    cr_assert_not_null(req, "no register sent");
    cr_assert_eq(req->body_case, CHAT__ENVELOPE__BODY_REGISTER);
    cr_expect_str_eq(req->register_->node, "n");
    cr_expect_str_eq(req->register_->cmd_endpoint, "tcp://host:5600");
    cr_expect_eq(req->register_->max_rooms, 3);
    cr_expect_str_eq(req->register_->prev_instance, prev);
    Chat__RegisterReply reply = CHAT__REGISTER_REPLY__INIT;
    reply.status = status;
    reply.instance = (char *)instance;
    reply.heartbeat_ms = 100;
    reply.assignments = list;
    reply.n_assignments = count;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req->req_id;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER_REPLY;
    env.register_reply = &reply;
    chat_envelope_free(&req);
    s_deliver(&env);
}

//  Expects a heartbeat and answers it.
static void s_heartbeat(uint32_t count, Chat__Status status, bool full, Chat__Assignment **list,
                        size_t n)
{
    s_now += 100;
    Chat__Envelope *req = s_registry_recv();
    cr_assert_not_null(req, "no heartbeat sent");
    cr_assert_eq(req->body_case, CHAT__ENVELOPE__BODY_HEARTBEAT);
    cr_expect_eq(req->heartbeat->assigned_count, count);
    cr_assert_not_null(req->heartbeat->stats);
    cr_expect_eq(req->heartbeat->stats->rooms_assigned, count);
    Chat__HeartbeatReply reply = CHAT__HEARTBEAT_REPLY__INIT;
    reply.status = status;
    reply.full = full;
    reply.assignments = list;
    reply.n_assignments = n;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req->req_id;
    env.body_case = CHAT__ENVELOPE__BODY_HEARTBEAT_REPLY;
    env.heartbeat_reply = &reply;
    chat_envelope_free(&req);
    s_deliver(&env);
}

Test(link, registers_heartbeats_and_follows_the_registrys_grants)
{
    cr_expect_null(rd_registry_link_instance(s_link));
    Chat__RoomInfo i1, i2, i3;
    Chat__Assignment general = s_assignment(&i1, "general", 1);
    Chat__Assignment *first[] = {&general};
    s_register("", CHAT__STATUS__STATUS_OK, "n/1", first, 1);
    cr_expect_str_eq(rd_registry_link_instance(s_link), "n/1");
    cr_expect(rd_registry_link_take_change(s_link), "a first instance is a change");
    cr_expect_not(rd_registry_link_take_change(s_link));
    cr_expect_eq(rd_host_grant_count(s_host), 1);

    //  The registry forgot us: register again with prev_instance; it keeps the
    //  instance and lists nothing: the grants held stay.
    s_heartbeat(1, CHAT__STATUS__STATUS_UNKNOWN_INSTANCE, false, NULL, 0);
    s_register("n/1", CHAT__STATUS__STATUS_OK, "n/1", NULL, 0);
    cr_expect_not(rd_registry_link_take_change(s_link));
    cr_expect_eq(rd_host_grant_count(s_host), 1);

    //  A full list replaces what is held.
    Chat__Assignment random = s_assignment(&i2, "random", 2);
    Chat__Assignment *full[] = {&random};
    s_heartbeat(1, CHAT__STATUS__STATUS_OK, true, full, 1);
    cr_expect_eq(rd_host_grant_count(s_host), 1);
    Chat__RoomdRoomRecord *record = NULL;
    cr_expect_eq(rd_store_room_get(s_store, "random", &record), RD_STORE_OK,
                 "the grant was not stored");
    if (record)
        chat__roomd_room_record__free_unpacked(record, NULL);

    //  A new instance: the ROUTER must be rebuilt, the grants are the new ones.
    s_heartbeat(1, CHAT__STATUS__STATUS_UNKNOWN_INSTANCE, false, NULL, 0);
    Chat__Assignment again = s_assignment(&i3, "random", 3);
    Chat__Assignment *third[] = {&again};
    s_register("n/1", CHAT__STATUS__STATUS_OK, "n/7", third, 1);
    cr_expect_str_eq(rd_registry_link_instance(s_link), "n/7");
    cr_expect(rd_registry_link_take_change(s_link));
    cr_expect_eq(rd_host_grant_count(s_host), 1);

    //  A newer process of this node took over: serve nothing, stop asking.
    s_heartbeat(1, CHAT__STATUS__STATUS_UNKNOWN_INSTANCE, false, NULL, 0);
    s_register("n/7", CHAT__STATUS__STATUS_NOT_OWNER, "", NULL, 0);
    cr_expect_eq(rd_host_grant_count(s_host), 0);
    s_now += 5000;
    Chat__Envelope *more = s_registry_recv();
    cr_expect_null(more, "a superseded roomd kept talking to the registry");
    chat_envelope_free(&more);
}

Test(link, only_the_reply_to_the_latest_register_counts)
{
    Chat__Envelope *first = s_registry_recv();
    cr_assert_not_null(first);
    s_now += 3500; //  unanswered: sent again
    Chat__Envelope *second = s_registry_recv();
    cr_assert_not_null(second, "an unanswered register was not sent again");
    cr_assert_eq(second->body_case, CHAT__ENVELOPE__BODY_REGISTER);
    cr_assert_neq(first->req_id, second->req_id);

    Chat__RegisterReply reply = CHAT__REGISTER_REPLY__INIT;
    reply.status = CHAT__STATUS__STATUS_OK;
    reply.instance = "n/4";
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = first->req_id;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER_REPLY;
    env.register_reply = &reply;
    s_deliver(&env);
    cr_expect_null(rd_registry_link_instance(s_link), "a stale register reply was taken");
    reply.instance = "n/5";
    env.req_id = second->req_id;
    s_deliver(&env);
    cr_expect_str_eq(rd_registry_link_instance(s_link), "n/5");
    chat_envelope_free(&first);
    chat_envelope_free(&second);
}

// ------------------------------------------------------------ a quorum

//  Receives what the link sent to router (after running its timers), or NULL.
static Chat__Envelope *s_recv_on(rd_registry_link_t *link, zsock_t *router, chat_peer_t *peer)
{
    rd_registry_link_timers(link, s_now);
    zpoller_t *poller = zpoller_new(router, NULL);
    Chat__Envelope *env = NULL;
    if (zpoller_wait(poller, 200))
        chat_wire_recv(router, peer, &env);
    zpoller_destroy(&poller);
    return env;
}

static void s_not_leader(rd_registry_link_t *link, uint64_t req_id, const char *leader)
{
    Chat__ErrorReply error = CHAT__ERROR_REPLY__INIT;
    error.status = CHAT__STATUS__STATUS_NOT_LEADER;
    error.leader_endpoint = (char *)leader;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_ERROR;
    env.error = &error;
    rd_registry_link_handle(link, &env, s_now);
}

Test(link, follows_the_leader_a_registry_names_and_leaves_a_silent_one)
{
    const char *ends[] = {"inproc://quorum-a", "inproc://quorum-b", "inproc://quorum-c"};
    zsock_t *routers[3];
    for (int i = 0; i < 3; i++) {
        routers[i] = zsock_new(ZMQ_ROUTER);
        chat_wire_tune(routers[i]);
        cr_assert_eq(zsock_bind(routers[i], "%s", ends[i]), 0);
    }
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    chat_wire_tune(dealer);
    cr_assert_eq(zsock_connect(dealer, "%s", ends[0]), 0);
    rd_registry_link_opts_t opts = {.node = "n",
                                    .cmd_endpoint = "tcp://host:5600",
                                    .pub_endpoint = "tcp://host:5601",
                                    .registry = "inproc://quorum-a,inproc://quorum-b,"
                                                "inproc://quorum-c"};
    rd_registry_link_t *link = rd_registry_link_new(dealer, s_host, &opts);
    cr_assert_not_null(link);
    cr_expect_str_eq(rd_registry_link_target(link), ends[0]);

    //  a does not lead and names c: the register goes to c at once.
    chat_peer_t peer;
    Chat__Envelope *req = s_recv_on(link, routers[0], &peer);
    cr_assert_not_null(req, "no register sent to the first registry");
    s_not_leader(link, req->req_id, ends[2]);
    chat_envelope_free(&req);
    cr_expect_str_eq(rd_registry_link_target(link), ends[2]);
    req = s_recv_on(link, routers[2], &peer);
    cr_assert_not_null(req, "the register did not follow the leader");
    cr_expect_eq(req->body_case, CHAT__ENVELOPE__BODY_REGISTER);
    Chat__RegisterReply reply = CHAT__REGISTER_REPLY__INIT;
    reply.status = CHAT__STATUS__STATUS_OK;
    reply.instance = "n/1";
    reply.heartbeat_ms = 100;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req->req_id;
    env.body_case = CHAT__ENVELOPE__BODY_REGISTER_REPLY;
    env.register_reply = &reply;
    rd_registry_link_handle(link, &env, s_now);
    chat_envelope_free(&req);
    cr_expect_str_eq(rd_registry_link_instance(link), "n/1");

    //  c goes silent (killed): after two heartbeats and a half the link
    //  heartbeats the next registry of the list, a.
    s_now += 100;
    req = s_recv_on(link, routers[2], &peer);
    cr_assert_not_null(req);
    cr_expect_eq(req->body_case, CHAT__ENVELOPE__BODY_HEARTBEAT);
    chat_envelope_free(&req);
    for (int i = 0; i < 3; i++) {
        s_now += 100;
        rd_registry_link_timers(link, s_now);
    }
    cr_expect_str_eq(rd_registry_link_target(link), ends[0], "a silent leader was kept");
    req = s_recv_on(link, routers[0], &peer);
    cr_assert_not_null(req, "no heartbeat to the next registry");
    cr_expect_eq(req->body_case, CHAT__ENVELOPE__BODY_HEARTBEAT);
    cr_expect_str_eq(req->heartbeat->instance, "n/1", "the instance is kept (it is replicated)");
    //  No leader known yet: asked again shortly, at the same registry.
    s_not_leader(link, req->req_id, "");
    chat_envelope_free(&req);
    s_now += 150;
    req = s_recv_on(link, routers[0], &peer);
    cr_assert_not_null(req, "not asked again after an election");
    chat_envelope_free(&req);

    rd_registry_link_destroy(&link);
    zsock_destroy(&dealer);
    for (int i = 0; i < 3; i++)
        zsock_destroy(&routers[i]);
}

Test(link, a_registry_list_that_is_not_one_is_refused)
{
    rd_registry_link_opts_t opts = {.node = "n",
                                    .cmd_endpoint = "tcp://host:5600",
                                    .pub_endpoint = "tcp://host:5601",
                                    .registry = "nothing-here"};
    cr_expect_null(rd_registry_link_new(s_dealer, s_host, &opts));
}
