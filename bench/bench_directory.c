/*  bench_directory: see bench_directory.h. */
#include "bench_directory.h"
#include "bench_conn.h"
#include "bench_metrics.h"
#include "bench_proc.h"
#include "bench_scan.h"
#include "chat_clock.h"
#include "chat_log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

//  Read buffer shared by every connection.
#define S_SCRATCH (256 * 1024)
//  Events taken per epoll_wait.
#define S_EVENTS 512
//  Longest sleep in epoll_wait.
#define S_WAIT_MS 2
//  A ping this often during the storm.
#define S_PING_US 5000
//  Connections that search, one query in flight each.
#define S_SEARCHERS 4
//  How long the catalog may take to show the rooms just made (the other
//  gateways hear of them through the registry's events).
#define S_RECOUNT_US 10000000
//  Room for a gateway's /metrics text.
#define S_METRICS_MAX (1 << 16)
//  The pause between the storm and the searches, which are timed on a
//  gateway that is done closing the storm's connections.
#define S_QUIET_US 2000000

//  Words the names are made of, and searched for.
static const char *s_words[] = {
    "book",  "club",   "tech",   "talk",    "garden", "music", "chess", "news",
    "cook",  "travel", "rust",   "photo",   "bikes",  "jazz",  "film",  "games",
    "art",   "code",   "coffee", "hiking",  "poetry", "space", "birds", "yoga",
    "maths", "movies", "retro",  "sailing", "study",  "tea",   "vinyl", "wine",
};
#define S_WORDS (sizeof s_words / sizeof s_words[0])

typedef enum { R_CONTROL, R_SEARCHER, R_CREATOR, R_STORM } s_role_t;

typedef enum {
    C_NEW,        //  not started
    C_CONNECTING, //  TCP and WebSocket handshake
    C_LOGIN,      //  connect sent
    C_READY,      //  logged in
    C_DONE,       //  storm: got its page
    C_GONE,       //  closed or failed
} s_cstate_t;

typedef enum {
    P_SETUP,   //  control, pinger and searchers log in
    P_COUNT,   //  the control asks the catalog's size
    P_CREATE,  //  creators make the missing rooms
    P_RECOUNT, //  until the catalog shows them
    P_STORM,   //  the storm
    P_QUIET,   //  the storm's connections are closed: a pause
    P_SEARCH,  //  the searches
    P_END,
} s_phase_t;

//  The pinger's state, as its thread and the main one see it.
typedef enum {
    S_PING_CONNECTING, //  connecting and logging in
    S_PING_READY,      //  logged in, not pinging
    S_PING_MEASURING,  //  pinging every S_PING_US, recording pongs
    S_PING_STOP,       //  asked to end
    S_PING_FAILED,     //  its connection failed
} s_ping_state_t;

//  A connection of its own, on a thread of its own, that pings during the
//  storm: what it measures is the gateway's answer, not how busy this
//  program's loop is with the storm's 5,000 connections.
typedef struct {
    pthread_t thread;       //  the thread
    atomic_int state;       //  s_ping_state_t
    const bench_url_t *url; //  where it connects
    char user[32];          //  its user id
    bench_conn_t *conn;     //  its connection (the thread's)
    int64_t since;          //  pongs of pings sent from then on are recorded
    bench_hist_t hist;      //  ping -> pong, microseconds (read after the join)
} s_pinger_t;

typedef struct {
    bench_conn_t *conn; //  the connection, NULL before it starts
    int64_t started_us; //  when its connect started
    int64_t asked_us;   //  when its request in flight was sent
    uint32_t inflight;  //  creator: createRooms in flight
    uint32_t query;     //  searcher: the query in flight
    uint8_t role;       //  s_role_t
    uint8_t state;      //  s_cstate_t
} s_client_t;

