/*  bench_load: see bench_load.h. */
#include "bench_load.h"
#include "bench_conn.h"
#include "bench_proc.h"
#include "bench_scan.h"
#include "bench_track.h"
#include "chat_clock.h"
#include "chat_log.h"
#include "chat_text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

//  Read buffer shared by every connection.
#define S_SCRATCH (256 * 1024)
//  Events taken per epoll_wait.
#define S_EVENTS 512
//  How often the settle and drain conditions and paused senders are checked.
#define S_CHECK_US 50000
//  Longest sleep in epoll_wait.
#define S_WAIT_MS 10
//  Most time to wait for join messages to settle.
#define S_SETTLE_US 30000000
//  A rate schedule this far behind starts again from now instead of bursting.
#define S_BEHIND_US 1000000

typedef enum {
    C_NEW,        //  not started
    C_CONNECTING, //  TCP connect and WebSocket handshake
    C_LOGIN,      //  connect sent
    C_LOGGED,     //  connected; waits for the rooms to exist
    C_JOINING,    //  joinRoom sent
    C_READY,      //  in its room
    C_GONE,       //  closed
} s_cstate_t;

typedef enum { P_SETUP, P_SETTLE, P_WARMUP, P_MEASURE, P_DRAIN, P_DONE } s_phase_t;

typedef struct {
    bench_conn_t *conn;   //  the connection, NULL before it starts
    bench_track_t track;  //  seqs of its room
    int64_t paused_until; //  rate_limited: no sends before this (µs)
    uint64_t sent_n;      //  messages it sent
    uint32_t outstanding; //  sendMessage without ack or error yet
    uint32_t room;        //  index of its room
    uint8_t state;        //  s_cstate_t
} s_client_t;

typedef struct {
    char id[CHAT_ROOM_ID_MAX + 1]; //  room id, "" until created
    uint64_t last_seq;             //  highest seq known (acks, deliveries, cursors)
    uint64_t join_seq;             //  highest join line our joins caused
} s_room_t;

typedef struct {
    const bench_config_t *cfg; //  settings
    bench_result_t *res;       //  what is measured
    int ep;                    //  the epoll
    uint8_t *scratch;          //  read buffer
    s_client_t *clients;       //  one per connection
    uint32_t n;                //  connections
    s_room_t *rooms;           //  one per room
    s_phase_t phase;           //  where the run is
    bool fatal;                //  the setup cannot finish
    bool rooms_ready;          //  every room exists
    uint32_t next_start;       //  next client to connect
    uint32_t in_flight;        //  clients connecting, logging in or joining
    uint32_t created;          //  rooms created or found
    uint32_t joined;           //  clients that joined
    uint32_t gone;             //  clients closed
    int64_t t_start;           //  run start (µs, monotonic)
    int64_t t_deadline;        //  end of the current phase's patience
    int64_t t_measure;         //  window start
    int64_t t_end;             //  window end
    int64_t t_check;           //  next condition check
    int64_t next_send_us;      //  rate mode: next send
    int64_t interval_us;       //  rate mode: time between sends of all senders
    uint32_t next_sender;      //  rate mode: whose turn it is
    char pad[4001];            //  'x' * size
} s_load_t;

static chat_log_limit_t s_log_close;

// ------------------------------------------------------------ sending

static void s_send(s_client_t *c, const char *text, int len)
{
    if (len > 0)
        bench_conn_send_text(c->conn, text, (size_t)len);
}

static void s_send_connect(s_load_t *L, s_client_t *c, uint32_t i)
{
    char text[256];
    const char *p = L->cfg->user_prefix;
    int n = snprintf(text, sizeof text,
                     "{\"type\":\"connect\",\"userId\":\"%s-%u\",\"name\":\"%s-%u\",\"ref\":\"c\"}",
                     p, i, p, i);
    s_send(c, text, n);
}

