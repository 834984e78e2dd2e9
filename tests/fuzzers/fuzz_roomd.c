/*  fuzz_roomd: a roomd's handling of the envelopes it reads. Each input
 *  gets a fresh rd_host over a fresh LMDB store (in /dev/shm when there is
 *  one) that holds the grants of general, random and tech at epoch 1 as
 *  instance fuzz/1, and its registry link; then every frame of the input
 *  (fuzz_support.h) is decoded as the roomd decodes what its sockets read
 *  (chat_envelope_decode) and handed to the same entry point:
 *
 *      first byte, bit 0   0: a request on the ROUTER from gateway
 *                             "gw-fuzz-<bits 1-2>" (rd_host_request)
 *                          1: a message from the registry on the DEALER
 *                             (rd_registry_link_handle)
 *      bit 3               the loop's turn ends after this one: flush
 *      bits 4-7            the clock moves on by that many 700 ms first
 *                          (room ticks, session leases, passivation)
 *      the rest            the envelope's bytes
 *
 *  The input ends with a last turn. Properties: every reply and event the
 *  host writes decodes as an envelope; events carry their room as topic.
 */
#include "chat_wire.h"
#include "fuzz_support.h"
#include "rd_host.h"
#include "rd_registry_link.h"
#include "rd_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_INSTANCE "fuzz/1"

static void *s_zmq;    //  context of the registry DEALER
static void *s_dealer; //  the link's DEALER, connected nowhere

//  Replies go nowhere, but must be envelopes.
static void s_reply(void *ctx, const chat_peer_t *peer, const void *data, size_t size)
{
    Chat__Envelope *env = chat_envelope_decode(data, size);
    if (!env)
        fuzz_fail("the host wrote a reply of %zu bytes that is no envelope", size);
    chat_envelope_free(&env);
}

static void s_publish(void *ctx, const char *topic, const void *data, size_t size)
{
    Chat__Envelope *env = chat_envelope_decode(data, size);
    if (!env || env->body_case != CHAT__ENVELOPE__BODY_ROOM_EVENT ||
        strcmp(env->room_event->room_id, topic) != 0)
        fuzz_fail("the host published on %s what is no event of that room", topic);
    chat_envelope_free(&env);
}

static void s_grant(rd_host_t *host, const char *room, const char *description)
{
    Chat__RoomInfo info = CHAT__ROOM_INFO__INIT;
    info.id = (char *)room;
    info.name = (char *)room;
    info.description = (char *)description;
    info.created_at = 1764370000000;
    Chat__Assignment a = CHAT__ASSIGNMENT__INIT;
    a.room = &info;
    a.epoch = 1;
    if (rd_host_grant(host, &a) != 0)
        fuzz_fail("cannot grant %s", room);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    s_zmq = zmq_ctx_new();
    s_dealer = s_zmq ? zmq_socket(s_zmq, ZMQ_DEALER) : NULL;
    if (!s_dealer)
        fuzz_fail("no ZeroMQ socket");
    chat_wire_tune(s_dealer);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *dir = fuzz_temp_dir("roomd");
    rd_store_t *store = rd_store_open(dir, 64);
    rd_host_opts_t opts = {.idle_ms = 5000, .session_lease_ms = 3000, .tick_ms = 1000};
    rd_host_t *host = store ? rd_host_new(store, &opts) : NULL;
    rd_registry_link_opts_t link_opts = {
        .node = "fuzz",
        .cmd_endpoint = "tcp://127.0.0.1:1",
        .pub_endpoint = "tcp://127.0.0.1:2",
        .store = store,
    };
    rd_registry_link_t *link = host ? rd_registry_link_new(s_dealer, host, &link_opts) : NULL;
    if (!link)
        fuzz_fail("no host over %s", dir);
    rd_host_set_instance(host, S_INSTANCE);
    s_grant(host, "general", "General discussion");
    s_grant(host, "random", "Random chat");
    s_grant(host, "tech", "Technology discussions");
    rd_sink_t sink = {s_reply, s_publish, NULL};
    int64_t now = 1000000;
    rd_host_flush(host, &sink);

    fuzz_reader_t r = {data, size};
    const uint8_t *frame;
    size_t len;
    while (fuzz_next_frame(&r, &frame, &len)) {
        if (len == 0)
            continue;
        uint8_t control = frame[0];
        if (control >> 4) {
            now += 700 * (int64_t)(control >> 4);
            rd_host_timers(host, now, &sink);
        }
        Chat__Envelope *env = chat_envelope_decode(frame + 1, len - 1);
        if (env && (control & 1)) {
            rd_registry_link_handle(link, env, now);
        } else if (env) {
            chat_peer_t peer;
            char name[16];
            snprintf(name, sizeof name, "gw-fuzz-%d", (control >> 1) & 3);
            chat_peer_set(&peer, name);
            rd_host_request(host, &peer, env, now);
        }
        chat_envelope_free(&env);
        if ((control & 0x08) && rd_host_pending(host))
            rd_host_flush(host, &sink);
    }
    rd_host_timers(host, now, &sink);
    if (rd_host_pending(host))
        rd_host_flush(host, &sink);

    rd_registry_link_destroy(&link);
    rd_host_destroy(&host);
    rd_store_destroy(&store);
    fuzz_remove_tree(dir);
    free(dir);
    return 0;
}
