/*  chat-bench's report maths and output (bench_report), and the parsers
 *  of /proc text and URLs it depends on (bench_proc, bench_conn). */
#include "bench_conn.h"
#include "bench_proc.h"
#include "bench_report.h"
#include "bench_scenarios.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bench_result_t *s_result(void)
{
    bench_result_t *r = malloc(sizeof *r);
    bench_result_init(r);
    r->scenario = "fanout";
    r->connections = 1000;
    r->rooms = 1;
    r->senders = 4;
    r->measured_s = 4.0;
    r->sent = 400;
    r->acked = 400;
    r->acks_in_window = 396;
    r->deliveries = 400000;
    return r;
}

Test(report, rates_are_counts_over_the_measured_window)
{
    bench_result_t *r = s_result();
    bench_derived_t d;
    bench_report_derive(r, &d);
    cr_expect_float_eq(d.sent_per_s, 100.0, 1e-9);
    cr_expect_float_eq(d.acked_per_s, 99.0, 1e-9);
    cr_expect_float_eq(d.deliveries_per_s, 100000.0, 1e-9);
    cr_expect(d.ok);
    free(r);
}

Test(report, the_ratio_compares_the_figure_the_baseline_matches)
{
    bench_result_t *r = s_result();
    bench_derived_t d;
    r->baseline_kind = BENCH_BASELINE_FANOUT;
    r->baseline.per_second = 50000;
    bench_report_derive(r, &d);
    cr_expect_float_eq(d.baseline_ratio, 2.0, 1e-9, "deliveries/s over frames/s");
    r->baseline_kind = BENCH_BASELINE_INGEST;
    r->baseline.per_second = 198;
    bench_report_derive(r, &d);
    cr_expect_float_eq(d.baseline_ratio, 0.5, 1e-9, "acked/s over committed/s");
    r->baseline.per_second = 0;
    bench_report_derive(r, &d);
    cr_expect_float_eq(d.baseline_ratio, 0.0, 1e-9, "no baseline, no ratio");
    free(r);
}

Test(report, memory_per_connection_is_the_delta_over_ready_connections)
{
    bench_result_t *r = s_result();
    bench_derived_t d;
    bench_report_derive(r, &d);
    cr_expect_lt(d.rss_per_conn, 0, "unknown without a sampled gateway");
    r->gateways_sampled = 1;
    r->ready = 1000;
    r->rss_before = 10 << 20;
    r->rss_after = (10 << 20) + 3000 * 1000;
    r->slab_before = 1000;
    r->slab_after = 1000 + 4000 * 1000;
    bench_report_derive(r, &d);
    cr_expect_float_eq(d.rss_per_conn, 3000.0, 1e-9);
    cr_expect_float_eq(d.slab_per_conn, 4000.0, 1e-9);
    cr_expect_lt(d.tcp_mem_per_conn, 0, "sockstat unknown");
    free(r);
}

Test(report, any_integrity_failure_or_missing_ack_fails_the_run)
{
    size_t offsets[] = {
        offsetof(bench_result_t, lost),           offsetof(bench_result_t, duplicated),
        offsetof(bench_result_t, out_of_order),   offsetof(bench_result_t, foreign),
        offsetof(bench_result_t, bad_messages),   offsetof(bench_result_t, closed),
        offsetof(bench_result_t, connect_failed),
    };
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        bench_result_t *r = s_result();
        *(uint64_t *)((char *)r + offsets[i]) = 1;
        bench_derived_t d;
        bench_report_derive(r, &d);
        cr_expect_not(d.ok, "field at offset %zu", offsets[i]);
        free(r);
    }
    bench_result_t *r = s_result();
    r->acked = r->sent - 1;
    bench_derived_t d;
    bench_report_derive(r, &d);
    cr_expect_not(d.ok, "an unacknowledged message");
    r->acked = r->sent;
    r->errors[bench_report_error_index("rate_limited", 12)] = 5;
    bench_report_derive(r, &d);
    cr_expect(d.ok, "error replies are reported, not failures");
    cr_expect_eq(d.errors, 5);
    free(r);
}

