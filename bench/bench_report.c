/*  bench_report: see bench_report.h. */
#include "bench_report.h"

#include <string.h>

static const char *s_codes[BENCH_ERR_COUNT] = {
    "bad_json",          "bad_request",  "unknown_type",   "connect_required",
    "already_connected", "invalid_user", "room_not_found", "room_exists",
    "invalid_room",      "not_in_room",  "empty_message",  "message_too_long",
    "rate_limited",      "unavailable",  "internal",       "other",
};

void bench_result_init(bench_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->scenario = "";
    r->rss_before = r->rss_after = r->rss_end = -1;
    r->tcp_mem_before = r->tcp_mem_after = -1;
    r->slab_before = r->slab_after = -1;
}

int bench_report_error_index(const char *code, size_t len)
{
    for (int i = 0; i < BENCH_ERR_COUNT - 1; i++)
        if (strlen(s_codes[i]) == len && memcmp(s_codes[i], code, len) == 0)
            return i;
    return BENCH_ERR_COUNT - 1;
}

const char *bench_report_error_name(int i)
{
    return i >= 0 && i < BENCH_ERR_COUNT ? s_codes[i] : "other";
}

const char *bench_report_baseline_name(bench_baseline_kind_t kind)
{
    return kind == BENCH_BASELINE_FANOUT   ? "fanout"
           : kind == BENCH_BASELINE_INGEST ? "ingest"
                                           : "none";
}

//  (after - before) / count, or -1 when a figure is unknown.
static double s_per(long before, long after, long count)
{
    if (before < 0 || after < 0 || count <= 0)
        return -1;
    return (double)(after - before) / (double)count;
}

void bench_report_derive(const bench_result_t *r, bench_derived_t *d)
{
    memset(d, 0, sizeof *d);
    double s = r->measured_s > 0 ? r->measured_s : 0;
    d->sent_per_s = s > 0 ? (double)r->sent / s : 0;
    d->acked_per_s = s > 0 ? (double)r->acks_in_window / s : 0;
    d->deliveries_per_s = s > 0 ? (double)r->deliveries / s : 0;
    d->rss_per_conn = r->gateways_sampled ? s_per(r->rss_before, r->rss_after, r->ready) : -1;
    d->tcp_mem_per_conn = s_per(r->tcp_mem_before, r->tcp_mem_after, r->ready);
    d->slab_per_conn = s_per(r->slab_before, r->slab_after, r->ready);
    if (r->baseline.per_second > 0) {
        if (r->baseline_kind == BENCH_BASELINE_FANOUT)
            d->baseline_ratio = d->deliveries_per_s / r->baseline.per_second;
        else if (r->baseline_kind == BENCH_BASELINE_INGEST)
            d->baseline_ratio = d->acked_per_s / r->baseline.per_second;
    }
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        d->errors += r->errors[i];
    d->ok = r->lost == 0 && r->duplicated == 0 && r->out_of_order == 0 && r->foreign == 0 &&
            r->bad_messages == 0 && r->closed == 0 && r->connect_failed == 0 && r->acked == r->sent;
}

// ------------------------------------------------------------ table

static void s_latency_row(FILE *out, const char *name, const bench_hist_t *h)
{
    if (!h->total) {
        fprintf(out, "  %-22s (none)\n", name);
        return;
    }
    fprintf(out, "  %-22s p50 %.3f  p99 %.3f  p999 %.3f  max %.3f ms  (%llu samples)\n", name,
            bench_hist_percentile(h, 0.5) / 1e3, bench_hist_percentile(h, 0.99) / 1e3,
            bench_hist_percentile(h, 0.999) / 1e3, h->max / 1e3, (unsigned long long)h->total);
}

