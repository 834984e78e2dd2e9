/*  Envelopes on ZeroMQ sockets (chat_wire). */
#include "chat_wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <string.h>

//  A bound ROUTER and a DEALER connected to it over inproc.
typedef struct {
    zsock_t *router;
    zsock_t *dealer;
} s_pair_t;

static s_pair_t s_pair_new(const char *name)
{
    s_pair_t pair;
    pair.router = zsock_new(ZMQ_ROUTER);
    chat_wire_tune(pair.router);
    cr_assert_eq(zsock_bind(pair.router, "inproc://%s", name), 0);
    pair.dealer = zsock_new(ZMQ_DEALER);
    chat_wire_tune(pair.dealer);
    cr_assert_eq(zsock_connect(pair.dealer, "inproc://%s", name), 0);
    return pair;
}

static void s_pair_destroy(s_pair_t *pair)
{
    zsock_destroy(&pair->dealer);
    zsock_destroy(&pair->router);
}

//  Waits for something to read on sock, then reads one message.
static int s_recv(zsock_t *sock, chat_peer_t *peer, Chat__Envelope **env)
{
    zpoller_t *poller = zpoller_new(sock, NULL);
    zpoller_wait(poller, 2000);
    zpoller_destroy(&poller);
    return chat_wire_recv(sock, peer, env);
}

Test(wire, a_request_round_trips_through_router_and_dealer)
{
    s_pair_t pair = s_pair_new("roundtrip");
    Chat__LookupRequest lookup = CHAT__LOOKUP_REQUEST__INIT;
    lookup.room_id = "general";
    lookup.place = true;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = 42;
    env.body_case = CHAT__ENVELOPE__BODY_LOOKUP;
    env.lookup = &lookup;
    cr_assert_eq(chat_wire_send(pair.dealer, NULL, &env), 0);

    chat_peer_t peer;
    Chat__Envelope *got = NULL;
    cr_assert_eq(s_recv(pair.router, &peer, &got), CHAT_WIRE_GOT);
    cr_expect_eq(got->req_id, 42);
    cr_assert_eq(got->body_case, CHAT__ENVELOPE__BODY_LOOKUP);
    cr_expect_str_eq(got->lookup->room_id, "general");
    cr_expect(got->lookup->place);
    cr_expect_gt(peer.size, 0);

    //  Reply through the peer id the ROUTER saw.
    Chat__LookupReply reply = CHAT__LOOKUP_REPLY__INIT;
    reply.status = CHAT__STATUS__STATUS_NOT_FOUND;
    Chat__Envelope out = CHAT__ENVELOPE__INIT;
    out.req_id = got->req_id;
    out.body_case = CHAT__ENVELOPE__BODY_LOOKUP_REPLY;
    out.lookup_reply = &reply;
    cr_assert_eq(chat_wire_send(pair.router, &peer, &out), 0);
    chat_envelope_free(&got);
    cr_assert_null(got);
    chat_envelope_free(&got); //  twice is harmless

    cr_assert_eq(s_recv(pair.dealer, NULL, &got), CHAT_WIRE_GOT);
    cr_expect_eq(got->lookup_reply->status, CHAT__STATUS__STATUS_NOT_FOUND);
    chat_envelope_free(&got);
    s_pair_destroy(&pair);
}

Test(wire, garbage_is_counted_and_dropped)
{
    s_pair_t pair = s_pair_new("garbage");
    uint64_t before = chat_wire_bad_frames();
    Chat__Envelope *got = NULL;
    chat_peer_t peer;

    //  Not protobuf at all.
    zstr_send(pair.dealer, "\xff\xff\xff garbage");
    cr_expect_eq(s_recv(pair.router, &peer, &got), CHAT_WIRE_BAD);
    cr_expect_null(got);

    //  Valid protobuf, but an Envelope without a body.
    uint8_t only_req_id[] = {0x08, 0x07};
    zsock_send(pair.dealer, "b", only_req_id, sizeof only_req_id);
    cr_expect_eq(s_recv(pair.router, &peer, &got), CHAT_WIRE_BAD);

    //  Too many frames.
    zstr_sendm(pair.dealer, "a");
    zstr_send(pair.dealer, "b");
    cr_expect_eq(s_recv(pair.router, &peer, &got), CHAT_WIRE_BAD);

    //  An empty frame.
    zsock_send(pair.dealer, "b", "", (size_t)0);
    cr_expect_eq(s_recv(pair.router, &peer, &got), CHAT_WIRE_BAD);

    cr_expect_eq(chat_wire_bad_frames() - before, 4);

    //  The socket still works afterwards.
    Chat__StatsRequest stats = CHAT__STATS_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_STATS;
    env.stats = &stats;
    cr_assert_eq(chat_wire_send(pair.dealer, NULL, &env), 0);
    cr_expect_eq(s_recv(pair.router, &peer, &got), CHAT_WIRE_GOT);
    chat_envelope_free(&got);
    s_pair_destroy(&pair);
}

Test(wire, router_mandatory_fails_loudly_for_an_unknown_peer)
{
    s_pair_t pair = s_pair_new("mandatory");
    chat_peer_t nobody;
    chat_peer_set(&nobody, "nobody/1");
    Chat__StatsRequest stats = CHAT__STATS_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_STATS;
    env.stats = &stats;
    cr_expect_eq(chat_wire_send(pair.router, &nobody, &env), -1);
    cr_expect_eq(errno, EHOSTUNREACH);
    s_pair_destroy(&pair);
}

Test(wire, pub_sub_carries_the_topic)
{
    zsock_t *pub = zsock_new(ZMQ_PUB);
    cr_assert_eq(zsock_bind(pub, "inproc://pubsub"), 0);
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_subscribe(sub, "general");
    cr_assert_eq(zsock_connect(sub, "inproc://pubsub"), 0);
    zclock_sleep(50); //  let the subscription reach the publisher

    Chat__RoomEvent event = CHAT__ROOM_EVENT__INIT;
    event.room_id = "general";
    event.seq = 7;
    event.tick = true;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_ROOM_EVENT;
    env.room_event = &event;
    chat_peer_t topic;
    chat_peer_set(&topic, "general");
    cr_assert_eq(chat_wire_send(pub, &topic, &env), 0);

    chat_peer_t got_topic;
    Chat__Envelope *got = NULL;
    cr_assert_eq(s_recv(sub, &got_topic, &got), CHAT_WIRE_GOT);
    cr_expect(chat_peer_is(&got_topic, "general"));
    cr_expect_not(chat_peer_is(&got_topic, "general2"));
    cr_expect_eq(got->room_event->seq, 7);
    chat_envelope_free(&got);
    zsock_destroy(&sub);
    zsock_destroy(&pub);
}
