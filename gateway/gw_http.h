/*  gw_http: the gateway's own HTTP endpoints.
 *
 *  /healthz  200 "ok" while the registry answers, 503 otherwise
 *  /metrics  Prometheus text (gw_metrics)
 *
 *  Files of the web UI at / are served by an lws file mount (gw_server).
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

#endif