typedef struct {
    const bench_config_t *cfg; //  settings
    bench_directory_t *r;      //  what is measured
    int ep;                    //  the epoll
    uint8_t *scratch;          //  read buffer
    s_client_t *clients;       //  control, pinger, searchers, creators, storm
    uint32_t n;                //  entries in clients
    uint32_t first_creator;    //  index of the first creator
    uint32_t first_storm;      //  index of the first storm client
    s_phase_t phase;           //  where the run is
    bool fatal;                //  it cannot go on
    bool counting;             //  the control's count request is in flight
    char tag[16];              //  this run's mark in the names it makes
    uint64_t to_create;        //  rooms to make
    uint64_t named;            //  names handed out so far
    int64_t t_create;          //  when making began
    int64_t t_recount;         //  when the recount began
    uint32_t storm_over;       //  storm clients answered or failed
    int64_t t_storm;           //  when the storm began
    s_pinger_t pinger;         //  the ping thread
    int64_t t_quiet;           //  when the storm's connections were closed
    bench_turns_t turns;       //  the first gateway's loop turns when the storm began
    bench_turns_t turns_cpu;   //  and their CPU time
    char *metrics;             //  room for its /metrics text
    uint64_t queries_sent;     //  searches sent
    uint64_t queries_done;     //  searches answered
    int64_t deadline;          //  the current phase's patience
} s_run_t;

static chat_log_limit_t s_log_fail;

// ------------------------------------------------------------ sending

static void s_sendf(s_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_sendf(s_client_t *c, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof text && c->conn)
        bench_conn_send_text(c->conn, text, (size_t)n);
}

static void s_start(s_run_t *R, uint32_t i);

//  The control asks for the catalog's size.
static void s_count(s_run_t *R)
{
    R->counting = true;
    s_sendf(&R->clients[0], "{\"type\":\"getRooms\",\"limit\":1,\"ref\":\"n\"}");
}

//  Creator c tops its window up with new names.
static void s_create_more(s_run_t *R, s_client_t *c)
{
    while (c->state == C_READY && c->inflight < (uint32_t)R->cfg->window &&
           R->named < R->to_create) {
        uint64_t n = R->named++;
        uint64_t x = n * 2654435761u;
        s_sendf(c,
                "{\"type\":\"createRoom\",\"name\":\"%s %s %s %" PRIu64 "\","
                "\"description\":\"chat-bench directory\",\"ref\":\"c%" PRIu64 "\"}",
                R->tag, s_words[x % S_WORDS], s_words[(x >> 8) % S_WORDS], n, n);
        c->inflight++;
    }
}

//  Query k of the searches: word pairs, words, numbers, and now and then
//  a name nobody has.
static void s_query(uint64_t k, char *out, size_t cap, bool *miss)
{
    uint64_t x = k * 2654435761u;
    *miss = k % 8 == 7;
    if (*miss)
        snprintf(out, cap, "zz nobody %" PRIu64 " zz", k);
    else if (k % 3 == 0)
        snprintf(out, cap, "%s %s", s_words[x % S_WORDS], s_words[(x >> 8) % S_WORDS]);
    else if (k % 3 == 1)
        snprintf(out, cap, "%s", s_words[x % S_WORDS]);
    else
        snprintf(out, cap, "%" PRIu64, 1000 + x % 9000);
}

static void s_search_next(s_run_t *R, s_client_t *c)
{
    if (R->queries_sent >= (uint64_t)R->cfg->searches || c->state != C_READY)
        return;
    char q[64];
    bool miss;
    c->query = (uint32_t)R->queries_sent++;
    s_query(c->query, q, sizeof q, &miss);
    c->asked_us = chat_mono_us();
    s_sendf(c, "{\"type\":\"getRooms\",\"limit\":%ld,\"query\":\"%s\",\"ref\":\"s\"}",
            R->cfg->page_limit, q);
}

// ------------------------------------------------------------ receiving

static void s_gone(s_run_t *R, s_client_t *c)
{
    if (c->role == R_STORM && c->state != C_DONE && c->state != C_GONE)
        R->storm_over++;
    if (c->role != R_STORM && c->state != C_GONE && R->phase < P_END && c->role != R_CREATOR) {
        fprintf(stderr, "chat-bench: a %s connection ended early\n",
                c->role == R_CONTROL ? "control" : "searcher");
        R->fatal = true;
    }
    if (c->role == R_CREATOR && c->state != C_GONE && R->phase == P_CREATE) {
        fprintf(stderr, "chat-bench: a creator connection ended early\n");
        R->fatal = true;
    }
    c->state = C_GONE;
}

