/*  roomd: hosts RoomActors, their history in LMDB (docs/architecture.md). */
#include "chat_log.h"
#include "rd_config.h"
#include "rd_server.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    rd_config_t cfg;
    int rc = rd_config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    chat_log_init("roomd", cfg.level);

    //  No SA_RESTART: zmq_poll returns EINTR and the loop sees s_stop.
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    rd_server_t *server = rd_server_new(&cfg);
    if (!server)
        return 1;
    rc = rd_server_run(server, &s_stop);
    rd_server_destroy(&server);
    return rc == 0 ? 0 : 1;
}
