/*  chat_ready: see chat_ready.h. */
#define _GNU_SOURCE
#include "chat_ready.h"
#include "chat_log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int chat_ready_write(const char *path, const char *text)
{
    if (!path || !*path)
        return 0;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        chat_error("ready file name too long: %s", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        chat_error("cannot write the ready file %s: %s", tmp, strerror(errno));
        return -1;
    }
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        chat_error("cannot write the ready file %s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int chat_ready_bound(void *zmq_socket, char *out, size_t size)
{
    size_t len = size;
    if (size == 0)
        return -1;
    if (zmq_getsockopt(zmq_socket, ZMQ_LAST_ENDPOINT, out, &len) != 0) {
        out[0] = '\0';
        return -1;
    }
    out[size - 1] = '\0';
    return 0;
}
