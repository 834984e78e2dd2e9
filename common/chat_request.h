/*  chat_request: blocking request/reply over fresh DEALERs, for
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

//  Sends request to the leader of a registry quorum. list holds the
//  registries' endpoints, comma-separated (one is fine). Every registry of
//  the list gets the request at once; an ErrorReply{STATUS_NOT_LEADER} is
//  set aside (a leader it names that the list lacks gets the request too),
//  any other reply is returned. The request goes out again 50 ms after
//  every registry said NOT_LEADER (an election is on), 200 ms after one did
//  (the leader it names may be dead), and a second after the last round. Returns the reply; at
//  timeout_ms the last NOT_LEADER reply when there was one, else NULL. A request that changes state
//  may thus reach the leader twice: it must be idempotent (CreateRoomRequest carries a token for
//  that).
Chat__Envelope *chat_request_leader(const char *list, const Chat__Envelope *request,
                                    int timeout_ms);

//  The same on sockets kept between requests: a client that asks often
//  (a test, a tool) opens a connection to each registry once, not per
//  request. One thread uses a quorum at a time.
typedef struct chat_quorum chat_quorum_t;

//  A DEALER to every registry of list (connecting in the background).
//  NULL when list is not a list of endpoints.
chat_quorum_t *chat_quorum_new(const char *list);

//  Closes the sockets, frees, sets *q to NULL. Safe on NULL.
void chat_quorum_destroy(chat_quorum_t **q);

//  As chat_request_leader (answers to earlier requests are dropped).
Chat__Envelope *chat_quorum_request(chat_quorum_t *q, const Chat__Envelope *request,
                                    int timeout_ms);

#endif
