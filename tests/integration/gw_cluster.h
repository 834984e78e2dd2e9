/*  gw_cluster: a real cluster for the gateway's integration tests — a
 *  registry, two roomds and one or two gateways, as processes on free
 *  ports — and small client helpers on top of chat_ws_client. Every wait
 *  has a deadline; failures assert.
 */
#ifndef GW_CLUSTER_H
#define GW_CLUSTER_H

#include "chat_test.h"
#include "chat_ws_client.h"

#include <stdbool.h>
#include <stdint.h>

#define GWT_ROOMDS 2
#define GWT_GATEWAYS 2

typedef struct {
    char node[16];     //  node name
    char data[600];    //  data directory
    int port;          //  ROUTER port
    int pub_port;      //  PUB port
    chat_proc_t *proc; //  the process, NULL when stopped
} gwt_roomd_t;

typedef struct {
    int port;          //  HTTP / WebSocket port
    chat_proc_t *proc; //  the process
} gwt_gateway_t;

typedef struct {
    char *dir;                      //  temp dir: logs, data, www
    int port;                       //  registry ROUTER port
    int pub_port;                   //  registry PUB port
    chat_proc_t *registry;          //  the registry
    gwt_roomd_t roomd[GWT_ROOMDS];  //  the roomds
    gwt_gateway_t gw[GWT_GATEWAYS]; //  the gateways
    int gateways;                   //  gateways started
} gwt_cluster_t;

//  Starts registry, roomds and `gateways` gateways (each with the extra
//  flags, NULL-terminated, may be NULL), and waits until every roomd is live
//  and every gateway reports /healthz 200.
void gwt_start(gwt_cluster_t *c, int gateways, const char *const *gateway_extra);

//  Starts one more gateway (index c->gateways, with extra flags as in
//  gwt_start) and waits until it reports /healthz 200. Returns its index.
int gwt_gateway_add(gwt_cluster_t *c, const char *const *extra);

//  Stops everything, expecting clean exits, and removes the temp dir.
void gwt_stop(gwt_cluster_t *c);

//  Starts roomd i again (same node, data, ports) / waits until count roomds
//  are live in the registry.
void gwt_roomd_start(gwt_cluster_t *c, int i);
void gwt_wait_live(gwt_cluster_t *c, int count);

//  Index of the roomd that holds room (placing it when needed), -1 if none.
int gwt_roomd_of(gwt_cluster_t *c, const char *room);

//  One HTTP GET to gateway g; returns the status, body copied into body.
int gwt_http_get(gwt_cluster_t *c, int g, const char *path, char *body, size_t cap);

//  Connects to gateway g and sends connect (name may be NULL). Asserts.
chat_ws_t *gwt_login(gwt_cluster_t *c, int g, const char *user, const char *name);

//  Sends text and returns the first reply of reply_type or "error"
//  (asserting one came within 15 s).
cJSON *gwt_call(chat_ws_t *ws, const char *text, const char *reply_type);

//  joinRoom and expect roomJoined; returns it (caller frees).
cJSON *gwt_join(chat_ws_t *ws, const char *room);

//  The next message of type within ms, skipping others; asserts it came.
cJSON *gwt_expect(chat_ws_t *ws, const char *type, int ms);

//  Reads for ms and asserts that no message of type arrives.
void gwt_expect_none(chat_ws_t *ws, const char *type, int ms);

//  seq of a messageReceived (its message.seq), -1 when not one.
long long gwt_seq(const cJSON *msg);

#endif
