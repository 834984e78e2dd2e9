/*  A roomd and a gateway given the list of a registry quorum follow its
 *  leader: rooms keep serving while the leader is killed, and creating and
 *  placing rooms works again through the new leader. */
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

static regt_cluster_t s_c;
static chat_proc_t *s_roomd;
static chat_proc_t *s_gateway;
static int s_http;

static void s_teardown(void)
{
    if (s_gateway)
        cr_expect(chat_proc_stop_clean(&s_gateway), "the gateway did not exit cleanly");
    if (s_roomd)
        cr_expect(chat_proc_stop_clean(&s_roomd), "the roomd did not exit cleanly");
    regt_stop(&s_c);
}

TestSuite(quorum_clients, .fini = s_teardown, .timeout = 120);

static void s_start_gateway(void)
{
    char www[600];
    snprintf(www, sizeof www, "%s/www", s_c.dir);
    //  A free port of its choice (--port 0), read back from its ready file.
    const char *args[] = {"--port", "0", "--listen",    "127.0.0.1", "--registry", s_c.list,
                          "--www",  www, "--log-level", "debug",     NULL};
    s_gateway = chat_proc_start("gateway", args, s_c.dir, "gateway");
    cr_assert_not_null(s_gateway);
    cr_assert(chat_proc_wait_ready(s_gateway, 20000), "the gateway did not listen");
    s_http = chat_proc_ready_port(s_gateway, "port");
}

//  True when the leader has heard roomd-a since it leads (a heartbeat came
//  to it: it can be granted rooms).
static bool s_roomd_follows(void)
{
    Chat__ListNodesRequest req = CHAT__LIST_NODES_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_NODES;
    env.list_nodes = &req;
    Chat__Envelope *reply = regt_call(&s_c, &env, 1000);
    bool heard = false;
    if (reply && reply->body_case == CHAT__ENVELOPE__BODY_LIST_NODES_REPLY)
        for (size_t i = 0; i < reply->list_nodes_reply->n_nodes; i++) {
            const Chat__NodeInfo *n = reply->list_nodes_reply->nodes[i];
            heard = heard ||
                    (strcmp(n->node, "roomd-a") == 0 && n->live && n->last_heartbeat_ms_ago >= 0);
        }
    chat_envelope_free(&reply);
    return heard;
}

static void s_wait_roomd(int ms, const char *why)
{
    int64_t deadline = chat_mono_ms() + ms;
    while (!s_roomd_follows() && chat_mono_ms() < deadline)
        chat_sleep_ms(50);
    cr_assert(s_roomd_follows(), "the leader has not heard roomd-a within %d ms (%s)", ms, why);
}

static void s_wait_healthy(int ms)
{
    int64_t deadline = chat_mono_ms() + ms;
    int status = -1;
    while ((status = chat_http_get(s_http, "/healthz", NULL, 0, 1000)) != 200 &&
           chat_mono_ms() < deadline)
        chat_sleep_ms(50);
    cr_assert_eq(status, 200, "the gateway's /healthz answered %d", status);
}

//  Sends text, expects reply_type (not an error) within 10 s.
static cJSON *s_call(chat_ws_t *ws, const char *text, const char *reply_type)
{
    cJSON *reply = chat_ws_call(ws, text, reply_type, 10000);
    cr_assert_not_null(reply, "no %s for %s", reply_type, text);
    cr_assert_str_eq(chat_json_str(reply, "type"), reply_type, "%s answered %s", text,
                     cJSON_PrintUnformatted(reply));
    return reply;
}

Test(quorum_clients, roomds_and_gateways_follow_a_new_leader)
{
    regt_start(&s_c, 3, NULL);
    s_roomd = regt_start_roomd(&s_c, "roomd-a", NULL);
    s_start_gateway();
    s_wait_roomd(15000, "at start");
    s_wait_healthy(15000);
    chat_ws_t *ws = chat_ws_login(s_http, "alice", "Alice", 5000);
    cr_assert_not_null(ws);
    cJSON_Delete(s_call(ws, "{\"type\":\"createRoom\",\"name\":\"Alpha\"}", "roomCreated"));
    cJSON_Delete(s_call(ws, "{\"type\":\"joinRoom\",\"roomId\":\"alpha\"}", "roomJoined"));
    cJSON_Delete(s_call(ws, "{\"type\":\"sendMessage\",\"content\":\"one\"}", "messageAck"));

    int leader = regt_leader(&s_c, 5000);
    regt_kill(&s_c, (size_t)leader, SIGKILL);
    int64_t killed = chat_mono_ms();

    //  The placed room keeps serving without a registry leader.
    cJSON_Delete(s_call(ws, "{\"type\":\"sendMessage\",\"content\":\"two\"}", "messageAck"));
    //  The gateway follows the new leader within its retries.
    cJSON_Delete(s_call(ws, "{\"type\":\"createRoom\",\"name\":\"Beta\"}", "roomCreated"));
    fprintf(stderr, "createRoom through the gateway answered %" PRId64 " ms after the kill\n",
            chat_mono_ms() - killed);
    //  The roomd heartbeats the new leader (within its lease of grace), so
    //  new rooms are placed on it.
    s_wait_roomd(5000, "after the leader was killed");
    fprintf(stderr, "the new leader heard the roomd %" PRId64 " ms after the kill\n",
            chat_mono_ms() - killed);
    cJSON_Delete(s_call(ws, "{\"type\":\"joinRoom\",\"roomId\":\"beta\"}", "roomJoined"));
    cJSON_Delete(s_call(ws, "{\"type\":\"sendMessage\",\"content\":\"three\"}", "messageAck"));
    s_wait_healthy(5000);
    char metrics[65536];
    cr_assert_eq(chat_http_get(s_http, "/metrics", metrics, sizeof metrics, 3000), 200);
    const char *streams = strstr(metrics, "\nchat_gateway_registry_streams_total ");
    cr_assert_not_null(streams);
    cr_expect_geq(atoi(streams + strlen("\nchat_gateway_registry_streams_total ")), 2,
                  "the gateway did not see the new leader's event stream");
    chat_ws_destroy(&ws);

    regt_start_one(&s_c, (size_t)leader);
    regt_wait_converged(&s_c, 10000);
}