static void s_send_create(s_load_t *L, s_client_t *c, uint32_t room)
{
    char text[256];
    int n = snprintf(text, sizeof text,
                     "{\"type\":\"createRoom\",\"name\":\"%s-%u\",\"description\":\"chat-bench\","
                     "\"ref\":\"r%u\"}",
                     L->cfg->room_prefix, room, room);
    s_send(c, text, n);
}

static void s_send_join(s_load_t *L, s_client_t *c)
{
    char text[160];
    int n = snprintf(text, sizeof text, "{\"type\":\"joinRoom\",\"roomId\":\"%s\",\"ref\":\"j\"}",
                     L->rooms[c->room].id);
    c->state = C_JOINING;
    L->in_flight++;
    s_send(c, text, n);
}

static bool s_in_window(const s_load_t *L, int64_t t)
{
    return L->phase >= P_WARMUP && t >= L->t_measure && t < L->t_end;
}

//  One sendMessage stamped with the send time (content and ref).
static void s_send_message(s_load_t *L, s_client_t *c, uint32_t index, int64_t now)
{
    char text[4400];
    int n =
        snprintf(text, sizeof text, "{\"type\":\"sendMessage\",\"roomId\":\"%s\",\"content\":\"",
                 L->rooms[c->room].id);
    int stamp = snprintf(text + n, sizeof text - (size_t)n, "cb%" PRId64 ":%u:%" PRIu64 ":", now,
                         index, c->sent_n);
    n += stamp;
    int pad = (int)L->cfg->size - stamp;
    if (pad > 0) {
        memcpy(text + n, L->pad, (size_t)pad);
        n += pad;
    }
    n += snprintf(text + n, sizeof text - (size_t)n, "\",\"ref\":\"a%" PRId64 "\"}", now);
    if (bench_conn_send_text(c->conn, text, (size_t)n) != 0)
        return;
    c->outstanding++;
    c->sent_n++;
    if (s_in_window(L, now))
        L->res->sent++;
}

static bool s_sending(const s_load_t *L)
{
    return L->phase == P_WARMUP || L->phase == P_MEASURE;
}

//  Window mode: tops the sender up to --window un-acked messages.
static void s_refill(s_load_t *L, s_client_t *c, uint32_t index, int64_t now)
{
    if (L->cfg->rate || !s_sending(L) || c->state != C_READY || now < c->paused_until)
        return;
    while (c->outstanding < (uint32_t)L->cfg->window && bench_conn_is_open(c->conn))
        s_send_message(L, c, index, now);
}

// ------------------------------------------------------------ receiving

static void s_client_gone(s_load_t *L, s_client_t *c)
{
    if (c->state == C_CONNECTING || c->state == C_LOGIN || c->state == C_JOINING)
        L->in_flight--;
    c->state = C_GONE;
    L->gone++;
}

static void s_on_open(void *arg, bench_conn_t *conn)
{
    s_load_t *L = arg;
    uint32_t i = bench_conn_index(conn);
    L->clients[i].state = C_LOGIN;
    s_send_connect(L, &L->clients[i], i);
}

static void s_on_close(void *arg, bench_conn_t *conn, int code, const char *why)
{
    s_load_t *L = arg;
    uint32_t i = bench_conn_index(conn);
    s_client_t *c = &L->clients[i];
    if (c->state == C_GONE)
        return;
    chat_log_limited(&s_log_close, CHAT_LOG_WARN, "connection %u closed (%d, %s)", i, code, why);
    if (c->state == C_READY) {
        L->res->closed++;
        L->res->last_close_code = code;
    } else {
        L->res->connect_failed++;
        if (i < L->cfg->rooms && !L->rooms[i].id[0]) {
            fprintf(stderr, "chat-bench: the connection creating room %u closed (%s)\n", i, why);
            L->fatal = true;
        }
    }
    s_client_gone(L, c);
}

static void s_on_connected(s_load_t *L, s_client_t *c, uint32_t i)
{
    if (c->state != C_LOGIN)
        return;
    c->state = C_LOGGED;
    L->in_flight--;
    if (i < L->cfg->rooms)
        s_send_create(L, c, i);
    if (L->rooms_ready)
        s_send_join(L, c);
}

