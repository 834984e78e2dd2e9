/*  gateway: WebSocket endpoints and one UserSession per connection, on top
 *  of the registry and the roomds (docs/architecture.md, "Gateway").
 */
#include "chat_log.h"
#include "gw_config.h"
#include "gw_server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static gw_t *s_gw;

static void s_on_signal(int sig)
{
    (void)sig;
    if (s_gw)
        gw_server_stop(s_gw);
}

int main(int argc, char **argv)
{
    gw_config_t config;
    int rc = gw_config_parse(&config, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    chat_log_init("gateway", (chat_log_level_t)chat_log_level_parse(config.log_level));

    signal(SIGPIPE, SIG_IGN);
    s_gw = gw_server_new(&config);
    if (!s_gw)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = gw_server_run(s_gw);
    chat_info("stopping");
    gw_server_destroy(&s_gw);
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
