/*  gw_metrics: see gw_metrics.h. */
#define _GNU_SOURCE
#include "gw_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const int64_t s_bounds_us[GW_LAT_BUCKETS - 1] = {
    250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
};
static const char *s_lat_names[GW_LAT_COUNT] = {"registry", "roomd"};
static const int s_close_codes[GW_CLOSE_COUNT] = {1000, 1001, 1003, 1007, 1008, 1009, 0};

void gw_metrics_latency(gw_metrics_t *m, gw_lat_t who, int64_t us)
{
    int b = 0;
    while (b < GW_LAT_BUCKETS - 1 && us > s_bounds_us[b])
        b++;
    m->lat[who][b]++;
    m->lat_sum_us[who] += (uint64_t)(us < 0 ? 0 : us);
    m->lat_count[who]++;
}

//  The bucket of a duration in microseconds.
static int s_bucket(int64_t us)
{
    int b = 0;
    while (b < GW_LAT_BUCKETS - 1 && us > s_bounds_us[b])
        b++;
    return b;
}

void gw_metrics_turn(gw_metrics_t *m, int64_t us, int64_t cpu_us)
{
    m->turn[s_bucket(us)]++;
    m->turn_cpu[s_bucket(cpu_us)]++;
    m->turn_sum_us += (uint64_t)(us < 0 ? 0 : us);
    m->turn_cpu_sum_us += (uint64_t)(cpu_us < 0 ? 0 : cpu_us);
    m->turn_count++;
    if (us > 0 && (uint64_t)us > m->turn_max_us)
        m->turn_max_us = (uint64_t)us;
}

void gw_metrics_error(gw_metrics_t *m, gw_err_t err)
{
    if (err < GW_ERR_COUNT)
        m->errors[err]++;
}

void gw_metrics_close(gw_metrics_t *m, int code)
{
    for (int i = 0; i < GW_CLOSE_OTHER; i++)
        if (s_close_codes[i] == code) {
            m->closes[i]++;
            return;
        }
    m->closes[GW_CLOSE_OTHER]++;
}

//  Writes one metric with its HELP and TYPE lines.
static void s_metric(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

//  A histogram without labels over the latency buckets (counts not cumulative).
static void s_histogram(FILE *f, const char *name, const char *help, const uint64_t *counts,
                        uint64_t sum_us, uint64_t count)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (int b = 0; b < GW_LAT_BUCKETS; b++) {
        cumulative += counts[b];
        if (b < GW_LAT_BUCKETS - 1)
            fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, (double)s_bounds_us[b] / 1e6,
                    cumulative);
        else
            fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    }
    fprintf(f, "%s_sum %g\n%s_count %" PRIu64 "\n", name, (double)sum_us / 1e6, name, count);
}

