/*  bench_scan: see bench_scan.h.
 *
 *  A recursive-descent JSON checker that carries a context: where in the
 *  message it is (top level, message, room, history, history item, or
 *  somewhere nobody cares about). Keys that matter in their context send
 *  their value to a field of the result; every other value is checked and
 *  skipped.
 */
#include "bench_scan.h"

#include <string.h>

//  Deepest nesting accepted; the protocol's messages use four levels.
#define S_DEPTH_MAX 64

typedef enum {
    S_CTX_SKIP,         //  nothing inside is read
    S_CTX_TOP,          //  the message object
    S_CTX_MESSAGE,      //  top-level "message"
    S_CTX_ROOM,         //  top-level "room"
    S_CTX_HISTORY,      //  top-level "history" (an array)
    S_CTX_HISTORY_ITEM, //  one message of "history"
    S_CTX_ROOMS,        //  top-level "rooms" (an array, counted)
} s_ctx_t;

//  Where a value goes: a string span, or a non-negative integer.
typedef struct {
    bench_span_t *str; //  string destination, or NULL
    uint64_t *num;     //  integer destination, or NULL
    bool *num_set;     //  set true when num was written, or NULL
} s_sink_t;

typedef struct {
    const char *p;         //  next byte
    const char *end;       //  end of the text
    int depth;             //  objects and arrays open
    bench_msg_t *out;      //  the result
    bench_span_t top_room; //  top-level roomId
    bench_span_t msg_room; //  message.roomId
    bench_span_t room_id;  //  room.id
    uint64_t top_seq;      //  top-level seq
    bool top_seq_set;      //  it was present
    uint64_t msg_seq;      //  message.seq
    bool msg_seq_set;      //  it was present
    uint64_t item_seq;     //  seq of the history item being read
    bool item_seq_set;     //  it was present
} s_scanner_t;

static int s_value(s_scanner_t *sc, s_ctx_t ctx, s_sink_t sink);

static void s_space(s_scanner_t *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\n' || *sc->p == '\r' || *sc->p == '\t'))
        sc->p++;
}

static bool s_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

//  A string at sc->p (on its opening quote) into *span.
static int s_string(s_scanner_t *sc, bench_span_t *span)
{
    const char *start = ++sc->p;
    bool escaped = false;
    while (sc->p < sc->end) {
        unsigned char c = (unsigned char)*sc->p;
        if (c == '"') {
            if (span)
                *span = (bench_span_t){start, (uint32_t)(sc->p - start), escaped};
            sc->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            escaped = true;
            if (sc->end - sc->p < 2)
                return -1;
            char e = sc->p[1];
            if (e == 'u') {
                if (sc->end - sc->p < 6 || !s_hex(sc->p[2]) || !s_hex(sc->p[3]) ||
                    !s_hex(sc->p[4]) || !s_hex(sc->p[5]))
                    return -1;
                sc->p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return -1;
            sc->p += 2;
            continue;
        }
        sc->p++;
    }
    return -1;
}

static bool s_digit(const s_scanner_t *sc)
{
    return sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9';
}

//  A number; a plain non-negative integer that fits goes to the sink.
static int s_number(s_scanner_t *sc, s_sink_t sink)
{
    bool plain = true;
    if (*sc->p == '-') {
        plain = false;
        sc->p++;
    }
    if (!s_digit(sc))
        return -1;
    uint64_t v = 0;
    if (*sc->p == '0') {
        sc->p++;
    } else {
        while (s_digit(sc)) {
            uint64_t d = (uint64_t)(*sc->p++ - '0');
            if (v > (UINT64_MAX - d) / 10)
                plain = false;
            v = v * 10 + d;
        }
    }
    if (sc->p < sc->end && *sc->p == '.') {
        plain = false;
        sc->p++;
        if (!s_digit(sc))
            return -1;
        while (s_digit(sc))
            sc->p++;
    }
    if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
        plain = false;
        sc->p++;
        if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
            sc->p++;
        if (!s_digit(sc))
            return -1;
        while (s_digit(sc))
            sc->p++;
    }
    if (plain && sink.num) {
        *sink.num = v;
        if (sink.num_set)
            *sink.num_set = true;
    }
    return 0;
}

