/*  gw_http: see gw_http.h. */
#include "gw_http.h"
#include "chat_clock.h"
#include "chat_wire.h"
#include "gw_buf.h"
#include "gw_directory.h"
#include "gw_ops.h"
#include "gw_placement.h"
#include "gw_registry.h"
#include "gw_rooms.h"

#include <stdlib.h>
#include <string.h>

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
    uint8_t headers[LWS_PRE + 512];
    uint8_t *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    if (lws_add_http_common_headers(wsi, status, type, pss->len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
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
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; //  never a WebSocket subprotocol
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
