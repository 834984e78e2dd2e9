/*  bench_config: see bench_config.h. */
#include "bench_config.h"
#include "bench_proc.h"
#include "bench_scenarios.h"
#include "chat_clock.h"
#include "chat_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *s_usage =
    "[options]\n\n"
    "Load generator for the chat cluster: real WebSocket clients (docs/protocol.md)\n"
    "that connect, join rooms, send and receive, and report throughput, latency,\n"
    "lost/duplicated/reordered deliveries and the gateway's memory per connection.\n"
    "Exit status: 0 when nothing was lost, duplicated, reordered or left unacked;\n"
    "1 when something was; 2 for bad flags; 3 when the setup failed.\n\n"
    "scenarios (--scenario NAME; flags given explicitly win):\n"
    "  fanout, chatter, ingest, idle, directory (see docs/benchmarks.md)";

//  Strings as parsed (borrowed from argv, the environment or the defaults).
typedef struct {
    const char *url;      //  --url
    const char *baseline; //  --baseline
    const char *pids;     //  --gateway-pid
} s_text_t;

#define S_OPTIONS 23

static void s_table(bench_config_t *c, s_text_t *t, chat_option_t *opts)
{
    chat_option_t table[S_OPTIONS] = {
        {"url", "CHAT_BENCH_URL", CHAT_OPT_STRING, "ws://127.0.0.1:8080/ws",
         "gateway WebSocket URLs, comma-separated", &t->url},
        {"scenario", "CHAT_BENCH_SCENARIO", CHAT_OPT_STRING, "",
         "preset: fanout, chatter, ingest, idle or directory", &c->scenario},
        {"connections", "CHAT_BENCH_CONNECTIONS", CHAT_OPT_INT, NULL,
         "WebSocket connections (default: scenario, else 100)", &c->connections},
        {"rooms", "CHAT_BENCH_ROOMS", CHAT_OPT_INT, NULL,
         "rooms, members spread evenly (default: scenario, else 10)", &c->rooms},
        {"senders", "CHAT_BENCH_SENDERS", CHAT_OPT_INT, NULL,
         "connections that send (default: scenario, else 10)", &c->senders},
        {"rate", "CHAT_BENCH_RATE", CHAT_OPT_INT, NULL,
         "messages/s per sender, 0 = as fast as acks allow (default: scenario, else 0)", &c->rate},
        {"window", "CHAT_BENCH_WINDOW", CHAT_OPT_INT, NULL,
         "most un-acked messages per sender (default: scenario, else 8)", &c->window},
        {"size", "CHAT_BENCH_SIZE", CHAT_OPT_INT, NULL,
         "content bytes per message, at least its ~30-byte stamp (default: scenario, else 100)",
         &c->size},
        {"duration", "CHAT_BENCH_DURATION", CHAT_OPT_INT, NULL,
         "measured seconds (default: scenario, else 10)", &c->duration_s},
        {"warmup", "CHAT_BENCH_WARMUP", CHAT_OPT_INT, NULL,
         "warm-up seconds before measuring (default: scenario, else 2)", &c->warmup_s},
        {"drain", "CHAT_BENCH_DRAIN", CHAT_OPT_INT, "15",
         "most seconds to wait for outstanding acks and deliveries", &c->drain_s},
        {"setup-timeout", "CHAT_BENCH_SETUP_TIMEOUT", CHAT_OPT_INT, "300",
         "most seconds for connecting, creating rooms and joining", &c->setup_timeout_s},
        {"concurrency", "CHAT_BENCH_CONCURRENCY", CHAT_OPT_INT, "256",
         "connections being set up at once", &c->concurrency},
        {"room-prefix", "CHAT_BENCH_ROOM_PREFIX", CHAT_OPT_STRING, "",
         "rooms are \"<prefix>-<i>\" (existing ones are reused; empty: new per run)",
         &c->room_prefix},
        {"user-prefix", "CHAT_BENCH_USER_PREFIX", CHAT_OPT_STRING, "",
         "user ids are \"<prefix>-<i>\" (empty: new per run)", &c->user_prefix},
        {"baseline", "CHAT_BENCH_BASELINE", CHAT_OPT_STRING, "none",
         "same-run baseline: fanout, ingest or none", &t->baseline},
        {"gateway-pid", "CHAT_BENCH_GATEWAY_PID", CHAT_OPT_STRING, "",
         "gateway pids to sample (comma-separated; empty: find local ones by port)", &t->pids},
        {"tmp-dir", "CHAT_BENCH_TMP_DIR", CHAT_OPT_STRING, "/tmp",
         "directory for the ingest baseline's LMDB (use the roomd's disk)", &c->tmp_dir},
        {"page-limit", "CHAT_BENCH_PAGE_LIMIT", CHAT_OPT_INT, "50",
         "directory: rooms per getRooms page", &c->page_limit},
        {"searches", "CHAT_BENCH_SEARCHES", CHAT_OPT_INT, "200",
         "directory: searches timed after the storm", &c->searches},
        {"creators", "CHAT_BENCH_CREATORS", CHAT_OPT_INT, "8",
         "directory: connections that create the missing rooms (--window each in flight)",
         &c->creators},
        {"json", "CHAT_BENCH_JSON", CHAT_OPT_BOOL, NULL, "print one JSON object, not the table",
         &c->json},
        {NULL, NULL, 0, NULL, NULL, NULL},
    };
    memcpy(opts, table, sizeof table);
}

