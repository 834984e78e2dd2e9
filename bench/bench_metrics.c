/*  bench_metrics: see bench_metrics.h. */
#include "bench_metrics.h"
#include "chat_clock.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

long bench_metrics_fetch(const bench_url_t *url, char *buf, size_t cap, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int64_t deadline = chat_mono_ms() + timeout_ms;
    char request[256];
    int n = snprintf(request, sizeof request,
                     "GET /metrics HTTP/1.0\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", url->host,
                     url->port);
    size_t len = 0;
    long body = -1;
    if (connect(fd, (const struct sockaddr *)&url->addr, sizeof url->addr) == 0 &&
        send(fd, request, (size_t)n, MSG_NOSIGNAL) == n) {
        while (len + 1 < cap) {
            struct pollfd p = {fd, POLLIN, 0};
            int64_t left = deadline - chat_mono_ms();
            if (left <= 0 || poll(&p, 1, (int)left) <= 0)
                break;
            ssize_t got = recv(fd, buf + len, cap - 1 - len, 0);
            if (got <= 0)
                break;
            len += (size_t)got;
        }
        buf[len] = '\0';
        const char *start = strstr(buf, "\r\n\r\n");
        if (start && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0) {
            start += 4;
            body = (long)(len - (size_t)(start - buf));
            memmove(buf, start, (size_t)body + 1);
        }
    }
    close(fd);
    return body;
}

int bench_metrics_turns(const char *text, const char *name, bench_turns_t *out)
{
    memset(out, 0, sizeof *out);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "\n%s_bucket{le=\"", name);
    for (const char *p = strstr(text, prefix); p && out->n < BENCH_TURN_BUCKETS;
         p = strstr(p + 1, prefix)) {
        const char *le = p + strlen(prefix);
        char *end = NULL;
        double bound = strncmp(le, "+Inf", 4) == 0 ? INFINITY : strtod(le, &end);
        const char *count = strstr(le, "} ");
        if (!count || (!isinf(bound) && end == le))
            return -1;
        out->le_s[out->n] = bound;
        out->count[out->n] = strtoull(count + 2, NULL, 10);
        out->n++;
    }
    return out->n ? 0 : -1;
}

void bench_metrics_turns_between(const bench_turns_t *before, const bench_turns_t *after,
                                 double over_s, uint64_t *turns, double *p99_le_s, uint64_t *over)
{
    *turns = 0;
    *p99_le_s = -1;
    *over = 0;
    if (!after->n || before->n != after->n)
        return;
    *turns = after->count[after->n - 1] - before->count[before->n - 1];
    uint64_t within = 0;
    bool found = false;
    for (size_t i = 0; i < after->n; i++) {
        uint64_t upto = after->count[i] - before->count[i];
        if (after->le_s[i] <= over_s)
            within = upto;
        if (!found && *turns && (double)upto >= 0.99 * (double)*turns) {
            found = true;
            *p99_le_s = isinf(after->le_s[i]) ? -1 : after->le_s[i];
        }
    }
    *over = *turns - within;
}