static void s_memory_rows(FILE *out, const bench_result_t *r, const bench_derived_t *d)
{
    if (d->rss_per_conn >= 0)
        fprintf(
            out,
            "  %-22s %.0f B/connection  (VmRSS %.1f -> %.1f MiB, %ld connections, %d gateway%s)\n",
            "gateway memory", d->rss_per_conn, r->rss_before / 1048576.0, r->rss_after / 1048576.0,
            r->ready, r->gateways_sampled, r->gateways_sampled == 1 ? "" : "s");
    else
        fprintf(out, "  %-22s (no local gateway found)\n", "gateway memory");
    if (d->slab_per_conn >= 0 || d->tcp_mem_per_conn >= 0)
        fprintf(
            out,
            "  %-22s slab %.0f B + TCP buffers %.0f B per connection (machine-wide, both ends)\n",
            "kernel memory", d->slab_per_conn, d->tcp_mem_per_conn);
}

void bench_report_table(FILE *out, const bench_result_t *r)
{
    bench_derived_t d;
    bench_report_derive(r, &d);
    fprintf(
        out,
        "chat-bench %s: %ld connections, %ld rooms, %ld senders, rate %ld/s, window %ld, %ld B\n",
        *r->scenario ? r->scenario : "(custom)", r->connections, r->rooms, r->senders, r->rate,
        r->window, r->size);
    fprintf(out, "  %-22s %.2f s (after %ld s warm-up; setup took %.1f s)\n", "measured",
            r->measured_s, r->warmup_s, r->setup_s);
    fprintf(out, "  %-22s %llu  (%.0f/s)\n", "sent", (unsigned long long)r->sent, d.sent_per_s);
    fprintf(out, "  %-22s %llu  (%.0f acks/s in the window)\n", "acknowledged",
            (unsigned long long)r->acked, d.acked_per_s);
    fprintf(out, "  %-22s %llu  (%.0f/s)\n", "deliveries", (unsigned long long)r->deliveries,
            d.deliveries_per_s);
    if (r->skipped)
        fprintf(out, "  %-22s %llu (window full)\n", "sends skipped",
                (unsigned long long)r->skipped);
    s_latency_row(out, "end-to-end latency", &r->e2e);
    s_latency_row(out, "ack latency", &r->ack);
    fprintf(out, "  %-22s lost %llu, duplicated %llu, out of order %llu, foreign %llu, bad %llu\n",
            "integrity", (unsigned long long)r->lost, (unsigned long long)r->duplicated,
            (unsigned long long)r->out_of_order, (unsigned long long)r->foreign,
            (unsigned long long)r->bad_messages);
    fprintf(out, "  %-22s closed by server %llu (last code %d), failed to join %llu\n",
            "connections", (unsigned long long)r->closed, r->last_close_code,
            (unsigned long long)r->connect_failed);
    fprintf(out, "  %-22s %llu", "errors", (unsigned long long)d.errors);
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        if (r->errors[i])
            fprintf(out, "  %s %llu", s_codes[i], (unsigned long long)r->errors[i]);
    fputc('\n', out);
    s_memory_rows(out, r, &d);
    if (r->baseline_kind != BENCH_BASELINE_NONE) {
        const char *what = r->baseline_kind == BENCH_BASELINE_FANOUT ? "deliveries/s" : "acked/s";
        fprintf(out, "  %-22s %s %.0f items/s (%llu items in %.2f s)  ratio %s %.2fx\n", "baseline",
                bench_report_baseline_name(r->baseline_kind), r->baseline.per_second,
                (unsigned long long)r->baseline.items, r->baseline.seconds, what, d.baseline_ratio);
    }
    fprintf(out, "  %-22s %s\n", "result", d.ok ? "OK" : "FAILED");
}

// ------------------------------------------------------------ json

static void s_json_hist(FILE *out, const char *name, const bench_hist_t *h)
{
    fprintf(out,
            ",\"%s\":{\"count\":%llu,\"p50_us\":%llu,\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%"
            "llu,\"mean_us\":%.1f}",
            name, (unsigned long long)h->total, (unsigned long long)bench_hist_percentile(h, 0.5),
            (unsigned long long)bench_hist_percentile(h, 0.99),
            (unsigned long long)bench_hist_percentile(h, 0.999), (unsigned long long)h->max,
            bench_hist_mean(h));
}

