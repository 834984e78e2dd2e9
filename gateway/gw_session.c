/*  gw_session: see gw_session.h. */
#include "gw_session.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_wsframe.h"
#include "gw_directory.h"
#include "gw_ops.h"
#include "gw_rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Seconds a closing connection may take to become writable before lws
//  drops it without a close frame.
#define S_CLOSE_GRACE_S 30

static chat_log_limit_t s_log_frames;

void gw_session_open(gw_t *gw, gw_session_t *s, struct lws *wsi)
{
    memset(s, 0, sizeof *s);
    s->wsi = wsi;
    s->conn = ++gw->next_conn;
    s->state = GW_SESSION_OPEN;
    s->last_rx_ms = chat_mono_ms();
    s->next = gw->sessions;
    if (gw->sessions)
        gw->sessions->prev = s;
    gw->sessions = s;
    gw_idmap_put(gw->conns, s->conn, s);
    gw->metrics.connections_total++;
    gw->metrics.connections_open++;
}

gw_session_t *gw_session_find(gw_t *gw, uint64_t conn)
{
    return gw_idmap_get(gw->conns, conn);
}

// ------------------------------------------------------------ outgoing

static void s_want_write(gw_session_t *s)
{
    if (!s->writable_requested) {
        s->writable_requested = true;
        lws_callback_on_writable(s->wsi);
    }
}

//  Drops every queued frame and keeps the gauge right.
static void s_queue_clear(gw_t *gw, gw_session_t *s)
{
    gw->metrics.queued -= s->queue.count;
    gw_queue_clear(&s->queue);
}

void gw_session_close(gw_t *gw, gw_session_t *s, int code, const char *reason, bool flush)
{
    if (s->state == GW_SESSION_CLOSING)
        return;
    s->state = GW_SESSION_CLOSING;
    s->close_code = (uint16_t)code;
    s->close_reason = reason;
    if (!flush)
        s_queue_clear(gw, s);
    gw_metrics_close(&gw->metrics, code);
    //  A client that never reads again must not keep the connection open.
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, S_CLOSE_GRACE_S);
    s_want_write(s);
}

void gw_session_send(gw_t *gw, gw_session_t *s, gw_buf_t **buf)
{
    if (s->state == GW_SESSION_CLOSING && s->close_code) {
        gw_buf_unref(buf);
        return;
    }
    if (gw_queue_push(&s->queue, *buf, (uint32_t)gw->config.queue_max) != 0) {
        gw_buf_unref(buf);
        gw->metrics.slow_consumers++;
        chat_log_limited(
            &s_log_frames, CHAT_LOG_INFO, "conn %llu (%s): %u frames queued, closing as too slow",
            (unsigned long long)s->conn, s->user_id ? s->user_id : "-", s->queue.count);
        gw_session_close(gw, s, 1008, "too slow: outgoing queue full", false);
        return;
    }
    *buf = NULL;
    gw->metrics.queued++;
    if (s->queue.count > gw->metrics.queued_peak)
        gw->metrics.queued_peak = s->queue.count;
    s_want_write(s);
}

void gw_session_error(gw_t *gw, gw_session_t *s, gw_err_t err, const char *message, const char *ref)
{
    gw_metrics_error(&gw->metrics, err);
    gw_buf_t *buf = gw_json_error(err, message, -1, ref);
    gw_session_send(gw, s, &buf);
}

void gw_session_broadcast(gw_t *gw, gw_buf_t *buf, uint64_t except_conn)
{
    for (gw_session_t *s = gw->sessions; s; s = s->next)
        if (s->state == GW_SESSION_READY && s->conn != except_conn) {
            gw_buf_t *ref = gw_buf_ref(buf);
            gw_session_send(gw, s, &ref);
        }
}

