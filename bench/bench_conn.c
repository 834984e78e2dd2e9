/*  bench_conn: see bench_conn.h. */
#define _GNU_SOURCE
#include "bench_conn.h"
#include "chat_clock.h"
#include "chat_wsframe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

//  Smallest own receive buffer, allocated when a read cuts a frame.
#define S_RX_MIN 4096
//  Own receive buffers past this are freed when they empty.
#define S_RX_KEEP 65536
//  Longest handshake answer accepted.
#define S_HEAD_MAX 16384
//  Largest frame sent (a text message of 64 KiB and its header).
#define S_TX_MAX (65536 + CHAT_WSFRAME_HEADER_MAX)

typedef enum { S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSED } s_state_t;

struct bench_conn {
    int fd;                              //  the socket, -1 once closed
    int epoll_fd;                        //  the owner's epoll
    uint32_t index;                      //  the owner's number for it
    uint8_t state;                       //  s_state_t
    bool write_failed;                   //  a write failed: send nothing more
    bool want_out;                       //  registered for EPOLLOUT
    uint8_t frag_op;                     //  opcode of the message being reassembled, 0 = none
    const bench_url_t *url;              //  where it connects (borrowed)
    const bench_conn_handler_t *handler; //  callbacks (borrowed)
    void *arg;                           //  their argument
    char key[25];                        //  Sec-WebSocket-Key sent
    uint8_t *rx;                         //  bytes read but not handled yet
    uint32_t rx_len;                     //  bytes in rx
    uint32_t rx_cap;                     //  capacity of rx
    uint8_t *frag;                       //  fragments of a message so far
    uint32_t frag_len;                   //  bytes in frag
    uint32_t frag_cap;                   //  capacity of frag
    uint8_t *tx;                         //  bytes the socket did not take yet
    uint32_t tx_off;                     //  first unsent byte in tx
    uint32_t tx_len;                     //  end of the unsent bytes in tx
    uint32_t tx_cap;                     //  capacity of tx
};

// ------------------------------------------------------------ urls

int bench_url_parse(const char *text, bench_url_t *url)
{
    memset(url, 0, sizeof *url);
    if (strncmp(text, "ws://", 5) != 0)
        return -1;
    const char *host = text + 5;
    const char *slash = strchr(host, '/');
    const char *end = slash ? slash : host + strlen(host);
    const char *colon = memchr(host, ':', (size_t)(end - host));
    const char *host_end = colon ? colon : end;
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len >= sizeof url->host)
        return -1;
    memcpy(url->host, host, host_len);
    url->port = 80;
    if (colon) {
        char *num_end = NULL;
        long port = strtol(colon + 1, &num_end, 10);
        if (num_end != end || colon + 1 == end || port < 1 || port > 65535)
            return -1;
        url->port = (int)port;
    }
    const char *path = slash ? slash : "/";
    if (strlen(path) >= sizeof url->path)
        return -1;
    strcpy(url->path, path);
    return 0;
}

//  True when addr is loopback or one of this machine's addresses.
static bool s_local(const struct in_addr *addr)
{
    if ((ntohl(addr->s_addr) >> 24) == 127)
        return true;
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return false;
    bool local = false;
    for (struct ifaddrs *i = list; i && !local; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
            local = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr->s_addr;
    freeifaddrs(list);
    return local;
}

int bench_url_resolve(bench_url_t *url)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(url->host, NULL, &hints, &res) != 0 || !res)
        return -1;
    memcpy(&url->addr, res->ai_addr, sizeof url->addr);
    url->addr.sin_port = htons((uint16_t)url->port);
    freeaddrinfo(res);
    url->local = s_local(&url->addr.sin_addr);
    return 0;
}

// ------------------------------------------------------------ helpers

//  xorshift64*: masks and nonces need to be unpredictable to proxies, not
//  cryptographic; a syscall per frame would cost more than the frame.
static uint64_t s_random(void)
{
    static _Thread_local uint64_t state;
    if (!state)
        state = (uint64_t)chat_mono_us() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
}

