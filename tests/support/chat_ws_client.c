/*  chat_ws_client: see chat_ws_client.h. */
#define _GNU_SOURCE
#include "chat_ws_client.h"
#include "chat_clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

struct chat_ws {
    int fd;                 //  connected socket, -1 after destroy
    char protocol[64];      //  subprotocol the server chose
    uint8_t *in;            //  bytes received and not yet consumed
    size_t in_len;          //  bytes in in
    size_t in_cap;          //  capacity of in
    size_t consumed;        //  bytes of in used by the last message returned
    char *msg;              //  reassembled message (fragments), NUL-terminated
    size_t msg_len;         //  bytes in msg
    size_t msg_cap;         //  capacity of msg
    int msg_opcode;         //  opcode of the message being assembled
    int close_code;         //  close code seen, 0 while open
    char close_reason[128]; //  reason of the close frame
    int pongs;              //  pongs received
    int pings;              //  pings received
};

static int s_rcvbuf;

void chat_ws_client_rcvbuf(int bytes)
{
    s_rcvbuf = bytes;
}

static int s_left(int64_t deadline)
{
    int64_t left = deadline - chat_mono_ms();
    return left < 0 ? 0 : (int)left;
}

//  Writes all of data, waiting for the socket up to 10 s.
static int s_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    int64_t deadline = chat_mono_ms() + 10000;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        struct pollfd pfd = {fd, POLLOUT, 0};
        if (poll(&pfd, 1, s_left(deadline)) <= 0)
            return -1;
    }
    return 0;
}

