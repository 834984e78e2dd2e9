/*  gw_metrics: the gateway's counters and their Prometheus text (/metrics).
 *
 *  One thread owns the gateway, so counters are plain integers that the
 *  modules increment directly; gauges that are cheaper to compute than to
 *  track (rooms, pending requests) are passed to gw_metrics_render.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "gw_json.h"

#include <stddef.h>
#include <stdint.h>

//  Request latency histograms, by who answered.
typedef enum { GW_LAT_REGISTRY, GW_LAT_ROOMD, GW_LAT_COUNT } gw_lat_t;

//  Upper bounds of the latency buckets in microseconds (the last is +Inf).
#define GW_LAT_BUCKETS 14

//  Close codes counted one by one; everything else is "other".
typedef enum {
    GW_CLOSE_1000,
    GW_CLOSE_1001,
    GW_CLOSE_1003,
    GW_CLOSE_1007,
    GW_CLOSE_1008,
    GW_CLOSE_1009,
    GW_CLOSE_OTHER,
    GW_CLOSE_COUNT
} gw_close_t;

typedef struct {
    uint64_t connections_total;      //  WebSocket connections accepted
    uint64_t connections_open;       //  WebSocket connections open now
    uint64_t messages_in;            //  complete messages received from clients
    uint64_t bytes_in;               //  their bytes
    uint64_t frames_out;             //  frames written to clients
    uint64_t bytes_out;              //  their bytes
    uint64_t writes;                 //  lws_write calls for them (frames are batched)
    uint64_t deliveries;             //  room event frames queued to clients
    uint64_t events_in;              //  room events received from roomds
    uint64_t duplicates;             //  room events dropped as already delivered
    uint64_t gaps;                   //  gap repairs started
    uint64_t repaired;               //  messages delivered from a gap repair
    uint64_t errors[GW_ERR_COUNT];   //  error replies by code
    uint64_t closes[GW_CLOSE_COUNT]; //  closes the gateway initiated, by code
    uint64_t bad_frames;             //  client frames refused (1003, 1007, 1009)
    uint64_t upgrades_refused;       //  WebSocket upgrades refused (origin, path)
    uint64_t slow_consumers;         //  connections closed because their queue filled
    uint64_t queued;                 //  frames queued to clients now
    uint64_t queued_peak;            //  the most frames one connection had queued
    uint64_t requests;               //  requests sent to the registry and roomds
    uint64_t retries;                //  of those, resends after not-owner/unreachable/timeout
    uint64_t timeouts;               //  attempts that got no reply in time
    uint64_t rejoins;                //  quiet re-joins after a roomd restart
    uint64_t registry_switches;      //  moves to another registry of the quorum
    uint64_t registry_streams;       //  registry event streams seen (a new leader starts one)
    uint64_t directory_pages;        //  getRooms pages encoded
    uint64_t directory_shared;       //  getRooms answered with a page encoded before
    uint64_t directory_rounds;       //  rounds of figures asked of the roomds
    uint64_t lat[GW_LAT_COUNT][GW_LAT_BUCKETS]; //  latency histogram counts (not cumulative)
    uint64_t lat_sum_us[GW_LAT_COUNT];          //  sum of latencies
    uint64_t lat_count[GW_LAT_COUNT];           //  number of latencies
    uint64_t turn[GW_LAT_BUCKETS];              //  loop turns by busy time (not cumulative)
    uint64_t turn_cpu[GW_LAT_BUCKETS];          //  loop turns by CPU time of the thread
    uint64_t turn_sum_us;                       //  busy time of all turns
    uint64_t turn_cpu_sum_us;                   //  CPU time of all turns
    uint64_t turn_count;                        //  turns
    uint64_t turn_max_us;                       //  the longest turn
} gw_metrics_t;

//  Gauges computed when /metrics is read.
typedef struct {
    uint64_t rooms;             //  rooms with local members
    uint64_t pending_requests;  //  requests waiting for a reply or a retry
    uint64_t placements;        //  cached placements
    int registry_healthy;       //  1 when the registry answers
    uint64_t bad_envelopes;     //  malformed ZeroMQ messages dropped (chat_wire)
    uint64_t buffers;           //  frame buffers alive
    uint64_t catalog_rooms;     //  rooms in the directory's catalog
    uint64_t directory_waiting; //  getRooms held for the catalog or a refresh
} gw_gauges_t;

//  Records one request latency.
void gw_metrics_latency(gw_metrics_t *m, gw_lat_t who, int64_t us);

//  Records one loop turn that was busy for us (from the poll's return to
//  the next poll): what a client whose message just arrived waits, at most;
//  and cpu_us of CPU time the thread had in it (the rest of us, it waited
//  for a CPU: on a shared machine, other processes' doing).
void gw_metrics_turn(gw_metrics_t *m, int64_t us, int64_t cpu_us);

//  Records an error reply / a close the gateway initiated.
void gw_metrics_error(gw_metrics_t *m, gw_err_t err);
void gw_metrics_close(gw_metrics_t *m, int code);

//  The Prometheus text exposition; the caller frees it. *len gets its length.
char *gw_metrics_render(const gw_metrics_t *m, const gw_gauges_t *g, size_t *len);

#endif
