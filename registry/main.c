/*  registry: maps rooms to roomd processes (docs/architecture.md). */
#include "chat_config.h"
#include "chat_log.h"
#include "reg_server.h"

#include <czmq.h>

int main(int argc, char **argv)
{
    reg_config_t config;
    const char *log_level = NULL;
    chat_option_t options[] = {
        {"bind", "CHAT_REGISTRY_BIND", CHAT_OPT_STRING, "tcp://*:5555",
         "ROUTER endpoint for roomds, gateways and chatctl", &config.bind},
        {"pub-bind", "CHAT_REGISTRY_PUB_BIND", CHAT_OPT_STRING, "tcp://*:5556",
         "PUB endpoint for placement, room and node events", &config.pub_bind},
        {"data", "CHAT_DATA_DIR", CHAT_OPT_STRING, "./registry-data",
         "directory of the LMDB catalog", &config.data_dir},
        {"map-size-mb", "CHAT_MAP_SIZE_MB", CHAT_OPT_INT, "256", "LMDB map size in MiB",
         &config.map_size_mb},
        {"heartbeat-ms", "CHAT_HEARTBEAT_MS", CHAT_OPT_INT, "1000",
         "roomd heartbeat interval (and the PUB heartbeat)", &config.heartbeat_ms},
        {"lease-ms", "CHAT_LEASE_MS", CHAT_OPT_INT, "5000",
         "a roomd without heartbeat this long is dead", &config.lease_ms},
        {"assign-timeout-ms", "CHAT_ASSIGN_TIMEOUT_MS", CHAT_OPT_INT, "2000",
         "how long a lookup waits for a roomd to take a room", &config.assign_timeout_ms},
        {"log-level", "CHAT_LOG_LEVEL", CHAT_OPT_STRING, "info", "debug, info, warn or error",
         &log_level},
        {"ready-file", "CHAT_READY_FILE", CHAT_OPT_STRING, "",
         "file written once bound: \"bind ENDPOINT\" and \"pub ENDPOINT\" lines (port * resolved)",
         &config.ready_file},
        {NULL, NULL, 0, NULL, NULL, NULL},
    };
    int rc = chat_config_parse("registry", NULL, options, argc, argv, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int level = chat_log_level_parse(log_level);
    if (level < 0 || config.heartbeat_ms < 10 || config.lease_ms <= config.heartbeat_ms ||
        config.assign_timeout_ms < 10 || config.map_size_mb < 1) {
        fprintf(stderr,
                "registry: bad --log-level, or timings (need lease > heartbeat >= 10 ms)\n");
        return 2;
    }
    chat_log_init("registry", level);
    zsys_init();

    reg_server_t *server = reg_server_new(&config);
    if (!server)
        return 1;
    rc = reg_server_run(server);
    reg_server_destroy(&server);
    return rc == 0 ? 0 : 1;
}
