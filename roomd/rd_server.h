/*  rd_server: the roomd process — sockets and the loop (docs/architecture.md, "roomd").
 *
 *  One thread. Each turn: wait (zmq_poll over the registry DEALER and the
 *  ROUTER) until a socket is readable or a timer is due; drain the DEALER
 *  and up to --max-batch requests from the ROUTER, dispatching each; run the
 *  timers; flush (rd_host_flush: one commit, then replies and events).
 *
 *  The ROUTER's routing id is the instance the registry issues, so it is
 *  bound only after the first registration, and built again whenever the
 *  instance changes. The PUB is bound at start.
 */
#ifndef RD_SERVER_H
#define RD_SERVER_H

#include "rd_config.h"

#include <signal.h>

typedef struct rd_server rd_server_t;

//  Opens the store, settles the node name, binds the PUB and connects to
//  the registry. Returns NULL after logging why.
rd_server_t *rd_server_new(const rd_config_t *cfg);

//  Stops (the current turn is finished and flushed), closes sockets and
//  LMDB, and sets *p to NULL. Safe on NULL.
void rd_server_destroy(rd_server_t **p);

//  Runs the loop until *stop becomes non-zero (a signal handler sets it).
//  Returns 0, or -1 when a socket failed for good.
int rd_server_run(rd_server_t *self, volatile sig_atomic_t *stop);

//  The node name in use (after rd_server_new).
const char *rd_server_node(const rd_server_t *self);

#endif