//  Writes as many whole queued frames as fit in one lws_write: a big frame
//  alone straight from its buffer, small ones gathered into the scratch
//  buffer. Frames are never split across writes, so the pongs lws sends
//  between writes cannot land inside one.
static int s_write_batch(gw_t *gw, gw_session_t *s)
{
    size_t len = 0;
    const uint8_t *first = gw_buf_frame(gw_queue_peek(&s->queue, 0), &len);
    uint32_t n = 1;
    const uint8_t *out = first;
    size_t total = len;
    if (len < GW_SCRATCH_SIZE / 2) {
        uint8_t *scratch = gw->scratch + LWS_PRE;
        memcpy(scratch, first, len);
        gw_buf_t *next;
        while ((next = gw_queue_peek(&s->queue, n)) != NULL) {
            const uint8_t *frame = gw_buf_frame(next, &len);
            if (total + len > GW_SCRATCH_SIZE)
                break;
            memcpy(scratch + total, frame, len);
            total += len;
            n++;
        }
        out = scratch;
    }
    //  LWS_WRITE_RAW: the bytes are complete WebSocket frames already.
    if (lws_write(s->wsi, (unsigned char *)out, total, LWS_WRITE_RAW) < 0)
        return -1;
    gw->metrics.writes++;
    gw->metrics.frames_out += n;
    gw->metrics.bytes_out += total;
    gw->metrics.queued -= n;
    gw_queue_drop(&s->queue, n);
    return 0;
}

int gw_session_writeable(gw_t *gw, gw_session_t *s)
{
    s->writable_requested = false;
    if (s->queue.count) {
        if (s_write_batch(gw, s) != 0)
            return -1;
        if (s->queue.count || s->close_code)
            s_want_write(s);
        return 0;
    }
    if (s->close_code) {
        const char *reason = s->close_reason ? s->close_reason : "";
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, (unsigned char *)reason,
                         strlen(reason));
        return -1;
    }
    return 0;
}

// ------------------------------------------------------------ rooms of a session

gw_sroom_t *gw_session_room(gw_session_t *s, const char *room_id)
{
    for (uint16_t i = 0; i < s->n_rooms; i++)
        if (strcmp(gw_room_id(s->rooms[i].room), room_id) == 0)
            return &s->rooms[i];
    return NULL;
}

gw_sroom_t *gw_session_room_add(gw_session_t *s, gw_room_t *room)
{
    if (s->n_rooms == s->cap_rooms) {
        uint16_t cap = s->cap_rooms ? (uint16_t)(s->cap_rooms * 2) : 4;
        gw_sroom_t *grown = realloc(s->rooms, cap * sizeof *grown);
        if (!grown)
            abort();
        s->rooms = grown;
        s->cap_rooms = cap;
    }
    gw_sroom_t *entry = &s->rooms[s->n_rooms++];
    *entry = (gw_sroom_t){room, 0, false};
    return entry;
}

void gw_session_room_remove(gw_session_t *s, gw_room_t *room)
{
    for (uint16_t i = 0; i < s->n_rooms; i++)
        if (s->rooms[i].room == room) {
            memmove(&s->rooms[i], &s->rooms[i + 1], (s->n_rooms - i - 1) * sizeof *s->rooms);
            s->n_rooms--;
            break;
        }
    if (!s->n_rooms) {
        free(s->rooms);
        s->rooms = NULL;
        s->cap_rooms = 0;
    }
}

// ------------------------------------------------------------ requests

//  Most rooms one connection may be in or joining.
#define S_ROOMS_MAX 1000

static void s_on_connect(gw_t *gw, gw_session_t *s, gw_request_t *req)
{
    size_t id_len = strlen(req->user_id), name_len = strlen(req->name);
    s->user_id = malloc(id_len + name_len + 2);
    if (!s->user_id)
        abort();
    memcpy(s->user_id, req->user_id, id_len + 1);
    memcpy(s->user_id + id_len + 1, req->name, name_len + 1);
    s->user_name = s->user_id + id_len + 1;
    s->state = GW_SESSION_READY;
    char session_id[64];
    snprintf(session_id, sizeof session_id, "%s-%llu", gw->id, (unsigned long long)s->conn);
    gw_buf_t *buf = gw_json_connected(s->user_id, s->user_name, session_id, req->ref);
    gw_session_send(gw, s, &buf);
}

static void s_on_join(gw_t *gw, gw_session_t *s, gw_request_t *req)
{
    bool member = gw_session_room(s, req->room_id) != NULL;
    if (!member && s->n_rooms >= S_ROOMS_MAX) {
        gw_session_error(gw, s, GW_ERR_BAD_REQUEST, "Too many rooms on one connection", req->ref);
        return;
    }
    if (!member)
        gw_rooms_join_begin(gw, s, req->room_id);
    gw_ops_client(gw, s, req, req->room_id, member);
}