//  Reads what is available into ws->in, waiting until deadline. Returns
//  bytes read, 0 on timeout, -1 when the connection ended.
static int s_fill(chat_ws_t *ws, int64_t deadline)
{
    if (ws->in_cap - ws->in_len < 65536) {
        size_t cap = ws->in_cap ? ws->in_cap * 2 : 131072;
        uint8_t *grown = realloc(ws->in, cap);
        if (!grown)
            return -1;
        ws->in = grown;
        ws->in_cap = cap;
    }
    struct pollfd pfd = {ws->fd, POLLIN, 0};
    int r = poll(&pfd, 1, s_left(deadline));
    if (r <= 0)
        return 0;
    ssize_t n = recv(ws->fd, ws->in + ws->in_len, ws->in_cap - ws->in_len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    if (n < 0)
        return 0;
    ws->in_len += (size_t)n;
    return (int)n;
}

chat_ws_t *chat_ws_connect(int port, const char *path, const char *protocol, int timeout_ms)
{
    int64_t deadline = chat_mono_ms() + timeout_ms;
    chat_ws_t *ws = calloc(1, sizeof *ws);
    ws->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(ws->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s_rcvbuf > 0)
        setsockopt(ws->fd, SOL_SOCKET, SO_RCVBUF, &s_rcvbuf, sizeof s_rcvbuf);
    if (connect(ws->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS)
        goto fail;
    struct pollfd pfd = {ws->fd, POLLOUT, 0};
    int err = 0;
    socklen_t err_len = sizeof err;
    if (poll(&pfd, 1, s_left(deadline)) <= 0 ||
        getsockopt(ws->fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0)
        goto fail;

    uint8_t nonce[16];
    if (getrandom(nonce, sizeof nonce, 0) != sizeof nonce)
        goto fail;
    char key[25], request[512], host[64];
    chat_wsframe_key(nonce, key);
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    int n = chat_wsframe_request(request, sizeof request, host, path, key, protocol);
    if (n < 0 || s_write_all(ws->fd, request, (size_t)n) != 0)
        goto fail;
    for (;;) {
        long head = chat_wsframe_response((const char *)ws->in, ws->in_len, key, ws->protocol,
                                          sizeof ws->protocol);
        if (head < 0)
            goto fail;
        if (head > 0) {
            memmove(ws->in, ws->in + head, ws->in_len - (size_t)head);
            ws->in_len -= (size_t)head;
            return ws;
        }
        if (s_fill(ws, deadline) <= 0)
            goto fail;
    }
fail:
    chat_ws_destroy(&ws);
    return NULL;
}

void chat_ws_destroy(chat_ws_t **ws_p)
{
    if (!ws_p || !*ws_p)
        return;
    chat_ws_t *ws = *ws_p;
    if (ws->fd >= 0)
        close(ws->fd);
    free(ws->in);
    free(ws->msg);
    free(ws);
    *ws_p = NULL;
}

const char *chat_ws_protocol(const chat_ws_t *ws)
{
    return ws->protocol;
}

int chat_ws_fd(const chat_ws_t *ws)
{
    return ws->fd;
}

int chat_ws_send_frame(chat_ws_t *ws, int opcode, bool fin, const void *data, size_t len)
{
    uint8_t mask[4];
    if (getrandom(mask, sizeof mask, 0) != sizeof mask)
        return -1;
    uint8_t *frame = malloc(len + CHAT_WSFRAME_HEADER_MAX);
    if (!frame)
        return -1;
    size_t n = chat_wsframe_encode(frame, opcode, fin, data, len, mask);
    int rc = s_write_all(ws->fd, frame, n);
    free(frame);
    return rc;
}

int chat_ws_send_text(chat_ws_t *ws, const char *text)
{
    return chat_ws_send_frame(ws, CHAT_WS_OP_TEXT, true, text, strlen(text));
}

int chat_ws_sendf(chat_ws_t *ws, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, args);
    va_end(args);
    if (n < 0)
        return -1;
    int rc = chat_ws_send_text(ws, text);
    free(text);
    return rc;
}

int chat_ws_send_raw(chat_ws_t *ws, const void *data, size_t len)
{
    return s_write_all(ws->fd, data, len);
}

int chat_ws_send_close(chat_ws_t *ws, int code, const char *reason)
{
    uint8_t payload[125];
    size_t n = chat_wsframe_close_payload(payload, code, reason);
    return chat_ws_send_frame(ws, CHAT_WS_OP_CLOSE, true, payload, n);
}

static int s_msg_append(chat_ws_t *ws, const uint8_t *data, size_t len)
{
    if (ws->msg_len + len + 1 > ws->msg_cap) {
        size_t cap = ws->msg_cap ? ws->msg_cap : 4096;
        while (cap < ws->msg_len + len + 1)
            cap *= 2;
        char *grown = realloc(ws->msg, cap);
        if (!grown)
            return -1;
        ws->msg = grown;
        ws->msg_cap = cap;
    }
    memcpy(ws->msg + ws->msg_len, data, len);
    ws->msg_len += len;
    ws->msg[ws->msg_len] = '\0';
    return 0;
}

//  Handles one control frame. Returns -1 when it was a close frame.
static int s_control(chat_ws_t *ws, const chat_wsframe_t *frame)
{
    if (frame->opcode == CHAT_WS_OP_PING) {
        ws->pings++;
        chat_ws_send_frame(ws, CHAT_WS_OP_PONG, true, frame->payload, (size_t)frame->len);
        return 0;
    }
    if (frame->opcode == CHAT_WS_OP_PONG) {
        ws->pongs++;
        return 0;
    }
    const char *reason;
    size_t reason_len;
    ws->close_code = chat_wsframe_close_code(frame, &reason, &reason_len);
    if (reason_len >= sizeof ws->close_reason)
        reason_len = sizeof ws->close_reason - 1;
    memcpy(ws->close_reason, reason, reason_len);
    ws->close_reason[reason_len] = '\0';
    return -1;
}

int chat_ws_recv_message(chat_ws_t *ws, int *opcode, const char **data, size_t *len, int timeout_ms)
{
    int64_t deadline = chat_mono_ms() + timeout_ms;
    if (ws->consumed) {
        memmove(ws->in, ws->in + ws->consumed, ws->in_len - ws->consumed);
        ws->in_len -= ws->consumed;
        ws->consumed = 0;
    }
    if (ws->close_code)
        return -1;
    ws->msg_len = 0;
    size_t pos = 0;
    for (;;) {
        chat_wsframe_t frame;
        long n = chat_wsframe_parse(ws->in + pos, ws->in_len - pos, &frame);
        if (n < 0) {
            ws->close_code = 1002;
            return -1;
        }
        if (n == 0) {
            //  Drop what was parsed so far (its payload is in msg or handled).
            memmove(ws->in, ws->in + pos, ws->in_len - pos);
            ws->in_len -= pos;
            pos = 0;
            int r = s_fill(ws, deadline);
            if (r < 0) {
                ws->close_code = 1006;
                return -1;
            }
            if (r == 0)
                return 0;
            continue;
        }
        pos += (size_t)n;
        if (frame.opcode & 0x08) {
            if (s_control(ws, &frame) < 0)
                return -1;
            continue;
        }
        if (frame.opcode != CHAT_WS_OP_CONT)
            ws->msg_opcode = frame.opcode;
        if (s_msg_append(ws, frame.payload, (size_t)frame.len) != 0)
            return -1;
        if (frame.fin) {
            ws->consumed = pos;
            *opcode = ws->msg_opcode;
            *data = ws->msg ? ws->msg : "";
            *len = ws->msg_len;
            return 1;
        }
    }
}

cJSON *chat_ws_recv_json(chat_ws_t *ws, int timeout_ms)
{
    int opcode;
    const char *data;
    size_t len;
    if (chat_ws_recv_message(ws, &opcode, &data, &len, timeout_ms) != 1)
        return NULL;
    if (opcode != CHAT_WS_OP_TEXT)
        return NULL;
    return cJSON_ParseWithLength(data, len);
}

cJSON *chat_ws_recv_type(chat_ws_t *ws, const char *type, bool or_error, int timeout_ms)
{
    int64_t deadline = chat_mono_ms() + timeout_ms;
    for (;;) {
        int left = s_left(deadline);
        if (left == 0)
            return NULL;
        int opcode;
        const char *data;
        size_t len;
        int r = chat_ws_recv_message(ws, &opcode, &data, &len, left);
        if (r < 0)
            return NULL;
        if (r == 0)
            continue;
        cJSON *json = cJSON_ParseWithLength(data, len);
        const char *got = chat_json_str(json, "type");
        if (strcmp(got, type) == 0 || (or_error && strcmp(got, "error") == 0))
            return json;
        cJSON_Delete(json);
    }
}

int chat_ws_expect_close(chat_ws_t *ws, int timeout_ms)
{
    int64_t deadline = chat_mono_ms() + timeout_ms;
    while (!ws->close_code) {
        int left = s_left(deadline);
        if (left == 0)
            return -1;
        int opcode;
        const char *data;
        size_t len;
        chat_ws_recv_message(ws, &opcode, &data, &len, left);
    }
    return ws->close_code;
}

int chat_ws_close_code(const chat_ws_t *ws)
{
    return ws->close_code;
}

const char *chat_ws_close_reason(const chat_ws_t *ws)
{
    return ws->close_reason;
}

int chat_ws_pongs(const chat_ws_t *ws)
{
    return ws->pongs;
}

int chat_ws_pings(const chat_ws_t *ws)
{
    return ws->pings;
}

cJSON *chat_ws_call(chat_ws_t *ws, const char *text, const char *reply_type, int timeout_ms)
{
    if (chat_ws_send_text(ws, text) != 0)
        return NULL;
    return chat_ws_recv_type(ws, reply_type, true, timeout_ms);
}

chat_ws_t *chat_ws_login(int port, const char *user_id, const char *name, int timeout_ms)
{
    chat_ws_t *ws = chat_ws_connect(port, "/ws", NULL, timeout_ms);
    if (!ws)
        return NULL;
    char text[256];
    if (name)
        snprintf(text, sizeof text, "{\"type\":\"connect\",\"userId\":\"%s\",\"name\":\"%s\"}",
                 user_id, name);
    else
        snprintf(text, sizeof text, "{\"type\":\"connect\",\"userId\":\"%s\"}", user_id);
    cJSON *reply = chat_ws_call(ws, text, "connected", timeout_ms);
    bool ok = reply && strcmp(chat_json_str(reply, "type"), "connected") == 0;
    cJSON_Delete(reply);
    if (!ok)
        chat_ws_destroy(&ws);
    return ws;
}

int chat_http_get(int port, const char *path, char *body, size_t cap, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[512];
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof req || s_write_all(fd, req, (size_t)n) != 0) {
        close(fd);
        return -1;
    }
    size_t resp_cap = cap + 4096, len = 0;
    char *resp = malloc(resp_cap + 1);
    int64_t deadline = chat_mono_ms() + timeout_ms;
    while (resp && len < resp_cap) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, s_left(deadline)) <= 0)
            break;
        ssize_t r = recv(fd, resp + len, resp_cap - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (!resp)
        return -1;
    resp[len] = '\0';
    int status = -1;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
        status = -1;
    const char *b = strstr(resp, "\r\n\r\n");
    if (body && cap)
        snprintf(body, cap, "%s", b ? b + 4 : "");
    free(resp);
    return status;
}

const char *chat_json_str(const cJSON *obj, const char *name)
{
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    return cJSON_IsString(item) ? item->valuestring : "";
}

long long chat_json_int(const cJSON *obj, const char *name)
{
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    return cJSON_IsNumber(item) ? (long long)item->valuedouble : -1;
}
