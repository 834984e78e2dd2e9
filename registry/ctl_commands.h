/*  ctl_commands: chatctl's commands. Each prints its result to stdout (a
 *  table, or JSON with --json) and returns the process exit code:
 *  0 done, 1 the cluster answered with an error, 2 bad usage,
 *  3 no answer within the timeout.
 */
#ifndef CTL_COMMANDS_H
#define CTL_COMMANDS_H

#include <stdbool.h>

typedef struct {
    const char *registry; //  registry ROUTER endpoints, comma-separated (a quorum)
    bool json;            //  print JSON instead of tables
    bool local;           //  ask only the first registry, which answers from its own state
    long timeout_ms;      //  how long to wait for each answer
    long limit;           //  history: how many messages
} ctl_context_t;

#define CTL_EXIT_OK 0
#define CTL_EXIT_ERROR 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_NO_ANSWER 3

int ctl_nodes(const ctl_context_t *ctx, int argc, char **argv);
int ctl_rooms(const ctl_context_t *ctx, int argc, char **argv);
int ctl_where(const ctl_context_t *ctx, int argc, char **argv);
int ctl_create_room(const ctl_context_t *ctx, int argc, char **argv);
int ctl_history(const ctl_context_t *ctx, int argc, char **argv);
int ctl_stats(const ctl_context_t *ctx, int argc, char **argv);
int ctl_probe(const ctl_context_t *ctx, int argc, char **argv);
int ctl_registries(const ctl_context_t *ctx, int argc, char **argv);
int ctl_registry_add(const ctl_context_t *ctx, int argc, char **argv);
int ctl_registry_remove(const ctl_context_t *ctx, int argc, char **argv);

#endif
