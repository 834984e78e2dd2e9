/*  chat_request: see chat_request.h. */
#include "chat_request.h"
#include "chat_clock.h"
#include "chat_wire.h"

#include <czmq.h>
#include <errno.h>

Chat__Envelope *chat_request(const char *endpoint, const Chat__Envelope *request, int timeout_ms)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    chat_wire_tune(sock);
    Chat__Envelope *reply = NULL;
    //  A DEALER queues the request until the connection is up.
    if (zsock_connect(sock, "%s", endpoint) == 0 && chat_wire_send(sock, NULL, request) == 0) {
        int64_t deadline = chat_mono_ms() + timeout_ms;
        zpoller_t *poller = zpoller_new(sock, NULL);
        while (!reply) {
            int64_t left = deadline - chat_mono_ms();
            if (left <= 0 || !zpoller_wait(poller, (int)left))
                break;
            Chat__Envelope *env = NULL;
            if (chat_wire_recv(sock, NULL, &env) == CHAT_WIRE_GOT && env->req_id == request->req_id)
                reply = env;
            else
                chat_envelope_free(&env);
        }
        zpoller_destroy(&poller);
    }
    zsock_destroy(&sock);
    return reply;
}
