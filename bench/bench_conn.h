/*  bench_conn: one non-blocking WebSocket client connection on epoll.
 *
 *  Speaks RFC 6455 through chat_wsframe (the shared, I/O-free codec): the
 *  opening handshake, masked text frames out, server frames in. The caller
 *  owns the epoll loop: it registers nothing itself but hands each event
 *  of the connection's fd (epoll data.ptr = the bench_conn_t) to
 *  bench_conn_event.
 *
 *  Reading is batched: each readable event reads up to the caller's
 *  scratch buffer (shared by every connection) and handles every complete
 *  frame in it; only the tail of a frame cut by the read is copied into
 *  the connection's own buffer. Pings are answered with pongs, fragments
 *  reassembled, a close frame answered and reported. Writes go straight to
 *  the socket; what the kernel does not take is kept and flushed when the
 *  socket is writable again.
 *
 *  Connections may live on several threads (each connection on one: its
 *  epoll's); the codec's scratch space is per thread.
 *
 *  Callbacks run inside bench_conn_event. They may send on any connection
 *  and close any connection (their own included), never destroy one. A
 *  write error does not call back: the connection stops sending and its
 *  end is reported from the next epoll event.
 */
#ifndef BENCH_CONN_H
#define BENCH_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_conn bench_conn_t;

//  A gateway's address: ws://host[:port]/path, resolved to IPv4.
typedef struct {
    char host[128];          //  host as written (the Host header)
    int port;                //  port, 80 when absent
    char path[128];          //  path, "/" when absent
    struct sockaddr_in addr; //  resolved address
    bool local;              //  the address is on this machine (loopback or own)
} bench_url_t;

//  Parses text into url without resolving. Returns 0, or -1 when it is not
//  ws://host[:port][/path] with a port in 1..65535.
int bench_url_parse(const char *text, bench_url_t *url);

//  Resolves url->host to url->addr (IPv4) and sets url->local. Returns 0
//  or -1 when the name does not resolve.
int bench_url_resolve(bench_url_t *url);

//  What a connection tells its owner.
typedef struct {
    //  The handshake succeeded: the connection is open.
    void (*on_open)(void *arg, bench_conn_t *conn);
    //  One complete text message (the bytes are valid only during the call).
    void (*on_text)(void *arg, bench_conn_t *conn, const char *text, size_t len);
    //  The connection ended: by a close frame (its code), or 1006 for a
    //  TCP end, a failed connect or a failed handshake; why says which.
    //  Not called for bench_conn_close.
    void (*on_close)(void *arg, bench_conn_t *conn, int code, const char *why);
} bench_conn_handler_t;

//  Starts a non-blocking connect to url and adds the socket to epoll (events
//  in, out). index is the caller's number for the connection. Returns NULL
//  (errno set) when no socket could be made; the url is borrowed for the
//  connection's life.
bench_conn_t *bench_conn_new(int epoll_fd, const bench_url_t *url, uint32_t index,
                             const bench_conn_handler_t *handler, void *arg);

//  Handles the epoll events of the connection. scratch (cap bytes, cap at
//  least 64 KiB) is the caller's read buffer, reused by every connection.
void bench_conn_event(bench_conn_t *conn, uint32_t events, uint8_t *scratch, size_t cap);

//  Sends one text frame (masked). Returns 0, or -1 when the connection is
//  not open.
int bench_conn_send_text(bench_conn_t *conn, const char *text, size_t len);

//  Closes the socket at once (no close frame, no on_close). The struct
//  stays until bench_conn_destroy.
void bench_conn_close(bench_conn_t *conn);

//  Closes when needed, frees, sets *conn_p to NULL. Safe on NULL.
void bench_conn_destroy(bench_conn_t **conn_p);

//  The caller's number for the connection.
uint32_t bench_conn_index(const bench_conn_t *conn);

//  True from the handshake until the connection ends.
bool bench_conn_is_open(const bench_conn_t *conn);

//  Bytes waiting to be written.
size_t bench_conn_pending(const bench_conn_t *conn);

#endif
