/*  registry: maps rooms to roomd processes (docs/architecture.md). */
#include "chat_config.h"
#include "chat_log.h"
#include "reg_server.h"

#include <czmq.h>

int main(int argc, char **argv)
{
    reg_config_t config = {0};
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
        {"id", "CHAT_REGISTRY_ID", CHAT_OPT_INT, "1", "this registry's id in the quorum (> 0)",
         &config.id},
        {"peers", "CHAT_REGISTRY_PEERS", CHAT_OPT_STRING, "",
         "ID@HOST:PORT,... of a new quorum (PORT: requests; events PORT+1, Raft PORT+2);"
         " empty: a quorum of this registry alone",
         &config.peers},
        {"join", "CHAT_REGISTRY_JOIN", CHAT_OPT_BOOL, NULL,
         "bootstrap nothing: wait to be added with chatctl registry-add", &config.join},
        {"raft-bind", "CHAT_REGISTRY_RAFT_BIND", CHAT_OPT_STRING, "",
         "IPv4 address:port for Raft between registries (empty: --bind's, port + 2)",
         &config.raft_bind},
        {"advertise-host", "CHAT_REGISTRY_ADVERTISE_HOST", CHAT_OPT_STRING, "",
         "host in this registry's endpoints when --peers does not name it (empty: the --bind host, "
         "or the hostname for *)",
         &config.advertise},
        {"election-ms", "CHAT_REGISTRY_ELECTION_MS", CHAT_OPT_INT, "300",
         "Raft election timeout (a lost leader is replaced after 1-2x this)", &config.election_ms},
        {"raft-heartbeat-ms", "CHAT_REGISTRY_RAFT_HEARTBEAT_MS", CHAT_OPT_INT, "30",
         "Raft leader heartbeat", &config.raft_heartbeat_ms},
        {"snapshot-threshold", "CHAT_REGISTRY_SNAPSHOT_THRESHOLD", CHAT_OPT_INT, "8192",
         "Raft log entries between snapshots of the state", &config.snapshot_threshold},
        {"snapshot-trailing", "CHAT_REGISTRY_SNAPSHOT_TRAILING", CHAT_OPT_INT, "2048",
         "Raft log entries kept after a snapshot (a member this close catches up from the log)",
         &config.snapshot_trailing},
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
    if (config.id < 1 || config.raft_heartbeat_ms < 1 ||
        config.election_ms < 2 * config.raft_heartbeat_ms || config.snapshot_threshold < 8 ||
        config.snapshot_trailing < 0) {
        fprintf(stderr, "registry: need --id > 0, --election-ms >= 2 x --raft-heartbeat-ms,"
                        " --snapshot-threshold >= 8\n");
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