static void s_epoll(bench_conn_t *c, bool out)
{
    if (c->fd < 0 || c->want_out == out)
        return;
    c->want_out = out;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(c->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void s_close_fd(bench_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd); //  also leaves the epoll set
    c->fd = -1;
    c->state = S_CLOSED;
    free(c->rx);
    free(c->frag);
    free(c->tx);
    c->rx = c->frag = c->tx = NULL;
    c->rx_len = c->rx_cap = c->frag_len = c->frag_cap = 0;
    c->tx_off = c->tx_len = c->tx_cap = 0;
}

//  The connection ended for a reason the owner must hear about.
static void s_fail(bench_conn_t *c, int code, const char *why)
{
    if (c->state == S_CLOSED)
        return;
    s_close_fd(c);
    if (c->handler->on_close)
        c->handler->on_close(c->arg, c, code, why);
}

//  Makes room for need more bytes in a buffer (grows by doubling).
static void s_reserve(uint8_t **buf, uint32_t *cap, uint32_t used, size_t need, uint32_t min)
{
    if (used + need <= *cap)
        return;
    size_t cap2 = *cap ? *cap : min;
    while (cap2 < used + need)
        cap2 *= 2;
    uint8_t *grown = realloc(*buf, cap2);
    if (!grown)
        abort();
    *buf = grown;
    *cap = (uint32_t)cap2;
}

// ------------------------------------------------------------ writing

//  Writes what is pending; keeps what the socket does not take.
static void s_flush(bench_conn_t *c)
{
    while (c->tx_off < c->tx_len && !c->write_failed) {
        ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->tx_off += (uint32_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            s_epoll(c, true);
            return;
        } else {
            c->write_failed = true; //  the read side reports the end
        }
    }
    c->tx_off = c->tx_len = 0;
    s_epoll(c, false);
}

//  Sends bytes: straight to the socket when nothing is pending.
static void s_write(bench_conn_t *c, const uint8_t *data, size_t len)
{
    if (c->write_failed)
        return;
    if (c->tx_off == c->tx_len) {
        ssize_t n;
        do
            n = send(c->fd, data, len, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)len)
            return;
        if (n < 0 && errno != EAGAIN) {
            c->write_failed = true;
            return;
        }
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
        c->tx_off = c->tx_len = 0;
    }
    s_reserve(&c->tx, &c->tx_cap, c->tx_len, len, 4096);
    memcpy(c->tx + c->tx_len, data, len);
    c->tx_len += (uint32_t)len;
    s_epoll(c, true);
}

static int s_send_frame(bench_conn_t *c, int opcode, const void *payload, size_t len)
{
    static _Thread_local uint8_t frame[S_TX_MAX];
    if (c->state != S_OPEN || c->write_failed || len > S_TX_MAX - CHAT_WSFRAME_HEADER_MAX)
        return -1;
    uint64_t r = s_random();
    uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
    size_t n = chat_wsframe_encode(frame, opcode, true, payload, len, mask);
    s_write(c, frame, n);
    return 0;
}

// ------------------------------------------------------------ reading

//  Bytes the frame at buf needs in all, 0 while its header is incomplete.
static size_t s_frame_need(const uint8_t *buf, size_t len)
{
    if (len < 2)
        return 0;
    uint64_t plen = buf[1] & 0x7F;
    size_t head = 2;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = ((uint64_t)buf[2] << 8) | buf[3];
        head = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        plen = 0;
        for (int i = 2; i < 10; i++)
            plen = (plen << 8) | buf[i];
        head = 10;
    }
    if (buf[1] & 0x80)
        head += 4;
    return plen > (1u << 30) ? SIZE_MAX : head + (size_t)plen;
}

