/*  gw_server: the gateway process's server object.
 *
 *  Creates the lws context (one vhost: WebSocket at /ws with subprotocol
 *  chat.v1 or none, /healthz, /metrics, files of --www at /), the ZeroMQ
 *  bridge and every module, and runs the one service loop until
 *  gw_server_stop. With --tls-cert and --tls-key the port speaks only TLS
 *  (https://, wss://), HTTP/1.1. Every HTTP response carries a
 *  Content-Security-Policy and the usual security headers (nosniff, no
 *  framing, no referrer; HSTS with TLS).
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "gw.h"

//  Builds the server from config (copied). Returns NULL after logging when
//  the port cannot be bound or an endpoint is invalid.
gw_t *gw_server_new(const gw_config_t *config);

//  The port the server listens on (the one bound when config said 0).
int gw_server_port(gw_t *gw);

//  Runs the loop until gw_server_stop. Returns 0, or -1 when lws failed.
int gw_server_run(gw_t *gw);

//  Asks the loop to end. Safe from a signal handler and other threads.
void gw_server_stop(gw_t *gw);

//  Closes every connection and socket, frees everything, sets *gw to NULL.
void gw_server_destroy(gw_t **gw);

#endif
