/*  fuzz_registry: the registry's handling of the envelopes its ROUTER reads.
 *
 *  Kept thin on purpose, because the registry's request handling is being
 *  rewritten (a Raft state machine): the harness only talks to the
 *  registry's public entry point, its socket. Each input gets a fresh
 *  registry (reg_server over a fresh LMDB directory, bound to inproc://
 *  endpoints, its loop in a thread), and every frame of the input
 *  (fuzz_support.h) goes to it as one message's payload from one of two
 *  DEALERs (first byte, bit 0; the rest is the payload), exactly as a
 *  gateway, chatctl or roomd would send it. To re-point the harness at
 *  another registry, change s_registry_start and s_registry_stop.
 *
 *  After the frames, a StatsRequest from each DEALER must be answered
 *  (within S_ANSWER_MS): the registry is alive and still serving.
 *  Whatever else comes back must be an envelope.
 */
#define _GNU_SOURCE
#include "chat_clock.h"
#include "chat_wire.h"
#include "fuzz_support.h"
#include "reg_server.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

//  How long the registry has to answer the closing StatsRequest.
#define S_ANSWER_MS 5000
//  req_id of the closing StatsRequest (fuzzed frames may use any other).
#define S_SYNC_ID 0xF0220000F0220000ull

typedef struct {
    reg_server_t *server; //  the registry
    pthread_t thread;     //  running reg_server_run
    char *dir;            //  its data directory
    char bind[64];        //  its ROUTER endpoint
} s_registry_t;

static void *s_run(void *arg)
{
    reg_server_run(arg);
    return NULL;
}

static void s_registry_start(s_registry_t *reg)
{
    static unsigned serial;
    reg->dir = fuzz_temp_dir("registry");
    snprintf(reg->bind, sizeof reg->bind, "inproc://fuzz-registry-%u", ++serial);
    char pub[64];
    snprintf(pub, sizeof pub, "inproc://fuzz-registry-events-%u", serial);
    reg_config_t config = {
        .bind = reg->bind,
        .pub_bind = pub,
        .data_dir = reg->dir,
        .map_size_mb = 64,
        .heartbeat_ms = 1000,
        .lease_ms = 5000,
        .assign_timeout_ms = 2000,
    };
    reg->server = reg_server_new(&config);
    if (!reg->server || pthread_create(&reg->thread, NULL, s_run, reg->server) != 0)
        fuzz_fail("no registry in %s", reg->dir);
}

//  waker: a socket connected to the registry, to wake its poll.
static void s_registry_stop(s_registry_t *reg, zsock_t *waker)
{
    reg_server_stop(reg->server);
    zstr_send(waker, "wake up");
    pthread_join(reg->thread, NULL);
    reg_server_destroy(&reg->server);
    fuzz_remove_tree(reg->dir);
    free(reg->dir);
}

//  Sends the closing StatsRequest and reads until its answer; fails after S_ANSWER_MS.
static void s_sync(s_registry_t *reg, zsock_t *dealer)
{
    Chat__StatsRequest stats = CHAT__STATS_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = S_SYNC_ID;
    env.body_case = CHAT__ENVELOPE__BODY_STATS;
    env.stats = &stats;
    if (chat_wire_send(dealer, NULL, &env) != 0)
        fuzz_fail("cannot send to the registry");
    int64_t deadline = chat_mono_ms() + S_ANSWER_MS;
    for (;;) {
        int64_t left = deadline - chat_mono_ms();
        zmq_pollitem_t item = {zsock_resolve(dealer), 0, ZMQ_POLLIN, 0};
        int ready = left > 0 ? zmq_poll(&item, 1, (long)left) : 0;
        if (ready < 0 && zmq_errno() == EINTR)
            continue; //  libFuzzer's SIGALRM (its -timeout watchdog)
        if (ready <= 0)
            fuzz_fail("the registry did not answer a StatsRequest within %d ms (its loop %s)",
                      S_ANSWER_MS,
                      pthread_tryjoin_np(reg->thread, NULL) == 0 ? "has ended" : "still runs");
        Chat__Envelope *reply = NULL;
        int rc = chat_wire_recv(dealer, NULL, &reply);
        if (rc == CHAT_WIRE_BAD)
            fuzz_fail("the registry sent something that is no envelope");
        bool done = rc == CHAT_WIRE_GOT && reply->req_id == S_SYNC_ID;
        if (done && reply->body_case != CHAT__ENVELOPE__BODY_STATS_REPLY)
            fuzz_fail("the StatsRequest got body %d", (int)reply->body_case);
        chat_envelope_free(&reply);
        if (done)
            return;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    zsys_handler_set(NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_registry_t reg;
    s_registry_start(&reg);
    zsock_t *dealers[2];
    for (int i = 0; i < 2; i++) {
        dealers[i] = zsock_new(ZMQ_DEALER);
        if (!dealers[i])
            fuzz_fail("no socket");
        chat_wire_tune(dealers[i]);
        zsock_set_identity(dealers[i], i ? "fuzz-peer-b" : "fuzz-peer-a");
        if (zsock_connect(dealers[i], "%s", reg.bind) != 0)
            fuzz_fail("cannot connect to %s", reg.bind);
    }
    fuzz_reader_t r = {data, size};
    const uint8_t *frame;
    size_t len;
    while (fuzz_next_frame(&r, &frame, &len))
        if (len > 0)
            chat_wire_send_bytes(dealers[frame[0] & 1], NULL, frame + 1, len - 1);
    s_sync(&reg, dealers[0]);
    s_sync(&reg, dealers[1]);
    s_registry_stop(&reg, dealers[0]);
    zsock_destroy(&dealers[0]);
    zsock_destroy(&dealers[1]);
    return 0;
}