static void s_on_open(void *arg, bench_conn_t *conn)
{
    s_run_t *R = arg;
    s_client_t *c = &R->clients[bench_conn_index(conn)];
    c->state = C_LOGIN;
    s_sendf(c, "{\"type\":\"connect\",\"userId\":\"%s-%u\",\"ref\":\"c\"}", R->tag,
            bench_conn_index(conn));
}

static void s_on_close(void *arg, bench_conn_t *conn, int code, const char *why)
{
    s_run_t *R = arg;
    s_client_t *c = &R->clients[bench_conn_index(conn)];
    if (c->state == C_GONE)
        return;
    chat_log_limited(&s_log_fail, CHAT_LOG_WARN, "connection %u closed (%d, %s)",
                     bench_conn_index(conn), code, why);
    if (c->state == C_READY || c->state == C_DONE)
        R->r->closed++;
    else
        R->r->connect_failed++;
    s_gone(R, c);
}

static void s_on_connected(s_run_t *R, s_client_t *c)
{
    if (c->state != C_LOGIN)
        return;
    c->state = C_READY;
    if (c->role == R_STORM) {
        c->asked_us = chat_mono_us();
        s_sendf(c, "{\"type\":\"getRooms\",\"limit\":%ld,\"ref\":\"p\"}", R->cfg->page_limit);
    } else if (c->role == R_CREATOR) {
        s_create_more(R, c);
    }
}

static void s_on_page(s_run_t *R, s_client_t *c, const bench_msg_t *m, int64_t now)
{
    bench_directory_t *r = R->r;
    if (c->role == R_CONTROL && bench_span_eq(m->ref, "n")) {
        //  A gateway without paging (v1) sends every room and no total.
        uint64_t total = m->has_total ? m->total : m->n_rooms;
        R->counting = false;
        if (R->phase == P_COUNT)
            r->rooms_before = total;
        r->rooms_after = total;
    } else if (c->role == R_STORM && bench_span_eq(m->ref, "p") && c->state == C_READY) {
        bench_hist_record(&r->page, (uint64_t)(now - c->asked_us));
        bench_hist_record(&r->first, (uint64_t)(now - c->started_us));
        uint64_t expect =
            m->total < (uint64_t)R->cfg->page_limit ? m->total : (uint64_t)R->cfg->page_limit;
        if (!m->has_total || m->n_rooms < expect)
            r->short_page++;
        r->answered++;
        c->state = C_DONE;
        R->storm_over++;
    } else if (c->role == R_SEARCHER && bench_span_eq(m->ref, "s")) {
        bench_hist_record(&r->search, (uint64_t)(now - c->asked_us));
        char q[64];
        bool miss;
        s_query(c->query, q, sizeof q, &miss);
        if (miss) {
            r->misses++;
            r->wrong_misses += m->total != 0 || m->n_rooms != 0;
        } else {
            r->hits += m->n_rooms > 0;
        }
        R->queries_done++;
        s_search_next(R, c);
    }
}

static void s_on_error(s_run_t *R, s_client_t *c, const bench_msg_t *m)
{
    bench_directory_t *r = R->r;
    r->errors[bench_report_error_index(m->code.p ? m->code.p : "", m->code.len)]++;
    char kind = m->ref.p && m->ref.len ? m->ref.p[0] : 0;
    chat_log_limited(&s_log_fail, CHAT_LOG_WARN, "connection %td: error %.*s for ref %.*s",
                     c - R->clients, (int)m->code.len, m->code.p ? m->code.p : "", (int)m->ref.len,
                     m->ref.p ? m->ref.p : "");
    if (c->role == R_CREATOR && kind == 'c' && m->ref.len > 1) {
        //  A name taken before (an earlier run with the same mark) counts.
        if (c->inflight)
            c->inflight--;
        if (!bench_span_eq(m->code, "room_exists") && !R->fatal) {
            fprintf(stderr, "chat-bench: createRoom failed: %.*s%s\n", (int)m->code.len,
                    m->code.p ? m->code.p : "",
                    bench_span_eq(m->code, "rate_limited") ? " (run the gateway with --rate 0)"
                                                           : "");
            R->fatal = true;
        }
        R->r->created++;
        s_create_more(R, c);
        return;
    }
    if (c->role == R_STORM) {
        bench_conn_close(c->conn);
        s_gone(R, c);
        return;
    }
    if (c->role == R_SEARCHER && bench_span_eq(m->ref, "s")) {
        //  Counted above; the next search goes on.
        R->queries_done++;
        s_search_next(R, c);
        return;
    }
    if (R->fatal)
        return;
    fprintf(stderr, "chat-bench: the %s got an error: %.*s\n",
            c->role == R_CONTROL ? "control" : "searcher", (int)m->code.len,
            m->code.p ? m->code.p : "");
    R->fatal = true;
}