static void s_on_leave(gw_t *gw, gw_session_t *s, gw_request_t *req)
{
    gw_sroom_t *entry = gw_session_room(s, req->room_id);
    if (!entry || !entry->joined) {
        gw_session_error(gw, s, GW_ERR_NOT_IN_ROOM, NULL, req->ref);
        return;
    }
    gw_rooms_leave(gw, s, entry->room);
    gw_ops_client(gw, s, req, req->room_id, false);
}

static void s_on_send(gw_t *gw, gw_session_t *s, gw_request_t *req)
{
    const char *room_id = req->room_id;
    if (!room_id && s->n_rooms)
        room_id = gw_room_id(s->rooms[s->n_rooms - 1].room);
    if (!room_id || !gw_session_room(s, room_id)) {
        gw_session_error(gw, s, GW_ERR_NOT_IN_ROOM, NULL, req->ref);
        return;
    }
    gw_ops_client(gw, s, req, room_id, true);
}

//  Checks the rate limit for requests that cost the cluster a write.
static bool s_rate_ok(gw_t *gw, gw_session_t *s, const gw_request_t *req)
{
    if (req->type != GW_REQ_SEND_MESSAGE && req->type != GW_REQ_CREATE_ROOM)
        return true;
    int64_t retry_after = 0;
    if (gw_rate_take(&s->rate, chat_mono_ms(), gw->config.rate, gw->config.burst, &retry_after))
        return true;
    gw_metrics_error(&gw->metrics, GW_ERR_RATE_LIMITED);
    gw_buf_t *buf = gw_json_error(GW_ERR_RATE_LIMITED, NULL, retry_after, req->ref);
    gw_session_send(gw, s, &buf);
    return false;
}

//  Session-state rules: connect first, and only once.
static bool s_state_ok(gw_t *gw, gw_session_t *s, const gw_request_t *req)
{
    if (s->state == GW_SESSION_OPEN && req->type != GW_REQ_CONNECT && req->type != GW_REQ_PING) {
        gw_session_error(gw, s, GW_ERR_CONNECT_REQUIRED, NULL, req->ref);
        return false;
    }
    if (s->state == GW_SESSION_READY && req->type == GW_REQ_CONNECT) {
        gw_session_error(gw, s, GW_ERR_ALREADY_CONNECTED, NULL, req->ref);
        return false;
    }
    return true;
}

static void s_dispatch(gw_t *gw, gw_session_t *s, gw_request_t *req)
{
    switch (req->type) {
    case GW_REQ_CONNECT:
        s_on_connect(gw, s, req);
        break;
    case GW_REQ_PING: {
        gw_buf_t *buf = gw_json_pong(chat_wall_ms(), req->ref);
        gw_session_send(gw, s, &buf);
        break;
    }
    case GW_REQ_DISCONNECT:
        gw_session_close(gw, s, 1000, "disconnect", true);
        break;
    case GW_REQ_JOIN_ROOM:
        s_on_join(gw, s, req);
        break;
    case GW_REQ_LEAVE_ROOM:
        s_on_leave(gw, s, req);
        break;
    case GW_REQ_SEND_MESSAGE:
        s_on_send(gw, s, req);
        break;
    case GW_REQ_GET_ROOMS:
        gw_directory_get_rooms(gw, s, req);
        break;
    case GW_REQ_CREATE_ROOM:
    case GW_REQ_GET_HISTORY:
    case GW_REQ_GET_ROOM_STATE:
        gw_ops_client(gw, s, req, req->room_id, false);
        break;
    }
}

//  One complete text message from the client.
static void s_handle(gw_t *gw, gw_session_t *s, const char *text, size_t len)
{
    gw->metrics.messages_in++;
    gw->metrics.bytes_in += len;
    gw_request_t req;
    gw_err_t err;
    if (gw_request_parse(text, len, &req, &err) != 0) {
        gw_session_error(gw, s, err, NULL, req.ref);
    } else if (s_state_ok(gw, s, &req) && s_rate_ok(gw, s, &req)) {
        if (gw_request_fields(&req, &err) != 0)
            gw_session_error(gw, s, err, NULL, req.ref);
        else
            s_dispatch(gw, s, &req);
    }
    gw_request_clear(&req);
}