static void s_on_data_frame(bench_conn_t *c, const chat_wsframe_t *f)
{
    if (f->opcode != CHAT_WS_OP_CONT && c->frag_op) {
        s_fail(c, 1002, "new message inside a fragmented one");
        return;
    }
    if (f->opcode == CHAT_WS_OP_CONT && !c->frag_op) {
        s_fail(c, 1002, "continuation without a message");
        return;
    }
    int opcode = f->opcode == CHAT_WS_OP_CONT ? c->frag_op : f->opcode;
    if (opcode == CHAT_WS_OP_BINARY) {
        s_fail(c, 1003, "binary message from the server");
        return;
    }
    if (f->fin && !c->frag_op) {
        c->handler->on_text(c->arg, c, (const char *)f->payload, (size_t)f->len);
        return;
    }
    s_reserve(&c->frag, &c->frag_cap, c->frag_len, (size_t)f->len, 1024);
    memcpy(c->frag + c->frag_len, f->payload, (size_t)f->len);
    c->frag_len += (uint32_t)f->len;
    c->frag_op = (uint8_t)opcode;
    if (f->fin) {
        c->frag_op = 0;
        c->handler->on_text(c->arg, c, (const char *)c->frag, c->frag_len);
        if (c->state == S_OPEN)
            c->frag_len = 0;
    }
}

static void s_on_frame(bench_conn_t *c, const chat_wsframe_t *f)
{
    if (f->masked) {
        s_fail(c, 1002, "masked frame from the server");
        return;
    }
    switch (f->opcode) {
    case CHAT_WS_OP_PING:
        s_send_frame(c, CHAT_WS_OP_PONG, f->payload, (size_t)f->len);
        return;
    case CHAT_WS_OP_PONG:
        return;
    case CHAT_WS_OP_CLOSE: {
        int code = chat_wsframe_close_code(f, NULL, NULL);
        uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        s_send_frame(c, CHAT_WS_OP_CLOSE, payload, code == CHAT_WS_CLOSE_NO_STATUS ? 0 : 2);
        s_fail(c, code, "closed by the server");
        return;
    }
    default:
        s_on_data_frame(c, f);
    }
}

//  Handles the complete frames in buf; returns the bytes consumed. *need
//  gets the size of the cut frame at the end (0 when unknown).
static size_t s_frames(bench_conn_t *c, uint8_t *buf, size_t len, size_t *need)
{
    size_t off = 0;
    *need = 0;
    while (c->state == S_OPEN && off < len) {
        chat_wsframe_t f;
        long n = chat_wsframe_parse(buf + off, len - off, &f);
        if (n < 0) {
            s_fail(c, 1002, "malformed frame from the server");
            break;
        }
        if (n == 0) {
            *need = s_frame_need(buf + off, len - off);
            break;
        }
        off += (size_t)n;
        s_on_frame(c, &f);
    }
    return off;
}

//  The handshake answer in c->rx; on success the connection opens and the
//  bytes after the head are handled as frames. Returns the bytes consumed.
static size_t s_handshake(bench_conn_t *c, size_t *need)
{
    *need = 0;
    long head = chat_wsframe_response((const char *)c->rx, c->rx_len, c->key, NULL, 0);
    if (head < 0 || (head == 0 && c->rx_len >= S_HEAD_MAX)) {
        s_fail(c, 1006, "handshake refused");
        return 0;
    }
    if (head == 0)
        return 0;
    c->state = S_OPEN;
    if (c->handler->on_open)
        c->handler->on_open(c->arg, c);
    if (c->state != S_OPEN)
        return (size_t)head;
    return (size_t)head + s_frames(c, c->rx + head, c->rx_len - (size_t)head, need);
}

//  Keeps the unhandled tail of buf[0..len) in c->rx for the next read.
static void s_keep(bench_conn_t *c, const uint8_t *buf, size_t len, size_t used, size_t need)
{
    size_t left = len - used;
    if (buf == c->rx) {
        if (left && used)
            memmove(c->rx, c->rx + used, left);
        c->rx_len = (uint32_t)left;
    } else if (left) {
        s_reserve(&c->rx, &c->rx_cap, 0, left, S_RX_MIN);
        memcpy(c->rx, buf + used, left);
        c->rx_len = (uint32_t)left;
    }
    if (need > left && need != SIZE_MAX)
        s_reserve(&c->rx, &c->rx_cap, c->rx_len, need - c->rx_len, S_RX_MIN);
    if (c->rx_len == 0 && c->rx_cap > S_RX_KEEP) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
}