static void s_on_text(void *arg, bench_conn_t *conn, const char *text, size_t len)
{
    s_run_t *R = arg;
    s_client_t *c = &R->clients[bench_conn_index(conn)];
    int64_t now = chat_mono_us();
    bench_msg_t m;
    if (bench_scan(text, len, &m) != 0) {
        R->r->bad_messages++;
        return;
    }
    switch (m.type) {
    case BENCH_MSG_CONNECTED:
        s_on_connected(R, c);
        break;
    case BENCH_MSG_ROOMS_LIST:
        s_on_page(R, c, &m, now);
        break;
    case BENCH_MSG_ROOM_CREATED:
        if (c->role == R_CREATOR && m.ref.len > 1 && m.ref.p[0] == 'c') {
            if (c->inflight)
                c->inflight--;
            R->r->created++;
            s_create_more(R, c);
        }
        break;
    case BENCH_MSG_ERROR:
        s_on_error(R, c, &m);
        break;
    default:
        break;
    }
}

static const bench_conn_handler_t s_handler = {s_on_open, s_on_text, s_on_close};

// ------------------------------------------------------------ the pinger

static void s_ping_open(void *arg, bench_conn_t *conn)
{
    s_pinger_t *P = arg;
    char text[96];
    int n = snprintf(text, sizeof text, "{\"type\":\"connect\",\"userId\":\"%s\"}", P->user);
    bench_conn_send_text(conn, text, (size_t)n);
}

static void s_ping_text(void *arg, bench_conn_t *conn, const char *text, size_t len)
{
    s_pinger_t *P = arg;
    bench_msg_t m;
    if (bench_scan(text, len, &m) != 0)
        return;
    int connecting = S_PING_CONNECTING;
    if (m.type == BENCH_MSG_CONNECTED)
        atomic_compare_exchange_strong(&P->state, &connecting, S_PING_READY);
    if (m.type != BENCH_MSG_PONG || m.ref.len < 2 || m.ref.p[0] != 'q')
        return;
    int64_t now = chat_mono_us();
    int64_t sent = (int64_t)bench_span_u64((bench_span_t){m.ref.p + 1, m.ref.len - 1, false}, NULL);
    if (sent >= P->since && atomic_load(&P->state) == S_PING_MEASURING)
        bench_hist_record(&P->hist, (uint64_t)(now > sent ? now - sent : 0));
}

static void s_ping_close(void *arg, bench_conn_t *conn, int code, const char *why)
{
    s_pinger_t *P = arg;
    fprintf(stderr, "chat-bench: the pinger's connection ended (%d, %s)\n", code, why);
    atomic_store(&P->state, S_PING_FAILED);
}

static const bench_conn_handler_t s_ping_handler = {s_ping_open, s_ping_text, s_ping_close};

