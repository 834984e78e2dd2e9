/*  The WebSocket codec without I/O (common/chat_wsframe). */
#include "chat_wsframe.h"

#include <criterion/criterion.h>
#include <string.h>

Test(wsframe, accept_key_matches_the_rfc_example)
{
    char accept[29];
    chat_wsframe_accept("dGhlIHNhbXBsZSBub25jZQ==", accept);
    cr_expect_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(wsframe, key_is_the_base64_of_the_nonce)
{
    const uint8_t nonce[16] = "the sample nonce";
    char key[25];
    chat_wsframe_key(nonce, key);
    cr_expect_str_eq(key, "dGhlIHNhbXBsZSBub25jZQ==");
}

Test(wsframe, server_frames_use_the_shortest_length_form)
{
    uint8_t h[CHAT_WSFRAME_HEADER_MAX];
    cr_expect_eq(chat_wsframe_header(h, CHAT_WS_OP_TEXT, true, 125, NULL), 2);
    cr_expect_eq(h[0], 0x81);
    cr_expect_eq(h[1], 125);
    cr_expect_eq(chat_wsframe_header(h, CHAT_WS_OP_TEXT, true, 126, NULL), 4);
    cr_expect_eq(h[1], 126);
    cr_expect_eq((h[2] << 8) | h[3], 126);
    cr_expect_eq(chat_wsframe_header(h, CHAT_WS_OP_BINARY, false, 70000, NULL), 10);
    cr_expect_eq(h[0], 0x02);
    cr_expect_eq(h[1], 127);
    cr_expect_eq((h[7] << 16) | (h[8] << 8) | h[9], 70000);
    cr_expect_eq(chat_wsframe_header_size(70000, true), 14);
}

Test(wsframe, a_masked_frame_parses_back_to_its_payload)
{
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    const char *text = "{\"type\":\"ping\"}";
    uint8_t frame[64];
    size_t n = chat_wsframe_encode(frame, CHAT_WS_OP_TEXT, true, text, strlen(text), mask);
    cr_assert_eq(n, 2 + 4 + strlen(text));
    cr_expect_neq(memcmp(frame + 6, text, strlen(text)), 0, "the payload is masked");
    chat_wsframe_t f;
    cr_assert_eq(chat_wsframe_parse(frame, n, &f), (long)n);
    cr_expect(f.masked);
    cr_expect(f.fin);
    cr_expect_eq(f.opcode, CHAT_WS_OP_TEXT);
    cr_assert_eq(f.len, strlen(text));
    cr_expect_eq(memcmp(f.payload, text, f.len), 0);
}

Test(wsframe, an_incomplete_frame_asks_for_more_bytes)
{
    uint8_t frame[300];
    uint8_t payload[200];
    memset(payload, 'x', sizeof payload);
    size_t n = chat_wsframe_encode(frame, CHAT_WS_OP_TEXT, true, payload, sizeof payload, NULL);
    chat_wsframe_t f;
    for (size_t cut = 0; cut < n; cut++)
        cr_expect_eq(chat_wsframe_parse(frame, cut, &f), 0, "cut at %zu", cut);
    cr_expect_eq(chat_wsframe_parse(frame, n, &f), (long)n);
}

Test(wsframe, broken_headers_are_refused)
{
    chat_wsframe_t f;
    uint8_t rsv[] = {0xC1, 0x00};
    cr_expect_eq(chat_wsframe_parse(rsv, sizeof rsv, &f), -1, "reserved bit");
    uint8_t opcode[] = {0x83, 0x00};
    cr_expect_eq(chat_wsframe_parse(opcode, sizeof opcode, &f), -1, "opcode 3");
    uint8_t fragmented_ping[] = {0x09, 0x00};
    cr_expect_eq(chat_wsframe_parse(fragmented_ping, sizeof fragmented_ping, &f), -1);
    uint8_t long_ping[] = {0x89, 126, 0, 200};
    cr_expect_eq(chat_wsframe_parse(long_ping, sizeof long_ping, &f), -1);
}

Test(wsframe, close_payload_carries_code_and_reason)
{
    uint8_t payload[125];
    size_t n = chat_wsframe_close_payload(payload, 1008, "too slow");
    uint8_t frame[140];
    size_t len = chat_wsframe_encode(frame, CHAT_WS_OP_CLOSE, true, payload, n, NULL);
    chat_wsframe_t f;
    cr_assert_eq(chat_wsframe_parse(frame, len, &f), (long)len);
    const char *reason;
    size_t reason_len;
    cr_expect_eq(chat_wsframe_close_code(&f, &reason, &reason_len), 1008);
    cr_expect_eq(reason_len, 8);
    cr_expect_eq(memcmp(reason, "too slow", 8), 0);
    chat_wsframe_t empty = {.opcode = CHAT_WS_OP_CLOSE, .len = 0};
    cr_expect_eq(chat_wsframe_close_code(&empty, NULL, NULL), CHAT_WS_CLOSE_NO_STATUS);
}

Test(wsframe, handshake_request_and_response_round_trip)
{
    char req[512];
    int n = chat_wsframe_request(req, sizeof req, "localhost:8080", "/ws",
                                 "dGhlIHNhbXBsZSBub25jZQ==", "chat.v1");
    cr_assert_gt(n, 0);
    cr_expect(strstr(req, "GET /ws HTTP/1.1\r\n") == req);
    cr_expect_not_null(strstr(req, "Sec-WebSocket-Protocol: chat.v1\r\n"));
    cr_expect_eq(chat_wsframe_request(req, 10, "h", "/ws", "k", NULL), -1);

    const char *ok = "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                     "Sec-WebSocket-Protocol: chat.v1\r\n\r\nextra";
    char protocol[32];
    long head = chat_wsframe_response(ok, strlen(ok), "dGhlIHNhbXBsZSBub25jZQ==", protocol,
                                      sizeof protocol);
    cr_expect_eq(head, (long)(strlen(ok) - 5));
    cr_expect_str_eq(protocol, "chat.v1");
    cr_expect_eq(chat_wsframe_response(ok, 20, "dGhlIHNhbXBsZSBub25jZQ==", NULL, 0), 0);
    cr_expect_eq(chat_wsframe_response(ok, strlen(ok), "b3RoZXIga2V5IG5vbmNlIQ==", NULL, 0), -1);
    const char *refused = "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n";
    cr_expect_eq(chat_wsframe_response(refused, strlen(refused), "x", NULL, 0), -1);
}
