/*  chatctl: query and steer the cluster through its registry. */
#include "chat_config.h"
#include "chat_log.h"
#include "ctl_commands.h"

#include <czmq.h>
#include <string.h>

typedef struct {
    const char *name;                                            //  command word
    int (*run)(const ctl_context_t *ctx, int argc, char **argv); //  its implementation
    const char *help;                                            //  one line for --help
} s_command_t;

static const s_command_t s_commands[] = {
    {"nodes", ctl_nodes, "roomd processes: liveness, rooms, load"},
    {"rooms", ctl_rooms, "the room catalog and where each room lives"},
    {"where", ctl_where, "ROOM: the roomd that serves it (placing it if new)"},
    {"create-room", ctl_create_room, "NAME [DESCRIPTION]: add a room"},
    {"history", ctl_history, "ROOM [--limit N]: the newest messages of a room"},
    {"stats", ctl_stats, "registry counters and cluster totals"},
    {"probe", ctl_probe, "ENDPOINT: does the roomd there serve requests (health checks)"},
    {"registries", ctl_registries, "the registry quorum: members, leader, term, applied index"},
    {"registry-add", ctl_registry_add,
     "ID HOST:PORT: add a registry (started with --join) to the quorum"},
    {"registry-remove", ctl_registry_remove, "ID: remove a registry from the quorum"},
};

static void s_usage(void)
{
    printf("\ncommands:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        printf("  %-16s %s\n", s_commands[i].name, s_commands[i].help);
    printf("\nexit codes: 0 ok, 1 error answer, 2 usage, 3 no answer in time\n");
}

int main(int argc, char **argv)
{
    ctl_context_t ctx = {0};
    chat_option_t options[] = {
        {"registry", "CHAT_REGISTRY", CHAT_OPT_STRING, "tcp://127.0.0.1:5555",
         "registry endpoints, comma-separated: the leader among them answers", &ctx.registry},
        {"json", "CHAT_JSON", CHAT_OPT_BOOL, NULL, "print JSON for scripts", &ctx.json},
        {"local", "CHAT_LOCAL", CHAT_OPT_BOOL, NULL,
         "ask only the first registry of --registry, leader or not (rooms: its own catalog;"
         " registries: itself)",
         &ctx.local},
        {"timeout-ms", "CHAT_TIMEOUT_MS", CHAT_OPT_INT, "3000", "how long to wait for answers",
         &ctx.timeout_ms},
        {"limit", "CHAT_HISTORY_LIMIT", CHAT_OPT_INT, "50", "history: messages to show (1-200)",
         &ctx.limit},
        {NULL, NULL, 0, NULL, NULL, NULL},
    };
    int first = 0;
    const char *usage = "[options] COMMAND [ARGS]";
    int rc = chat_config_parse("chatctl", usage, options, argc, argv, &first);
    if (rc == 1)
        s_usage();
    if (rc != 0)
        return rc > 0 ? 0 : CTL_EXIT_USAGE;
    if (first >= argc) {
        chat_config_usage("chatctl", usage, options);
        s_usage();
        return CTL_EXIT_USAGE;
    }
    chat_log_init("chatctl", CHAT_LOG_ERROR);
    zsys_init();
    zsys_handler_set(NULL); //  let Ctrl-C end a waiting chatctl at once

    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(argv[first], s_commands[i].name) == 0)
            return s_commands[i].run(&ctx, argc - first - 1, argv + first + 1);
    fprintf(stderr, "chatctl: unknown command '%s' (try --help)\n", argv[first]);
    return CTL_EXIT_USAGE;
}
