/*  The gateway on its own (no registry): WebSocket transport rules, the
 *  session state machine, limits and HTTP endpoints that need no cluster. */
#include "chat_clock.h"
#include "chat_test.h"
#include "chat_ws_client.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *s_dir;
static chat_proc_t *s_gw;
static int s_port;

//  Starts the gateway with a registry nobody listens on, plus extra flags.
static void s_start(const char *const *extra)
{
    s_dir = chat_temp_dir("gw-alone");
    char www[600];
    snprintf(www, sizeof www, "%s/www", s_dir);
    mkdir(www, 0755);
    char index[700];
    snprintf(index, sizeof index, "%s/index.html", www);
    FILE *f = fopen(index, "w");
    fputs("<!doctype html><title>chat</title>", f);
    fclose(f);
    //  A free port of its own choice (--port 0); a registry port nobody serves.
    const char *args[32] = {"--port",      "0",    "--listen",   "127.0.0.1",
                            "--www",       www,    "--registry", chat_tcp(chat_free_port()),
                            "--log-level", "debug"};
    int n = 10;
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    s_gw = chat_proc_start("gateway", args, s_dir, "gateway");
    cr_assert_not_null(s_gw);
    cr_assert(chat_proc_wait_ready(s_gw, 20000), "the gateway did not listen");
    s_port = chat_proc_ready_port(s_gw, "port");
}

static void s_setup(void)
{
    s_start(NULL);
}

static void s_teardown(void)
{
    if (s_gw)
        cr_expect(chat_proc_stop_clean(&s_gw), "the gateway did not exit cleanly");
    chat_remove_tree(s_dir);
    free(s_dir);
    s_dir = NULL;
}

//  Sends text and returns the next message, which must be an error with code.
static void s_expect_error(chat_ws_t *ws, const char *text, const char *code, const char *ref)
{
    cJSON *reply = chat_ws_call(ws, text, "error", 5000);
    cr_assert_not_null(reply, "no reply to %s", text);
    cr_expect_str_eq(chat_json_str(reply, "type"), "error", "reply to %s", text);
    cr_expect_str_eq(chat_json_str(reply, "code"), code, "reply to %s", text);
    cr_expect_str_neq(chat_json_str(reply, "message"), "");
    if (ref)
        cr_expect_str_eq(chat_json_str(reply, "ref"), ref);
    cJSON_Delete(reply);
}

//  One HTTP GET to the gateway; returns the status, the body into body.
static int s_http_get(const char *path, char *body, size_t cap)
{
    return chat_http_get(s_port, path, body, cap, 5000);
}

TestSuite(gateway_alone, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test(gateway_alone, accepts_the_chat_v1_subprotocol_or_none)
{
    chat_ws_t *ws = chat_ws_connect(s_port, "/ws", "chat.v1", 5000);
    cr_assert_not_null(ws);
    cr_expect_str_eq(chat_ws_protocol(ws), "chat.v1");
    chat_ws_destroy(&ws);
    ws = chat_ws_connect(s_port, "/ws", NULL, 5000);
    cr_assert_not_null(ws);
    cr_expect_str_eq(chat_ws_protocol(ws), "");
    chat_ws_destroy(&ws);
}

Test(gateway_alone, refuses_websockets_on_other_paths)
{
    chat_ws_t *ws = chat_ws_connect(s_port, "/elsewhere", NULL, 5000);
    cr_expect_null(ws);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, serves_the_web_ui_at_the_root)
{
    char body[4096];
    cr_expect_eq(s_http_get("/", body, sizeof body), 200);
    cr_expect_not_null(strstr(body, "<title>chat</title>"));
    cr_expect_eq(s_http_get("/nothing-here.js", body, sizeof body), 404);
}

Test(gateway_alone, healthz_is_503_without_a_registry)
{
    char body[256];
    cr_expect_eq(s_http_get("/healthz", body, sizeof body), 503);
}

Test(gateway_alone, metrics_are_prometheus_text)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    s_expect_error(ws, "{\"type\":\"nope\"}", "unknown_type", NULL);
    static char body[1 << 17];
    cr_assert_eq(s_http_get("/metrics", body, sizeof body), 200);
    cr_expect_not_null(
        strstr(body, "# TYPE chat_gateway_connections gauge\nchat_gateway_connections 1\n"));
    cr_expect_not_null(strstr(body, "chat_gateway_errors_total{code=\"unknown_type\"} 1\n"));
    cr_expect_not_null(
        strstr(body, "chat_gateway_request_seconds_bucket{peer=\"roomd\",le=\"+Inf\"}"));
    cr_expect_not_null(strstr(body, "chat_gateway_queued_frames"));
    cr_expect_not_null(strstr(body, "chat_gateway_bad_frames_total"));
    chat_ws_destroy(&ws);
}

