/*  rd_gateways: the gateways that hold sessions on this roomd.
 *
 *  For each gateway id: when it was last heard from (a GatewayHeartbeat or a
 *  join) and how many sessions it holds in the rooms here. The host expires
 *  the sessions of gateways silent for longer than the session lease
 *  (docs/architecture.md, "Sessions die with their gateway").
 */
#ifndef RD_GATEWAYS_H
#define RD_GATEWAYS_H

#include <czmq.h>
#include <stdint.h>

typedef struct rd_gateways rd_gateways_t;

//  Returns NULL when out of memory.
rd_gateways_t *rd_gateways_new(void);

//  Frees the table and sets *p to NULL. Safe on NULL.
void rd_gateways_destroy(rd_gateways_t **p);

//  The gateway was heard from at now_ms (made known when new).
void rd_gateways_seen(rd_gateways_t *self, const char *gateway, int64_t now_ms);

//  One session more (when new, the gateway counts as heard from at now_ms).
void rd_gateways_add_session(rd_gateways_t *self, const char *gateway, int64_t now_ms);

//  One session less.
void rd_gateways_remove_session(rd_gateways_t *self, const char *gateway);

//  Sessions the gateway holds here (0 when unknown).
uint32_t rd_gateways_sessions(const rd_gateways_t *self, const char *gateway);

//  Sessions over all gateways.
uint32_t rd_gateways_total(const rd_gateways_t *self);

//  Sets every count to 0, before the caller counts the sessions again with
//  rd_gateways_add_session (last-heard times are kept).
void rd_gateways_reset_counts(rd_gateways_t *self);

//  Forgets the gateways not heard from for longer than lease_ms and returns
//  their ids (a list the caller destroys), or NULL when there are none.
zlistx_t *rd_gateways_expire(rd_gateways_t *self, int64_t now_ms, int64_t lease_ms);

#endif
