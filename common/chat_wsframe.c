/*  chat_wsframe: see chat_wsframe.h. */
#include "chat_wsframe.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define S_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

size_t chat_wsframe_header_size(uint64_t len, bool masked)
{
    size_t size = len < 126 ? 2 : len < 65536 ? 4 : 10;
    return size + (masked ? 4 : 0);
}

size_t chat_wsframe_header(uint8_t *out, int opcode, bool fin, uint64_t len, const uint8_t *mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    uint8_t mask_bit = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(mask_bit | len);
    } else if (len < 65536) {
        out[n++] = mask_bit | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = mask_bit | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[n++] = (uint8_t)(len >> shift);
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

size_t chat_wsframe_encode(uint8_t *out, int opcode, bool fin, const void *payload, size_t len,
                           const uint8_t *mask)
{
    size_t n = chat_wsframe_header(out, opcode, fin, len, mask);
    const uint8_t *in = payload;
    if (mask)
        for (size_t i = 0; i < len; i++)
            out[n + i] = in[i] ^ mask[i & 3];
    else if (len)
        memcpy(out + n, in, len);
    return n + len;
}

long chat_wsframe_parse(uint8_t *buf, size_t len, chat_wsframe_t *frame)
{
    if (len < 2)
        return 0;
    if (buf[0] & 0x70)
        return -1; //  reserved bits: no extension is ever negotiated
    int opcode = buf[0] & 0x0F;
    bool fin = (buf[0] & 0x80) != 0;
    bool control = (opcode & 0x08) != 0;
    if ((opcode > CHAT_WS_OP_BINARY && !control) || opcode > CHAT_WS_OP_PONG)
        return -1;
    bool masked = (buf[1] & 0x80) != 0;
    uint64_t plen = buf[1] & 0x7F;
    size_t pos = 2;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = ((uint64_t)buf[2] << 8) | buf[3];
        pos = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        if (buf[2] & 0x80)
            return -1;
        plen = 0;
        for (int i = 2; i < 10; i++)
            plen = (plen << 8) | buf[i];
        pos = 10;
    }
    if (control && (!fin || plen > 125))
        return -1;
    size_t mask_at = pos;
    if (masked)
        pos += 4;
    if (len < pos || (uint64_t)(len - pos) < plen)
        return 0;
    if (masked)
        for (uint64_t i = 0; i < plen; i++)
            buf[pos + i] ^= buf[mask_at + (i & 3)];
    frame->opcode = opcode;
    frame->fin = fin;
    frame->masked = masked;
    frame->payload = buf + pos;
    frame->len = plen;
    return (long)(pos + plen);
}

int chat_wsframe_close_code(const chat_wsframe_t *frame, const char **reason, size_t *reason_len)
{
    int code = CHAT_WS_CLOSE_NO_STATUS;
    const char *text = "";
    size_t text_len = 0;
    if (frame->len >= 2) {
        code = (frame->payload[0] << 8) | frame->payload[1];
        text = (const char *)frame->payload + 2;
        text_len = (size_t)frame->len - 2;
    }
    if (reason)
        *reason = text;
    if (reason_len)
        *reason_len = text_len;
    return code;
}

size_t chat_wsframe_close_payload(uint8_t *out, int code, const char *reason)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason ? strlen(reason) : 0;
    if (n > 123)
        n = 123;
    if (n)
        memcpy(out + 2, reason, n);
    return n + 2;
}

// ------------------------------------------------------------ SHA-1, base64

typedef struct {
    uint32_t h[5];     //  chaining state
    uint64_t total;    //  bytes hashed so far
    uint8_t block[64]; //  bytes not yet hashed
    size_t used;       //  bytes in block
} s_sha1_t;

static uint32_t s_rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void s_sha1_block(s_sha1_t *ctx, const uint8_t *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
               ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = s_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = ctx->h[0], b = ctx->h[1], c = ctx->h[2], d = ctx->h[3], e = ctx->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = s_rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = s_rol(b, 30);
        b = a;
        a = t;
    }
    ctx->h[0] += a;
    ctx->h[1] += b;
    ctx->h[2] += c;
    ctx->h[3] += d;
    ctx->h[4] += e;
}

static void s_sha1_update(s_sha1_t *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;
    ctx->total += len;
    while (len) {
        size_t take = 64 - ctx->used < len ? 64 - ctx->used : len;
        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used == 64) {
            s_sha1_block(ctx, ctx->block);
            ctx->used = 0;
        }
    }
}

static void s_sha1(const void *data, size_t len, const void *data2, size_t len2, uint8_t out[20])
{
    s_sha1_t ctx = {{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}, 0, {0}, 0};
    s_sha1_update(&ctx, data, len);
    s_sha1_update(&ctx, data2, len2);
    uint64_t bits = ctx.total * 8;
    uint8_t pad = 0x80;
    s_sha1_update(&ctx, &pad, 1);
    uint8_t zero = 0;
    while (ctx.used != 56)
        s_sha1_update(&ctx, &zero, 1);
    uint8_t tail[8];
    for (int i = 0; i < 8; i++)
        tail[i] = (uint8_t)(bits >> (56 - 8 * i));
    s_sha1_update(&ctx, tail, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(ctx.h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx.h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx.h[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx.h[i];
    }
}

//  Base64 of len bytes into out (room for 4 * ceil(len / 3) + 1).
static void s_base64(const uint8_t *in, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

void chat_wsframe_key(const uint8_t nonce[16], char key[25])
{
    s_base64(nonce, 16, key);
}

void chat_wsframe_accept(const char *key, char accept[29])
{
    uint8_t digest[20];
    s_sha1(key, strlen(key), S_WS_GUID, strlen(S_WS_GUID), digest);
    s_base64(digest, 20, accept);
}

// ---------------------------------------------------------------- handshake

int chat_wsframe_request(char *out, size_t cap, const char *host, const char *path, const char *key,
                         const char *protocol)
{
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s%s%s"
                     "\r\n",
                     path, host, key, protocol ? "Sec-WebSocket-Protocol: " : "",
                     protocol ? protocol : "", protocol ? "\r\n" : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

//  Finds header name (case-insensitive) in the head and copies its trimmed
//  value into out. Returns false when it is absent.
static bool s_header(const char *head, size_t head_len, const char *name, char *out, size_t cap)
{
    size_t name_len = strlen(name);
    const char *p = memchr(head, '\n', head_len); //  skip the status line
    const char *end = head + head_len;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
            line[name_len] == ':') {
            const char *v = line + name_len + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t n = (size_t)(ve - v) < cap - 1 ? (size_t)(ve - v) : cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        p = eol;
    }
    return false;
}

long chat_wsframe_response(const char *buf, size_t len, const char *key, char *protocol,
                           size_t protocol_cap)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i + 4;
            break;
        }
    if (!end)
        return 0;
    size_t head_len = (size_t)(end - buf);
    if (head_len < 12 || strncmp(buf, "HTTP/1.1 101", 12) != 0)
        return -1;
    char value[128], expect[29];
    chat_wsframe_accept(key, expect);
    if (!s_header(buf, head_len, "Sec-WebSocket-Accept", value, sizeof value) ||
        strcmp(value, expect) != 0)
        return -1;
    if (protocol && protocol_cap) {
        if (!s_header(buf, head_len, "Sec-WebSocket-Protocol", protocol, protocol_cap))
            protocol[0] = '\0';
    }
    return (long)head_len;
}
