/*  bench_directory: the `directory` scenario, with its own client — the
 *  room directory at scale (docs/protocol.md, "The room directory at
 *  scale"; docs/benchmarks.md, "directory").
 *
 *  Phases, on one epoll thread like bench_load:
 *
 *      catalog  a control connection asks for the catalog's size (a page of
 *               one: its total); when it holds fewer than --rooms rooms,
 *               --creators connections make the rest, --window createRooms
 *               in flight each ("<tag> <word> <word> <n>"): rooms created
 *               per second through the gateway and the registry
 *      storm    a pinger (its own connection on its own thread, so that
 *               this program's busy loop is not what it measures) sends a
 *               ping every 5 ms; --connections clients
 *               start connecting at the same moment, each logs in and asks
 *               for the first page (getRooms, --page-limit rooms). Latency
 *               from each request to its page, and from each connection's
 *               start to its page; the storm ends when every client has its
 *               page or failed (--setup-timeout)
 *      search   after a pause of 2 s (the storm's connections closed),
 *               --searches getRooms with a query (words and numbers of the
 *               names made here, and one that matches nothing), one at a
 *               time on each of four connections
 *
 *  A run is OK when every client got its page (no error, no close), every
 *  page is full (as many rooms as asked, or the whole listing), and the
 *  catalog holds --rooms rooms. Latency targets are the reader's to judge.
 */
#ifndef BENCH_DIRECTORY_H
#define BENCH_DIRECTORY_H

#include "bench_config.h"
#include "bench_hist.h"
#include "bench_report.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    //  What ran.
    long rooms;      //  rooms the catalog must hold
    long clients;    //  storm connections
    long page_limit; //  rooms per page asked for
    //  Catalog.
    uint64_t rooms_before; //  the catalog's size when the run began
    uint64_t rooms_after;  //  its size after the rooms were made
    uint64_t created;      //  rooms made by this run
    double create_s;       //  seconds the making took
    //  Storm.
    uint64_t answered;        //  clients that got their page
    uint64_t short_page;      //  pages with fewer rooms than asked (or than the listing has)
    bench_hist_t page;        //  getRooms sent -> roomsList, microseconds
    bench_hist_t first;       //  connection started -> roomsList, microseconds
    bench_hist_t ping;        //  ping sent -> pong during the storm, microseconds
    double storm_s;           //  first connect -> last page
    uint64_t turns;           //  the first gateway's loop turns during the storm (its /metrics)
    double turn_p99_ms;       //  their 99th percentile, as its bucket's upper bound (-1 unknown)
    uint64_t turns_over_50ms; //  turns busy for longer than 50 ms
    double turn_cpu_p99_ms;   //  the 99th percentile of their CPU time (-1 unknown)
    uint64_t turns_cpu_over_50ms; //  turns with more than 50 ms of CPU time
    long rss_before;              //  gateway VmRSS before the storm (bytes, -1 unknown)
    long rss_after;               //  and with every client answered
    //  Search.
    bench_hist_t search; //  getRooms with a query sent -> roomsList, microseconds
    uint64_t hits;       //  searches whose listing was not empty
    uint64_t misses;     //  searches for a name nobody has (must be empty)
    //  Failures (each must be 0).
    uint64_t errors[BENCH_ERR_COUNT]; //  error replies by code
    uint64_t closed;                  //  connections the server closed
    uint64_t connect_failed;          //  connections that never logged in
    uint64_t bad_messages;            //  server messages that are not one JSON object
    uint64_t wrong_misses;            //  searches for nobody's name that found rooms
} bench_directory_t;

//  Runs the scenario; fills r. Returns 0 when it ran to the end (r tells
//  how it went), -1 when it could not (after printing why).
int bench_directory_run(const bench_config_t *cfg, bench_directory_t *r);

//  True when nothing failed (see above).
bool bench_directory_ok(const bench_directory_t *r);

//  The readable table / one JSON object on one line.
void bench_directory_table(FILE *out, const bench_directory_t *r);
void bench_directory_json(FILE *out, const bench_directory_t *r);

#endif
