/*  chat_log: see chat_log.h. */
#include "chat_log.h"
#include "chat_clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *s_progname = "chat";
static chat_log_level_t s_level = CHAT_LOG_INFO;
static const char *s_level_names[] = {"debug", "info", "warn", "error"};

void chat_log_init(const char *progname, chat_log_level_t level)
{
    s_progname = progname;
    s_level = level;
}

int chat_log_level_parse(const char *text)
{
    for (int i = 0; i < 4; i++)
        if (text && strcmp(text, s_level_names[i]) == 0)
            return i;
    return -1;
}

__attribute__((format(printf, 2, 0))) static void s_vlog(chat_log_level_t level, const char *fmt,
                                                         va_list args)
{
    char stamp[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char line[1024];
    vsnprintf(line, sizeof line, fmt, args);
    //  One fprintf per line so that lines of concurrent threads do not interleave.
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, now.tv_nsec / 1000000, s_progname,
            s_level_names[level], line);
}

void chat_log(chat_log_level_t level, const char *fmt, ...)
{
    if (level < s_level)
        return;
    va_list args;
    va_start(args, fmt);
    s_vlog(level, fmt, args);
    va_end(args);
}

void chat_log_limited(chat_log_limit_t *limit, chat_log_level_t level, const char *fmt, ...)
{
    if (level < s_level)
        return;
    int64_t now = chat_mono_ms();
    if (now - limit->window_start >= CHAT_LOG_WINDOW_MS) {
        if (limit->suppressed > 0)
            chat_log(level, "(%u similar lines suppressed)", limit->suppressed);
        limit->window_start = now;
        limit->printed = 0;
        limit->suppressed = 0;
    }
    if (limit->printed >= CHAT_LOG_BURST) {
        limit->suppressed++;
        return;
    }
    limit->printed++;
    va_list args;
    va_start(args, fmt);
    s_vlog(level, fmt, args);
    va_end(args);
}