static int s_literal(s_scanner_t *sc, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0)
        return -1;
    sc->p += n;
    return 0;
}

//  Where the value of key goes, and the context it is read in.
static s_ctx_t s_route(s_scanner_t *sc, s_ctx_t ctx, bench_span_t key, s_sink_t *sink)
{
    bench_msg_t *out = sc->out;
    *sink = (s_sink_t){NULL, NULL, NULL};
    switch (ctx) {
    case S_CTX_TOP:
        if (bench_span_eq(key, "type"))
            sink->str = &out->type_name;
        else if (bench_span_eq(key, "ref"))
            sink->str = &out->ref;
        else if (bench_span_eq(key, "code"))
            sink->str = &out->code;
        else if (bench_span_eq(key, "roomId"))
            sink->str = &sc->top_room;
        else if (bench_span_eq(key, "seq"))
            *sink = (s_sink_t){NULL, &sc->top_seq, &sc->top_seq_set};
        else if (bench_span_eq(key, "retryAfterMs"))
            sink->num = &out->retry_after_ms;
        else if (bench_span_eq(key, "total"))
            *sink = (s_sink_t){NULL, &out->total, &out->has_total};
        else if (bench_span_eq(key, "cursor"))
            sink->str = &out->cursor;
        else if (bench_span_eq(key, "rooms"))
            return S_CTX_ROOMS;
        else if (bench_span_eq(key, "message"))
            return S_CTX_MESSAGE;
        else if (bench_span_eq(key, "room"))
            return S_CTX_ROOM;
        else if (bench_span_eq(key, "history"))
            return S_CTX_HISTORY;
        return S_CTX_SKIP;
    case S_CTX_MESSAGE:
        if (bench_span_eq(key, "seq"))
            *sink = (s_sink_t){NULL, &sc->msg_seq, &sc->msg_seq_set};
        else if (bench_span_eq(key, "roomId"))
            sink->str = &sc->msg_room;
        else if (bench_span_eq(key, "content"))
            sink->str = &out->content;
        else if (bench_span_eq(key, "messageType"))
            sink->str = &out->message_type;
        return S_CTX_SKIP;
    case S_CTX_ROOM:
        if (bench_span_eq(key, "id"))
            sink->str = &sc->room_id;
        return S_CTX_SKIP;
    case S_CTX_HISTORY_ITEM:
        if (bench_span_eq(key, "seq"))
            *sink = (s_sink_t){NULL, &sc->item_seq, &sc->item_seq_set};
        return S_CTX_SKIP;
    default:
        return S_CTX_SKIP;
    }
}

static int s_object(s_scanner_t *sc, s_ctx_t ctx)
{
    sc->p++; //  '{'
    s_space(sc);
    if (sc->p < sc->end && *sc->p == '}') {
        sc->p++;
        return 0;
    }
    while (sc->p < sc->end) {
        bench_span_t key;
        if (*sc->p != '"' || s_string(sc, &key) != 0)
            return -1;
        s_space(sc);
        if (sc->p >= sc->end || *sc->p != ':')
            return -1;
        sc->p++;
        s_sink_t sink;
        s_ctx_t child = s_route(sc, ctx, key, &sink);
        if (s_value(sc, child, sink) != 0)
            return -1;
        s_space(sc);
        if (sc->p >= sc->end)
            return -1;
        if (*sc->p == '}') {
            sc->p++;
            return 0;
        }
        if (*sc->p != ',')
            return -1;
        sc->p++;
        s_space(sc);
    }
    return -1;
}

