/*  rd_config: roomd's settings, each a flag with a CHAT_* environment
 *  variable (chat_config), listed by --help.
 */
#ifndef RD_CONFIG_H
#define RD_CONFIG_H

#include "chat_log.h"

typedef struct {
    const char *registry;       //  registry ROUTER endpoints (a quorum's, comma-separated)
    const char *bind;           //  ROUTER bind endpoint (commands)
    const char *pub_bind;       //  PUB bind endpoint (room events)
    const char *advertise_host; //  host advertised for "*" / "0.0.0.0" binds; "" = hostname
    const char *node;           //  node name; "" = stored in the data directory, else hostname
    const char *data;           //  LMDB data directory
    const char *log_level;      //  debug, info, warn, error
    const char *ready_file;     //  written once serving: instance and endpoints ("" = none)
    long max_rooms;             //  rooms the registry may place here; 0 = unlimited
    long idle_ms;               //  idle rooms without members leave memory after this
    long session_lease_ms;      //  sessions of a silent gateway are removed after this
    long heartbeat_ms;          //  registry heartbeat interval; 0 = what the registry says
    long tick_ms;               //  interval of tick events for rooms in memory
    long map_size_mb;           //  LMDB map size in MiB
    long max_batch;             //  requests read from the ROUTER per loop turn (per commit)
    chat_log_level_t level;     //  log_level parsed
} rd_config_t;

//  Fills cfg from defaults, environment and argv. Returns 0, 1 when --help
//  was printed (exit 0), -1 after printing an error (exit 2). Strings are
//  borrowed from argv, the environment or static defaults.
int rd_config_parse(rd_config_t *cfg, int argc, char **argv);

#endif
