/*  ctl_common: see ctl_common.h. */
#include "ctl_common.h"
#include "chat_error.h"
#include "chat_registry.h"
#include "chat_request.h"
#include "chat_wire.h"

#include <stdio.h>
#include <stdlib.h>

//  Sends request to endpoint; on no answer, or an answer of another kind,
//  prints why and returns NULL with *code set to the exit code.
Chat__Envelope *ctl_call(const ctl_context_t *ctx, const char *endpoint, const char *what,
                         const Chat__Envelope *request, Chat__Envelope__BodyCase expect, int *code)
{
    Chat__Envelope *reply = chat_request(endpoint, request, (int)ctx->timeout_ms);
    if (!reply) {
        fprintf(stderr, "chatctl: the %s at %s did not answer within %ld ms\n", what, endpoint,
                ctx->timeout_ms);
        *code = CTL_EXIT_NO_ANSWER;
        return NULL;
    }
    if (reply->body_case != expect) {
        const char *why = reply->body_case == CHAT__ENVELOPE__BODY_ERROR && reply->error->message
                              ? reply->error->message
                              : "unexpected reply";
        fprintf(stderr, "chatctl: the %s at %s refused the request: %s\n", what, endpoint, why);
        chat_envelope_free(&reply);
        *code = CTL_EXIT_ERROR;
        return NULL;
    }
    return reply;
}

//  The registry quorum's leader's answer to request (the first registry's,
//  leader or not, with --local); on no answer, an answer of another kind,
//  or no leader, prints why and returns NULL with *code set.
Chat__Envelope *ctl_registry_call(const ctl_context_t *ctx, const Chat__Envelope *request,
                                  Chat__Envelope__BodyCase expect, int *code)
{
    chat_registry_t list;
    if (chat_registry_parse(&list, ctx->registry) != 0) {
        fprintf(stderr, "chatctl: --registry %s is not a list of endpoints\n", ctx->registry);
        *code = CTL_EXIT_USAGE;
        return NULL;
    }
    if (ctx->local)
        return ctl_call(ctx, chat_registry_current(&list), "registry", request, expect, code);
    Chat__Envelope *reply = chat_request_leader(ctx->registry, request, (int)ctx->timeout_ms);
    if (reply && reply->body_case == CHAT__ENVELOPE__BODY_ERROR &&
        reply->error->status == CHAT__STATUS__STATUS_NOT_LEADER) {
        fprintf(stderr,
                "chatctl: no registry of %s led within %ld ms (an election, or fewer than a"
                " majority of the quorum run)\n",
                ctx->registry, ctx->timeout_ms);
        chat_envelope_free(&reply);
        *code = CTL_EXIT_NO_ANSWER;
        return NULL;
    }
    if (!reply) {
        fprintf(stderr, "chatctl: the registry at %s did not answer within %ld ms\n", ctx->registry,
                ctx->timeout_ms);
        *code = CTL_EXIT_NO_ANSWER;
        return NULL;
    }
    if (reply->body_case != expect) {
        const char *why = reply->body_case == CHAT__ENVELOPE__BODY_ERROR && reply->error->message
                              ? reply->error->message
                              : "unexpected reply";
        fprintf(stderr, "chatctl: the registry refused the request: %s\n", why);
        chat_envelope_free(&reply);
        *code = CTL_EXIT_ERROR;
        return NULL;
    }
    return reply;
}

//  Prints a status error and returns CTL_EXIT_ERROR.
int ctl_status_error(const char *subject, Chat__Status status)
{
    fprintf(stderr, "chatctl: %s: %s (%s)\n", subject, chat_status_message(status),
            chat_status_code(status));
    return CTL_EXIT_ERROR;
}

void ctl_print_json(cJSON *json)
{
    char *text = cJSON_Print(json);
    puts(text);
    free(text);
    cJSON_Delete(json);
}

bool ctl_no_args(int argc, const char *usage)
{
    if (argc == 0)
        return true;
    fprintf(stderr, "usage: chatctl %s\n", usage);
    return false;
}
