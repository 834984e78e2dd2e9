/*  gw_server: the gateway process's server object.
 *
 *  Creates the lws context (one vhost: WebSocket at /ws with subprotocol
 *  chat.v1 or none, /healthz, /metrics, files of --www at /), the ZeroMQ
 *  bridge and every module, and runs the one service loop until
 *  gw_server_stop.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "gw.h"

//  Builds the server from config (copied). Returns NULL after logging when
//  the port cannot be bound or an endpoint is invalid.
gw_t *gw_server_new(const gw_config_t *config);

//  Runs the loop until gw_server_stop. Returns 0, or -1 when lws failed.
int gw_server_run(gw_t *gw);

//  Asks the loop to end. Safe from a signal handler and other threads.
void gw_server_stop(gw_t *gw);

//  Closes every connection and socket, frees everything, sets *gw to NULL.
void gw_server_destroy(gw_t **gw);

#endif