//  The pinger thread: connects, then pings every S_PING_US while measuring.
static void *s_pinger_main(void *arg)
{
    s_pinger_t *P = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    uint8_t *scratch = malloc(65536);
    if (ep < 0 || !scratch)
        abort();
    P->conn = bench_conn_new(ep, P->url, 0, &s_ping_handler, P);
    if (!P->conn)
        atomic_store(&P->state, S_PING_FAILED);
    int64_t next = 0;
    bool was_measuring = false;
    struct epoll_event events[4];
    while (atomic_load(&P->state) != S_PING_STOP && atomic_load(&P->state) != S_PING_FAILED) {
        int64_t now = chat_mono_us();
        bool measuring = atomic_load(&P->state) == S_PING_MEASURING;
        if (measuring && !was_measuring) {
            P->since = now;
            next = now;
        }
        was_measuring = measuring;
        if (measuring && now >= next) {
            char text[64];
            int n =
                snprintf(text, sizeof text, "{\"type\":\"ping\",\"ref\":\"q%" PRId64 "\"}", now);
            bench_conn_send_text(P->conn, text, (size_t)n);
            next += S_PING_US;
            if (next < now)
                next = now + S_PING_US;
        }
        int n = epoll_wait(ep, events, 4, 1);
        for (int e = 0; e < n; e++)
            bench_conn_event(events[e].data.ptr, events[e].events, scratch, 65536);
    }
    bench_conn_destroy(&P->conn);
    free(scratch);
    close(ep);
    return NULL;
}

// ------------------------------------------------------------ phases

static void s_start(s_run_t *R, uint32_t i)
{
    s_client_t *c = &R->clients[i];
    const bench_url_t *url = &R->cfg->urls[i % R->cfg->n_urls];
    c->started_us = chat_mono_us();
    c->conn = bench_conn_new(R->ep, url, i, &s_handler, R);
    if (!c->conn) {
        fprintf(stderr, "chat-bench: socket for connection %u: %s\n", i, strerror(errno));
        R->fatal = true;
        c->state = C_GONE;
        return;
    }
    c->state = C_CONNECTING;
}

static long s_rss(const bench_config_t *cfg)
{
    long rss = cfg->n_pids ? 0 : -1;
    for (size_t i = 0; i < cfg->n_pids; i++) {
        long one = bench_proc_rss(cfg->pids[i]);
        rss = one < 0 || rss < 0 ? -1 : rss + one;
    }
    return rss;
}

static bool s_all_ready(const s_run_t *R, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        if (R->clients[i].state != C_READY)
            return false;
    return true;
}

//  The first gateway's loop-turn histograms (n = 0 when unread).
static void s_read_turns(s_run_t *R, bench_turns_t *wall, bench_turns_t *cpu)
{
    memset(wall, 0, sizeof *wall);
    memset(cpu, 0, sizeof *cpu);
    if (bench_metrics_fetch(&R->cfg->urls[0], R->metrics, S_METRICS_MAX, 2000) > 0) {
        bench_metrics_turns(R->metrics, BENCH_TURNS_WALL, wall);
        bench_metrics_turns(R->metrics, BENCH_TURNS_CPU, cpu);
    }
}

static void s_begin_storm(s_run_t *R, int64_t now)
{
    s_read_turns(R, &R->turns, &R->turns_cpu);
    now = chat_mono_us();
    R->phase = P_STORM;
    R->r->rss_before = s_rss(R->cfg);
    R->t_storm = now;
    int ready = S_PING_READY;
    atomic_compare_exchange_strong(&R->pinger.state, &ready, S_PING_MEASURING);
    R->deadline = now + R->cfg->setup_timeout_s * 1000000;
    for (uint32_t i = R->first_storm; i < R->n && !R->fatal; i++)
        s_start(R, i);
}

static void s_end_storm(s_run_t *R, int64_t now)
{
    R->r->storm_s = (double)(now - R->t_storm) / 1e6;
    bench_turns_t after, after_cpu;
    s_read_turns(R, &after, &after_cpu);
    double p99 = -1;
    uint64_t turns;
    bench_metrics_turns_between(&R->turns, &after, 0.05, &R->r->turns, &p99,
                                &R->r->turns_over_50ms);
    R->r->turn_p99_ms = p99 < 0 ? -1 : p99 * 1e3;
    bench_metrics_turns_between(&R->turns_cpu, &after_cpu, 0.05, &turns, &p99,
                                &R->r->turns_cpu_over_50ms);
    R->r->turn_cpu_p99_ms = p99 < 0 ? -1 : p99 * 1e3;
    int measuring = S_PING_MEASURING;
    atomic_compare_exchange_strong(&R->pinger.state, &measuring, S_PING_READY);
    R->r->rss_after = s_rss(R->cfg);
    //  The storm's clients go; the searches run on a quiet gateway.
    for (uint32_t i = R->first_storm; i < R->n; i++)
        if (R->clients[i].conn && R->clients[i].state != C_GONE) {
            bench_conn_close(R->clients[i].conn);
            R->clients[i].state = C_GONE;
        }
    R->phase = P_QUIET;
    R->t_quiet = now;
}

