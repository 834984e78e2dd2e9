/*  chat_request: one blocking request/reply over a fresh DEALER, for
 *  command-line tools and tests (daemons never block like this).
 */
#ifndef CHAT_REQUEST_H
#define CHAT_REQUEST_H

#include "chat.pb-c.h"

//  Connects a DEALER to endpoint, sends request (its req_id should be
//  non-zero) and waits up to timeout_ms for the reply with the same req_id.
//  Returns the reply (free with chat_envelope_free), or NULL on timeout or
//  when endpoint is not a valid ZeroMQ endpoint.
Chat__Envelope *chat_request(const char *endpoint, const Chat__Envelope *request, int timeout_ms);

#endif
