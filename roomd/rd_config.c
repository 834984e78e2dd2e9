/*  rd_config: see rd_config.h. */
#include "rd_config.h"
#include "chat_config.h"
#include "chat_registry.h"

#include <stdio.h>
#include <string.h>

//  A long setting that must lie in [min, max].
static int s_check(const char *name, long value, long min, long max)
{
    if (value >= min && value <= max)
        return 0;
    fprintf(stderr, "roomd: --%s %ld is out of range [%ld, %ld]\n", name, value, min, max);
    return -1;
}

int rd_config_parse(rd_config_t *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    chat_option_t options[] = {
        {"registry", "CHAT_REGISTRY", CHAT_OPT_STRING, "tcp://127.0.0.1:5555",
         "registry endpoints, comma-separated (a quorum: the roomd follows its leader)",
         &cfg->registry},
        {"bind", "CHAT_ROOMD_BIND", CHAT_OPT_STRING, "tcp://*:5600",
         "ROUTER endpoint for commands (port *: a free one, kept for the process's life)",
         &cfg->bind},
        {"pub-bind", "CHAT_ROOMD_PUB_BIND", CHAT_OPT_STRING, "tcp://*:5601",
         "PUB endpoint for room events", &cfg->pub_bind},
        {"advertise-host", "CHAT_ADVERTISE_HOST", CHAT_OPT_STRING, "",
         "host advertised for * or 0.0.0.0 binds (empty: the hostname)", &cfg->advertise_host},
        {"node", "CHAT_NODE", CHAT_OPT_STRING, "",
         "node name (empty: the one stored in --data, else the hostname)", &cfg->node},
        {"data", "CHAT_DATA_DIR", CHAT_OPT_STRING, "roomd-data", "LMDB data directory", &cfg->data},
        {"max-rooms", "CHAT_MAX_ROOMS", CHAT_OPT_INT, "0",
         "rooms the registry may place here (0: unlimited)", &cfg->max_rooms},
        {"idle-ms", "CHAT_IDLE_MS", CHAT_OPT_INT, "60000",
         "a room without members or requests leaves memory after this", &cfg->idle_ms},
        {"session-lease-ms", "CHAT_SESSION_LEASE_MS", CHAT_OPT_INT, "5000",
         "sessions of a gateway silent this long leave their rooms", &cfg->session_lease_ms},
        {"heartbeat-ms", "CHAT_HEARTBEAT_MS", CHAT_OPT_INT, "0",
         "registry heartbeat interval (0: what the registry says)", &cfg->heartbeat_ms},
        {"tick-ms", "CHAT_TICK_MS", CHAT_OPT_INT, "1000",
         "interval of tick events for rooms in memory", &cfg->tick_ms},
        {"map-size-mb", "CHAT_MAP_SIZE_MB", CHAT_OPT_INT, "4096", "LMDB map size in MiB",
         &cfg->map_size_mb},
        {"max-batch", "CHAT_MAX_BATCH", CHAT_OPT_INT, "2000",
         "requests handled per loop turn, i.e. per LMDB commit", &cfg->max_batch},
        {"log-level", "CHAT_LOG_LEVEL", CHAT_OPT_STRING, "info", "debug, info, warn or error",
         &cfg->log_level},
        {"ready-file", "CHAT_READY_FILE", CHAT_OPT_STRING, "",
         "file written each time it serves as a new instance: \"instance\", \"cmd\" and "
         "\"pub\" lines",
         &cfg->ready_file},
        {NULL, NULL, 0, NULL, NULL, NULL},
    };
    int rc = chat_config_parse("roomd", "[options]", options, argc, argv, NULL);
    if (rc != 0)
        return rc;
    int level = chat_log_level_parse(cfg->log_level);
    if (level < 0) {
        fprintf(stderr, "roomd: --log-level %s: use debug, info, warn or error\n", cfg->log_level);
        return -1;
    }
    cfg->level = (chat_log_level_t)level;
    if (s_check("max-rooms", cfg->max_rooms, 0, 100000000) ||
        s_check("idle-ms", cfg->idle_ms, 1, 86400000L * 365) ||
        s_check("session-lease-ms", cfg->session_lease_ms, 1, 86400000L) ||
        s_check("heartbeat-ms", cfg->heartbeat_ms, 0, 3600000L) ||
        s_check("tick-ms", cfg->tick_ms, 10, 3600000L) ||
        s_check("map-size-mb", cfg->map_size_mb, 1, 1L << 24) ||
        s_check("max-batch", cfg->max_batch, 1, 1000000))
        return -1;
    if (!*cfg->data || !*cfg->bind || !*cfg->pub_bind || !*cfg->registry) {
        fprintf(stderr, "roomd: --data, --bind, --pub-bind and --registry must not be empty\n");
        return -1;
    }
    chat_registry_t registries;
    if (chat_registry_parse(&registries, cfg->registry) != 0) {
        fprintf(stderr, "roomd: --registry %s: not a comma-separated list of endpoints\n",
                cfg->registry);
        return -1;
    }
    return 0;
}