static int s_array(s_scanner_t *sc, s_ctx_t ctx)
{
    sc->p++; //  '['
    s_space(sc);
    if (sc->p < sc->end && *sc->p == ']') {
        sc->p++;
        return 0;
    }
    s_ctx_t item = ctx == S_CTX_HISTORY ? S_CTX_HISTORY_ITEM : S_CTX_SKIP;
    while (sc->p < sc->end) {
        sc->item_seq_set = false;
        if (s_value(sc, item, (s_sink_t){NULL, NULL, NULL}) != 0)
            return -1;
        if (item == S_CTX_HISTORY_ITEM && sc->item_seq_set && sc->item_seq > sc->out->history_seq)
            sc->out->history_seq = sc->item_seq;
        if (ctx == S_CTX_ROOMS)
            sc->out->n_rooms++;
        s_space(sc);
        if (sc->p >= sc->end)
            return -1;
        if (*sc->p == ']') {
            sc->p++;
            return 0;
        }
        if (*sc->p != ',')
            return -1;
        sc->p++;
    }
    return -1;
}

static int s_value(s_scanner_t *sc, s_ctx_t ctx, s_sink_t sink)
{
    s_space(sc);
    if (sc->p >= sc->end)
        return -1;
    int rc;
    switch (*sc->p) {
    case '{':
        if (++sc->depth > S_DEPTH_MAX)
            return -1;
        rc = s_object(sc, ctx == S_CTX_HISTORY || ctx == S_CTX_ROOMS ? S_CTX_SKIP : ctx);
        sc->depth--;
        return rc;
    case '[':
        if (++sc->depth > S_DEPTH_MAX)
            return -1;
        rc = s_array(sc, ctx);
        sc->depth--;
        return rc;
    case '"':
        return s_string(sc, sink.str);
    case 't':
        return s_literal(sc, "true");
    case 'f':
        return s_literal(sc, "false");
    case 'n':
        return s_literal(sc, "null");
    default:
        return s_number(sc, sink);
    }
}

//  Message types by name.
static const struct {
    const char *name;
    bench_msg_type_t type;
} s_types[] = {
    {"messageReceived", BENCH_MSG_RECEIVED},
    {"messageAck", BENCH_MSG_ACK},
    {"error", BENCH_MSG_ERROR},
    {"connected", BENCH_MSG_CONNECTED},
    {"roomJoined", BENCH_MSG_ROOM_JOINED},
    {"roomCreated", BENCH_MSG_ROOM_CREATED},
    {"roomsList", BENCH_MSG_ROOMS_LIST},
    {"pong", BENCH_MSG_PONG},
};

int bench_scan(const char *text, size_t len, bench_msg_t *out)
{
    memset(out, 0, sizeof *out);
    s_scanner_t sc;
    memset(&sc, 0, sizeof sc);
    sc.p = text;
    sc.end = text + len;
    sc.out = out;
    s_space(&sc);
    if (sc.p >= sc.end || *sc.p != '{')
        return -1;
    sc.depth = 1;
    if (s_object(&sc, S_CTX_TOP) != 0)
        return -1;
    s_space(&sc);
    if (sc.p != sc.end)
        return -1;
    out->room_id = sc.top_room.p ? sc.top_room : sc.msg_room.p ? sc.msg_room : sc.room_id;
    if (sc.top_seq_set) {
        out->seq = sc.top_seq;
        out->has_seq = true;
    } else if (sc.msg_seq_set) {
        out->seq = sc.msg_seq;
        out->has_seq = true;
    }
    out->type = BENCH_MSG_OTHER;
    for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
        if (bench_span_eq(out->type_name, s_types[i].name)) {
            out->type = s_types[i].type;
            break;
        }
    return 0;
}

bool bench_span_eq(bench_span_t span, const char *s)
{
    size_t n = strlen(s);
    return span.p && span.len == n && memcmp(span.p, s, n) == 0;
}

uint64_t bench_span_u64(bench_span_t span, uint32_t *used)
{
    uint64_t v = 0;
    uint32_t i = 0;
    while (span.p && i < span.len && span.p[i] >= '0' && span.p[i] <= '9' && i < 19)
        v = v * 10 + (uint64_t)(span.p[i++] - '0');
    if (used)
        *used = i;
    return v;
}
