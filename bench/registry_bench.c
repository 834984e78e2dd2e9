/*  registry-bench: create-room latency and rooms created per second
 *  against a registry (or the leader of a quorum).
 *
 *  Finds the serving leader among --registry, then keeps --concurrency
 *  CreateRoom requests in flight on one DEALER until --rooms were
 *  answered, and reports the latency of each (send to reply: the leader
 *  proposes, the quorum commits, the state machine applies) and the rate.
 *
 *      registry-bench --registry tcp://127.0.0.1:5555,... --rooms 2000 --concurrency 1
 */
#include "bench_hist.h"
#include "chat_clock.h"
#include "chat_config.h"
#include "chat_log.h"
#include "chat_registry.h"
#include "chat_request.h"
#include "chat_wire.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *registry; //  endpoints, comma-separated
    long rooms;           //  rooms to create
    long concurrency;     //  requests in flight
    long timeout_ms;      //  give up when no reply comes for this long
    bool json;            //  print JSON
} s_opts_t;

//  The endpoint of the registry that leads and serves, or NULL.
static const char *s_find_leader(chat_registry_t *list)
{
    for (size_t i = 0; i < list->count; i++) {
        Chat__RegistryStatusRequest req = CHAT__REGISTRY_STATUS_REQUEST__INIT;
        Chat__Envelope env = CHAT__ENVELOPE__INIT;
        env.req_id = 1;
        env.body_case = CHAT__ENVELOPE__BODY_REGISTRY_STATUS;
        env.registry_status = &req;
        Chat__Envelope *reply = chat_request(list->endpoints[i], &env, 2000);
        bool leads = reply && reply->body_case == CHAT__ENVELOPE__BODY_REGISTRY_STATUS_REPLY &&
                     reply->registry_status_reply->ready;
        chat_envelope_free(&reply);
        if (leads)
            return list->endpoints[i];
    }
    return NULL;
}

static int s_send_create(zsock_t *sock, uint64_t req_id, const char *prefix)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%" PRIu64, prefix, req_id);
    Chat__CreateRoomRequest req = CHAT__CREATE_ROOM_REQUEST__INIT;
    req.name = name;
    req.description = "registry-bench";
    req.token = name;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = req_id;
    env.body_case = CHAT__ENVELOPE__BODY_CREATE_ROOM;
    env.create_room = &req;
    return chat_wire_send(sock, NULL, &env);
}

static int s_run(const s_opts_t *o)
{
    chat_registry_t list;
    if (chat_registry_parse(&list, o->registry) != 0) {
        fprintf(stderr, "registry-bench: --registry %s is not a list of endpoints\n", o->registry);
        return 2;
    }
    const char *leader = s_find_leader(&list);
    if (!leader) {
        fprintf(stderr, "registry-bench: no registry of %s leads\n", o->registry);
        return 1;
    }
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    chat_wire_tune(sock);
    zsock_connect(sock, "%s", leader);
    char prefix[48];
    snprintf(prefix, sizeof prefix, "bench-%d-%" PRId64, (int)getpid(), chat_wall_ms() % 100000);
    int64_t *sent_us = calloc((size_t)o->rooms + 1, sizeof *sent_us);
    bench_hist_t hist;
    bench_hist_reset(&hist);
    uint64_t next = 1, done = 0, errors = 0;
    int64_t start = chat_mono_us();
    zpoller_t *poller = zpoller_new(sock, NULL);
    while (done < (uint64_t)o->rooms) {
        while (next <= (uint64_t)o->rooms && next - done - 1 < (uint64_t)o->concurrency) {
            sent_us[next] = chat_mono_us();
            s_send_create(sock, next++, prefix);
        }
        if (!zpoller_wait(poller, (int)o->timeout_ms)) {
            fprintf(stderr, "registry-bench: no reply for %ld ms (%" PRIu64 " done)\n",
                    o->timeout_ms, done);
            break;
        }
        Chat__Envelope *env = NULL;
        while (chat_wire_recv(sock, NULL, &env) == CHAT_WIRE_GOT) {
            if (env->req_id >= 1 && env->req_id < next && sent_us[env->req_id]) {
                bool ok = env->body_case == CHAT__ENVELOPE__BODY_CREATE_ROOM_REPLY &&
                          env->create_room_reply->status == CHAT__STATUS__STATUS_OK;
                errors += !ok;
                if (ok)
                    bench_hist_record(&hist, (uint64_t)(chat_mono_us() - sent_us[env->req_id]));
                sent_us[env->req_id] = 0;
                done++;
            }
            chat_envelope_free(&env);
        }
    }
    double seconds = (double)(chat_mono_us() - start) / 1e6;
    double rate = seconds > 0 ? (double)hist.total / seconds : 0;
    double p50 = (double)bench_hist_percentile(&hist, 0.50) / 1000;
    double p99 = (double)bench_hist_percentile(&hist, 0.99) / 1000;
    double max = (double)hist.max / 1000;
    if (o->json)
        printf("{\"registries\":%zu,\"leader\":\"%s\",\"concurrency\":%ld,\"rooms\":%" PRIu64
               ",\"errors\":%" PRIu64 ",\"seconds\":%.3f,\"roomsPerSecond\":%.0f,"
               "\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f}\n",
               list.count, leader, o->concurrency, hist.total, errors, seconds, rate, p50, p99,
               max);
    else
        printf("%zu registries, leader %s, concurrency %ld: %" PRIu64 " rooms (%" PRIu64
               " errors) in %.2f s = %.0f rooms/s; create-room p50 %.2f ms, p99 %.2f ms,"
               " max %.2f ms\n",
               list.count, leader, o->concurrency, hist.total, errors, seconds, rate, p50, p99,
               max);
    zpoller_destroy(&poller);
    zsock_destroy(&sock);
    free(sent_us);
    return done == (uint64_t)o->rooms && errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    s_opts_t o = {0};
    chat_option_t options[] = {
        {"registry", "CHAT_REGISTRY", CHAT_OPT_STRING, "tcp://127.0.0.1:5555",
         "registry endpoints, comma-separated (the leader is found)", &o.registry},
        {"rooms", NULL, CHAT_OPT_INT, "2000", "rooms to create", &o.rooms},
        {"concurrency", NULL, CHAT_OPT_INT, "1", "CreateRoom requests in flight", &o.concurrency},
        {"timeout-ms", NULL, CHAT_OPT_INT, "5000", "give up after this long without a reply",
         &o.timeout_ms},
        {"json", NULL, CHAT_OPT_BOOL, NULL, "print one JSON object", &o.json},
        {NULL, NULL, 0, NULL, NULL, NULL},
    };
    int rc = chat_config_parse("registry-bench", "[options]", options, argc, argv, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (o.rooms < 1 || o.concurrency < 1 || o.timeout_ms < 10) {
        fprintf(stderr, "registry-bench: --rooms and --concurrency >= 1, --timeout-ms >= 10\n");
        return 2;
    }
    chat_log_init("registry-bench", CHAT_LOG_ERROR);
    zsys_init();
    return s_run(&o);
}
