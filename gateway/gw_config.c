/*  gw_config: see gw_config.h. */
#include "gw_config.h"
#include "chat_config.h"
#include "chat_log.h"
#include "chat_registry.h"
#include "gw_origin.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef GW_DEFAULT_WWW
#define GW_DEFAULT_WWW "www"
#endif

//  Entries of the option table, its end marker included.
#define S_OPTIONS 26

//  The option table over config's fields.
static void s_table(gw_config_t *c, chat_option_t *opts)
{
    chat_option_t table[] = {
        {"port", "CHAT_HTTP_PORT", CHAT_OPT_INT, "8080",
         "HTTP and WebSocket port (0: a free one, see --ready-file)", &c->port},
        {"listen", "CHAT_HTTP_LISTEN", CHAT_OPT_STRING, "", "address to listen on (empty: all)",
         &c->listen},
        {"tls-cert", "CHAT_TLS_CERT", CHAT_OPT_STRING, "",
         "PEM certificate file: serve https:// and wss:// (empty: plain http)", &c->tls_cert},
        {"tls-key", "CHAT_TLS_KEY", CHAT_OPT_STRING, "", "PEM private key file of --tls-cert",
         &c->tls_key},
        {"allowed-origins", "CHAT_ALLOWED_ORIGINS", CHAT_OPT_STRING, "self",
         "origins whose pages may open /ws: self, *, scheme://host[:port], comma-separated "
         "(requests without Origin are allowed)",
         &c->origins},
        {"registry", "CHAT_REGISTRY", CHAT_OPT_STRING, "tcp://127.0.0.1:5555",
         "registry ROUTER endpoints, comma-separated (a quorum: the gateway follows its leader)",
         &c->registry},
        {"registry-pub", "CHAT_REGISTRY_PUB", CHAT_OPT_STRING, "",
         "registry PUB endpoints, comma-separated (empty: each registry's port + 1)",
         &c->registry_pub},
        {"www", "CHAT_WWW_DIR", CHAT_OPT_STRING, GW_DEFAULT_WWW, "directory of the web UI",
         &c->www},
        {"rate", "CHAT_RATE", CHAT_OPT_INT, "10",
         "messages per second per connection (0: no limit)", &c->rate},
        {"burst", "CHAT_BURST", CHAT_OPT_INT, "20", "messages a connection may send at once",
         &c->burst},
        {"queue-max", "CHAT_QUEUE_MAX", CHAT_OPT_INT, "4096",
         "frames queued for a connection before it is closed as too slow", &c->queue_max},
        {"max-pending", "CHAT_MAX_PENDING", CHAT_OPT_INT, "1024",
         "requests a connection may have in flight to the cluster", &c->max_pending},
        {"heartbeat-ms", "CHAT_HEARTBEAT_MS", CHAT_OPT_INT, "1000",
         "GatewayHeartbeat interval to each roomd", &c->heartbeat_ms},
        {"request-timeout-ms", "CHAT_REQUEST_TIMEOUT_MS", CHAT_OPT_INT, "1000",
         "wait for the reply to one attempt of a request", &c->request_timeout_ms},
        {"retry-ms", "CHAT_RETRY_MS", CHAT_OPT_INT, "2500",
         "retry a room request this long before answering unavailable", &c->retry_ms},
        {"rooms-info-timeout-ms", "CHAT_ROOMS_INFO_TIMEOUT_MS", CHAT_OPT_INT, "1000",
         "a directory refresh waits this long for a roomd's figures", &c->rooms_info_timeout_ms},
        {"directory-refresh-ms", "CHAT_DIRECTORY_REFRESH_MS", CHAT_OPT_INT, "1000",
         "ask the roomds for users and last seqs at most once per this (while getRooms come)",
         &c->directory_refresh_ms},
        {"directory-wait-ms", "CHAT_DIRECTORY_WAIT_MS", CHAT_OPT_INT, "10000",
         "a getRooms waits this long for the room catalog before it answers unavailable",
         &c->directory_wait_ms},
        {"registry-stale-ms", "CHAT_REGISTRY_STALE_MS", CHAT_OPT_INT, "3500",
         "registry silent this long: unhealthy, re-read its snapshot", &c->registry_stale_ms},
        {"client-idle-ms", "CHAT_CLIENT_IDLE_MS", CHAT_OPT_INT, "60000",
         "close a client silent this long with 1001 (0: never)", &c->idle_ms},
        {"ws-rx-buffer", "CHAT_WS_RX_BUFFER", CHAT_OPT_INT, "512",
         "receive buffer per connection in bytes (larger messages are assembled)", &c->rx_buffer},
        {"accept-burst", "CHAT_ACCEPT_BURST", CHAT_OPT_INT, "32",
         "new connections accepted per loop turn at most (the rest wait in the backlog)",
         &c->accept_burst},
        {"event-lib", "CHAT_EVENT_LIB", CHAT_OPT_STRING, "ev",
         "event loop: ev (libev, epoll) or poll (lws's poll(), slow past a few thousand "
         "connections)",
         &c->event_lib},
        {"log-level", "CHAT_LOG_LEVEL", CHAT_OPT_STRING, "info", "debug, info, warn or error",
         &c->log_level},
        {"ready-file", "CHAT_READY_FILE", CHAT_OPT_STRING, "",
         "file written once listening, with a \"port N\" line (the port it got)", &c->ready_file},
        {NULL, NULL, 0, NULL, NULL, NULL},
    };
    _Static_assert(sizeof table / sizeof table[0] == S_OPTIONS, "S_OPTIONS counts the table");
    for (size_t i = 0; i < S_OPTIONS; i++)
        opts[i] = table[i];
}

