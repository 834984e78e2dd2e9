/*  bench_config: chat-bench's settings (flags with CHAT_BENCH_* variables).
 *
 *  Workload flags left unset take the --scenario's value, then the
 *  program's default. Gateway URLs are parsed and resolved here, and the
 *  local gateways whose memory is sampled are found (--gateway-pid, else
 *  the process listening on each local URL's port).
 */
#ifndef BENCH_CONFIG_H
#define BENCH_CONFIG_H

#include "bench_conn.h"
#include "bench_report.h"

#include <stdbool.h>
#include <sys/types.h>

//  Most gateways one run talks to.
#define BENCH_URLS_MAX 16

typedef struct {
    bench_url_t urls[BENCH_URLS_MAX]; //  gateways; connection i goes to urls[i % n_urls]
    size_t n_urls;                    //  entries in urls
    const char *scenario;             //  scenario name, "" for none
    long connections;                 //  WebSocket connections
    long rooms;                       //  rooms; connection i joins room i % rooms
    long senders;                     //  connections 0..senders-1 send
    long rate;                        //  messages/s per sender, 0 = window-bound
    long window;                      //  most un-acked messages per sender
    long size;                        //  content bytes per message
    long duration_s;                  //  measured window
    long warmup_s;                    //  warm-up before it
    long drain_s;                     //  most time to wait for acks and deliveries after it
    long setup_timeout_s;             //  most time for connect, create, join and settle
    long concurrency;                 //  connections being set up at once
    const char *room_prefix;          //  rooms are named "<prefix>-<i>"
    const char *user_prefix;          //  users are "<prefix>-<i>"
    bench_baseline_kind_t baseline;   //  same-run baseline
    const char *tmp_dir;              //  where the ingest baseline writes LMDB
    long page_limit;                  //  directory: rooms per page asked for
    long searches;                    //  directory: searches timed after the storm
    long creators;                    //  directory: connections creating missing rooms
    bool json;                        //  print JSON instead of the table
    pid_t pids[BENCH_URLS_MAX];       //  gateways whose memory is sampled
    size_t n_pids;                    //  entries in pids
    char prefix_buf[2][48];           //  storage for generated prefixes
} bench_config_t;

//  Parses argv (and CHAT_BENCH_*). Returns 0, 1 when --help was printed,
//  -1 after printing an error.
int bench_config_parse(bench_config_t *cfg, int argc, char **argv);

#endif