static void s_read(bench_conn_t *c, uint8_t *scratch, size_t cap)
{
    while (c->state == S_HANDSHAKE || c->state == S_OPEN) {
        bool own = c->rx_len > 0 || c->state == S_HANDSHAKE;
        if (own)
            s_reserve(&c->rx, &c->rx_cap, c->rx_len, S_RX_MIN / 2, S_RX_MIN);
        uint8_t *buf = own ? c->rx : scratch;
        size_t at = own ? c->rx_len : 0;
        size_t space = (own ? c->rx_cap : cap) - at;
        ssize_t n = recv(c->fd, buf + at, space, 0);
        if (n == 0) {
            s_fail(c, 1006, "connection ended");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                s_fail(c, 1006, c->state == S_HANDSHAKE ? "handshake failed" : "read failed");
            return;
        }
        size_t len = at + (size_t)n, need = 0, used;
        if (own)
            c->rx_len = (uint32_t)len;
        if (c->state == S_HANDSHAKE)
            used = s_handshake(c, &need);
        else
            used = s_frames(c, buf, len, &need);
        if (c->state == S_CLOSED)
            return;
        s_keep(c, buf, len, used, need);
        if ((size_t)n < space)
            return; //  the socket is drained
    }
}

// ------------------------------------------------------------ connecting

static void s_connected(bench_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
        s_fail(c, 1006, "connect failed");
        return;
    }
    uint8_t nonce[16];
    uint64_t a = s_random(), b = s_random();
    memcpy(nonce, &a, 8);
    memcpy(nonce + 8, &b, 8);
    chat_wsframe_key(nonce, c->key);
    char host[160], request[512];
    snprintf(host, sizeof host, "%s:%d", c->url->host, c->url->port);
    int n = chat_wsframe_request(request, sizeof request, host, c->url->path, c->key, "chat.v1");
    if (n < 0) {
        s_fail(c, 1006, "request too long");
        return;
    }
    c->state = S_HANDSHAKE;
    s_write(c, (const uint8_t *)request, (size_t)n);
    if (c->tx_off == c->tx_len)
        s_epoll(c, false);
}

bench_conn_t *bench_conn_new(int epoll_fd, const bench_url_t *url, uint32_t index,
                             const bench_conn_handler_t *handler, void *arg)
{
    bench_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->epoll_fd = epoll_fd;
    c->url = url;
    c->index = index;
    c->handler = handler;
    c->arg = arg;
    c->state = S_CONNECTING;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        free(c);
        return NULL;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if ((connect(c->fd, (const struct sockaddr *)&url->addr, sizeof url->addr) != 0 &&
         errno != EINPROGRESS) ||
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        int saved = errno;
        close(c->fd);
        free(c);
        errno = saved;
        return NULL;
    }
    return c;
}

void bench_conn_event(bench_conn_t *c, uint32_t events, uint8_t *scratch, size_t cap)
{
    if (c->state == S_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            s_connected(c);
        return;
    }
    if ((events & EPOLLOUT) && c->state != S_CLOSED)
        s_flush(c);
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        s_read(c, scratch, cap);
}

int bench_conn_send_text(bench_conn_t *c, const char *text, size_t len)
{
    return s_send_frame(c, CHAT_WS_OP_TEXT, text, len);
}

void bench_conn_close(bench_conn_t *c)
{
    s_close_fd(c);
}

void bench_conn_destroy(bench_conn_t **conn_p)
{
    if (!conn_p || !*conn_p)
        return;
    s_close_fd(*conn_p);
    free(*conn_p);
    *conn_p = NULL;
}

uint32_t bench_conn_index(const bench_conn_t *c)
{
    return c->index;
}

bool bench_conn_is_open(const bench_conn_t *c)
{
    return c->state == S_OPEN;
}

size_t bench_conn_pending(const bench_conn_t *c)
{
    return c->tx_len - c->tx_off;
}