//  Moves through the phases. Returns -1 when the run cannot go on.
static int s_advance(s_run_t *R, int64_t now)
{
    bench_directory_t *r = R->r;
    if (atomic_load(&R->pinger.state) == S_PING_FAILED)
        R->fatal = true;
    if (R->fatal)
        return -1;
    if (now > R->deadline) {
        fprintf(stderr, "chat-bench: directory phase %d timed out (%" PRIu64 " of %ld answered)\n",
                (int)R->phase, r->answered, R->cfg->connections);
        return -1;
    }
    switch (R->phase) {
    case P_SETUP:
        if (s_all_ready(R, 0, 1 + S_SEARCHERS) && atomic_load(&R->pinger.state) == S_PING_READY) {
            R->phase = P_COUNT;
            s_count(R);
        }
        break;
    case P_COUNT:
        if (R->counting)
            break;
        R->to_create =
            r->rooms_before < (uint64_t)r->rooms ? (uint64_t)r->rooms - r->rooms_before : 0;
        if (!R->to_create) {
            s_begin_storm(R, now);
            break;
        }
        printf("chat-bench: the catalog has %" PRIu64 " rooms; making %" PRIu64 " more\n",
               r->rooms_before, R->to_create);
        fflush(stdout);
        R->phase = P_CREATE;
        R->t_create = now;
        for (uint32_t i = R->first_creator; i < R->first_storm; i++)
            s_start(R, i);
        break;
    case P_CREATE:
        if (r->created < R->to_create)
            break;
        r->create_s = (double)(now - R->t_create) / 1e6;
        for (uint32_t i = R->first_creator; i < R->first_storm; i++) {
            bench_conn_close(R->clients[i].conn);
            R->clients[i].state = C_GONE;
        }
        R->phase = P_RECOUNT;
        R->t_recount = now;
        s_count(R);
        break;
    case P_RECOUNT:
        if (R->counting)
            break;
        if (r->rooms_after >= (uint64_t)r->rooms || now - R->t_recount > S_RECOUNT_US) {
            s_begin_storm(R, now);
            break;
        }
        s_count(R);
        break;
    case P_STORM:
        if (R->storm_over == R->n - R->first_storm)
            s_end_storm(R, now);
        break;
    case P_QUIET:
        if (now - R->t_quiet < S_QUIET_US)
            break;
        R->phase = P_SEARCH;
        R->deadline = now + R->cfg->setup_timeout_s * 1000000;
        for (uint32_t i = 1; i < 1 + S_SEARCHERS; i++)
            s_search_next(R, &R->clients[i]);
        break;
    case P_SEARCH:
        if (R->queries_done >= (uint64_t)R->cfg->searches)
            R->phase = P_END;
        break;
    case P_END:
        break;
    }
    return 0;
}

