/*  gw_session: UserSession, one per WebSocket connection.
 *
 *  libwebsockets allocates the struct (per-session data, zeroed) and calls
 *  gw_server's callback, which hands each event to the functions below.
 *
 *  State machine:  OPEN --connect--> READY --close/disconnect--> CLOSING
 *  OPEN answers connect and ping only (connect_required otherwise); READY
 *  serves every request; CLOSING ignores input and waits for lws to close.
 *
 *  Outgoing frames go through a bounded queue (gw_queue): several queued
 *  frames leave in one lws_write from the WRITEABLE callback. A connection
 *  whose queue reaches --queue-max is closed with 1008 and its queue is
 *  dropped at once: a slow client never holds memory or slows anyone.
 *
 *  Incoming messages are assembled from fragments up to 64 KiB (the lws
 *  receive buffer is small on purpose, to keep idle connections cheap).
 *  Idle connections get a ping after half of --client-idle-ms and are closed
 *  with 1001 once that ping is unanswered and --client-idle-ms passed without
 *  a frame or a pong.
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include "gw.h"
#include "gw_json.h"
#include "gw_queue.h"
#include "gw_rate.h"

//  Largest message accepted from a client; a bigger one closes with 1009.
#define GW_MESSAGE_MAX 65536

typedef enum { GW_SESSION_OPEN, GW_SESSION_READY, GW_SESSION_CLOSING } gw_session_state_t;

//  One room of a session: joined, or a join still in flight.
typedef struct {
    gw_room_t *room; //  the room (gw_rooms keeps it while referenced)
    uint32_t index;  //  position in the room's member array when joined
    bool joined;     //  false while the join is in flight
} gw_sroom_t;

struct gw_session {
    struct lws *wsi;          //  the connection
    gw_session_t *prev;       //  previous in gw->sessions
    gw_session_t *next;       //  next in gw->sessions
    uint64_t conn;            //  per-boot id (SessionRef.conn); 0 before open
    char *user_id;            //  after connect: "id\0name\0" in one allocation
    const char *user_name;    //  points into user_id's allocation
    gw_queue_t queue;         //  outgoing frames
    gw_rate_t rate;           //  token bucket for sendMessage and createRoom
    uint8_t *rx;              //  fragments of a message being assembled, or NULL
    uint32_t rx_len;          //  bytes in rx
    uint32_t rx_cap;          //  capacity of rx
    gw_sroom_t *rooms;        //  rooms joined or joining, in join order
    uint16_t n_rooms;         //  entries in rooms
    uint16_t cap_rooms;       //  capacity of rooms
    uint16_t close_code;      //  close pending with this code, 0 = none
    uint8_t state;            //  gw_session_state_t
    bool pinged;              //  an idle ping was sent and not answered yet
    bool writable_requested;  //  lws_callback_on_writable was called
    const char *close_reason; //  static text sent with close_code
    int64_t last_rx_ms;       //  monotonic ms of the last frame or pong
    uint64_t sends;           //  sendMessage counter (client_msg_id)
    uint16_t pending;         //  its requests in flight to the cluster
};

//  The connection was upgraded: give it a conn id and list it.
void gw_session_open(gw_t *gw, gw_session_t *s, struct lws *wsi);

//  A piece of a message arrived (LWS_CALLBACK_RECEIVE). Returns -1 when the
//  connection must close (lws_close_reason has been set).
int gw_session_receive(gw_t *gw, gw_session_t *s, const void *in, size_t len);

//  A pong arrived.
void gw_session_pong(gw_t *gw, gw_session_t *s);

//  The socket can take more (LWS_CALLBACK_SERVER_WRITEABLE). Returns -1
//  when the connection must close now.
int gw_session_writeable(gw_t *gw, gw_session_t *s);

//  The connection is gone: leave every room, free everything.
void gw_session_closed(gw_t *gw, gw_session_t *s);

//  The open session with this conn id, or NULL.
gw_session_t *gw_session_find(gw_t *gw, uint64_t conn);

//  Queues a frame, taking over the caller's reference (*buf becomes NULL).
//  A session that is closing drops it; a full queue closes the session
//  with 1008.
void gw_session_send(gw_t *gw, gw_session_t *s, gw_buf_t **buf);

//  Queues an error reply.
void gw_session_error(gw_t *gw, gw_session_t *s, gw_err_t err, const char *message,
                      const char *ref);

//  Closes the session with code and a static reason, after what is queued
//  (flush) or dropping it.
void gw_session_close(gw_t *gw, gw_session_t *s, int code, const char *reason, bool flush);

//  Queues buf (borrowed) to every READY session but except_conn.
void gw_session_broadcast(gw_t *gw, gw_buf_t *buf, uint64_t except_conn);

//  Pings idle clients, closes silent ones, gives back empty queues' memory.
void gw_session_sweep(gw_t *gw, int64_t now_ms);

//  The session's entry for room_id, or NULL.
gw_sroom_t *gw_session_room(gw_session_t *s, const char *room_id);

//  Adds an entry for room (not joined yet) and returns it.
gw_sroom_t *gw_session_room_add(gw_session_t *s, gw_room_t *room);

//  Removes the entry for room; the order of the others is kept.
void gw_session_room_remove(gw_session_t *s, gw_room_t *room);

#endif