//  A room exists (created now or before): ready once all are.
static void s_room_known(s_load_t *L, uint32_t room, const char *id, size_t len)
{
    s_room_t *r = &L->rooms[room];
    if (r->id[0] || len == 0 || len > CHAT_ROOM_ID_MAX)
        return;
    memcpy(r->id, id, len);
    r->id[len] = '\0';
    if (!chat_valid_room_id(r->id)) {
        fprintf(stderr, "chat-bench: the gateway named room %u \"%s\"\n", room, r->id);
        L->fatal = true;
        return;
    }
    if (++L->created < L->cfg->rooms)
        return;
    L->rooms_ready = true;
    for (uint32_t k = 0; k < L->n; k++)
        if (L->clients[k].state == C_LOGGED)
            s_send_join(L, &L->clients[k]);
}

static void s_on_joined(s_load_t *L, s_client_t *c, const bench_msg_t *m)
{
    if (c->state != C_JOINING || !bench_span_eq(m->ref, "j"))
        return;
    s_room_t *r = &L->rooms[c->room];
    bench_track_start(&c->track, m->history_seq);
    if (m->history_seq + 1 > r->join_seq)
        r->join_seq = m->history_seq + 1;
    if (m->history_seq > r->last_seq)
        r->last_seq = m->history_seq;
    c->state = C_READY;
    L->in_flight--;
    L->joined++;
}

//  The send time stamped in a content we wrote, or -1.
static int64_t s_stamp(bench_span_t content)
{
    if (content.len < 4 || content.p[0] != 'c' || content.p[1] != 'b')
        return -1;
    bench_span_t digits = {content.p + 2, content.len - 2, false};
    uint32_t used = 0;
    uint64_t t = bench_span_u64(digits, &used);
    return used > 0 && used < digits.len && digits.p[used] == ':' ? (int64_t)t : -1;
}

static void s_on_received(s_load_t *L, s_client_t *c, const bench_msg_t *m, const char *text,
                          size_t len)
{
    bench_result_t *res = L->res;
    int64_t now = chat_mono_us();
    res->deliveries_total++;
    if (s_in_window(L, now))
        res->deliveries++;
    s_room_t *r = &L->rooms[c->room];
    if (c->state != C_READY || !m->has_seq || !bench_span_eq(m->room_id, r->id)) {
        res->foreign++;
        return;
    }
    switch (bench_track_seq(&c->track, m->seq)) {
    case BENCH_SEQ_DUPLICATE:
        res->duplicated++;
        break;
    case BENCH_SEQ_OUT_OF_ORDER:
        res->out_of_order++;
        break;
    default:
        break;
    }
    if (m->seq > r->last_seq)
        r->last_seq = m->seq;
    int64_t sent = s_stamp(m->content);
    if (sent < 0)
        return;
    if (s_in_window(L, sent))
        bench_hist_record(&res->e2e, (uint64_t)(now > sent ? now - sent : 0));
    if (!res->sample_len && len <= sizeof res->sample) {
        memcpy(res->sample, text, len);
        res->sample_len = len;
    }
}

//  An ack or an error for one of the client's messages ("a<time>").
static void s_on_answer(s_load_t *L, s_client_t *c, uint32_t i, const bench_msg_t *m)
{
    int64_t now = chat_mono_us();
    bench_span_t stamp = {m->ref.p + 1, m->ref.len - 1, false};
    int64_t sent = (int64_t)bench_span_u64(stamp, NULL);
    if (c->outstanding)
        c->outstanding--;
    if (m->type == BENCH_MSG_ACK) {
        if (s_in_window(L, sent)) {
            L->res->acked++;
            bench_hist_record(&L->res->ack, (uint64_t)(now > sent ? now - sent : 0));
        }
        if (s_in_window(L, now))
            L->res->acks_in_window++;
        s_room_t *r = &L->rooms[c->room];
        if (m->has_seq && m->seq > r->last_seq)
            r->last_seq = m->seq;
    } else if (bench_span_eq(m->code, "rate_limited")) {
        c->paused_until = now + (int64_t)(m->retry_after_ms ? m->retry_after_ms : 100) * 1000;
    }
    s_refill(L, c, i, now);
}