int bench_directory_run(const bench_config_t *cfg, bench_directory_t *r)
{
    memset(r, 0, sizeof *r);
    r->rooms = cfg->rooms;
    r->clients = cfg->connections;
    r->page_limit = cfg->page_limit;
    r->rss_before = r->rss_after = -1;
    s_run_t *R = calloc(1, sizeof *R);
    if (!R)
        abort();
    R->cfg = cfg;
    R->r = r;
    long creators = cfg->creators;
    R->first_creator = 1 + S_SEARCHERS;
    R->first_storm = R->first_creator + (uint32_t)creators;
    R->n = R->first_storm + (uint32_t)cfg->connections;
    R->clients = calloc(R->n, sizeof *R->clients);
    R->scratch = malloc(S_SCRATCH);
    R->metrics = malloc(S_METRICS_MAX);
    R->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!R->clients || !R->scratch || !R->metrics || R->ep < 0)
        abort();
    for (uint32_t i = 0; i < R->n; i++)
        R->clients[i].role = i == 0                 ? R_CONTROL
                             : i < R->first_creator ? R_SEARCHER
                             : i < R->first_storm   ? R_CREATOR
                                                    : R_STORM;
    snprintf(R->tag, sizeof R->tag, "d%06x",
             (unsigned)((uint64_t)chat_wall_ms() ^ ((uint64_t)getpid() << 12)) & 0xFFFFFF);
    R->deadline = chat_mono_us() + cfg->setup_timeout_s * 1000000;
    for (uint32_t i = 0; i < R->first_creator; i++)
        s_start(R, i);
    R->pinger.url = &cfg->urls[0];
    snprintf(R->pinger.user, sizeof R->pinger.user, "%s-ping", R->tag);
    atomic_init(&R->pinger.state, S_PING_CONNECTING);
    if (pthread_create(&R->pinger.thread, NULL, s_pinger_main, &R->pinger) != 0)
        abort();
    int rc = 0;
    struct epoll_event events[S_EVENTS];
    while (R->phase != P_END) {
        int64_t now = chat_mono_us();
        if (s_advance(R, now) != 0) {
            rc = -1;
            break;
        }
        int n = epoll_wait(R->ep, events, S_EVENTS, S_WAIT_MS);
        for (int e = 0; e < n; e++)
            bench_conn_event(events[e].data.ptr, events[e].events, R->scratch, S_SCRATCH);
    }
    atomic_store(&R->pinger.state, S_PING_STOP);
    pthread_join(R->pinger.thread, NULL);
    r->ping = R->pinger.hist;
    for (uint32_t i = 0; i < R->n; i++)
        bench_conn_destroy(&R->clients[i].conn);
    close(R->ep);
    free(R->scratch);
    free(R->metrics);
    free(R->clients);
    free(R);
    return rc;
}

// ------------------------------------------------------------ report

static uint64_t s_errors(const bench_directory_t *r)
{
    uint64_t n = 0;
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        n += r->errors[i];
    return n;
}

bool bench_directory_ok(const bench_directory_t *r)
{
    return r->answered == (uint64_t)r->clients && s_errors(r) == 0 && r->closed == 0 &&
           r->connect_failed == 0 && r->bad_messages == 0 && r->short_page == 0 &&
           r->wrong_misses == 0 && r->rooms_after >= (uint64_t)r->rooms;
}

static void s_row(FILE *out, const char *name, const bench_hist_t *h)
{
    if (!h->total) {
        fprintf(out, "  %-22s (none)\n", name);
        return;
    }
    fprintf(out, "  %-22s p50 %.3f  p99 %.3f  max %.3f ms  (%llu samples)\n", name,
            bench_hist_percentile(h, 0.5) / 1e3, bench_hist_percentile(h, 0.99) / 1e3, h->max / 1e3,
            (unsigned long long)h->total);
}

