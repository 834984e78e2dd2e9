/*  reg_cluster: a registry quorum of real processes for integration tests.
 *
 *  Registry i (from 0) has id i + 1, binds its requests on base[i], its
 *  events on base[i] + 1 and Raft on base[i] + 2 (127.0.0.1), keeps its
 *  data in <dir>/registry-<id> and logs to <dir>/registry-<id>.log. Every
 *  wait has a deadline; failures assert with what was expected and seen.
 */
#ifndef REG_CLUSTER_H
#define REG_CLUSTER_H

#include "chat_test.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGT_MAX 5

typedef struct {
    char *dir;                   //  temp dir: data and logs
    size_t count;                //  registries started by regt_start (more may join)
    int base[REGT_MAX];          //  request port of each
    chat_proc_t *proc[REGT_MAX]; //  the processes, NULL when stopped
    bool joined[REGT_MAX];       //  started with --join (not in --peers)
    char peers[512];             //  --peers of the quorum
    char list[512];              //  the endpoints, comma-separated (for clients)
    const char *extra[16];       //  more flags for every registry (NULL-terminated)
    uint64_t req_id;             //  last request id used
    chat_quorum_t *quorum;       //  regt_call's connections (main thread only)
} regt_cluster_t;

//  Starts count registries bootstrapping one quorum (extra flags for each,
//  NULL-terminated, may be NULL) and waits until one leads and serves.
void regt_start(regt_cluster_t *c, size_t count, const char *const *extra);

//  Stops every registry, expecting clean exits, and removes the temp dir.
void regt_stop(regt_cluster_t *c);

//  (Re)starts registry i with its data as it is.
void regt_start_one(regt_cluster_t *c, size_t i);

//  Reserves ports for registry i (>= count) and starts it with --join.
void regt_start_joiner(regt_cluster_t *c, size_t i);

//  Sends sig to registry i and waits for its exit.
void regt_kill(regt_cluster_t *c, size_t i, int sig);

//  Removes registry i's data directory (it must be stopped).
void regt_wipe(regt_cluster_t *c, size_t i);

//  "tcp://127.0.0.1:<base[i]>".
const char *regt_endpoint(const regt_cluster_t *c, size_t i);

//  RegistryStatus of registry i, or NULL when it does not answer in ms.
Chat__Envelope *regt_status(regt_cluster_t *c, size_t i, int ms);

//  Index of the registry that leads and serves, waiting up to ms; -1 when none.
int regt_leader(regt_cluster_t *c, int ms);

//  The leader's answer to env (chat_quorum_request), with a fresh req_id.
Chat__Envelope *regt_call(regt_cluster_t *c, Chat__Envelope *env, int ms);

//  Creates a room through the leader (token: the name). Returns the reply
//  status, or -1 when no leader answered within ms.
int regt_create_room(regt_cluster_t *c, const char *name, int ms);

//  Registry i's own catalog (ListRooms{local}) as text, one line per room
//  "id|name|description|created_at|node|instance|epoch" sorted by id
//  (caller frees); NULL when it does not answer. *applied gets its applied
//  index when not NULL.
char *regt_catalog(regt_cluster_t *c, size_t i, uint64_t *applied);

//  Starts a roomd named node that follows the quorum (--registry is the
//  list), on free ports, data in <dir>/<node>, extra flags (may be NULL).
chat_proc_t *regt_start_roomd(regt_cluster_t *c, const char *node, const char *const *extra);

//  Waits until the leader has heard count roomds since it leads (they
//  heartbeat it: rooms can be placed on them); asserts after ms.
void regt_wait_roomds(regt_cluster_t *c, size_t count, int ms);

//  Waits until every running registry has applied the same index and holds
//  the same catalog as the leader (up to ms); asserts with the difference.
void regt_wait_converged(regt_cluster_t *c, int ms);

#endif
