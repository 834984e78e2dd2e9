/*  gw_http: the gateway's own HTTP endpoints.
 *
 *  /healthz  200 "ok" while the registry answers, 503 otherwise
 *  /metrics  Prometheus text (gw_metrics)
 *
 *  and the gate of every upgrade: only a WebSocket upgrade at /ws from an
 *  allowed origin (gw_origin.h) goes ahead.
 *
 *  Files of the web UI at / are served by an lws file mount (gw_server).
 *  Every response carries the security headers gw_server gives the vhost.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include "gw.h"

//  Per-request data of the gw-http protocol.
typedef struct {
    uint8_t *body; //  LWS_PRE bytes, then the body; NULL when none
    size_t len;    //  bytes of body after LWS_PRE
} gw_http_pss_t;

//  The lws protocol callback of the gw-http protocol.
int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

//  LWS_CALLBACK_HTTP_CONFIRM_UPGRADE of any protocol: returns 0 to let the
//  upgrade named upgrade go ahead, 1 after answering 404 (not a WebSocket
//  upgrade at /ws) or 403 (origin not allowed), -1 to hang up.
int gw_http_confirm_upgrade(struct lws *wsi, const char *upgrade);

#endif
