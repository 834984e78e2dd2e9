/*  chat-bench against a real cluster, for a few seconds with small numbers:
 *  the smoke run. It fails on any lost, duplicated or out-of-order
 *  delivery, on a message sent after the warm-up and never acknowledged,
 *  and on a chat-bench that does not finish.
 */
#include "chat_clock.h"
#include "chat_test.h"
#include "gw_cluster.h"

#include <cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

//  Runs chat-bench with args (NULL-terminated) in dir and waits for it (up
//  to timeout_ms). Returns its exit status; *json gets its --json report
//  (or NULL when it printed none).
static int s_run_bench(const char *dir, const char *const *args, int timeout_ms, cJSON **json)
{
    char log[600];
    snprintf(log, sizeof log, "%s/chat-bench.log", dir);
    remove(log);
    chat_proc_t *proc = chat_proc_start("chat-bench", args, dir, "chat-bench");
    cr_assert_not_null(proc);
    int64_t deadline = chat_mono_ms() + timeout_ms;
    while (chat_proc_alive(proc) && chat_mono_ms() < deadline)
        chat_sleep_ms(50);
    bool finished = !chat_proc_alive(proc);
    if (!finished)
        chat_proc_dump_log(proc);
    int status = chat_proc_stop(&proc);
    cr_assert(finished, "chat-bench did not finish within %d ms", timeout_ms);

    *json = NULL;
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    static char line[1 << 16];
    while (fgets(line, sizeof line, f))
        if (line[0] == '{') {
            cJSON_Delete(*json);
            *json = cJSON_Parse(line);
        }
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static double s_num(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItem(obj, name);
    cr_assert(cJSON_IsNumber(item), "no number %s in the report", name);
    return item->valuedouble;
}

//  What every smoke run must show.
static void s_expect_clean(const cJSON *r)
{
    cr_expect_eq(s_num(r, "lost"), 0, "lost deliveries");
    cr_expect_eq(s_num(r, "duplicated"), 0, "duplicated deliveries");
    cr_expect_eq(s_num(r, "out_of_order"), 0, "out-of-order deliveries");
    cr_expect_eq(s_num(r, "foreign"), 0, "deliveries for the wrong room");
    cr_expect_eq(s_num(r, "closed"), 0, "connections closed by the gateway");
    cr_expect_eq(s_num(r, "connect_failed"), 0, "connections that never joined");
    cr_expect_eq(s_num(r, "errors_total"), 0, "error replies");
    cr_expect_gt(s_num(r, "sent"), 0, "nothing was sent after the warm-up");
    cr_expect_eq(s_num(r, "acked"), s_num(r, "sent"), "messages sent after the warm-up not acked");
    cr_expect_gt(s_num(r, "deliveries"), 0);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
}

static const char *s_url(const gwt_cluster_t *c, int g)
{
    static char url[2][64];
    snprintf(url[g], sizeof url[g], "ws://127.0.0.1:%d/ws", c->gw[g].port);
    return url[g];
}

Test(bench_smoke, window_bound_senders_on_one_gateway_lose_nothing)
{
    gwt_cluster_t c;
    const char *gw_extra[] = {"--rate", "0", "--log-level", "info", NULL};
    gwt_start(&c, 1, gw_extra);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)chat_proc_pid(c.gw[0].proc));
    const char *args[] = {
        "--url",      s_url(&c, 0), "--connections", "24",  "--rooms",    "4", "--senders", "6",
        "--window",   "4",          "--size",        "200", "--duration", "3", "--warmup",  "1",
        "--baseline", "fanout",     "--gateway-pid", pid,   "--json",     NULL};
    cJSON *r = NULL;
    int status = s_run_bench(c.dir, args, 120000, &r);
    cr_assert_not_null(r, "chat-bench printed no JSON report");
    cr_expect_eq(status, 0, "chat-bench exit status");
    s_expect_clean(r);
    //  Each message sent in the window reached the 6 members of its room.
    cr_expect_eq(s_num(cJSON_GetObjectItem(r, "e2e"), "count"), 6 * s_num(r, "sent"));
    cr_expect_eq(s_num(cJSON_GetObjectItem(r, "ack"), "count"), s_num(r, "sent"));
    cr_expect(!cJSON_IsNull(cJSON_GetObjectItem(r, "rss_after")), "the gateway's RSS was read");
    const cJSON *baseline = cJSON_GetObjectItem(r, "baseline");
    cr_expect_gt(s_num(baseline, "per_second"), 0, "the fan-out baseline ran");
    cr_expect_eq(s_num(baseline, "sockets"), 24);
    cJSON_Delete(r);
    gwt_stop(&c);
}

