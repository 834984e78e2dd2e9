/*  ctl_common: what chatctl's commands share — asking a registry (or a
 *  quorum's leader) or a roomd, reporting failures with the exit codes of
 *  ctl_commands.h, printing JSON.
 */
#ifndef CTL_COMMON_H
#define CTL_COMMON_H

#include "chat.pb-c.h"
#include "ctl_commands.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <unistd.h>

//  An envelope of one request, its req_id the process id.
#define CTL_ENVELOPE(env, CASE, field, value)                                                      \
    do {                                                                                           \
        chat__envelope__init(&(env));                                                              \
        (env).req_id = (uint64_t)getpid();                                                         \
        (env).body_case = CHAT__ENVELOPE__BODY_##CASE;                                             \
        (env).field = (value);                                                                     \
    } while (0)

//  Sends request to endpoint; on no answer, or an answer of another kind,
//  prints why (what: "registry", "roomd") and returns NULL with *code set
//  to the exit code.
Chat__Envelope *ctl_call(const ctl_context_t *ctx, const char *endpoint, const char *what,
                         const Chat__Envelope *request, Chat__Envelope__BodyCase expect, int *code);

//  The registry quorum's leader's answer to request (the first registry's,
//  leader or not, with --local); on no answer, an answer of another kind,
//  or no leader, prints why and returns NULL with *code set.
Chat__Envelope *ctl_registry_call(const ctl_context_t *ctx, const Chat__Envelope *request,
                                  Chat__Envelope__BodyCase expect, int *code);

//  Prints a status error about subject and returns CTL_EXIT_ERROR.
int ctl_status_error(const char *subject, Chat__Status status);

//  Prints json and frees it.
void ctl_print_json(cJSON *json);

//  True when argc is 0; else prints the usage line and returns false.
bool ctl_no_args(int argc, const char *usage);

#endif