static void s_on_error(s_load_t *L, s_client_t *c, uint32_t i, const bench_msg_t *m)
{
    L->res->errors[bench_report_error_index(m->code.p ? m->code.p : "", m->code.len)]++;
    char kind = m->ref.p && m->ref.len ? m->ref.p[0] : 0;
    if (kind == 'a') {
        s_on_answer(L, c, i, m);
    } else if (kind == 'r') {
        uint32_t room =
            (uint32_t)bench_span_u64((bench_span_t){m->ref.p + 1, m->ref.len - 1, 0}, NULL);
        if (room < L->cfg->rooms && bench_span_eq(m->code, "room_exists")) {
            char name[80], id[CHAT_ROOM_ID_MAX + 1];
            snprintf(name, sizeof name, "%s-%u", L->cfg->room_prefix, room);
            s_room_known(L, room, id, chat_room_slug(name, id));
        } else {
            fprintf(stderr, "chat-bench: createRoom %u failed: %.*s\n", room, (int)m->code.len,
                    m->code.p ? m->code.p : "");
            L->fatal = true;
        }
    } else if ((kind == 'c' && c->state == C_LOGIN) || (kind == 'j' && c->state == C_JOINING)) {
        chat_log_limited(&s_log_close, CHAT_LOG_WARN, "connection %u: %s failed: %.*s", i,
                         kind == 'c' ? "connect" : "joinRoom", (int)m->code.len,
                         m->code.p ? m->code.p : "");
        L->res->connect_failed++;
        bench_conn_close(c->conn);
        s_client_gone(L, c);
    }
}

static void s_on_text(void *arg, bench_conn_t *conn, const char *text, size_t len)
{
    s_load_t *L = arg;
    uint32_t i = bench_conn_index(conn);
    s_client_t *c = &L->clients[i];
    bench_msg_t m;
    if (bench_scan(text, len, &m) != 0) {
        L->res->bad_messages++;
        return;
    }
    switch (m.type) {
    case BENCH_MSG_RECEIVED:
        s_on_received(L, c, &m, text, len);
        break;
    case BENCH_MSG_ACK:
        if (m.ref.len > 1 && m.ref.p[0] == 'a')
            s_on_answer(L, c, i, &m);
        break;
    case BENCH_MSG_ERROR:
        s_on_error(L, c, i, &m);
        break;
    case BENCH_MSG_CONNECTED:
        s_on_connected(L, c, i);
        break;
    case BENCH_MSG_ROOM_JOINED:
        s_on_joined(L, c, &m);
        break;
    case BENCH_MSG_ROOM_CREATED:
        if (m.ref.len > 1 && m.ref.p[0] == 'r') {
            uint32_t room =
                (uint32_t)bench_span_u64((bench_span_t){m.ref.p + 1, m.ref.len - 1, 0}, NULL);
            if (room < L->cfg->rooms)
                s_room_known(L, room, m.room_id.p, m.room_id.p ? m.room_id.len : 0);
        }
        break;
    default:
        break;
    }
}

static const bench_conn_handler_t s_handler = {s_on_open, s_on_text, s_on_close};

// ------------------------------------------------------------ phases

//  Gateway and kernel memory into the result (which: 0 before, 1 after, 2 end).
static void s_sample(s_load_t *L, int which)
{
    const bench_config_t *cfg = L->cfg;
    long rss = cfg->n_pids ? 0 : -1;
    for (size_t i = 0; i < cfg->n_pids; i++) {
        long one = bench_proc_rss(cfg->pids[i]);
        rss = one < 0 || rss < 0 ? -1 : rss + one;
    }
    L->res->gateways_sampled = rss >= 0 ? (int)cfg->n_pids : 0;
    long tcp, slab;
    bench_proc_kernel(&tcp, &slab);
    if (which == 0) {
        L->res->rss_before = rss;
        L->res->tcp_mem_before = tcp;
        L->res->slab_before = slab;
    } else if (which == 1) {
        L->res->rss_after = rss;
        L->res->tcp_mem_after = tcp;
        L->res->slab_after = slab;
        L->res->ready = (long)L->joined;
    } else {
        L->res->rss_end = rss;
    }
}