Test(report, error_codes_map_to_their_slots)
{
    cr_expect_str_eq(bench_report_error_name(bench_report_error_index("room_exists", 11)),
                     "room_exists");
    cr_expect_eq(bench_report_error_index("nonsense", 8), BENCH_ERR_COUNT - 1);
    cr_expect_str_eq(bench_report_error_name(BENCH_ERR_COUNT - 1), "other");
    cr_expect_eq(bench_report_error_index("room", 4), BENCH_ERR_COUNT - 1, "prefixes do not match");
}

//  The JSON report as a cJSON tree.
static cJSON *s_json(const bench_result_t *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    bench_report_json(f, r);
    fclose(f);
    cr_assert_eq(text[len - 1], '\n', "one line");
    cr_assert_null(memchr(text, '\n', len - 1), "one line");
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root, "not JSON: %s", text);
    free(text);
    return root;
}

Test(report, json_is_one_parseable_line_with_the_figures)
{
    bench_result_t *r = s_result();
    for (uint64_t v = 1000; v <= 3000; v += 1000)
        bench_hist_record(&r->e2e, v);
    r->errors[bench_report_error_index("unavailable", 11)] = 2;
    r->baseline_kind = BENCH_BASELINE_FANOUT;
    r->baseline.per_second = 200000;
    cJSON *root = s_json(r);
    cr_expect_str_eq(cJSON_GetObjectItem(root, "scenario")->valuestring, "fanout");
    cr_expect_eq(cJSON_GetObjectItem(root, "sent")->valuedouble, 400);
    cr_expect_eq(cJSON_GetObjectItem(root, "deliveries_per_s")->valuedouble, 100000);
    cr_expect_eq(cJSON_GetObjectItem(root, "lost")->valuedouble, 0);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(root, "ok")));
    cJSON *e2e = cJSON_GetObjectItem(root, "e2e");
    cr_expect_eq(cJSON_GetObjectItem(e2e, "count")->valuedouble, 3);
    cr_expect_eq(cJSON_GetObjectItem(e2e, "max_us")->valuedouble, 3000);
    cJSON *errors = cJSON_GetObjectItem(root, "errors");
    cr_expect_eq(cJSON_GetObjectItem(errors, "unavailable")->valuedouble, 2);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(root, "rss_per_conn")));
    cJSON *baseline = cJSON_GetObjectItem(root, "baseline");
    cr_expect_str_eq(cJSON_GetObjectItem(baseline, "kind")->valuestring, "fanout");
    cr_expect_float_eq(cJSON_GetObjectItem(baseline, "ratio")->valuedouble, 0.5, 1e-6);
    cJSON_Delete(root);
    free(r);
}

Test(report, json_keeps_a_strange_scenario_name_valid)
{
    bench_result_t *r = s_result();
    r->scenario = "a\"b\\c\n";
    cJSON *root = s_json(r);
    cr_expect_str_eq(cJSON_GetObjectItem(root, "scenario")->valuestring, "a_b_c_");
    cJSON_Delete(root);
    free(r);
}

Test(report, the_table_says_failed_when_something_was_lost)
{
    bench_result_t *r = s_result();
    r->lost = 3;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    bench_report_table(f, r);
    fclose(f);
    cr_expect_not_null(strstr(text, "lost 3"));
    cr_expect_not_null(strstr(text, "FAILED"));
    free(text);
    free(r);
}

// ------------------------------------------------------------ scenarios