Test(bench_smoke, rate_bound_senders_across_two_gateways_lose_nothing)
{
    gwt_cluster_t c;
    const char *gw_extra[] = {"--rate", "0", "--log-level", "info", NULL};
    gwt_start(&c, 2, gw_extra);
    char urls[160];
    snprintf(urls, sizeof urls, "%s,%s", s_url(&c, 0), s_url(&c, 1));
    //  Connection i goes to gateway i % 2 and room i % 4: every room has
    //  members on both gateways, so events cross gateways.
    const char *args[] = {"--url",      urls,  "--connections", "32", "--rooms",    "4",
                          "--senders",  "8",   "--rate",        "20", "--window",   "16",
                          "--duration", "3",   "--warmup",      "1",  "--baseline", "ingest",
                          "--tmp-dir",  c.dir, "--json",        NULL};
    cJSON *r = NULL;
    int status = s_run_bench(c.dir, args, 120000, &r);
    cr_assert_not_null(r, "chat-bench printed no JSON report");
    cr_expect_eq(status, 0, "chat-bench exit status");
    s_expect_clean(r);
    cr_expect_eq(s_num(cJSON_GetObjectItem(r, "e2e"), "count"), 8 * s_num(r, "sent"));
    //  8 senders at 20/s for 3 s: about 480 (the machine may be slow).
    cr_expect_gt(s_num(r, "sent"), 100);
    cr_expect_lt(s_num(r, "sent"), 600);
    cr_expect_gt(s_num(cJSON_GetObjectItem(r, "baseline"), "per_second"), 0,
                 "the ingest baseline ran");
    cJSON_Delete(r);
    gwt_stop(&c);
}

Test(bench_smoke, fails_its_setup_when_no_gateway_answers)
{
    char *dir = chat_temp_dir("bench-nogw");
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", chat_free_port());
    const char *args[] = {"--url",     url, "--connections",   "4",  "--rooms", "2",
                          "--senders", "1", "--setup-timeout", "20", "--json",  NULL};
    cJSON *r = NULL;
    int status = s_run_bench(dir, args, 60000, &r);
    cr_expect_eq(status, 3, "setup failure exit status");
    cr_expect_null(r, "no report without a run");
    cJSON_Delete(r);
    chat_remove_tree(dir);
    free(dir);
}

Test(bench_smoke, a_directory_storm_is_answered_without_an_error)
{
    gwt_cluster_t c;
    const char *gw_extra[] = {"--rate", "0", "--log-level", "info", NULL};
    gwt_start(&c, 1, gw_extra);
    //  The reduced storm: 1500 rooms made through the protocol, 1500
    //  clients asking for the first page at once, a ping meanwhile.
    const char *args[] = {
        "--url", s_url(&c, 0),   "--scenario", "directory",  "--rooms", "1500",   "--connections",
        "1500",  "--page-limit", "20",         "--searches", "40",      "--json", NULL};
    cJSON *r = NULL;
    int status = s_run_bench(c.dir, args, 300000, &r);
    cr_assert_not_null(r, "chat-bench printed no JSON report");
    cr_expect_eq(status, 0, "chat-bench exit status");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
    cr_expect_eq(s_num(r, "answered"), 1500, "every client got its page");
    cr_expect_eq(s_num(r, "errors_total"), 0, "no error (no unavailable)");
    cr_expect_eq(s_num(r, "closed"), 0);
    cr_expect_eq(s_num(r, "short_pages"), 0, "every page held 20 rooms");
    cr_expect_eq(s_num(r, "rooms_before"), 3, "a new cluster");
    cr_expect_eq(s_num(r, "created"), 1497);
    cr_expect_geq(s_num(r, "rooms_after"), 1500);
    cr_expect_eq(s_num(cJSON_GetObjectItem(r, "page"), "count"), 1500);
    cr_expect_gt(s_num(cJSON_GetObjectItem(r, "ping"), "count"), 0, "pings during the storm");
    cr_expect_eq(s_num(cJSON_GetObjectItem(r, "search"), "count"), 40);
    cr_expect_gt(s_num(r, "search_hits"), 0);
    cr_expect_gt(s_num(r, "search_misses"), 0);
    cr_expect_eq(s_num(r, "wrong_misses"), 0, "a name nobody has found nothing");
    cJSON_Delete(r);
    gwt_stop(&c);
}
