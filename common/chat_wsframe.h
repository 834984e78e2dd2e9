/*  chat_wsframe: the WebSocket wire format (RFC 6455) without any I/O.
 *
 *  Used by the gateway to build server frames once for many recipients, and
 *  by clients (tests, chat-bench) to build masked frames, parse the server's
 *  frames and make or check the opening handshake. Nothing here allocates;
 *  every function works on buffers the caller owns.
 */
#ifndef CHAT_WSFRAME_H
#define CHAT_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAT_WS_OP_CONT 0x0
#define CHAT_WS_OP_TEXT 0x1
#define CHAT_WS_OP_BINARY 0x2
#define CHAT_WS_OP_CLOSE 0x8
#define CHAT_WS_OP_PING 0x9
#define CHAT_WS_OP_PONG 0xA

//  Longest frame header: 2 + 8 (64-bit length) + 4 (mask).
#define CHAT_WSFRAME_HEADER_MAX 14
//  Longest server (unmasked) frame header.
#define CHAT_WSFRAME_SERVER_HEADER_MAX 10

//  Close status a close frame without a code stands for (RFC 6455 7.4.1).
#define CHAT_WS_CLOSE_NO_STATUS 1005

//  One parsed frame. payload points into the buffer given to chat_wsframe_parse.
typedef struct {
    int opcode;             //  CHAT_WS_OP_*
    bool fin;               //  last frame of its message
    bool masked;            //  the sender masked it (clients must, servers must not)
    const uint8_t *payload; //  unmasked payload bytes
    uint64_t len;           //  payload length
} chat_wsframe_t;

//  Bytes of the header of a frame with a payload of len bytes.
size_t chat_wsframe_header_size(uint64_t len, bool masked);

//  Writes a frame header into out (room for CHAT_WSFRAME_HEADER_MAX bytes).
//  mask is NULL for a server frame. Returns the header's length.
size_t chat_wsframe_header(uint8_t *out, int opcode, bool fin, uint64_t len, const uint8_t *mask);

//  Writes a whole frame (header, then payload, masked when mask != NULL) into
//  out, which must hold chat_wsframe_header_size(len, mask) + len bytes.
//  Returns the frame's length.
size_t chat_wsframe_encode(uint8_t *out, int opcode, bool fin, const void *payload, size_t len,
                           const uint8_t *mask);

//  Parses the frame at the start of buf. A masked payload is unmasked in
//  place. Returns the frame's total length when it is complete, 0 when more
//  bytes are needed, -1 when the header breaks RFC 6455 (reserved bits,
//  unknown opcode, fragmented or oversized control frame, 64-bit length with
//  the top bit set).
long chat_wsframe_parse(uint8_t *buf, size_t len, chat_wsframe_t *frame);

//  The status code of a close frame's payload, CHAT_WS_CLOSE_NO_STATUS when
//  it has none. *reason and *reason_len (may be NULL) get the reason text.
int chat_wsframe_close_code(const chat_wsframe_t *frame, const char **reason, size_t *reason_len);

//  Writes a close payload (code, then reason truncated to 123 bytes) into out
//  (room for 125 bytes). Returns its length.
size_t chat_wsframe_close_payload(uint8_t *out, int code, const char *reason);

//  Sec-WebSocket-Key for a 16-byte nonce: base64, 24 chars + NUL.
void chat_wsframe_key(const uint8_t nonce[16], char key[25]);

//  Sec-WebSocket-Accept the server must answer to key: 28 chars + NUL.
void chat_wsframe_accept(const char *key, char accept[29]);

//  Writes the client's opening request (GET path, Host, Upgrade, Connection,
//  Sec-WebSocket-Key/Version, and Sec-WebSocket-Protocol when protocol is
//  not NULL) into out. Returns its length, or -1 when cap is too small.
int chat_wsframe_request(char *out, size_t cap, const char *host, const char *path, const char *key,
                         const char *protocol);

//  Checks the server's answer to the opening request held in buf[0..len).
//  Returns the length of the HTTP head (through the blank line) when it is
//  a 101 with the right Sec-WebSocket-Accept, 0 when the head is not
//  complete yet, -1 when the upgrade was refused or the answer is invalid.
//  When protocol is not NULL it receives the chosen subprotocol ("" for none).
long chat_wsframe_response(const char *buf, size_t len, const char *key, char *protocol,
                           size_t protocol_cap);

#endif