static void s_start_clients(s_load_t *L)
{
    while (L->next_start < L->n && L->in_flight < (uint32_t)L->cfg->concurrency) {
        //  Rooms first: the others connect once every room exists, so they
        //  are not sent every roomCreated.
        if (L->next_start >= L->cfg->rooms && !L->rooms_ready)
            break;
        uint32_t i = L->next_start++;
        s_client_t *c = &L->clients[i];
        const bench_url_t *url = &L->cfg->urls[i % L->cfg->n_urls];
        c->conn = bench_conn_new(L->ep, url, i, &s_handler, L);
        if (!c->conn) {
            fprintf(stderr, "chat-bench: socket for connection %u: %s\n", i, strerror(errno));
            L->fatal = true;
            return;
        }
        c->state = C_CONNECTING;
        L->in_flight++;
    }
}

//  True when every member has every seq its room is known to have.
static bool s_caught_up(const s_load_t *L, bool drain)
{
    for (uint32_t i = 0; i < L->n; i++) {
        const s_client_t *c = &L->clients[i];
        if (c->state != C_READY)
            continue;
        const s_room_t *r = &L->rooms[c->room];
        uint64_t last = drain || r->last_seq > r->join_seq ? r->last_seq : r->join_seq;
        if (!bench_track_complete(&c->track, last) || (drain && c->outstanding))
            return false;
    }
    return true;
}

static void s_start_traffic(s_load_t *L, int64_t now)
{
    L->res->setup_s = (double)(now - L->t_start) / 1e6;
    s_sample(L, 1);
    L->phase = P_WARMUP;
    L->t_measure = now + L->cfg->warmup_s * 1000000;
    L->t_end = L->t_measure + L->cfg->duration_s * 1000000;
    if (L->cfg->senders && L->cfg->rate) {
        L->interval_us = 1000000 / (L->cfg->senders * L->cfg->rate);
        if (L->interval_us < 1)
            L->interval_us = 1;
        L->next_send_us = now;
    }
    for (uint32_t i = 0; i < (uint32_t)L->cfg->senders; i++)
        s_refill(L, &L->clients[i], i, now);
}

//  Moves through the phases. Returns -1 when the setup failed.
static int s_advance(s_load_t *L, int64_t now)
{
    bool check = now >= L->t_check;
    if (check)
        L->t_check = now + S_CHECK_US;
    switch (L->phase) {
    case P_SETUP:
        s_start_clients(L);
        if (L->fatal || now > L->t_deadline) {
            fprintf(stderr, "chat-bench: setup %s: %u of %u joined, %u closed, %u of %ld rooms\n",
                    L->fatal ? "failed" : "timed out", L->joined, L->n, L->gone, L->created,
                    L->cfg->rooms);
            return -1;
        }
        if (L->rooms_ready && L->joined + L->gone == L->n) {
            L->phase = P_SETTLE;
            L->t_deadline = now + S_SETTLE_US;
        }
        break;
    case P_SETTLE:
        if (check && (s_caught_up(L, false) || now > L->t_deadline)) {
            if (now > L->t_deadline)
                fprintf(stderr, "chat-bench: join messages did not settle; measuring anyway\n");
            s_start_traffic(L, now);
        }
        break;
    case P_WARMUP:
        if (now >= L->t_measure)
            L->phase = P_MEASURE;
        break;
    case P_MEASURE:
        if (now >= L->t_end) {
            L->phase = P_DRAIN;
            L->t_deadline = now + L->cfg->drain_s * 1000000;
        }
        break;
    case P_DRAIN:
        if (check && (s_caught_up(L, true) || now > L->t_deadline))
            L->phase = P_DONE;
        break;
    case P_DONE:
        break;
    }
    return 0;
}