void gw_config_defaults(gw_config_t *config)
{
    chat_option_t opts[S_OPTIONS];
    s_table(config, opts);
    char *argv[] = {"gateway", NULL};
    //  With an empty command line only defaults and CHAT_* apply; callers
    //  (tests) overwrite what they need afterwards.
    chat_config_parse("gateway", NULL, opts, 1, argv, NULL);
}

//  Settings that parse but make no sense. Returns 0 or -1 after printing.
static int s_check(const gw_config_t *c)
{
    const char *bad = NULL;
    chat_registry_t list;
    char why[256];
    if (c->port < 0 || c->port > 65535)
        bad = "--port must be 0..65535";
    else if (c->rate < 0 || c->burst < 1)
        bad = "--rate must be >= 0 and --burst >= 1";
    else if (c->queue_max < 8)
        bad = "--queue-max must be >= 8";
    else if (c->max_pending < 1 || c->max_pending > 65535)
        bad = "--max-pending must be 1..65535";
    else if (c->heartbeat_ms < 10 || c->request_timeout_ms < 10 || c->retry_ms < 0 ||
             c->rooms_info_timeout_ms < 10 || c->registry_stale_ms < 10 || c->idle_ms < 0 ||
             c->directory_refresh_ms < 10 || c->directory_wait_ms < 10)
        bad = "timeouts must be >= 10 ms";
    else if (c->rx_buffer < 128 || c->rx_buffer > 65536)
        bad = "--ws-rx-buffer must be 128..65536";
    else if (c->accept_burst < 1)
        bad = "--accept-burst must be >= 1";
    else if (strcmp(c->event_lib, "ev") != 0 && strcmp(c->event_lib, "poll") != 0)
        bad = "--event-lib must be ev or poll";
    else if (chat_log_level_parse(c->log_level) < 0)
        bad = "--log-level must be debug, info, warn or error";
    else if (chat_registry_parse(&list, c->registry) != 0)
        bad = "--registry must be a comma-separated list of endpoints";
    else if (*c->registry_pub && chat_registry_parse(&list, c->registry_pub) != 0)
        bad = "--registry-pub must be a comma-separated list of endpoints";
    else if (!*c->tls_cert != !*c->tls_key)
        bad = "--tls-cert and --tls-key go together";
    else if (*c->tls_cert && access(c->tls_cert, R_OK) != 0)
        bad = "--tls-cert: cannot read that file";
    else if (*c->tls_key && access(c->tls_key, R_OK) != 0)
        bad = "--tls-key: cannot read that file";
    else if (gw_origin_list_check(c->origins, why, sizeof why) != 0)
        bad = why;
    if (bad)
        fprintf(stderr, "gateway: %s\n", bad);
    return bad ? -1 : 0;
}

int gw_config_parse(gw_config_t *config, int argc, char **argv)
{
    chat_option_t opts[S_OPTIONS];
    s_table(config, opts);
    int rc = chat_config_parse("gateway", "[options]", opts, argc, argv, NULL);
    if (rc != 0)
        return rc;
    return s_check(config);
}