Test(gateway_alone, connect_comes_first_but_ping_is_always_answered)
{
    chat_ws_t *ws = chat_ws_connect(s_port, "/ws", NULL, 5000);
    cr_assert_not_null(ws);
    s_expect_error(ws, "{\"type\":\"getRooms\",\"ref\":\"a1\"}", "connect_required", "a1");
    s_expect_error(ws, "{\"type\":\"joinRoom\",\"roomId\":\"general\"}", "connect_required", NULL);
    s_expect_error(ws, "{\"type\":\"sendMessage\",\"content\":\"x\"}", "connect_required", NULL);
    cJSON *pong = chat_ws_call(ws, "{\"type\":\"ping\",\"ref\":\"p\"}", "pong", 5000);
    cr_assert_not_null(pong);
    cr_expect_str_eq(chat_json_str(pong, "ref"), "p");
    long long t = chat_json_int(pong, "serverTime");
    int64_t now = chat_wall_ms();
    cr_expect(t > now - 60000 && t < now + 60000, "serverTime %lld is the wall clock", t);
    cJSON_Delete(pong);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, connect_answers_connected_once)
{
    chat_ws_t *ws = chat_ws_connect(s_port, "/ws", NULL, 5000);
    cr_assert_not_null(ws);
    cJSON *reply = chat_ws_call(
        ws, "{\"type\":\"connect\",\"userId\":\"alice\",\"name\":\"Alice\",\"ref\":\"c1\"}",
        "connected", 5000);
    cr_assert_not_null(reply);
    cr_expect_str_eq(chat_json_str(reply, "type"), "connected");
    cr_expect_str_eq(chat_json_str(reply, "ref"), "c1");
    cr_expect_str_neq(chat_json_str(reply, "sessionId"), "");
    cJSON *user = cJSON_GetObjectItem(reply, "user");
    cr_expect_str_eq(chat_json_str(user, "id"), "alice");
    cr_expect_str_eq(chat_json_str(user, "name"), "Alice");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(user, "isOnline")));
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(user, "avatar")));
    cJSON_Delete(reply);
    s_expect_error(ws, "{\"type\":\"connect\",\"userId\":\"alice\"}", "already_connected", NULL);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, bad_requests_get_errors_and_the_connection_stays)
{
    chat_ws_t *ws = chat_ws_connect(s_port, "/ws", NULL, 5000);
    cr_assert_not_null(ws);
    s_expect_error(ws, "{\"type\":\"connect\",\"userId\":\"bad id!\",\"ref\":\"u\"}",
                   "invalid_user", "u");
    s_expect_error(ws, "{\"type\":\"connect\",\"userId\":\"ok\",\"name\":\"\"}", "invalid_user",
                   NULL);
    s_expect_error(ws, "this is not json", "bad_json", NULL);
    s_expect_error(ws, "[1,2,3]", "bad_json", NULL);
    s_expect_error(ws, "{\"type\":42}", "bad_request", NULL);
    s_expect_error(ws, "{\"type\":\"fly\",\"ref\":\"f\"}", "unknown_type", "f");
    cr_assert_eq(chat_ws_send_text(ws, "{\"type\":\"connect\",\"userId\":\"bob\"}"), 0);
    cJSON *ok = chat_ws_recv_type(ws, "connected", false, 5000);
    cr_expect_not_null(ok, "still open and usable after every error");
    cJSON_Delete(ok);
    s_expect_error(ws, "{\"type\":\"joinRoom\"}", "bad_request", NULL);
    s_expect_error(ws, "{\"type\":\"joinRoom\",\"roomId\":\"General Room!\"}", "room_not_found",
                   NULL);
    s_expect_error(ws, "{\"type\":\"sendMessage\",\"content\":\"hi\",\"ref\":\"s\"}", "not_in_room",
                   "s");
    s_expect_error(ws, "{\"type\":\"sendMessage\",\"roomId\":\"general\",\"content\":\"  \"}",
                   "empty_message", NULL);
    s_expect_error(ws, "{\"type\":\"leaveRoom\",\"roomId\":\"general\"}", "not_in_room", NULL);
    s_expect_error(ws, "{\"type\":\"createRoom\",\"name\":\"\"}", "invalid_room", NULL);
    s_expect_error(ws, "{\"type\":\"getHistory\",\"roomId\":\"general\",\"limit\":-3}",
                   "bad_request", NULL);
    char *big = malloc(5000 * 2 + 100);
    strcpy(big, "{\"type\":\"sendMessage\",\"roomId\":\"general\",\"content\":\"");
    for (int i = 0; i < 4001; i++)
        strcat(big, "x");
    strcat(big, "\"}");
    s_expect_error(ws, big, "message_too_long", NULL);
    free(big);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, a_message_over_64_kib_closes_with_1009)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    size_t n = 65537;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    chat_ws_send_text(ws, big);
    free(big);
    int code = chat_ws_expect_close(ws, 10000);
    cr_expect_eq(code, 1009, "closed with %d (%s)", code, chat_ws_close_reason(ws));
    chat_ws_destroy(&ws);
}

