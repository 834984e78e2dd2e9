/*  gw_buf: see gw_buf.h. */
#include "gw_buf.h"
#include "chat_wsframe.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Headroom kept in front of the payload for the longest server header.
#define S_HEADROOM CHAT_WSFRAME_SERVER_HEADER_MAX

struct gw_buf {
    uint32_t refs;  //  references; the buffer is freed when it drops to 0
    uint32_t start; //  offset of the frame's first byte (after gw_buf_finish)
    uint32_t len;   //  offset just past the payload's last byte
    uint32_t cap;   //  bytes allocated in data
    bool finished;  //  header written: read-only from now on
    uint8_t data[]; //  headroom, then payload
};

static uint64_t s_live;

gw_buf_t *gw_buf_new(size_t hint)
{
    size_t cap = S_HEADROOM + (hint < 64 ? 64 : hint);
    gw_buf_t *buf = malloc(sizeof *buf + cap);
    if (!buf)
        abort();
    buf->refs = 1;
    buf->start = S_HEADROOM;
    buf->len = S_HEADROOM;
    buf->cap = (uint32_t)cap;
    buf->finished = false;
    s_live++;
    return buf;
}

//  Makes room for extra more payload bytes; returns where they go.
static uint8_t *s_reserve(gw_buf_t **buf_p, size_t extra)
{
    gw_buf_t *buf = *buf_p;
    assert(!buf->finished && buf->refs == 1);
    if ((size_t)buf->len + extra > buf->cap) {
        size_t cap = (size_t)buf->cap * 2;
        while (cap < (size_t)buf->len + extra)
            cap *= 2;
        if (cap > UINT32_MAX)
            abort();
        buf = realloc(buf, sizeof *buf + cap);
        if (!buf)
            abort();
        buf->cap = (uint32_t)cap;
        *buf_p = buf;
    }
    return buf->data + buf->len;
}

void gw_buf_append(gw_buf_t **buf, const void *data, size_t len)
{
    uint8_t *at = s_reserve(buf, len);
    memcpy(at, data, len);
    (*buf)->len += (uint32_t)len;
}

void gw_buf_putc(gw_buf_t **buf, char c)
{
    uint8_t *at = s_reserve(buf, 1);
    *at = (uint8_t)c;
    (*buf)->len++;
}

void gw_buf_puts(gw_buf_t **buf, const char *text)
{
    gw_buf_append(buf, text, strlen(text));
}

//  Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid.
static size_t s_utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t need;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (need >= n)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need + 1;
}

void gw_buf_json_strn(gw_buf_t **buf, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)text;
    //  Worst case 6 output bytes per input byte, plus quotes.
    uint8_t *out = s_reserve(buf, len * 6 + 2);
    uint8_t *o = out;
    *o++ = '"';
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = c;
            i++;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = c;
            i++;
        } else if (c < 0x20) {
            *o++ = '\\';
            switch (c) {
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            case '\b':
                *o++ = 'b';
                break;
            case '\f':
                *o++ = 'f';
                break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = (uint8_t)hex[c >> 4];
                *o++ = (uint8_t)hex[c & 15];
            }
            i++;
        } else {
            size_t seq = s_utf8_seq(s + i, len - i);
            if (seq) {
                memcpy(o, s + i, seq);
                o += seq;
                i += seq;
            } else {
                *o++ = 0xEF; //  U+FFFD
                *o++ = 0xBF;
                *o++ = 0xBD;
                i++;
            }
        }
    }
    *o++ = '"';
    (*buf)->len += (uint32_t)(o - out);
}

void gw_buf_json_str(gw_buf_t **buf, const char *text)
{
    gw_buf_json_strn(buf, text ? text : "", text ? strlen(text) : 0);
}

void gw_buf_json_i64(gw_buf_t **buf, int64_t value)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, value);
    gw_buf_append(buf, tmp, (size_t)n);
}

void gw_buf_json_u64(gw_buf_t **buf, uint64_t value)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    do {
        *--p = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    gw_buf_append(buf, p, (size_t)(tmp + sizeof tmp - p));
}

void gw_buf_json_key(gw_buf_t **buf, const char *name, bool comma)
{
    if (comma)
        gw_buf_putc(buf, ',');
    gw_buf_putc(buf, '"');
    gw_buf_puts(buf, name);
    gw_buf_puts(buf, "\":");
}

void gw_buf_finish(gw_buf_t *buf, int opcode)
{
    gw_buf_finish_fragment(buf, opcode, true);
}

void gw_buf_finish_fragment(gw_buf_t *buf, int opcode, bool fin)
{
    assert(!buf->finished);
    uint64_t payload = buf->len - S_HEADROOM;
    uint8_t header[CHAT_WSFRAME_HEADER_MAX];
    size_t n = chat_wsframe_header(header, opcode, fin, payload, NULL);
    buf->start = (uint32_t)(S_HEADROOM - n);
    memcpy(buf->data + buf->start, header, n);
    buf->finished = true;
}

gw_buf_t *gw_buf_new_control(int opcode, const void *payload, size_t len)
{
    assert(len <= 125);
    gw_buf_t *buf = gw_buf_new(len);
    if (len)
        gw_buf_append(&buf, payload, len);
    gw_buf_finish(buf, opcode);
    return buf;
}

gw_buf_t *gw_buf_ref(gw_buf_t *buf)
{
    buf->refs++;
    return buf;
}

void gw_buf_unref(gw_buf_t **buf_p)
{
    if (!buf_p || !*buf_p)
        return;
    gw_buf_t *buf = *buf_p;
    *buf_p = NULL;
    if (--buf->refs == 0) {
        s_live--;
        free(buf);
    }
}

const uint8_t *gw_buf_frame(const gw_buf_t *buf, size_t *len)
{
    assert(buf->finished);
    *len = buf->len - buf->start;
    return buf->data + buf->start;
}

const char *gw_buf_payload(const gw_buf_t *buf, size_t *len)
{
    *len = buf->len - S_HEADROOM;
    return (const char *)buf->data + S_HEADROOM;
}

uint64_t gw_buf_live(void)
{
    return s_live;
}