//  Unset workload flags from the scenario, then from the defaults.
static int s_apply_scenario(bench_config_t *c)
{
    bench_scenario_t d = {"", "", 100, 10, 10, 0, 8, 100, 10, 2, "none"};
    const bench_scenario_t *s = &d;
    if (*c->scenario) {
        s = bench_scenario_find(c->scenario);
        if (!s) {
            fprintf(stderr, "chat-bench: unknown scenario %s; these exist:\n", c->scenario);
            bench_scenarios_print(stderr);
            return -1;
        }
    }
    long *fields[] = {&c->connections, &c->rooms, &c->senders,    &c->rate,
                      &c->window,      &c->size,  &c->duration_s, &c->warmup_s};
    long values[] = {s->connections, s->rooms, s->senders,    s->rate,
                     s->window,      s->size,  s->duration_s, s->warmup_s};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (*fields[i] < 0)
            *fields[i] = values[i];
    return 0;
}

static int s_check(const bench_config_t *c)
{
    const char *bad = NULL;
    if (c->connections < 1 || c->connections > 1000000)
        bad = "--connections must be 1..1000000";
    else if (c->rooms < 1 || (c->rooms > c->connections && strcmp(c->scenario, "directory") != 0))
        bad = "--rooms must be 1..connections";
    else if (c->page_limit < 1 || c->page_limit > 200 || c->searches < 0 || c->creators < 1)
        bad = "--page-limit must be 1..200, --searches >= 0, --creators >= 1";
    else if (c->senders < 0 || c->senders > c->connections)
        bad = "--senders must be 0..connections";
    else if (c->rate < 0 || c->window < 1)
        bad = "--rate must be >= 0 and --window >= 1";
    else if (c->size < 1 || c->size > 4000)
        bad = "--size must be 1..4000";
    else if (c->duration_s < 1 || c->warmup_s < 0 || c->drain_s < 1 || c->setup_timeout_s < 1)
        bad = "--duration, --drain and --setup-timeout must be >= 1, --warmup >= 0";
    else if (c->concurrency < 1)
        bad = "--concurrency must be >= 1";
    else if (strlen(c->room_prefix) > 40 || strlen(c->user_prefix) > 24)
        bad = "--room-prefix is at most 40 characters, --user-prefix 24";
    if (bad)
        fprintf(stderr, "chat-bench: %s\n", bad);
    return bad ? -1 : 0;
}

static int s_urls(bench_config_t *c, const char *text)
{
    char copy[2048];
    snprintf(copy, sizeof copy, "%s", text);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (c->n_urls == BENCH_URLS_MAX) {
            fprintf(stderr, "chat-bench: at most %d URLs\n", BENCH_URLS_MAX);
            return -1;
        }
        bench_url_t *u = &c->urls[c->n_urls];
        if (bench_url_parse(tok, u) != 0 || bench_url_resolve(u) != 0) {
            fprintf(stderr, "chat-bench: %s is not a ws://host:port/path that resolves\n", tok);
            return -1;
        }
        c->n_urls++;
    }
    if (!c->n_urls)
        fprintf(stderr, "chat-bench: --url is empty\n");
    return c->n_urls ? 0 : -1;
}

//  --gateway-pid, else the local processes listening on the URLs' ports.
static void s_pids(bench_config_t *c, const char *text)
{
    for (const char *p = text; *p && c->n_pids < BENCH_URLS_MAX;) {
        long pid = strtol(p, (char **)&p, 10);
        if (pid > 0)
            c->pids[c->n_pids++] = (pid_t)pid;
        while (*p == ',' || *p == ' ')
            p++;
        if (*p && (*p < '0' || *p > '9'))
            break;
    }
    if (*text)
        return;
    for (size_t i = 0; i < c->n_urls; i++) {
        if (!c->urls[i].local)
            continue;
        pid_t pid = bench_proc_find_listener(c->urls[i].port);
        bool seen = false;
        for (size_t k = 0; k < c->n_pids; k++)
            seen = seen || c->pids[k] == pid;
        if (pid > 0 && !seen)
            c->pids[c->n_pids++] = pid;
    }
}

int bench_config_parse(bench_config_t *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->connections = c->rooms = c->senders = c->rate = c->window = c->size = -1;
    c->duration_s = c->warmup_s = -1;
    s_text_t t;
    chat_option_t opts[S_OPTIONS];
    s_table(c, &t, opts);
    int rc = chat_config_parse("chat-bench", s_usage, opts, argc, argv, NULL);
    if (rc != 0)
        return rc;
    if (s_apply_scenario(c) != 0 || s_check(c) != 0 || s_urls(c, t.url) != 0)
        return -1;
    if (!strcmp(t.baseline, "fanout"))
        c->baseline = BENCH_BASELINE_FANOUT;
    else if (!strcmp(t.baseline, "ingest"))
        c->baseline = BENCH_BASELINE_INGEST;
    else if (strcmp(t.baseline, "none") != 0) {
        fprintf(stderr, "chat-bench: --baseline must be fanout, ingest or none\n");
        return -1;
    }
    unsigned tag = (unsigned)((uint64_t)chat_wall_ms() ^ ((uint64_t)getpid() << 16)) & 0xFFFFFFF;
    if (!*c->user_prefix) {
        snprintf(c->prefix_buf[0], sizeof c->prefix_buf[0], "b%07x", tag);
        c->user_prefix = c->prefix_buf[0];
    }
    if (!*c->room_prefix) {
        snprintf(c->prefix_buf[1], sizeof c->prefix_buf[1], "bench-%07x", tag);
        c->room_prefix = c->prefix_buf[1];
    }
    s_pids(c, t.pids);
    return 0;
}