char *gw_metrics_render(const gw_metrics_t *m, const gw_gauges_t *g, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    s_metric(f, "chat_gateway_connections", "gauge", "WebSocket connections open",
             m->connections_open);
    s_metric(f, "chat_gateway_connections_total", "counter", "WebSocket connections accepted",
             m->connections_total);
    s_metric(f, "chat_gateway_messages_in_total", "counter", "messages received from clients",
             m->messages_in);
    s_metric(f, "chat_gateway_bytes_in_total", "counter", "bytes of messages from clients",
             m->bytes_in);
    s_metric(f, "chat_gateway_messages_out_total", "counter", "frames written to clients",
             m->frames_out);
    s_metric(f, "chat_gateway_bytes_out_total", "counter", "bytes written to clients",
             m->bytes_out);
    s_metric(f, "chat_gateway_writes_total", "counter", "socket writes (frames are batched)",
             m->writes);
    s_metric(f, "chat_gateway_deliveries_total", "counter", "room event frames queued to clients",
             m->deliveries);
    s_metric(f, "chat_gateway_room_events_total", "counter", "room events received", m->events_in);
    s_metric(f, "chat_gateway_room_event_duplicates_total", "counter",
             "room events dropped as duplicates", m->duplicates);
    s_metric(f, "chat_gateway_gap_repairs_total", "counter", "gap repairs started", m->gaps);
    s_metric(f, "chat_gateway_repaired_messages_total", "counter",
             "messages delivered from gap repairs", m->repaired);
    fprintf(f, "# HELP chat_gateway_errors_total error replies sent, by code\n"
               "# TYPE chat_gateway_errors_total counter\n");
    for (int i = 0; i < GW_ERR_COUNT; i++)
        fprintf(f, "chat_gateway_errors_total{code=\"%s\"} %" PRIu64 "\n", gw_err_code((gw_err_t)i),
                m->errors[i]);
    fprintf(f, "# HELP chat_gateway_closes_total connections closed by the gateway, by code\n"
               "# TYPE chat_gateway_closes_total counter\n");
    for (int i = 0; i < GW_CLOSE_COUNT; i++) {
        if (s_close_codes[i])
            fprintf(f, "chat_gateway_closes_total{code=\"%d\"} %" PRIu64 "\n", s_close_codes[i],
                    m->closes[i]);
        else
            fprintf(f, "chat_gateway_closes_total{code=\"other\"} %" PRIu64 "\n", m->closes[i]);
    }
    s_metric(f, "chat_gateway_bad_frames_total", "counter",
             "client frames refused (binary, invalid UTF-8, too big)", m->bad_frames);
    s_metric(f, "chat_gateway_upgrades_refused_total", "counter",
             "WebSocket upgrades refused (origin not allowed, path not /ws)", m->upgrades_refused);
    s_metric(f, "chat_gateway_bad_envelopes_total", "counter", "malformed ZeroMQ messages dropped",
             g->bad_envelopes);
    s_metric(f, "chat_gateway_slow_consumers_total", "counter",
             "connections closed because they could not keep up", m->slow_consumers);
    s_metric(f, "chat_gateway_queued_frames", "gauge", "frames queued to clients", m->queued);
    s_metric(f, "chat_gateway_queue_peak_frames", "gauge", "most frames one connection had queued",
             m->queued_peak);
    s_metric(f, "chat_gateway_frame_buffers", "gauge", "frame buffers alive", g->buffers);
    s_metric(f, "chat_gateway_rooms", "gauge", "rooms with local members", g->rooms);
    s_metric(f, "chat_gateway_placements", "gauge", "cached room placements", g->placements);
    s_metric(f, "chat_gateway_pending_requests", "gauge", "requests in flight",
             g->pending_requests);
    s_metric(f, "chat_gateway_requests_total", "counter", "requests sent to registry and roomds",
             m->requests);
    s_metric(f, "chat_gateway_retries_total", "counter", "requests sent again", m->retries);
    s_metric(f, "chat_gateway_request_timeouts_total", "counter", "attempts without a reply",
             m->timeouts);
    s_metric(f, "chat_gateway_rejoins_total", "counter", "quiet re-joins after a roomd restart",
             m->rejoins);
    s_metric(f, "chat_gateway_registry_switches_total", "counter",
             "moves to another registry of the quorum (its leader, or the next when silent)",
             m->registry_switches);
    s_metric(f, "chat_gateway_registry_streams_total", "counter",
             "registry event streams seen (each leadership of the quorum starts one)",
             m->registry_streams);
    s_metric(f, "chat_gateway_directory_rooms", "gauge", "rooms in the directory's catalog",
             g->catalog_rooms);
    s_metric(f, "chat_gateway_directory_waiting", "gauge",
             "getRooms held for the catalog or a refresh", g->directory_waiting);
    s_metric(f, "chat_gateway_directory_pages_total", "counter", "getRooms pages encoded",
             m->directory_pages);
    s_metric(f, "chat_gateway_directory_shared_total", "counter",
             "getRooms answered with a page encoded before", m->directory_shared);
    s_metric(f, "chat_gateway_directory_rounds_total", "counter",
             "rounds of figures asked of the roomds", m->directory_rounds);
    s_metric(f, "chat_gateway_registry_up", "gauge", "1 when the registry answers",
             (uint64_t)g->registry_healthy);
    fprintf(f, "# HELP chat_gateway_request_seconds request latency by peer\n"
               "# TYPE chat_gateway_request_seconds histogram\n");
    for (int w = 0; w < GW_LAT_COUNT; w++) {
        uint64_t cumulative = 0;
        for (int b = 0; b < GW_LAT_BUCKETS; b++) {
            cumulative += m->lat[w][b];
            if (b < GW_LAT_BUCKETS - 1)
                fprintf(f,
                        "chat_gateway_request_seconds_bucket{peer=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                        s_lat_names[w], (double)s_bounds_us[b] / 1e6, cumulative);
            else
                fprintf(
                    f, "chat_gateway_request_seconds_bucket{peer=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
                    s_lat_names[w], cumulative);
        }
        fprintf(f, "chat_gateway_request_seconds_sum{peer=\"%s\"} %g\n", s_lat_names[w],
                (double)m->lat_sum_us[w] / 1e6);
        fprintf(f, "chat_gateway_request_seconds_count{peer=\"%s\"} %" PRIu64 "\n", s_lat_names[w],
                m->lat_count[w]);
    }
    s_histogram(f, "chat_gateway_loop_turn_seconds", "busy time of each loop turn (poll to poll)",
                m->turn, m->turn_sum_us, m->turn_count);
    s_histogram(f, "chat_gateway_loop_turn_cpu_seconds",
                "CPU time the loop thread had in each turn", m->turn_cpu, m->turn_cpu_sum_us,
                m->turn_count);
    fprintf(f,
            "# HELP chat_gateway_loop_turn_max_seconds the longest loop turn\n"
            "# TYPE chat_gateway_loop_turn_max_seconds gauge\n"
            "chat_gateway_loop_turn_max_seconds %g\n",
            (double)m->turn_max_us / 1e6);
    fclose(f);
    return text;
}
