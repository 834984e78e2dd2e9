/*  reg_peers: the --peers list of a registry quorum.
 *
 *  "ID@HOST:PORT,ID@HOST:PORT,..." names the registries a new cluster
 *  starts with: each one's server id and request endpoint. Its event and
 *  Raft endpoints follow the port convention of chat_registry.h: events on
 *  PORT+1, Raft on PORT+2. "tcp://" before HOST is allowed.
 */
#ifndef REG_PEERS_H
#define REG_PEERS_H

#include "chat_registry.h"

#include <stddef.h>
#include <stdint.h>

#define REG_PEERS_MAX 9 //  Raft clusters beyond this gain nothing

typedef struct {
    uint64_t id;                          //  server id, > 0
    char endpoint[CHAT_ENDPOINT_MAX];     //  tcp://HOST:PORT (requests)
    char pub_endpoint[CHAT_ENDPOINT_MAX]; //  tcp://HOST:PORT+1 (events)
    char raft_address[CHAT_ENDPOINT_MAX]; //  HOST:PORT+2 (Raft)
} reg_peer_t;

//  Fills peer for id at "HOST:PORT" (or "tcp://HOST:PORT"). Returns 0, or
//  -1 when id is 0 or the address has no host or no usable port.
int reg_peer_make(reg_peer_t *peer, uint64_t id, const char *address);

//  Parses list into peers (at most REG_PEERS_MAX). Returns how many, or -1
//  with *why set to a sentence when an entry is malformed or an id repeats.
int reg_peers_parse(const char *list, reg_peer_t *peers, const char **why);

#endif
