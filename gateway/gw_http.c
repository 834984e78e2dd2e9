/*  gw_http: see gw_http.h. */
#include "gw_http.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_wire.h"
#include "gw_buf.h"
#include "gw_directory.h"
#include "gw_ops.h"
#include "gw_origin.h"
#include "gw_placement.h"
#include "gw_registry.h"
#include "gw_rooms.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static chat_log_limit_t s_log_refused;

//  Keeps text (taking it over) as the body to send, behind LWS_PRE bytes.
static int s_set_body(gw_http_pss_t *pss, char *text, size_t len)
{
    pss->body = malloc(LWS_PRE + len + 1);
    if (!pss->body) {
        free(text);
        return -1;
    }
    memcpy(pss->body + LWS_PRE, text, len);
    pss->len = len;
    free(text);
    return 0;
}

static char *s_metrics_text(gw_t *gw, size_t *len)
{
    gw_gauges_t g = {
        .rooms = gw_rooms_count(gw),
        .pending_requests = gw_ops_pending(gw),
        .placements = gw_placements_count(gw),
        .registry_healthy = gw_registry_healthy(gw, chat_mono_ms()),
        .bad_envelopes = chat_wire_bad_frames(),
        .buffers = gw_buf_live(),
        .catalog_rooms = gw_directory_rooms(gw),
        .directory_waiting = gw_directory_waiting(gw),
    };
    return gw_metrics_render(&gw->metrics, &g, len);
}

//  Answers path: writes the headers and asks for a WRITEABLE for the body.
static int s_serve(struct lws *wsi, gw_http_pss_t *pss, const char *path)
{
    gw_t *gw = lws_context_user(lws_get_context(wsi));
    unsigned int status = HTTP_STATUS_OK;
    const char *type = "text/plain; charset=utf-8";
    char *text = NULL;
    size_t len = 0;
    if (strcmp(path, "/healthz") == 0) {
        bool ok = gw_registry_healthy(gw, chat_mono_ms());
        status = ok ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE;
        text = strdup(ok ? "ok\n" : "registry unreachable\n");
        len = text ? strlen(text) : 0;
    } else if (strcmp(path, "/metrics") == 0) {
        type = "text/plain; version=0.0.4; charset=utf-8";
        text = s_metrics_text(gw, &len);
    } else {
        return lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) ? -1 : 0;
    }
    if (!text || s_set_body(pss, text, len) != 0)
        return -1;
    uint8_t headers[LWS_PRE + 2048]; //  room for the vhost's security headers too
    uint8_t *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    if (lws_add_http_common_headers(wsi, status, type, pss->len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

//  Copies header token into out; false when it is absent. A value too long
//  for out is cut to nothing (and so refused by whoever checks it).
static bool s_header(struct lws *wsi, enum lws_token_indexes token, char *out, size_t cap)
{
    if (lws_hdr_total_length(wsi, token) <= 0)
        return false;
    if (lws_hdr_copy(wsi, out, (int)cap, token) < 0)
        out[0] = '\0';
    return true;
}

//  Answers status with why (static text) as a plain text body, and closes;
//  detail (from the request) goes to the log only.
static int s_refuse_upgrade(struct lws *wsi, gw_t *gw, unsigned int status, const char *why,
                            const char *detail)
{
    gw->metrics.upgrades_refused++;
    chat_log_limited(&s_log_refused, CHAT_LOG_INFO, "upgrade refused with %u: %s%s%.100s", status,
                     why, *detail ? ": " : "", detail);
    uint8_t buf[LWS_PRE + 2048];
    uint8_t *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    char body[128];
    int body_len = snprintf(body, sizeof body, "%s\n", why);
    if (lws_add_http_header_status(wsi, status, &p, end))
        return -1;
    //  lws writes the request's HTTP version, which it has not read yet when
    //  an upgrade is confirmed ("HTTP/1.0"); WebSocket clients want 1.1.
    if (p - start > 8 && memcmp(start, "HTTP/1.0", 8) == 0)
        start[7] = '1';
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"text/plain; charset=utf-8", 25, &p,
                                     end) ||
        lws_add_http_header_content_length(wsi, (lws_filepos_t)body_len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                     &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || end - p < body_len)
        return -1;
    memcpy(p, body, (size_t)body_len);
    p += body_len;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP) != (int)(p - start))
        return -1;
    return 1;
}

int gw_http_confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    gw_t *gw = lws_context_user(lws_get_context(wsi));
    char uri[16];
    int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (!upgrade || strcasecmp(upgrade, "websocket") != 0 || n <= 0 || strcmp(uri, "/ws") != 0)
        return s_refuse_upgrade(wsi, gw, HTTP_STATUS_NOT_FOUND, "only WebSocket upgrades at /ws",
                                "");
    char origin[GW_ORIGIN_MAX + 1], host[GW_ORIGIN_MAX + 1];
    bool has_origin = s_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
    bool has_host = s_header(wsi, WSI_TOKEN_HOST, host, sizeof host);
    if (!gw_origin_allowed(gw->config.origins, has_origin ? origin : NULL,
                           has_host ? host : NULL))
        return s_refuse_upgrade(wsi, gw, HTTP_STATUS_FORBIDDEN, "origin not allowed", origin);
    return 0;
}

int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    gw_http_pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        //  in is the path below the mount point: rebuild the whole path.
        char uri[128];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
            return lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL) ? -1 : 0;
        return s_serve(wsi, pss, uri);
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!pss || !pss->body)
            return 0;
        if (lws_write(wsi, pss->body + LWS_PRE, pss->len, LWS_WRITE_HTTP_FINAL) != (int)pss->len)
            return -1;
        free(pss->body);
        pss->body = NULL;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            free(pss->body);
            pss->body = NULL;
        }
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return gw_http_confirm_upgrade(wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; //  never a WebSocket subprotocol
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
