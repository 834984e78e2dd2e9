/*  chat-bench's WebSocket client connection (bench_conn) against a scripted
 *  server in the test: handshake, frames cut at any byte, fragments, ping,
 *  close. */
#define _GNU_SOURCE
#include "bench_conn.h"
#include "chat_clock.h"
#include "chat_wsframe.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int opened;         //  on_open calls
    char texts[8][256]; //  messages received, in order
    int n_texts;        //  entries in texts
    int close_code;     //  on_close code, 0 = not closed
} s_seen_t;

static void s_on_open(void *arg, bench_conn_t *conn)
{
    ((s_seen_t *)arg)->opened++;
}

static void s_on_text(void *arg, bench_conn_t *conn, const char *text, size_t len)
{
    s_seen_t *seen = arg;
    cr_assert_lt(seen->n_texts, 8);
    cr_assert_lt(len, 256);
    memcpy(seen->texts[seen->n_texts], text, len);
    seen->texts[seen->n_texts++][len] = '\0';
}

static void s_on_close(void *arg, bench_conn_t *conn, int code, const char *why)
{
    ((s_seen_t *)arg)->close_code = code;
}

static const bench_conn_handler_t s_handler = {s_on_open, s_on_text, s_on_close};

typedef struct {
    int listener;    //  listening socket
    int server;      //  accepted connection
    int ep;          //  the client's epoll
    bench_url_t url; //  where the client connects
    bench_conn_t *conn;
    s_seen_t seen;
    uint8_t scratch[65536];
} s_rig_t;

//  Serves epoll events of the client for ms.
static void s_pump(s_rig_t *r, int ms)
{
    int64_t end = chat_mono_ms() + ms;
    while (chat_mono_ms() < end) {
        struct epoll_event ev[4];
        int n = epoll_wait(r->ep, ev, 4, 10);
        for (int i = 0; i < n; i++)
            bench_conn_event(ev[i].data.ptr, ev[i].events, r->scratch, sizeof r->scratch);
    }
}

