/*  chat_registry: the client side of a registry quorum.
 *
 *  A registry quorum is 3 (or 5) registries; one leads and serves
 *  requests, the others answer STATUS_NOT_LEADER with the leader's endpoint
 *  (ErrorReply.leader_endpoint). Clients (roomd, gateway, chatctl) are
 *  given the list (--registry tcp://a:5555,tcp://b:5555,tcp://c:5555, or
 *  CHAT_REGISTRY) and keep one endpoint as the one they talk to:
 *  chat_registry_follow moves to the leader a registry named,
 *  chat_registry_next to the next of the list when the current one is
 *  silent. A leader named that the list lacks (a registry added later) is
 *  added to it.
 *
 *  The ports of one registry follow a convention, each a flag of the
 *  registry: requests on PORT (--bind), events on PORT+1 (--pub-bind),
 *  Raft on PORT+2 (--raft-bind).
 */
#ifndef CHAT_REGISTRY_H
#define CHAT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_REGISTRY_MAX 16  //  registries in one list
#define CHAT_ENDPOINT_MAX 256 //  bytes of an endpoint, NUL included

typedef struct {
    char endpoints[CHAT_REGISTRY_MAX][CHAT_ENDPOINT_MAX]; //  the list, in the order given
    size_t count;                                         //  entries used
    size_t current;                                       //  the one talked to
} chat_registry_t;

//  Parses a comma-separated list of endpoints (spaces around commas are
//  allowed). Returns 0, or -1 when the list is empty, too long, or an
//  endpoint is not "scheme://...".
int chat_registry_parse(chat_registry_t *self, const char *list);

//  The endpoint talked to now.
const char *chat_registry_current(const chat_registry_t *self);

//  Makes leader (an endpoint a registry named as the leader) the current
//  one, adding it to the list when new (dropped when the list is full).
//  Returns true when the current endpoint changed.
bool chat_registry_follow(chat_registry_t *self, const char *leader);

//  The current one is silent: the next of the list becomes current.
//  Returns true when it changed (false with a list of one).
bool chat_registry_next(chat_registry_t *self);

//  Points a connected ZeroMQ socket (raw libzmq or zsock) from the
//  endpoint from to to: disconnect, connect. Returns 0 or -1 (errno).
int chat_registry_switch(void *sock, const char *from, const char *to);

//  Writes endpoint with its port moved by delta into out ("tcp://h:5555",
//  1 -> "tcp://h:5556"). Returns 0, or -1 when endpoint has no numeric
//  port or out is too small.
int chat_endpoint_port_offset(const char *endpoint, int delta, char *out, size_t size);

#endif
