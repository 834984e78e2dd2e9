/*  rd_gateways: see rd_gateways.h. */
#include "rd_gateways.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *id;          //  gateway id (the key)
    int64_t last_seen; //  monotonic ms it was last heard from
    uint32_t sessions; //  sessions it holds in rooms here
} s_gateway_t;

struct rd_gateways {
    zhashx_t *table; //  gateway id -> s_gateway_t
};

static void s_gateway_free(void **item)
{
    s_gateway_t *gw = *item;
    if (!gw)
        return;
    free(gw->id);
    free(gw);
    *item = NULL;
}

rd_gateways_t *rd_gateways_new(void)
{
    rd_gateways_t *self = calloc(1, sizeof *self);
    if (!self || !(self->table = zhashx_new())) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->table, s_gateway_free);
    return self;
}

void rd_gateways_destroy(rd_gateways_t **p)
{
    if (!p || !*p)
        return;
    zhashx_destroy(&(*p)->table);
    free(*p);
    *p = NULL;
}

//  The gateway's entry, made (as heard from at now_ms) when it has none.
static s_gateway_t *s_get(rd_gateways_t *self, const char *id, int64_t now_ms)
{
    s_gateway_t *gw = zhashx_lookup(self->table, id);
    if (gw)
        return gw;
    gw = calloc(1, sizeof *gw);
    if (!gw || !(gw->id = strdup(id))) {
        free(gw);
        return NULL;
    }
    gw->last_seen = now_ms;
    if (zhashx_insert(self->table, gw->id, gw) != 0) {
        void *item = gw;
        s_gateway_free(&item);
        return NULL;
    }
    return gw;
}

void rd_gateways_seen(rd_gateways_t *self, const char *gateway, int64_t now_ms)
{
    s_gateway_t *gw = s_get(self, gateway, now_ms);
    if (gw)
        gw->last_seen = now_ms;
}

void rd_gateways_add_session(rd_gateways_t *self, const char *gateway, int64_t now_ms)
{
    s_gateway_t *gw = s_get(self, gateway, now_ms);
    if (gw)
        gw->sessions++;
}

void rd_gateways_remove_session(rd_gateways_t *self, const char *gateway)
{
    s_gateway_t *gw = zhashx_lookup(self->table, gateway);
    if (gw && gw->sessions > 0)
        gw->sessions--;
}

uint32_t rd_gateways_sessions(const rd_gateways_t *self, const char *gateway)
{
    s_gateway_t *gw = zhashx_lookup(self->table, gateway);
    return gw ? gw->sessions : 0;
}

uint32_t rd_gateways_total(const rd_gateways_t *self)
{
    uint32_t total = 0;
    for (s_gateway_t *gw = zhashx_first(self->table); gw; gw = zhashx_next(self->table))
        total += gw->sessions;
    return total;
}

void rd_gateways_reset_counts(rd_gateways_t *self)
{
    for (s_gateway_t *gw = zhashx_first(self->table); gw; gw = zhashx_next(self->table))
        gw->sessions = 0;
}

static void s_free_string(void **item)
{
    free(*item);
    *item = NULL;
}

zlistx_t *rd_gateways_expire(rd_gateways_t *self, int64_t now_ms, int64_t lease_ms)
{
    zlistx_t *silent = NULL;
    for (s_gateway_t *gw = zhashx_first(self->table); gw; gw = zhashx_next(self->table)) {
        if (now_ms - gw->last_seen <= lease_ms)
            continue;
        if (!silent) {
            silent = zlistx_new();
            if (!silent)
                return NULL;
            zlistx_set_destructor(silent, s_free_string);
        }
        char *id = strdup(gw->id);
        if (id)
            zlistx_add_end(silent, id);
    }
    for (char *id = silent ? zlistx_first(silent) : NULL; id; id = zlistx_next(silent))
        zhashx_delete(self->table, id);
    return silent;
}
