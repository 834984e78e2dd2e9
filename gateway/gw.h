/*  gw: the gateway's state, shared by its modules.
 *
 *  The gateway is one thread: the libwebsockets loop, with the ZeroMQ
 *  sockets adopted into it (gw_bridge). Every module works on this one
 *  struct from that thread, so nothing here is locked. Modules keep their
 *  own state behind opaque pointers; this header only ties them together.
 *
 *      gw_server     lws context, protocols, timers, run loop
 *      gw_listen     the listening socket, accepted a burst per loop turn
 *      gw_http       /healthz, /metrics, the upgrade gate (files at / are an lws mount)
 *      gw_origin     which pages may open /ws (--allowed-origins)
 *      gw_session    UserSession: one per WebSocket connection
 *      gw_json       client protocol JSON: parse requests, build frames
 *      gw_ops        requests to registry and roomds: deadlines, retries
 *      gw_placement  room -> roomd placement cache
 *      gw_rooms      rooms with local members: seq, gaps, fan-out
 *      gw_registry   registry PUB: placements, roomCreated, health
 *      gw_directory  getRooms from the gateway's own catalog (gw_catalog)
 *      gw_bridge     ZeroMQ sockets inside the lws loop
 */
#ifndef GW_H
#define GW_H

#include "gw_config.h"
#include "gw_idmap.h"
#include "gw_metrics.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gw gw_t;
typedef struct gw_session gw_session_t;
typedef struct gw_room gw_room_t;
typedef struct gw_bridge gw_bridge_t;
typedef struct gw_ops gw_ops_t;
typedef struct gw_rooms gw_rooms_t;
typedef struct gw_placements gw_placements_t;
typedef struct gw_registry gw_registry_t;
typedef struct gw_directory gw_directory_t;
typedef struct gw_listen gw_listen_t;

//  Bytes gathered into one lws_write (several queued frames per write).
#define GW_SCRATCH_SIZE 65536

struct gw {
    gw_config_t config;          //  settings (a copy)
    char id[40];                 //  "gw-<hex>": ROUTER routing id, SessionRef.gateway
    struct lws_context *context; //  the lws context (one service thread)
    struct lws_vhost *vhost;     //  its only vhost
    gw_listen_t *listener;       //  the listening socket
    gw_metrics_t metrics;        //  counters
    gw_bridge_t *bridge;         //  ZeroMQ sockets
    gw_ops_t *ops;               //  requests in flight
    gw_rooms_t *rooms;           //  rooms with local members
    gw_placements_t *placements; //  placement cache
    gw_registry_t *registry;     //  registry PUB state, health
    gw_directory_t *directory;   //  the room catalog getRooms is served from
    gw_session_t *sessions;      //  open sessions, newest first
    gw_idmap_t *conns;           //  conn id -> session
    uint64_t next_conn;          //  last conn id issued
    uint8_t *scratch;            //  GW_SCRATCH_SIZE bytes (+ LWS_PRE) for batched writes
    lws_sorted_usec_list_t tick; //  the periodic timer
    int64_t next_heartbeat_ms;   //  when GatewayHeartbeats are due
    int64_t next_sweep_ms;       //  when the idle sweep is due
    volatile int stop;           //  set by gw_server_stop (signal handlers)
    bool destroying;             //  the context is being torn down
};

#endif
