/*  chat_ready: the ready file a program writes once it serves.
 *
 *  Every daemon takes --ready-file FILE (CHAT_READY_FILE). Once its sockets
 *  are bound and it serves, it writes FILE with one "name value" line per
 *  endpoint, the ports it really got: a caller that let it bind port 0
 *  (tcp://127.0.0.1:*, --port 0) learns the port from there, and waits for
 *  the file instead of polling sockets. Nobody else can take a port between
 *  the caller's choice and the bind, since there is no such moment.
 */
#ifndef CHAT_READY_H
#define CHAT_READY_H

#include <stddef.h>

//  Writes text to path atomically (a temporary file beside it, renamed over
//  it): a reader sees the whole previous file, the whole new one, or none.
//  Does nothing and returns 0 when path is NULL or empty. Returns 0, or -1
//  after logging why.
int chat_ready_write(const char *path, const char *text);

//  The endpoint a ZeroMQ socket last bound (ZMQ_LAST_ENDPOINT), port * resolved,
//  copied into out (size bytes). Returns 0, or -1 (out then holds "").
int chat_ready_bound(void *zmq_socket, char *out, size_t size);

#endif
