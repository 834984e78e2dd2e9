/*  chat_text: see chat_text.h. */
#include "chat_text.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

long chat_utf8_length(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    long count = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            count++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (i + need >= len)
            return -1; //  truncated sequence
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000))
            return -1; //  overlong
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        i += need + 1;
        count++;
    }
    return count;
}

bool chat_valid_user_id(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len < 1 || len > CHAT_USER_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return false;
    }
    return true;
}

bool chat_text_blank(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; p && *p; p++)
        if (!isspace(*p))
            return false;
    return true;
}

bool chat_valid_text(const char *text, long max)
{
    if (!text)
        return false;
    long n = chat_utf8_length(text, strlen(text));
    return n >= 1 && n <= max && !chat_text_blank(text);
}

bool chat_valid_room_id(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len < 1 || len > CHAT_ROOM_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

size_t chat_room_slug(const char *name, char *out)
{
    size_t n = 0;
    bool dash = false;
    for (const unsigned char *p = (const unsigned char *)name; *p && n < CHAT_ROOM_ID_MAX; p++) {
        if (*p < 0x80 && isalnum(*p)) {
            if (dash && n > 0 && n < CHAT_ROOM_ID_MAX - 1)
                out[n++] = '-';
            dash = false;
            out[n++] = (char)tolower(*p);
        } else {
            dash = true;
        }
    }
    out[n] = '\0';
    return n;
}

size_t chat_text_hash(const void *key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    //  The final mix of MurmurHash3: every input bit reaches the low bits.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (size_t)h;
}