Test(gateway_alone, a_fragmented_message_is_assembled_up_to_64_kib)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    //  65536 bytes in four fragments: a ping with padding.
    size_t n = 65536;
    char *msg = malloc(n + 1);
    memset(msg, ' ', n);
    memcpy(msg, "{\"type\":\"ping\",\"ref\":\"frag\"", 27);
    msg[n - 1] = '}';
    size_t q = n / 4;
    cr_assert_eq(chat_ws_send_frame(ws, CHAT_WS_OP_TEXT, false, msg, q), 0);
    cr_assert_eq(chat_ws_send_frame(ws, CHAT_WS_OP_CONT, false, msg + q, q), 0);
    cr_assert_eq(chat_ws_send_frame(ws, CHAT_WS_OP_CONT, false, msg + 2 * q, q), 0);
    cr_assert_eq(chat_ws_send_frame(ws, CHAT_WS_OP_CONT, true, msg + 3 * q, n - 3 * q), 0);
    free(msg);
    cJSON *pong = chat_ws_recv_type(ws, "pong", true, 5000);
    cr_assert_not_null(pong);
    cr_expect_str_eq(chat_json_str(pong, "ref"), "frag");
    cJSON_Delete(pong);
    //  One byte more over fragments closes.
    char chunk[40000];
    memset(chunk, ' ', sizeof chunk);
    chunk[0] = '{';
    chat_ws_send_frame(ws, CHAT_WS_OP_TEXT, false, chunk, sizeof chunk);
    chat_ws_send_frame(ws, CHAT_WS_OP_CONT, true, chunk, 65537 - sizeof chunk);
    cr_expect_eq(chat_ws_expect_close(ws, 10000), 1009);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, a_binary_frame_closes_with_1003)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    chat_ws_send_frame(ws, CHAT_WS_OP_BINARY, true, "\x01\x02", 2);
    cr_expect_eq(chat_ws_expect_close(ws, 10000), 1003);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, invalid_utf8_closes_with_1007)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    const char bad[] = "{\"type\":\"ping\",\"ref\":\"\xc3\x28\"}";
    chat_ws_send_frame(ws, CHAT_WS_OP_TEXT, true, bad, sizeof bad - 1);
    cr_expect_eq(chat_ws_expect_close(ws, 10000), 1007);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, disconnect_closes_with_1000)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    chat_ws_send_text(ws, "{\"type\":\"disconnect\"}");
    cr_expect_eq(chat_ws_expect_close(ws, 10000), 1000);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, websocket_pings_are_answered_with_pongs)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    cr_assert_eq(chat_ws_send_frame(ws, CHAT_WS_OP_PING, true, "hb", 2), 0);
    int64_t deadline = chat_mono_ms() + 5000;
    while (chat_ws_pongs(ws) == 0 && chat_mono_ms() < deadline) {
        cJSON *j = chat_ws_recv_json(ws, 100);
        cJSON_Delete(j);
    }
    cr_expect_eq(chat_ws_pongs(ws), 1);
    chat_ws_destroy(&ws);
}

