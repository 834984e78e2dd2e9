/*  bench_scenarios: see bench_scenarios.h. */
#include "bench_scenarios.h"

#include <string.h>

static const bench_scenario_t s_table[] = {
    {"fanout", "1 room of 1000 members, 4 senders as fast as acks allow (window 8)", 1000, 1, 4, 0,
     8, 100, 10, 3, "fanout"},
    {"chatter", "100 rooms of 10, 100 senders at 10 messages/s each", 1000, 100, 100, 10, 64, 100,
     10, 3, "fanout"},
    {"ingest", "100 rooms of 2, 100 senders as fast as durable acks allow (window 32)", 200, 100,
     100, 0, 32, 100, 10, 3, "ingest"},
    {"idle", "15000 connections in 150 rooms that only connect and join", 15000, 150, 0, 0, 1, 100,
     10, 2, "none"},
    {"directory",
     "100000 rooms (made when missing); 5000 clients connect and ask for the first page at once, "
     "a ping meanwhile; then searches",
     5000, 100000, 0, 0, 8, 100, 10, 0, "none"},
    {NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, NULL},
};

const bench_scenario_t *bench_scenario_find(const char *name)
{
    for (const bench_scenario_t *s = s_table; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

const bench_scenario_t *bench_scenarios(void)
{
    return s_table;
}

void bench_scenarios_print(FILE *out)
{
    for (const bench_scenario_t *s = s_table; s->name; s++)
        fprintf(out, "  %-9s %s; baseline %s\n", s->name, s->summary, s->baseline);
}