//  Refuses what the client sent: the close frame goes out from the next
//  WRITEABLE, and the rest of the refused message is read and ignored
//  meanwhile, so the client gets the close frame rather than a reset.
static int s_refuse(gw_t *gw, gw_session_t *s, int code, const char *reason)
{
    gw->metrics.bad_frames++;
    chat_log_limited(&s_log_frames, CHAT_LOG_INFO, "conn %llu: closing with %d: %s",
                     (unsigned long long)s->conn, code, reason);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = s->rx_cap = 0;
    gw_session_close(gw, s, code, reason, false);
    return 0;
}

//  Appends a fragment to the message being assembled. An empty fragment
//  adds nothing (and s->rx may still be NULL: found by fuzz_gw_session).
static void s_append(gw_session_t *s, const void *in, size_t len)
{
    if (len == 0)
        return;
    if ((size_t)s->rx_len + len > s->rx_cap) {
        uint32_t cap = s->rx_cap ? s->rx_cap : 1024;
        while (cap < s->rx_len + len)
            cap *= 2;
        uint8_t *grown = realloc(s->rx, cap);
        if (!grown)
            abort();
        s->rx = grown;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += (uint32_t)len;
}

int gw_session_receive(gw_t *gw, gw_session_t *s, const void *in, size_t len)
{
    s->last_rx_ms = chat_mono_ms();
    s->pinged = false;
    if (s->state == GW_SESSION_CLOSING)
        return 0;
    if (lws_frame_is_binary(s->wsi))
        return s_refuse(gw, s, 1003, "binary frames are not accepted");
    size_t remaining = lws_remaining_packet_payload(s->wsi);
    if ((size_t)s->rx_len + len + remaining > GW_MESSAGE_MAX)
        return s_refuse(gw, s, 1009, "message over 64 KiB");
    bool final = lws_is_final_fragment(s->wsi);
    if (final && s->rx_len == 0) {
        s_handle(gw, s, in, len);
        return 0;
    }
    s_append(s, in, len);
    if (final) {
        s_handle(gw, s, (const char *)s->rx, s->rx_len);
        free(s->rx);
        s->rx = NULL;
        s->rx_len = s->rx_cap = 0;
    }
    return 0;
}

void gw_session_pong(gw_t *gw, gw_session_t *s)
{
    s->last_rx_ms = chat_mono_ms();
    s->pinged = false;
}

void gw_session_closed(gw_t *gw, gw_session_t *s)
{
    if (!s->conn)
        return;
    //  Leave every joined room; pending joins are finished by their ops,
    //  which find the session gone and leave for it.
    while (s->n_rooms) {
        gw_sroom_t entry = s->rooms[s->n_rooms - 1];
        if (entry.joined) {
            gw_ops_leave_gone(gw, s->conn, s->user_id, gw_room_id(entry.room));
            gw_rooms_leave(gw, s, entry.room);
        } else {
            gw_session_room_remove(s, entry.room);
        }
    }
    s_queue_clear(gw, s);
    free(s->rx);
    free(s->user_id);
    if (s->prev)
        s->prev->next = s->next;
    else
        gw->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    gw_idmap_remove(gw->conns, s->conn);
    gw->metrics.connections_open--;
    memset(s, 0, sizeof *s);
}

void gw_session_sweep(gw_t *gw, int64_t now_ms)
{
    long idle_ms = gw->config.idle_ms;
    for (gw_session_t *s = gw->sessions; s; s = s->next) {
        if (s->state != GW_SESSION_CLOSING && idle_ms > 0) {
            int64_t idle = now_ms - s->last_rx_ms;
            //  Closed only after a ping went unanswered, however the sweeps fall.
            if (idle >= idle_ms && s->pinged) {
                gw_session_close(gw, s, 1001, "idle", false);
            } else if (idle >= idle_ms / 2 && !s->pinged) {
                s->pinged = true;
                //  A payload, because lws 4.1.6 reports no empty pong.
                gw_buf_t *ping = gw_buf_new_control(CHAT_WS_OP_PING, "idle", 4);
                gw_session_send(gw, s, &ping);
            }
        }
        if (!s->queue.count)
            gw_queue_shrink(&s->queue);
    }
}
