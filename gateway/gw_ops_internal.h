/*  gw_ops_internal: what the files of gw_ops share. INTERNAL: only
 *  gw_ops*.c include it; everything else uses gw_ops.h.
 *
 *  gw_ops is one module in two files, one concern each:
 *
 *      gw_ops.c          the machinery: the ops in flight, placement
 *                        lookups, sending, retries, timeouts, and routing
 *                        each reply (or its status) to its op
 *      gw_ops_kinds.c    each kind of op at its two ends: how it starts
 *                        (gw_ops_client and the other gw_ops.h calls) and
 *                        what its answer or its failure does in the gateway
 *
 *  (getRooms is not an op: gw_directory answers it from its catalog, and
 *  asks the roomds for figures with RoomsInfo ops.)
 *
 *  Everything runs on the gateway's one thread. An op is freed by
 *  gw_ops_remove, by gw_ops_fail, or by the function that completes it;
 *  whoever may have caused another op to be freed finds ops again by id
 *  (gw_idmap_get on ops), never through a pointer kept across the call.
 */
#ifndef GW_OPS_INTERNAL_H
#define GW_OPS_INTERNAL_H

#include "chat.pb-c.h"
#include "chat_text.h"
#include "gw.h"
#include "gw_json.h"
#include "gw_session.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    GW_OP_LOOKUP,      //  registry: where is a room (placing it when needed)
    GW_OP_SNAPSHOT,    //  registry: a page of ListRooms for gw_registry
    GW_OP_CREATE_ROOM, //  registry: CreateRoom for a client
    GW_OP_JOIN,        //  roomd: joinRoom
    GW_OP_REJOIN,      //  roomd: quiet join after a roomd restart
    GW_OP_LEAVE,       //  roomd: leaveRoom, or the leave of a closed connection
    GW_OP_SEND,        //  roomd: sendMessage
    GW_OP_HISTORY,     //  roomd: getHistory
    GW_OP_ROOM_STATE,  //  roomd: getRoomState
    GW_OP_REPAIR,      //  roomd: history after a gap
    GW_OP_ROOMS_INFO,  //  roomd: figures for gw_directory
    GW_OP_HEARTBEAT,   //  roomd: GatewayHeartbeat
} gw_op_kind_t;

typedef enum {
    GW_OP_STATE_NEW,            //  not sent yet
    GW_OP_STATE_WAIT_PLACEMENT, //  waiting for a lookup of its room
    GW_OP_STATE_WAIT_RETRY,     //  waiting to be sent again
    GW_OP_STATE_SENT,           //  waiting for the reply
} gw_op_state_t;

typedef struct gw_op gw_op_t;
struct gw_op {
    uint64_t id;                        //  req_id of every attempt
    gw_op_kind_t kind;                  //  what it is
    gw_op_state_t state;                //  where it is
    uint64_t conn;                      //  the connection it answers, 0 = none
    char *ref;                          //  ref to echo, or NULL
    char room_id[CHAT_ROOM_ID_MAX + 1]; //  the room, "" when none
    char *user_id;                      //  join, rejoin, leave, send
    char *user_name;                    //  join, rejoin, send
    char *text;                         //  send: content; create: name; snapshot: after
    char *text2;                        //  create: description
    char client_msg_id[80];             //  send: dedup key, the same for every attempt
    char *instance;                     //  heartbeat, rooms info: the roomd addressed
    bool has_a;                         //  join: has since; history: has before
    uint64_t a;                         //  join: since; history: before; repair: after
    uint32_t limit;                     //  history
    bool member;                        //  join: already in or joining the room
    bool rejoined;                      //  send: re-joined once after NOT_IN_ROOM
    bool counted;                       //  counted in its session's pending
    uint32_t sessions;                  //  heartbeat: sessions announced
    char **room_ids;                    //  rooms info: rooms asked about by id
    size_t n_room_ids;                  //  entries in room_ids
    int attempts;                       //  sends so far
    int64_t sent_us;                    //  monotonic us of the last send
    int64_t due_ms;                     //  reply deadline (SENT) or retry time (WAIT_RETRY)
    int64_t give_up_ms;                 //  no retry after this
    gw_op_t *prev;                      //  list of all ops
    gw_op_t *next;                      //  list of all ops
    gw_op_t *waiters;                   //  lookup: ops waiting for it (FIFO)
    gw_op_t *next_waiter;               //  on a lookup's waiter list
};

struct gw_ops {
    gw_idmap_t *ops;   //  req_id -> op (owned)
    gw_op_t *head;     //  every op
    zhashx_t *lookups; //  room id -> its lookup op (borrowed)
    uint64_t next_id;  //  last req_id issued
};

// ------------------------------------------------------------------ gw_ops.c

//  A copy of text (NULL for NULL); aborts when out of memory.
char *gw_ops_dup(const char *text);

//  A new op of kind with a fresh req_id, answering conn (0: nobody) with ref
//  (copied, may be NULL) about room_id (may be NULL), giving up after
//  --retry-ms. It is in the table but not started: see gw_ops_start.
gw_op_t *gw_ops_add(gw_t *gw, gw_op_kind_t kind, uint64_t conn, const char *ref,
                    const char *room_id);

//  Takes op out of the table (and its session's pending count) and frees it.
void gw_ops_remove(gw_t *gw, gw_op_t *op);

//  The session the op answers, if it is still open.
gw_session_t *gw_ops_session(gw_t *gw, const gw_op_t *op);

//  Queues buf (taken over) to the op's session; dropped when it is gone.
void gw_ops_reply(gw_t *gw, const gw_op_t *op, gw_buf_t *buf);

//  Sends op: to the registry, or to its room's roomd once the placement is
//  known. May fail op at once (then op is freed).
void gw_ops_start(gw_t *gw, gw_op_t *op);

//  Sends op again after a growing pause, or fails it with unavailable when
//  the budget is spent (CreateRoom and heartbeats are never sent again).
void gw_ops_retry(gw_t *gw, gw_op_t *op, const char *why);

//  A lookup answered OK: stores the placement and sends the ops waiting for
//  it, or fails them all when there is no placement. Frees op.
void gw_ops_on_lookup(gw_t *gw, gw_op_t *op, const Chat__LookupReply *reply);

// ------------------------------------------------------------ gw_ops_kinds.c

//  op's reply came with status OK (or with a status that ends the op as
//  asked): does what its kind is for. Frees op. May take over *env.
void gw_ops_complete(gw_t *gw, gw_op_t *op, Chat__Envelope **env);

//  Ends op with err: the client gets the error, or the module that asked is
//  told. A lookup fails every op waiting for it. Frees op.
void gw_ops_fail(gw_t *gw, gw_op_t *op, gw_err_t err);

//  A send answered NOT_IN_ROOM: re-join once and resend when the session
//  still is in the room, wait when its join is on the way, else fail.
void gw_ops_on_send_not_in_room(gw_t *gw, gw_op_t *op);

#endif
