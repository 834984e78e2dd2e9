/*  chat_registry: see chat_registry.h. */
#include "chat_registry.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

int chat_registry_parse(chat_registry_t *self, const char *list)
{
    memset(self, 0, sizeof *self);
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        size_t len = (size_t)(end - p);
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        if (len > 0) {
            if (self->count == CHAT_REGISTRY_MAX || len >= CHAT_ENDPOINT_MAX)
                return -1;
            memcpy(self->endpoints[self->count], p, len);
            self->endpoints[self->count][len] = '\0';
            if (!strstr(self->endpoints[self->count], "://"))
                return -1;
            self->count++;
        }
        p = end;
    }
    return self->count > 0 ? 0 : -1;
}

const char *chat_registry_current(const chat_registry_t *self)
{
    return self->endpoints[self->current];
}

bool chat_registry_follow(chat_registry_t *self, const char *leader)
{
    if (!leader || !*leader || strlen(leader) >= CHAT_ENDPOINT_MAX)
        return false;
    for (size_t i = 0; i < self->count; i++) {
        if (strcmp(self->endpoints[i], leader) == 0) {
            bool changed = i != self->current;
            self->current = i;
            return changed;
        }
    }
    if (self->count == CHAT_REGISTRY_MAX)
        return false;
    snprintf(self->endpoints[self->count], CHAT_ENDPOINT_MAX, "%s", leader);
    self->current = self->count++;
    return true;
}

bool chat_registry_next(chat_registry_t *self)
{
    if (self->count < 2)
        return false;
    self->current = (self->current + 1) % self->count;
    return true;
}

int chat_registry_switch(void *sock, const char *from, const char *to)
{
    void *handle = zsock_resolve(sock);
    if (from && *from && strcmp(from, to) != 0)
        zmq_disconnect(handle, from); //  ENOENT when never connected: nothing to undo
    return zmq_connect(handle, to);
}

int chat_endpoint_port_offset(const char *endpoint, int delta, char *out, size_t size)
{
    const char *colon = endpoint ? strrchr(endpoint, ':') : NULL;
    if (!colon)
        return -1;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port <= 0 || port + delta <= 0 || port + delta > 65535)
        return -1;
    int n = snprintf(out, size, "%.*s:%ld", (int)(colon - endpoint), endpoint, port + delta);
    return n > 0 && (size_t)n < size ? 0 : -1;
}