Test(gateway_alone, sigterm_stops_the_gateway_cleanly)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    int status = chat_proc_signal(s_gw, SIGTERM, 10000);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    chat_proc_stop(&s_gw);
    chat_ws_destroy(&ws);
}

//  A short idle limit, for the idle tests.
static void s_setup_idle(void)
{
    const char *extra[] = {"--client-idle-ms", "2000", NULL};
    s_start(extra);
}

TestSuite(gateway_idle, .init = s_setup_idle, .fini = s_teardown, .timeout = 60);

Test(gateway_idle, a_silent_client_is_pinged_then_closed_with_1001)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    //  Read without answering pings: the client must look dead.
    int64_t start = chat_mono_ms();
    int fd = chat_ws_fd(ws);
    char buf[256];
    int64_t deadline = start + 15000;
    bool closed = false;
    bool got_ping = false;
    while (!closed && chat_mono_ms() < deadline) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i + 1 < n; i++) {
            if ((uint8_t)buf[i] == 0x89 && buf[i + 1] == 4)
                got_ping = true;
            if ((uint8_t)buf[i] == 0x88 && i + 3 < n)
                closed = (((uint8_t)buf[i + 2] << 8) | (uint8_t)buf[i + 3]) == 1001;
        }
    }
    cr_expect(got_ping, "pinged after half the idle time");
    cr_expect(closed, "closed with 1001");
    cr_expect_geq(chat_mono_ms() - start, 1500);
    chat_ws_destroy(&ws);
}

Test(gateway_idle, a_client_that_answers_pings_stays_open)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    //  recv answers pings: 5 s of silence from the client's application.
    int64_t end = chat_mono_ms() + 5000;
    while (chat_mono_ms() < end) {
        cJSON *j = chat_ws_recv_json(ws, 200);
        cJSON_Delete(j);
    }
    cr_expect_eq(chat_ws_close_code(ws), 0, "closed with %d (%s)", chat_ws_close_code(ws),
                 chat_ws_close_reason(ws));
    cr_expect_geq(chat_ws_pings(ws), 1);
    cJSON *pong = chat_ws_call(ws, "{\"type\":\"ping\"}", "pong", 5000);
    cr_expect_not_null(pong);
    cJSON_Delete(pong);
    chat_ws_destroy(&ws);
}

//  At most 3 requests in flight per connection.
static void s_setup_pending(void)
{
    const char *extra[] = {"--max-pending", "3", "--retry-ms", "1500", NULL};
    s_start(extra);
}

TestSuite(gateway_pending, .init = s_setup_pending, .fini = s_teardown, .timeout = 60);

Test(gateway_pending, requests_past_the_in_flight_limit_are_refused_at_once)
{
    chat_ws_t *ws = chat_ws_login(s_port, "alice", NULL, 5000);
    cr_assert_not_null(ws);
    //  No registry: every history request waits for a lookup until it gives up.
    for (int i = 0; i < 5; i++)
        cr_assert_eq(
            chat_ws_sendf(ws, "{\"type\":\"getHistory\",\"roomId\":\"general\",\"ref\":\"%d\"}", i),
            0);
    int limited = 0, unavailable = 0;
    for (int i = 0; i < 5; i++) {
        cJSON *reply = chat_ws_recv_type(ws, "error", false, 10000);
        cr_assert_not_null(reply);
        const char *code = chat_json_str(reply, "code");
        if (strcmp(code, "rate_limited") == 0) {
            limited++;
            cr_expect_gt(chat_json_int(reply, "retryAfterMs"), 0);
            cr_expect(strcmp(chat_json_str(reply, "ref"), "3") == 0 ||
                      strcmp(chat_json_str(reply, "ref"), "4") == 0);
        }
        unavailable += strcmp(code, "unavailable") == 0;
        cJSON_Delete(reply);
    }
    cr_expect_eq(limited, 2);
    cr_expect_eq(unavailable, 3, "the registry cannot be reached");
    chat_ws_destroy(&ws);
}
