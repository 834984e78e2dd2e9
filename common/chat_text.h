/*  chat_text: validation of text that users choose, shared by every process
 *  that checks it (docs/protocol.md gives the rules). Lengths are counted in
 *  Unicode code points, not bytes.
 */
#ifndef CHAT_TEXT_H
#define CHAT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_USER_ID_MAX 32
#define CHAT_USER_NAME_MAX 64
#define CHAT_ROOM_NAME_MAX 64
#define CHAT_ROOM_DESC_MAX 256
#define CHAT_ROOM_ID_MAX 64
#define CHAT_CONTENT_MAX 4000

//  Code points in a UTF-8 string of len bytes, or -1 when it is not valid
//  UTF-8 (overlongs, surrogates and values past U+10FFFF are invalid).
long chat_utf8_length(const char *text, size_t len);

//  1 to 32 characters of A-Z a-z 0-9 _ . -
bool chat_valid_user_id(const char *id);

//  Valid UTF-8, 1 to max code points, and not only white space.
bool chat_valid_text(const char *text, long max);

//  True when text is empty after trimming leading and trailing white space.
bool chat_text_blank(const char *text);

//  1 to 64 characters of a-z 0-9 -, as room ids are made by chat_room_slug.
bool chat_valid_room_id(const char *id);

//  Writes the room id a name suggests into out (size >= CHAT_ROOM_ID_MAX + 1):
//  lower case ASCII letters and digits, other runs become one '-', trimmed
//  of '-'. Returns the id's length, which is 0 when the name has no ASCII
//  letter or digit.
size_t chat_room_slug(const char *name, char *out);

//  A hash of the C string key, for zhashx_set_key_hasher on tables of many
//  ids: FNV-1a with a final mix. CZMQ's own (Bernstein) puts ids that
//  differ only in their last characters into long chains, and zhashx grows
//  its bucket array on every long chain it meets: 134 MB of buckets for
//  100,000 room ids, against a few MB with this one.
size_t chat_text_hash(const void *key);

#endif
