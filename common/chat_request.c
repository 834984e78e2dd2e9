/*  chat_request: see chat_request.h. */
#include "chat_request.h"
#include "chat_clock.h"
#include "chat_registry.h"
#include "chat_wire.h"

#include <czmq.h>
#include <errno.h>

#define S_ROUND_MS 1000  //  resend when no registry answered for this long
#define S_ELECTION_MS 50 //  pause before asking again when none leads
#define S_REFUSED_MS 200 //  resend this soon after a NOT_LEADER (the leader named may be dead)

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

//  The registries asked, one DEALER each.
struct chat_quorum {
    chat_registry_t list;               //  endpoints
    zsock_t *socks[CHAT_REGISTRY_MAX];  //  socks[i] is connected to list.endpoints[i]
    bool not_leader[CHAT_REGISTRY_MAX]; //  answered NOT_LEADER this round
    zpoller_t *poller;                  //  over every socket
};

static void s_quorum_open(chat_quorum_t *q, size_t i)
{
    q->socks[i] = zsock_new(ZMQ_DEALER);
    if (!q->socks[i])
        return;
    chat_wire_tune(q->socks[i]);
    if (zsock_connect(q->socks[i], "%s", q->list.endpoints[i]) != 0) {
        zsock_destroy(&q->socks[i]);
        return;
    }
    zpoller_add(q->poller, q->socks[i]);
}

chat_quorum_t *chat_quorum_new(const char *list)
{
    chat_quorum_t *q = calloc(1, sizeof *q);
    if (!q || chat_registry_parse(&q->list, list) != 0) {
        free(q);
        return NULL;
    }
    q->poller = zpoller_new(NULL);
    for (size_t i = 0; i < q->list.count; i++)
        s_quorum_open(q, i);
    return q;
}

void chat_quorum_destroy(chat_quorum_t **p)
{
    if (!p || !*p)
        return;
    chat_quorum_t *q = *p;
    zpoller_destroy(&q->poller);
    for (size_t i = 0; i < q->list.count; i++)
        zsock_destroy(&q->socks[i]);
    free(q);
    *p = NULL;
}

//  Sends the request to every registry and forgets the round's answers.
static void s_round(chat_quorum_t *q, const Chat__Envelope *request)
{
    for (size_t i = 0; i < q->list.count; i++) {
        q->not_leader[i] = false;
        if (q->socks[i])
            chat_wire_send(q->socks[i], NULL, request);
    }
}

//  True when every registry with a socket answered NOT_LEADER this round.
static bool s_none_leads(const chat_quorum_t *q)
{
    for (size_t i = 0; i < q->list.count; i++)
        if (q->socks[i] && !q->not_leader[i])
            return false;
    return true;
}

static bool s_is_not_leader(const Chat__Envelope *env)
{
    return env->body_case == CHAT__ENVELOPE__BODY_ERROR &&
           env->error->status == CHAT__STATUS__STATUS_NOT_LEADER;
}

//  A NOT_LEADER answer from socket i: noted; a leader the list lacks is
//  asked too.
static void s_on_not_leader(chat_quorum_t *q, size_t i, const Chat__Envelope *env,
                            const Chat__Envelope *request)
{
    q->not_leader[i] = true;
    size_t before = q->list.count;
    size_t current = q->list.current;
    chat_registry_follow(&q->list, env->error->leader_endpoint);
    q->list.current = current;
    if (q->list.count > before) {
        s_quorum_open(q, before);
        if (q->socks[before])
            chat_wire_send(q->socks[before], NULL, request);
    }
}

Chat__Envelope *chat_quorum_request(chat_quorum_t *q, const Chat__Envelope *request, int timeout_ms)
{
    Chat__Envelope *reply = NULL, *refusal = NULL;
    int64_t now = chat_mono_ms();
    int64_t deadline = now + timeout_ms;
    int64_t next_round = now + S_ROUND_MS;
    s_round(q, request);
    while (!reply && (now = chat_mono_ms()) < deadline) {
        if (now >= next_round) {
            s_round(q, request);
            next_round = now + S_ROUND_MS;
        }
        int64_t wait = (next_round < deadline ? next_round : deadline) - now;
        void *which = zpoller_wait(q->poller, (int)(wait > 0 ? wait : 0));
        if (!which)
            continue;
        Chat__Envelope *env = NULL;
        if (chat_wire_recv(which, NULL, &env) != CHAT_WIRE_GOT || env->req_id != request->req_id) {
            chat_envelope_free(&env); //  an answer to an earlier request
            continue;
        }
        if (!s_is_not_leader(env)) {
            reply = env;
            break;
        }
        for (size_t i = 0; i < q->list.count; i++)
            if ((void *)q->socks[i] == which)
                s_on_not_leader(q, i, env, request);
        chat_envelope_free(&refusal);
        refusal = env;
        int64_t soon = chat_mono_ms() + (s_none_leads(q) ? S_ELECTION_MS : S_REFUSED_MS);
        if (soon < next_round)
            next_round = soon;
    }
    if (reply)
        chat_envelope_free(&refusal);
    return reply ? reply : refusal;
}

Chat__Envelope *chat_request_leader(const char *list, const Chat__Envelope *request, int timeout_ms)
{
    chat_quorum_t *q = chat_quorum_new(list);
    if (!q)
        return NULL;
    Chat__Envelope *reply = chat_quorum_request(q, request, timeout_ms);
    chat_quorum_destroy(&q);
    return reply;
}
