/*  bench_scenarios: the named workloads of chat-bench (--scenario NAME).
 *
 *  A scenario gives defaults for the workload flags; a flag given on the
 *  command line (or by its CHAT_BENCH_* variable) wins over the scenario.
 */
#ifndef BENCH_SCENARIOS_H
#define BENCH_SCENARIOS_H

#include <stdio.h>

typedef struct {
    const char *name;     //  --scenario NAME
    const char *summary;  //  one line for --help and the docs
    long connections;     //  WebSocket connections
    long rooms;           //  rooms (members spread evenly)
    long senders;         //  connections that send
    long rate;            //  messages/s per sender, 0 = as fast as acks allow
    long window;          //  un-acked messages per sender
    long size;            //  content bytes
    long duration_s;      //  measured seconds
    long warmup_s;        //  warm-up seconds
    const char *baseline; //  the baseline it is judged against ("none" for none)
} bench_scenario_t;

//  The scenario called name, or NULL.
const bench_scenario_t *bench_scenario_find(const char *name);

//  The scenarios, ended by an entry whose name is NULL.
const bench_scenario_t *bench_scenarios(void);

//  Prints "name: summary" lines.
void bench_scenarios_print(FILE *out);

#endif
