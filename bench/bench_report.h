/*  bench_report: what one chat-bench run measured, and how it is shown.
 *
 *  The load (bench_load) and the baseline fill a bench_result_t; the
 *  figures that follow from it (rates, per-connection memory, the ratio to
 *  the baseline, pass or fail) are computed by bench_report_derive, in one
 *  place, for both the table and --json.
 *
 *  Counting rules: the measured window starts after the warm-up and lasts
 *  --duration. sent = messages whose send time falls in the window; acked
 *  = of those, the ones acknowledged by the end of the drain; deliveries
 *  and acks_in_window count what arrived during the window (the rates);
 *  latencies are recorded for messages sent in the window, whenever they
 *  arrive.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include "bench_baseline.h"
#include "bench_hist.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

//  Protocol error codes (docs/protocol.md) and one slot for anything else.
#define BENCH_ERR_COUNT 16

//  Longest messageReceived text kept as the baseline's frame.
#define BENCH_SAMPLE_MAX 8192

typedef enum {
    BENCH_BASELINE_NONE,
    BENCH_BASELINE_FANOUT, //  deliveries/s vs one write() per frame to plain sockets
    BENCH_BASELINE_INGEST, //  acked/s vs LMDB group commit
} bench_baseline_kind_t;

typedef struct {
    //  What ran.
    const char *scenario; //  scenario name, "" for none (borrowed)
    long connections;     //  connections asked for
    long rooms;           //  rooms
    long senders;         //  sending connections
    long rate;            //  messages/s per sender, 0 = window-bound
    long window;          //  un-acked messages per sender
    long size;            //  content bytes per message
    long duration_s;      //  measured window asked for
    long warmup_s;        //  warm-up

    //  Traffic.
    double measured_s;         //  the measured window's actual length
    double setup_s;            //  connect + create + join + settle
    uint64_t sent;             //  sent in the window
    uint64_t acked;            //  of those, acknowledged
    uint64_t acks_in_window;   //  acks that arrived in the window
    uint64_t deliveries;       //  messageReceived that arrived in the window
    uint64_t deliveries_total; //  messageReceived over the whole run
    uint64_t skipped;          //  rate mode: sends skipped because the window was full
    bench_hist_t e2e;          //  send -> each messageReceived, microseconds
    bench_hist_t ack;          //  send -> messageAck, microseconds

    //  Integrity (each must be 0).
    uint64_t lost;                    //  seqs a member never got
    uint64_t duplicated;              //  seqs a member got twice
    uint64_t out_of_order;            //  seqs a member got after a later one
    uint64_t foreign;                 //  deliveries for a room the connection is not in
    uint64_t bad_messages;            //  server messages that are not one JSON object
    uint64_t closed;                  //  connections the server closed after setup
    int last_close_code;              //  the close code of the last of those
    uint64_t connect_failed;          //  connections that never joined
    uint64_t errors[BENCH_ERR_COUNT]; //  error replies by code

    //  Gateway memory (sums over the sampled gateways; -1 = not known).
    int gateways_sampled; //  gateways whose /proc was read
    long ready;           //  connections joined when memory was sampled
    long rss_before;      //  VmRSS before connecting, bytes
    long rss_after;       //  VmRSS with every connection joined, bytes
    long rss_end;         //  VmRSS at the end of the drain, bytes
    long tcp_mem_before;  //  /proc/net/sockstat TCP mem (machine-wide), bytes
    long tcp_mem_after;   //  same, with every connection joined
    long slab_before;     //  /proc/meminfo Slab (machine-wide), bytes
    long slab_after;      //  same, with every connection joined

    //  The same-run baseline.
    bench_baseline_kind_t baseline_kind; //  which one ran
    bench_rate_t baseline;               //  its figures
    size_t baseline_frame_len;           //  fan-out: bytes per frame
    size_t baseline_sockets;             //  fan-out: sockets

    //  One messageReceived text (the fan-out baseline sends it).
    char sample[BENCH_SAMPLE_MAX]; //  its bytes
    size_t sample_len;             //  0 until one arrived
} bench_result_t;

//  Figures that follow from a result.
typedef struct {
    double sent_per_s;       //  sent / measured_s
    double acked_per_s;      //  acks_in_window / measured_s
    double deliveries_per_s; //  deliveries / measured_s
    double rss_per_conn;     //  (rss_after - rss_before) / ready, bytes; -1 unknown
    double tcp_mem_per_conn; //  kernel TCP buffer memory per connection; -1 unknown
    double slab_per_conn;    //  kernel slab per connection (both ends if local); -1 unknown
    double baseline_ratio;   //  the figure the baseline matches / baseline; 0 none
    uint64_t errors;         //  error replies in all
    bool ok;                 //  nothing lost, duplicated, reordered, unacked or closed
} bench_derived_t;

//  Zeroes r and sets the memory figures to -1 (unknown).
void bench_result_init(bench_result_t *r);

void bench_report_derive(const bench_result_t *r, bench_derived_t *d);

//  The readable table.
void bench_report_table(FILE *out, const bench_result_t *r);

//  One JSON object on one line.
void bench_report_json(FILE *out, const bench_result_t *r);

//  The slot of an error code (BENCH_ERR_COUNT - 1 for an unknown one).
int bench_report_error_index(const char *code, size_t len);

//  The code of slot i ("other" for the last).
const char *bench_report_error_name(int i);

//  "fanout", "ingest" or "none".
const char *bench_report_baseline_name(bench_baseline_kind_t kind);

#endif
