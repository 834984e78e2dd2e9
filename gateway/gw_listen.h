/*  gw_listen: the gateway's listening socket, accepted at a bounded pace.
 *
 *  libwebsockets' own listener accepts every pending connection in one go
 *  (lib/roles/listen/ops-listen.c loops while the socket is readable), and
 *  each new connection costs lws work that grows with the connections in
 *  their handshake (its sorted timer list, its header-table wait list). A
 *  reconnect storm of thousands then holds the one loop thread for hundreds
 *  of milliseconds, and every other client waits (a ping took over a
 *  second at 5,000 connections arriving at once).
 *
 *  So the vhost does not listen (CONTEXT_PORT_NO_LISTEN_SERVER); this
 *  module owns the socket, adopted into the loop as a raw file, and accepts
 *  at most --accept-burst connections per loop turn, handing each to lws
 *  (lws_adopt_socket_vhost, the documented way for a server's own
 *  listener). The rest wait in the kernel's backlog (4096) for the next
 *  turn, after the clients already connected have been served.
 */
#ifndef GW_LISTEN_H
#define GW_LISTEN_H

#include "gw.h"

typedef struct gw_listen gw_listen_t;

//  Binds a listening TCP socket to address ("" or NULL: every interface,
//  IPv6 and IPv4 when the machine has IPv6) and port (0: any free one).
//  Returns NULL after logging why.
gw_listen_t *gw_listen_new(const char *address, long port);

//  Closes the socket (when not adopted yet) and frees; sets *p to NULL.
//  Safe on NULL.
void gw_listen_destroy(gw_listen_t **p);

//  The port the socket is bound to.
int gw_listen_port(const gw_listen_t *self);

//  Adopts the socket into vhost under protocol (whose callback is
//  gw_listen_callback); connections are accepted from then on, burst at a
//  time. Returns 0 or -1.
int gw_listen_adopt(gw_t *gw, struct lws_vhost *vhost, const char *protocol);

//  The lws protocol callback for the listening socket.
int gw_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

#endif
