/*  chat-bench: load generator for the chat cluster (docs/benchmarks.md).
 *
 *  Runs the workload (bench_load) against one or more gateways, then the
 *  same-run baseline when asked, and prints the table or --json. The
 *  directory scenario has its own client and report (bench_directory).
 */
#include "bench_baseline.h"
#include "bench_config.h"
#include "bench_directory.h"
#include "bench_load.h"
#include "bench_report.h"
#include "chat_log.h"
#include "chat_wsframe.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Fan-out: the messageReceived frame the run delivered, to as many sockets
//  as there were connections, as many frames in all as the window delivered
//  (at least 10 per socket, at most a million).
static int s_baseline_fanout(const bench_config_t *cfg, bench_result_t *res)
{
    if (!res->sample_len) {
        fprintf(stderr, "chat-bench: no message was delivered: no fan-out baseline\n");
        return -1;
    }
    static uint8_t frame[BENCH_SAMPLE_MAX + CHAT_WSFRAME_SERVER_HEADER_MAX];
    size_t len =
        chat_wsframe_encode(frame, CHAT_WS_OP_TEXT, true, res->sample, res->sample_len, NULL);
    size_t sockets = cfg->connections < 9000 ? (size_t)cfg->connections : 9000;
    uint64_t frames = res->deliveries;
    if (frames < sockets * 10)
        frames = sockets * 10;
    if (frames > 1000000)
        frames = 1000000; //  enough for a steady rate, short enough to repeat
    res->baseline_frame_len = len;
    res->baseline_sockets = sockets;
    return bench_baseline_fanout(sockets, (frames + sockets - 1) / sockets, frame, len,
                                 &res->baseline);
}

//  Ingest: as many messages as were acknowledged in the window, about the
//  size roomd stores (content and the message's other fields), 100 per
//  fsynced transaction.
static int s_baseline_ingest(const bench_config_t *cfg, bench_result_t *res)
{
    uint64_t messages = res->acks_in_window > 1000 ? res->acks_in_window : 1000;
    return bench_baseline_ingest(cfg->tmp_dir, messages, (size_t)cfg->size + 64, (size_t)cfg->rooms,
                                 100, &res->baseline);
}

int main(int argc, char **argv)
{
    bench_config_t cfg;
    int rc = bench_config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    chat_log_init("chat-bench", CHAT_LOG_INFO);
    signal(SIGPIPE, SIG_IGN);

    if (strcmp(cfg.scenario, "directory") == 0) {
        bench_directory_t *dir = malloc(sizeof *dir);
        if (!dir || bench_directory_run(&cfg, dir) != 0) {
            free(dir);
            return 3;
        }
        if (cfg.json)
            bench_directory_json(stdout, dir);
        else
            bench_directory_table(stdout, dir);
        bool ok = bench_directory_ok(dir);
        free(dir);
        return ok ? 0 : 1;
    }
    bench_result_t *res = malloc(sizeof *res);
    if (!res)
        return 3;
    bench_result_init(res);
    if (bench_load_run(&cfg, res) != 0) {
        free(res);
        return 3;
    }
    res->baseline_kind = cfg.baseline;
    if (cfg.baseline == BENCH_BASELINE_FANOUT && s_baseline_fanout(&cfg, res) != 0)
        fprintf(stderr, "chat-bench: the fan-out baseline failed\n");
    if (cfg.baseline == BENCH_BASELINE_INGEST && s_baseline_ingest(&cfg, res) != 0)
        fprintf(stderr, "chat-bench: the ingest baseline failed\n");

    if (cfg.json)
        bench_report_json(stdout, res);
    else
        bench_report_table(stdout, res);
    bench_derived_t derived;
    bench_report_derive(res, &derived);
    free(res);
    return derived.ok ? 0 : 1;
}
