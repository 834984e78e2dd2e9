/*  fuzz_wsframe: the WebSocket wire format of common/chat_wsframe as the
 *  programs that speak to the gateway use it (chat-bench, the test client):
 *  server frames parsed one after another from a stream, close payloads,
 *  and the server's answer to the opening handshake. Properties: a parsed
 *  frame lies inside the bytes given; any payload encodes and parses back
 *  to itself, masked or not.
 *
 *  The gateway's own receive path (lws's parser, then gw_session) has its
 *  harness in fuzz_gw_session.c.
 */
#include "chat_wsframe.h"
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

//  Parses frame after frame the way a client reads its socket.
static void s_stream(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    size_t at = 0;
    while (at < size) {
        chat_wsframe_t f;
        long n = chat_wsframe_parse(buf + at, size - at, &f);
        if (n <= 0)
            break;
        if ((size_t)n > size - at || f.payload < buf + at || f.len > (uint64_t)n ||
            f.payload + f.len > buf + at + n)
            fuzz_fail("frame of %ld bytes reaches outside the %zu given", n, size - at);
        if (f.opcode == CHAT_WS_OP_CLOSE) {
            const char *reason = NULL;
            size_t reason_len = 0;
            int code = chat_wsframe_close_code(&f, &reason, &reason_len);
            if (f.len < 2 ? code != CHAT_WS_CLOSE_NO_STATUS
                          : reason + reason_len != (const char *)f.payload + f.len)
                fuzz_fail("close frame: code %d, reason of %zu bytes", code, reason_len);
        }
        at += (size_t)n;
    }
    free(buf);
}

//  The input as one payload: encoded, then parsed back.
static void s_round_trip(const uint8_t *data, size_t size, int opcode, const uint8_t *mask)
{
    size_t cap = CHAT_WSFRAME_HEADER_MAX + size;
    uint8_t *wire = malloc(cap);
    if (!wire)
        abort();
    size_t n = chat_wsframe_encode(wire, opcode, true, data, size, mask);
    if (n != chat_wsframe_header_size(size, mask != NULL) + size)
        fuzz_fail("encoded %zu bytes for a payload of %zu", n, size);
    chat_wsframe_t f;
    long used = chat_wsframe_parse(wire, n, &f);
    if (used != (long)n || f.len != size || f.opcode != opcode || !f.fin ||
        f.masked != (mask != NULL) || (size && memcmp(f.payload, data, size) != 0))
        fuzz_fail("a payload of %zu bytes did not parse back (%ld)", size, used);
    if (n > 1 && chat_wsframe_parse(wire, n - 1, &f) != 0)
        fuzz_fail("a frame cut short was not 'more bytes needed'");
    free(wire);
}

//  The input as the server's answer to our opening request.
static void s_handshake(const uint8_t *data, size_t size)
{
    static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    char protocol[32];
    long head = chat_wsframe_response((const char *)data, size, key, protocol, sizeof protocol);
    if (head > (long)size || (head > 0 && strlen(protocol) >= sizeof protocol))
        fuzz_fail("handshake answer: head of %ld bytes in %zu", head, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_stream(data, size);
    s_handshake(data, size);
    if (size <= 70000) {
        static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
        int opcode = size <= 125 && size && (data[0] & 1) ? CHAT_WS_OP_PING : CHAT_WS_OP_TEXT;
        s_round_trip(data, size, opcode, NULL);
        s_round_trip(data, size, opcode, mask);
    }
    return 0;
}
