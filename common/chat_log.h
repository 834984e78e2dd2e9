/*  chat_log: one-line, timestamped logging to stderr.
 *
 *  chat_log_init sets the program name and the lowest level printed.
 *  chat_log_limited is for anything a peer on the network can trigger: it
 *  prints at most CHAT_LOG_BURST lines per CHAT_LOG_WINDOW_MS for one call
 *  site (one limiter), then one line saying how many it suppressed.
 */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

#include <stdint.h>

typedef enum {
    CHAT_LOG_DEBUG = 0,
    CHAT_LOG_INFO = 1,
    CHAT_LOG_WARN = 2,
    CHAT_LOG_ERROR = 3,
} chat_log_level_t;

#define CHAT_LOG_BURST 5
#define CHAT_LOG_WINDOW_MS 10000

//  State of one rate-limited call site; zero-initialise it (static is fine).
typedef struct {
    int64_t window_start; //  monotonic ms when the current window began
    unsigned printed;     //  lines printed in this window
    unsigned suppressed;  //  lines dropped in this window
} chat_log_limit_t;

//  Sets the name printed on every line and the lowest level printed.
void chat_log_init(const char *progname, chat_log_level_t level);

//  Parses "debug", "info", "warn" or "error"; returns -1 for anything else.
int chat_log_level_parse(const char *text);

void chat_log(chat_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void chat_log_limited(chat_log_limit_t *limit, chat_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define chat_debug(...) chat_log(CHAT_LOG_DEBUG, __VA_ARGS__)
#define chat_info(...) chat_log(CHAT_LOG_INFO, __VA_ARGS__)
#define chat_warn(...) chat_log(CHAT_LOG_WARN, __VA_ARGS__)
#define chat_error(...) chat_log(CHAT_LOG_ERROR, __VA_ARGS__)

#endif