//  Reads from the server side what the client sent (up to cap), waiting up to ms.
static size_t s_server_read(s_rig_t *r, uint8_t *buf, size_t cap, int ms)
{
    size_t got = 0;
    int64_t end = chat_mono_ms() + ms;
    while (got < cap && chat_mono_ms() < end) {
        s_pump(r, 5);
        struct pollfd p = {r->server, POLLIN, 0};
        if (poll(&p, 1, 5) == 1) {
            ssize_t n = read(r->server, buf + got, cap - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            if (got >= 4 && memmem(buf, got, "\r\n\r\n", 4))
                break;
        }
    }
    return got;
}

//  Connects a client, answers its handshake, and checks it opened.
static void s_open(s_rig_t *r)
{
    memset(r, 0, sizeof *r);
    r->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    cr_assert_eq(bind(r->listener, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(listen(r->listener, 4), 0);
    getsockname(r->listener, (struct sockaddr *)&addr, &len);
    char text[64];
    snprintf(text, sizeof text, "ws://127.0.0.1:%d/ws", ntohs(addr.sin_port));
    cr_assert_eq(bench_url_parse(text, &r->url), 0);
    cr_assert_eq(bench_url_resolve(&r->url), 0);
    r->ep = epoll_create1(0);
    r->conn = bench_conn_new(r->ep, &r->url, 7, &s_handler, &r->seen);
    cr_assert_not_null(r->conn);
    r->server = accept(r->listener, NULL, NULL);
    cr_assert_geq(r->server, 0);
    uint8_t req[2048] = {0};
    s_server_read(r, req, sizeof req - 1, 5000);
    cr_assert_not_null(strstr((char *)req, "GET /ws HTTP/1.1"));
    char *key = strstr((char *)req, "Sec-WebSocket-Key: ");
    cr_assert_not_null(key);
    key += strlen("Sec-WebSocket-Key: ");
    key[24] = '\0';
    char accept_key[29], answer[256];
    chat_wsframe_accept(key, accept_key);
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept_key);
    //  The answer in two pieces: the client must wait for the whole head.
    cr_assert_eq(write(r->server, answer, 10), 10);
    s_pump(r, 20);
    cr_expect_eq(r->seen.opened, 0, "opened on half a handshake");
    cr_assert_eq(write(r->server, answer + 10, (size_t)n - 10), n - 10);
    s_pump(r, 50);
    cr_assert_eq(r->seen.opened, 1);
    cr_expect(bench_conn_is_open(r->conn));
    cr_expect_eq(bench_conn_index(r->conn), 7);
}

static void s_close(s_rig_t *r)
{
    bench_conn_destroy(&r->conn);
    cr_expect_null(r->conn);
    close(r->server);
    close(r->listener);
    close(r->ep);
}

//  A server (unmasked) frame.
static size_t s_frame(uint8_t *out, int opcode, bool fin, const char *payload)
{
    return chat_wsframe_encode(out, opcode, fin, payload, strlen(payload), NULL);
}

Test(conn, frames_cut_at_every_byte_arrive_whole_and_in_order)
{
    s_rig_t *r = calloc(1, sizeof *r);
    s_open(r);
    uint8_t wire[1024];
    size_t n = s_frame(wire, CHAT_WS_OP_TEXT, true, "{\"type\":\"one\"}");
    n += s_frame(wire + n, CHAT_WS_OP_TEXT, false, "{\"type\":");
    n += s_frame(wire + n, CHAT_WS_OP_CONT, true, "\"two\"}");
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(write(r->server, wire + i, 1), 1);
        s_pump(r, 2);
    }
    s_pump(r, 50);
    cr_assert_eq(r->seen.n_texts, 2);
    cr_expect_str_eq(r->seen.texts[0], "{\"type\":\"one\"}");
    cr_expect_str_eq(r->seen.texts[1], "{\"type\":\"two\"}", "fragments reassembled");
    s_close(r);
    free(r);
}

Test(conn, sends_masked_text_and_answers_a_ping_with_a_pong)
{
    s_rig_t *r = calloc(1, sizeof *r);
    s_open(r);
    cr_assert_eq(bench_conn_send_text(r->conn, "hello", 5), 0);
    uint8_t wire[256];
    size_t n = s_frame(wire, CHAT_WS_OP_PING, true, "p1");
    cr_assert_eq(write(r->server, wire, n), (ssize_t)n);
    s_pump(r, 50);
    uint8_t in[256];
    ssize_t got = read(r->server, in, sizeof in);
    cr_assert_gt(got, 0);
    chat_wsframe_t f;
    long used = chat_wsframe_parse(in, (size_t)got, &f);
    cr_assert_gt(used, 0);
    cr_expect(f.masked, "client frames are masked");
    cr_expect_eq(f.opcode, CHAT_WS_OP_TEXT);
    cr_expect_eq(f.len, 5);
    cr_expect_eq(memcmp(f.payload, "hello", 5), 0);
    long more = chat_wsframe_parse(in + used, (size_t)got - (size_t)used, &f);
    cr_assert_gt(more, 0, "a pong follows");
    cr_expect_eq(f.opcode, CHAT_WS_OP_PONG);
    cr_expect_eq(f.len, 2);
    cr_expect_eq(memcmp(f.payload, "p1", 2), 0, "the pong echoes the ping");
    s_close(r);
    free(r);
}

Test(conn, a_close_frame_reports_its_code_and_stops_sending)
{
    s_rig_t *r = calloc(1, sizeof *r);
    s_open(r);
    uint8_t payload[125], wire[256];
    size_t plen = chat_wsframe_close_payload(payload, 1008, "too slow");
    size_t n = chat_wsframe_encode(wire, CHAT_WS_OP_CLOSE, true, payload, plen, NULL);
    cr_assert_eq(write(r->server, wire, n), (ssize_t)n);
    s_pump(r, 50);
    cr_expect_eq(r->seen.close_code, 1008);
    cr_expect_not(bench_conn_is_open(r->conn));
    cr_expect_eq(bench_conn_send_text(r->conn, "x", 1), -1);
    s_close(r);
    free(r);
}

Test(conn, a_masked_or_broken_server_frame_ends_the_connection)
{
    s_rig_t *r = calloc(1, sizeof *r);
    s_open(r);
    uint8_t wire[64];
    const uint8_t mask[4] = {1, 2, 3, 4};
    size_t n = chat_wsframe_encode(wire, CHAT_WS_OP_TEXT, true, "{}", 2, mask);
    cr_assert_eq(write(r->server, wire, n), (ssize_t)n);
    s_pump(r, 50);
    cr_expect_eq(r->seen.close_code, 1002);
    cr_expect_eq(r->seen.n_texts, 0);
    s_close(r);

    s_open(r);
    uint8_t reserved[] = {0xF1, 0x00}; //  RSV bits set
    cr_assert_eq(write(r->server, reserved, 2), 2);
    s_pump(r, 50);
    cr_expect_eq(r->seen.close_code, 1002);
    s_close(r);
    free(r);
}

Test(conn, the_end_of_the_tcp_connection_is_reported_as_1006)
{
    s_rig_t *r = calloc(1, sizeof *r);
    s_open(r);
    close(r->server);
    r->server = -1;
    s_pump(r, 50);
    cr_expect_eq(r->seen.close_code, 1006);
    bench_conn_destroy(&r->conn);
    close(r->listener);
    close(r->ep);
    free(r);
}

Test(conn, a_refused_handshake_is_reported)
{
    s_rig_t *r = calloc(1, sizeof *r);
    r->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    bind(r->listener, (struct sockaddr *)&addr, sizeof addr);
    listen(r->listener, 4);
    getsockname(r->listener, (struct sockaddr *)&addr, &len);
    char text[64];
    snprintf(text, sizeof text, "ws://127.0.0.1:%d/ws", ntohs(addr.sin_port));
    bench_url_parse(text, &r->url);
    bench_url_resolve(&r->url);
    r->ep = epoll_create1(0);
    r->conn = bench_conn_new(r->ep, &r->url, 0, &s_handler, &r->seen);
    r->server = accept(r->listener, NULL, NULL);
    uint8_t req[2048];
    s_server_read(r, req, sizeof req, 5000);
    const char *no = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    cr_assert_eq(write(r->server, no, strlen(no)), (ssize_t)strlen(no));
    s_pump(r, 50);
    cr_expect_eq(r->seen.opened, 0);
    cr_expect_eq(r->seen.close_code, 1006);
    s_close(r);
    free(r);
}