void bench_directory_table(FILE *out, const bench_directory_t *r)
{
    fprintf(out, "chat-bench directory: %ld rooms, %ld clients, pages of %ld\n", r->rooms,
            r->clients, r->page_limit);
    fprintf(out, "  %-22s %" PRIu64 " before, %" PRIu64 " after\n", "catalog", r->rooms_before,
            r->rooms_after);
    if (r->created)
        fprintf(out, "  %-22s %" PRIu64 " in %.1f s (%.0f rooms/s)\n", "rooms made", r->created,
                r->create_s, r->create_s > 0 ? r->created / r->create_s : 0);
    fprintf(out, "  %-22s %" PRIu64 " of %ld in %.2f s, %" PRIu64 " short pages\n", "pages",
            r->answered, r->clients, r->storm_s, r->short_page);
    s_row(out, "getRooms -> page", &r->page);
    s_row(out, "connect -> page", &r->first);
    s_row(out, "ping during storm", &r->ping);
    if (r->turns)
        fprintf(out,
                "  %-22s %" PRIu64 " during the storm, p99 <= %.0f ms, %" PRIu64 " over 50 ms\n",
                "gateway loop turns", r->turns, r->turn_p99_ms, r->turns_over_50ms);
    if (r->turns)
        fprintf(out,
                "  %-22s p99 <= %.0f ms, %" PRIu64 " over 50 ms (the rest: waiting for a CPU)\n",
                "  their CPU time", r->turn_cpu_p99_ms, r->turns_cpu_over_50ms);
    s_row(out, "search", &r->search);
    fprintf(out,
            "  %-22s %" PRIu64 " found rooms, %" PRIu64 " for nobody's name (%" PRIu64
            " wrongly found)\n",
            "searches", r->hits, r->misses, r->wrong_misses);
    if (r->rss_before >= 0)
        fprintf(out, "  %-22s %.1f -> %.1f MiB around the storm\n", "gateway VmRSS",
                r->rss_before / 1048576.0, r->rss_after / 1048576.0);
    fprintf(out,
            "  %-22s closed by server %" PRIu64 ", never logged in %" PRIu64 ", bad %" PRIu64 "\n",
            "connections", r->closed, r->connect_failed, r->bad_messages);
    fprintf(out, "  %-22s %" PRIu64, "errors", s_errors(r));
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        if (r->errors[i])
            fprintf(out, "  %s %" PRIu64, bench_report_error_name(i), r->errors[i]);
    fputc('\n', out);
    fprintf(out, "  %-22s %s\n", "result", bench_directory_ok(r) ? "OK" : "FAILED");
}

static void s_json_hist(FILE *out, const char *name, const bench_hist_t *h)
{
    fprintf(out,
            ",\"%s\":{\"count\":%llu,\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu,"
            "\"mean_us\":%.1f}",
            name, (unsigned long long)h->total, (unsigned long long)bench_hist_percentile(h, 0.5),
            (unsigned long long)bench_hist_percentile(h, 0.99), (unsigned long long)h->max,
            bench_hist_mean(h));
}

void bench_directory_json(FILE *out, const bench_directory_t *r)
{
    fprintf(out,
            "{\"scenario\":\"directory\",\"rooms\":%ld,\"connections\":%ld,\"page_limit\":%ld,"
            "\"rooms_before\":%" PRIu64 ",\"rooms_after\":%" PRIu64 ",\"created\":%" PRIu64
            ",\"create_s\":%.3f,\"created_per_s\":%.1f,\"answered\":%" PRIu64
            ",\"short_pages\":%" PRIu64 ",\"storm_s\":%.3f",
            r->rooms, r->clients, r->page_limit, r->rooms_before, r->rooms_after, r->created,
            r->create_s, r->create_s > 0 ? r->created / r->create_s : 0, r->answered, r->short_page,
            r->storm_s);
    s_json_hist(out, "page", &r->page);
    s_json_hist(out, "first_page", &r->first);
    s_json_hist(out, "ping", &r->ping);
    s_json_hist(out, "search", &r->search);
    fprintf(out,
            ",\"turns\":%" PRIu64 ",\"turn_p99_ms\":%.1f,\"turns_over_50ms\":%" PRIu64
            ",\"turn_cpu_p99_ms\":%.1f,\"turns_cpu_over_50ms\":%" PRIu64 ",\"search_hits\":%" PRIu64
            ",\"search_misses\":%" PRIu64 ",\"wrong_misses\":%" PRIu64
            ",\"rss_before\":%ld,\"rss_after\":%ld,\"closed\":%" PRIu64
            ",\"connect_failed\":%" PRIu64 ",\"bad_messages\":%" PRIu64 ",\"errors_total\":%" PRIu64
            ",\"errors\":{",
            r->turns, r->turn_p99_ms, r->turns_over_50ms, r->turn_cpu_p99_ms,
            r->turns_cpu_over_50ms, r->hits, r->misses, r->wrong_misses, r->rss_before,
            r->rss_after, r->closed, r->connect_failed, r->bad_messages, s_errors(r));
    bool first = true;
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        if (r->errors[i]) {
            fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", bench_report_error_name(i),
                    r->errors[i]);
            first = false;
        }
    fprintf(out, "},\"ok\":%s}\n", bench_directory_ok(r) ? "true" : "false");
}