//  A number, or null when negative (unknown).
static void s_json_num(FILE *out, const char *name, double v)
{
    if (v < 0)
        fprintf(out, ",\"%s\":null", name);
    else
        fprintf(out, ",\"%s\":%.1f", name, v);
}

void bench_report_json(FILE *out, const bench_result_t *r)
{
    bench_derived_t d;
    bench_report_derive(r, &d);
    //  The scenario name comes from a fixed table or the command line: keep
    //  it to characters that need no escaping.
    char scenario[64];
    size_t n = 0;
    for (const char *p = r->scenario; *p && n < sizeof scenario - 1; p++)
        scenario[n++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '_' : *p;
    scenario[n] = '\0';
    fprintf(out,
            "{\"scenario\":\"%s\",\"connections\":%ld,\"rooms\":%ld,\"senders\":%ld,"
            "\"rate\":%ld,\"window\":%ld,\"size\":%ld,\"duration_s\":%ld,\"warmup_s\":%ld",
            scenario, r->connections, r->rooms, r->senders, r->rate, r->window, r->size,
            r->duration_s, r->warmup_s);
    fprintf(out,
            ",\"measured_s\":%.3f,\"setup_s\":%.3f,\"sent\":%llu,\"acked\":%llu,"
            "\"acks_in_window\":%llu,\"deliveries\":%llu,\"deliveries_total\":%llu,"
            "\"skipped\":%llu,\"sent_per_s\":%.1f,\"acked_per_s\":%.1f,\"deliveries_per_s\":%.1f",
            r->measured_s, r->setup_s, (unsigned long long)r->sent, (unsigned long long)r->acked,
            (unsigned long long)r->acks_in_window, (unsigned long long)r->deliveries,
            (unsigned long long)r->deliveries_total, (unsigned long long)r->skipped, d.sent_per_s,
            d.acked_per_s, d.deliveries_per_s);
    s_json_hist(out, "e2e", &r->e2e);
    s_json_hist(out, "ack", &r->ack);
    fprintf(out,
            ",\"lost\":%llu,\"duplicated\":%llu,\"out_of_order\":%llu,\"foreign\":%llu,"
            "\"bad_messages\":%llu,\"closed\":%llu,\"last_close_code\":%d,\"connect_failed\":%llu",
            (unsigned long long)r->lost, (unsigned long long)r->duplicated,
            (unsigned long long)r->out_of_order, (unsigned long long)r->foreign,
            (unsigned long long)r->bad_messages, (unsigned long long)r->closed, r->last_close_code,
            (unsigned long long)r->connect_failed);
    fprintf(out, ",\"errors_total\":%llu,\"errors\":{", (unsigned long long)d.errors);
    bool first = true;
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        if (r->errors[i]) {
            fprintf(out, "%s\"%s\":%llu", first ? "" : ",", s_codes[i],
                    (unsigned long long)r->errors[i]);
            first = false;
        }
    fprintf(out, "},\"gateways_sampled\":%d,\"ready\":%ld", r->gateways_sampled, r->ready);
    s_json_num(out, "rss_before", (double)r->rss_before);
    s_json_num(out, "rss_after", (double)r->rss_after);
    s_json_num(out, "rss_end", (double)r->rss_end);
    s_json_num(out, "rss_per_conn", d.rss_per_conn);
    s_json_num(out, "kernel_slab_per_conn", d.slab_per_conn);
    s_json_num(out, "kernel_tcp_mem_per_conn", d.tcp_mem_per_conn);
    fprintf(out,
            ",\"baseline\":{\"kind\":\"%s\",\"items\":%llu,\"seconds\":%.3f,\"per_second\":%.1f,"
            "\"frame_len\":%zu,\"sockets\":%zu,\"ratio\":%.3f}",
            bench_report_baseline_name(r->baseline_kind), (unsigned long long)r->baseline.items,
            r->baseline.seconds, r->baseline.per_second, r->baseline_frame_len, r->baseline_sockets,
            d.baseline_ratio);
    fprintf(out, ",\"ok\":%s}\n", d.ok ? "true" : "false");
}
