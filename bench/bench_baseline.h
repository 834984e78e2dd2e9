/*  bench_baseline: what the cluster is compared with, measured in the same
 *  run on the same machine, so that results are ratios, not absolute
 *  figures that drift with the machine's load.
 */
#ifndef BENCH_BASELINE_H
#define BENCH_BASELINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t items;    //  frames delivered / messages committed
    double seconds;    //  wall time from first write to last item
    double per_second; //  items / seconds
} bench_rate_t;

//  The naive fan-out of one thread: a writer process writes frame to each of
//  sockets plain TCP loopback connections, one write() per frame, messages
//  times; a reader process (this one) drains them all with epoll. Returns 0
//  and fills out, or -1 after printing why.
int bench_baseline_fanout(size_t sockets, uint64_t messages, const void *frame, size_t frame_len,
                          bench_rate_t *out);

//  Group commit without the cluster: appends messages records of
//  message_len bytes, spread over rooms rooms, to a new LMDB environment in
//  dir, batch records per fsynced transaction. Returns 0 and fills out, or
//  -1 after printing why. The environment is removed afterwards.
int bench_baseline_ingest(const char *dir, uint64_t messages, size_t message_len, size_t rooms,
                          size_t batch, bench_rate_t *out);

#endif