Test(scenarios, the_four_named_workloads_exist_as_the_issue_describes_them)
{
    const bench_scenario_t *s = bench_scenario_find("fanout");
    cr_assert_not_null(s);
    cr_expect_eq(s->rooms, 1);
    cr_expect_eq(s->connections, 1000);
    s = bench_scenario_find("chatter");
    cr_assert_not_null(s);
    cr_expect_eq(s->rooms, 100);
    cr_expect_eq(s->connections / s->rooms, 10);
    cr_expect_eq(s->senders, 100);
    cr_expect_gt(s->rate, 0, "a steady rate");
    s = bench_scenario_find("ingest");
    cr_assert_not_null(s);
    cr_expect_eq(s->rooms, 100);
    cr_expect_eq(s->rate, 0, "unthrottled");
    s = bench_scenario_find("idle");
    cr_assert_not_null(s);
    cr_expect_eq(s->connections, 15000);
    cr_expect_eq(s->senders, 0);
    cr_expect_null(bench_scenario_find("nope"));
}

// ------------------------------------------------------------ /proc text

Test(proc, finds_the_inode_of_a_listening_socket_by_port)
{
    const char *tcp =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        "
        "0 111 1 0000000000000000 20 4 30 10 -1\n"
        "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
        "0 222 1 0000000000000000 100 0 0 10 0\n"
        "   2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
        "0 333 1 0000000000000000 100 0 0 10 0\n";
    cr_expect_eq(bench_proc_parse_listen_inode(tcp, 8080), 222, "the LISTEN (0A) entry only");
    cr_expect_eq(bench_proc_parse_listen_inode(tcp, 8081), 333);
    cr_expect_eq(bench_proc_parse_listen_inode(tcp, 9999), 0);
}

Test(proc, reads_kb_fields_and_sockstat_pages)
{
    const char *status = "Name:\tgateway\nVmPeak:\t  20000 kB\nVmRSS:\t   12345 kB\nThreads:\t1\n";
    cr_expect_eq(bench_proc_parse_kb(status, "VmRSS"), 12345L * 1024);
    cr_expect_eq(bench_proc_parse_kb(status, "VmSwap"), -1);
    const char *meminfo =
        "MemTotal:       24000000 kB\nSlabX:  1 kB\nSlab:             500000 kB\n";
    cr_expect_eq(bench_proc_parse_kb(meminfo, "Slab"), 500000L * 1024);
    const char *sockstat = "sockets: used 300\nTCP: inuse 20 orphan 0 tw 3 alloc 25 mem 17\n"
                           "UDP: inuse 1 mem 2\n";
    cr_expect_eq(bench_proc_parse_sockstat_pages(sockstat), 17);
    cr_expect_eq(bench_proc_parse_sockstat_pages("UDP: inuse 1 mem 2\n"), -1);
}

Test(proc, finds_this_process_by_its_listening_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    cr_expect_eq(bench_proc_find_listener(ntohs(addr.sin_port)), getpid());
    cr_expect_gt(bench_proc_rss(getpid()), 0);
    close(fd);
}

// ------------------------------------------------------------ urls

Test(url, parses_host_port_and_path)
{
    bench_url_t u;
    cr_assert_eq(bench_url_parse("ws://127.0.0.1:8080/ws", &u), 0);
    cr_expect_str_eq(u.host, "127.0.0.1");
    cr_expect_eq(u.port, 8080);
    cr_expect_str_eq(u.path, "/ws");
    cr_assert_eq(bench_url_parse("ws://gateway", &u), 0);
    cr_expect_eq(u.port, 80);
    cr_expect_str_eq(u.path, "/");
    cr_assert_eq(bench_url_parse("ws://localhost:9/", &u), 0);
    cr_assert_eq(bench_url_resolve(&u), 0);
    cr_expect(u.local);
}

Test(url, rejects_what_is_not_a_ws_url)
{
    bench_url_t u;
    const char *bad[] = {"http://a:1/ws", "ws://",     "ws://:80/", "ws://a:0/",
                         "ws://a:65536/", "ws://a:x/", "ws://a:/",  "wss://a:1/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(bench_url_parse(bad[i], &u), -1, "accepted %s", bad[i]);
}