//  Sends what is due: the rate schedule, and paused or short senders.
static void s_pump(s_load_t *L, int64_t now, bool check)
{
    if (!s_sending(L) || !L->cfg->senders)
        return;
    uint32_t senders = (uint32_t)L->cfg->senders;
    if (L->cfg->rate) {
        for (int budget = 100000; now >= L->next_send_us && budget > 0; budget--) {
            uint32_t k = L->next_sender;
            L->next_sender = (k + 1) % senders;
            s_client_t *c = &L->clients[k];
            if (c->state == C_READY && now >= c->paused_until) {
                if (c->outstanding < (uint32_t)L->cfg->window)
                    s_send_message(L, c, k, now);
                else if (s_in_window(L, now))
                    L->res->skipped++;
            }
            L->next_send_us += L->interval_us;
        }
        if (now - L->next_send_us > S_BEHIND_US)
            L->next_send_us = now;
    } else if (check) {
        for (uint32_t k = 0; k < senders; k++)
            s_refill(L, &L->clients[k], k, now);
    }
}

static int s_timeout_ms(const s_load_t *L, int64_t now)
{
    if (s_sending(L) && L->cfg->rate && L->cfg->senders) {
        int64_t wait = (L->next_send_us - now + 999) / 1000;
        return wait < 0 ? 0 : wait > S_WAIT_MS ? S_WAIT_MS : (int)wait;
    }
    return S_WAIT_MS;
}

static void s_finish(s_load_t *L)
{
    s_sample(L, 2);
    for (uint32_t i = 0; i < L->n; i++) {
        s_client_t *c = &L->clients[i];
        if (c->state == C_READY)
            L->res->lost += bench_track_missing(&c->track, L->rooms[c->room].last_seq);
    }
    L->res->measured_s = (double)(L->t_end - L->t_measure) / 1e6;
}

int bench_load_run(const bench_config_t *cfg, bench_result_t *res)
{
    s_load_t *L = calloc(1, sizeof *L);
    if (!L)
        abort();
    L->cfg = cfg;
    L->res = res;
    L->n = (uint32_t)cfg->connections;
    L->clients = calloc(L->n, sizeof *L->clients);
    L->rooms = calloc((size_t)cfg->rooms, sizeof *L->rooms);
    L->scratch = malloc(S_SCRATCH);
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!L->clients || !L->rooms || !L->scratch || L->ep < 0)
        abort();
    memset(L->pad, 'x', sizeof L->pad - 1);
    for (uint32_t i = 0; i < L->n; i++)
        L->clients[i].room = i % (uint32_t)cfg->rooms;
    res->scenario = cfg->scenario;
    res->connections = cfg->connections;
    res->rooms = cfg->rooms;
    res->senders = cfg->senders;
    res->rate = cfg->rate;
    res->window = cfg->window;
    res->size = cfg->size;
    res->duration_s = cfg->duration_s;
    res->warmup_s = cfg->warmup_s;
    s_sample(L, 0);
    L->t_start = chat_mono_us();
    L->t_deadline = L->t_start + cfg->setup_timeout_s * 1000000;
    int rc = 0;
    struct epoll_event events[S_EVENTS];
    while (L->phase != P_DONE) {
        int64_t now = chat_mono_us();
        bool check = now >= L->t_check;
        if (s_advance(L, now) != 0) {
            rc = -1;
            break;
        }
        s_pump(L, now, check);
        int n = epoll_wait(L->ep, events, S_EVENTS, s_timeout_ms(L, chat_mono_us()));
        for (int e = 0; e < n; e++)
            bench_conn_event(events[e].data.ptr, events[e].events, L->scratch, S_SCRATCH);
    }
    if (rc == 0)
        s_finish(L);
    for (uint32_t i = 0; i < L->n; i++) {
        bench_conn_destroy(&L->clients[i].conn);
        bench_track_clear(&L->clients[i].track);
    }
    close(L->ep);
    free(L->scratch);
    free(L->rooms);
    free(L->clients);
    free(L);
    return rc;
}
