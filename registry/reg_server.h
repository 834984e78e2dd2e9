/*  reg_server: the registry daemon's loop and request handlers.
 *
 *  Serves the registry side of docs/architecture.md: roomd registration,
 *  heartbeats and leases; room placement (rendezvous hashing, one grant per
 *  new instance, epoch bumped and persisted before the grant is sent);
 *  lookups, the room catalog, node listings and counters; and the PUB
 *  stream of placement, room and node events.
 *
 *  One thread. reg_server_run returns when reg_server_stop is called from
 *  any thread or a SIGINT/SIGTERM arrives (CZMQ's handler).
 */
#ifndef REG_SERVER_H
#define REG_SERVER_H

#include <stdint.h>

typedef struct {
    const char *bind;       //  ROUTER endpoint to bind
    const char *pub_bind;   //  PUB endpoint to bind
    const char *data_dir;   //  LMDB environment directory
    long map_size_mb;       //  LMDB map size
    long heartbeat_ms;      //  roomd heartbeat interval, and the PUB heartbeat
    long lease_ms;          //  a node is dead after this long without a heartbeat
    long assign_timeout_ms; //  how long a lookup waits for a roomd to take a room
    const char *ready_file; //  written with the bound endpoints once bound ("" = none)
} reg_config_t;

typedef struct reg_server reg_server_t;

//  Opens the store and binds both sockets (port * gets a free port), then
//  writes config->ready_file (chat_ready.h): "bind ENDPOINT" and "pub
//  ENDPOINT" as bound. Returns NULL after logging why.
reg_server_t *reg_server_new(const reg_config_t *config);

//  Unbinds, closes the store, frees; sets *server to NULL. Safe on NULL.
void reg_server_destroy(reg_server_t **server);

//  Runs the loop until stopped. Returns 0 on a clean stop, -1 on a socket error.
int reg_server_run(reg_server_t *server);

//  Asks a running loop to return (async-signal and thread safe).
void reg_server_stop(reg_server_t *server);

#endif
