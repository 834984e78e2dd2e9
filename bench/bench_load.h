/*  bench_load: the workload — many WebSocket clients on one epoll thread.
 *
 *  A run goes through these phases:
 *
 *      setup    connect and log in (at most --concurrency at a time); the
 *               first --rooms connections create the rooms (or reuse them
 *               when they exist); every connection joins room i % rooms
 *      settle   wait until every member has received the join messages of
 *               the joins before it (they are deliveries, not load)
 *      warm-up  senders (connections 0..senders-1) send; nothing counted
 *      measure  --duration seconds counted
 *      drain    senders stop; wait for outstanding acks and until every
 *               member has every seq up to its room's last, then count
 *               what is missing as lost
 *
 *  Each message's content starts with "cb<send time, µs>:<sender>:<n>:",
 *  padded with 'x' to --size bytes; its ref is "a<send time>", so both the
 *  ack and every messageReceived give back the send time without a table.
 *  Senders with --rate 0 keep --window messages un-acked; with a rate, the
 *  sends of all senders are spread evenly in time, and a send whose sender
 *  already has --window un-acked is skipped (and counted).
 */
#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H

#include "bench_config.h"
#include "bench_report.h"

//  Runs the workload and fills res (which bench_result_init prepared).
//  Returns 0 when the run completed (its figures may still show failures),
//  -1 when the setup failed (after printing why).
int bench_load_run(const bench_config_t *cfg, bench_result_t *res);

#endif
