/*  fuzz_gw_session: the gateway's receive path, whole. A real gateway
 *  (gw_server) runs in this process and each input is one client
 *  connection over loopback TCP: the opening handshake, with extra header
 *  lines from the input (Origin, Host, anything), then WebSocket frames.
 *  So lws's HTTP and frame parsers, the upgrade gate (path, origin),
 *  gw_session's assembly of fragments and its limits, gw_json and the ops
 *  each request starts all read the input. No registry answers: requests
 *  that need the cluster time out and are retried as in an outage.
 *
 *  Frames of an input (fuzz_support.h): the first holds the extra header
 *  lines, raw (put before the blank line that ends the request). Each
 *  next one is sent according to its first byte:
 *      0x80 set   the rest as raw bytes
 *      else       a frame of opcode (low 4 bits), not final when 0x10 is
 *                 set, unmasked when 0x20 is set, payload = the rest
 *  Then the client half-closes and reads until the gateway closes.
 *  Properties: the gateway closes the connection; it is still serving the
 *  next input (a crash or a hang of the loop is a finding).
 */
#include "chat_clock.h"
#include "chat_wsframe.h"
#include "fuzz_support.h"
#include "gw_config.h"
#include "gw_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Most bytes one input sends (a bit over the 64 KiB message limit).
#define S_SEND_MAX (256 * 1024)
//  How long the gateway has to close a connection once the client is done.
#define S_CLOSE_WAIT_MS 5000

static gw_t *s_gw;
static int s_port;

static const char s_request[] = "GET /ws HTTP/1.1\r\n"
                                "Host: gw.test\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n";

//  What one input sends, built before the connection opens.
typedef struct {
    uint8_t *data; //  bytes to send
    size_t len;    //  bytes used
} s_wire_t;

static void s_put(s_wire_t *w, const void *data, size_t len)
{
    if (len > S_SEND_MAX - w->len)
        len = S_SEND_MAX - w->len;
    memcpy(w->data + w->len, data, len);
    w->len += len;
}

static void s_put_frame(s_wire_t *w, const uint8_t *frame, size_t len)
{
    static const uint8_t mask[4] = {0xa5, 0x01, 0x7e, 0x3c};
    if (len == 0)
        return;
    uint8_t control = frame[0];
    const uint8_t *payload = frame + 1;
    size_t payload_len = len - 1;
    if (control & 0x80) {
        s_put(w, payload, payload_len);
        return;
    }
    size_t room = S_SEND_MAX - w->len;
    if (room < CHAT_WSFRAME_HEADER_MAX + payload_len)
        return;
    w->len += chat_wsframe_encode(w->data + w->len, control & 0x0F, !(control & 0x10), payload,
                                  payload_len, control & 0x20 ? NULL : mask);
}

static void s_build(s_wire_t *w, const uint8_t *data, size_t size)
{
    fuzz_reader_t r = {data, size};
    const uint8_t *frame;
    size_t len;
    s_put(w, s_request, sizeof s_request - 1);
    if (fuzz_next_frame(&r, &frame, &len))
        s_put(w, frame, len);
    s_put(w, "\r\n", 2);
    while (fuzz_next_frame(&r, &frame, &len))
        s_put_frame(w, frame, len);
}

static void s_service(void)
{
    //  A negative timeout: handle what is ready, never sleep.
    lws_service(s_gw->context, -1);
}

//  Reads what the gateway sent; false once it closed (or reset) the connection.
static bool s_drain(int fd)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
}

static int s_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        fuzz_fail("cannot connect to the gateway on port %d: %s", s_port, strerror(errno));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    signal(SIGPIPE, SIG_IGN);
    gw_config_t config;
    gw_config_defaults(&config);
    config.port = 0;
    config.listen = "127.0.0.1";
    config.registry = "inproc://fuzz-no-registry";
    config.registry_pub = "inproc://fuzz-no-registry-events";
    config.event_lib = "poll";
    config.origins = "self,https://app.example";
    //  Ops give up soon: nothing answers them.
    config.request_timeout_ms = 50;
    config.retry_ms = 100;
    s_gw = gw_server_new(&config);
    if (!s_gw)
        fuzz_fail("no gateway");
    s_port = gw_server_port(s_gw);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_wire_t w = {malloc(S_SEND_MAX), 0};
    if (!w.data)
        abort();
    s_build(&w, data, size);
    int fd = s_connect();
    size_t sent = 0;
    bool open = true;
    int64_t deadline = chat_mono_ms() + S_CLOSE_WAIT_MS;
    while (open && sent < w.len && chat_mono_ms() < deadline) {
        ssize_t n = send(fd, w.data + sent, w.len - sent, MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            break; //  the gateway closed already
        s_service();
        open = s_drain(fd);
    }
    shutdown(fd, SHUT_WR);
    while (open && chat_mono_ms() < deadline) {
        s_service();
        open = s_drain(fd);
    }
    if (open)
        fuzz_fail("the gateway kept the connection open %d ms after the client finished",
                  S_CLOSE_WAIT_MS);
    close(fd);
    //  Let the gateway finish with the connection before the next one.
    for (int i = 0; i < 100 && s_gw->metrics.connections_open; i++)
        s_service();
    free(w.data);
    return 0;
}
