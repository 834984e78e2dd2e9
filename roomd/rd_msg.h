/*  rd_msg: one chat message held in a roomd's memory, and lists of messages
 *  gathered for a reply.
 *
 *  An rd_msg_t is one allocation: the protobuf view (pb) points into the
 *  text stored behind it, so a message can be packed without copying and
 *  freed with one free(). A join or leave line also names its subject (the
 *  user who became present or left), stored with it, so that a gateway that
 *  repairs a gap from history can still tell who came or went.
 */
#ifndef RD_MSG_H
#define RD_MSG_H

#include "chat.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    Chat__ChatMessage pb;     //  the message as sent and stored; strings point into text
    const char *subject_id;   //  join/leave line: the user who came or went; else NULL
    const char *subject_name; //  join line: that user's name; else NULL
    Chat__User subject;       //  pb.subject points here on join/leave lines
    char text[];              //  NUL-terminated strings the pointers above refer to
} rd_msg_t;

//  What a new message is made of. NULL strings count as empty.
typedef struct {
    uint64_t seq;              //  the room's sequence number for it
    const char *room_id;       //  room it belongs to
    const char *user_id;       //  author ("system" for join/leave lines)
    const char *user_name;     //  author's display name
    const char *content;       //  text as sent
    int64_t timestamp;         //  ms since the Unix epoch
    Chat__MessageType type;    //  text, system, join or leave
    const char *client_msg_id; //  dedup key of the send, or empty
    const char *subject_id;    //  join/leave: the user concerned, or NULL
    const char *subject_name;  //  join: that user's name, or NULL
} rd_msg_fields_t;

//  Makes a message in one allocation. Returns NULL when out of memory.
//  Free with rd_msg_destroy.
rd_msg_t *rd_msg_new(const rd_msg_fields_t *fields);

//  Copies a stored (unpacked) message. Returns NULL when out of memory.
rd_msg_t *rd_msg_from_pb(const Chat__ChatMessage *pb);

//  Frees a message and sets *p to NULL. Safe on NULL.
void rd_msg_destroy(rd_msg_t **p);

//  A list of messages for one reply, oldest first. Items are either borrowed
//  (messages of a room in memory, valid until the room changes) or owned
//  (unpacked from LMDB, freed by rd_msglist_reset). Reuse one list: reset
//  keeps its arrays.
typedef struct {
    Chat__ChatMessage **items; //  the messages, oldest first
    size_t count;              //  items used
    size_t cap;                //  items allocated
    Chat__ChatMessage **owned; //  the subset of items the list must free
    size_t owned_count;        //  owned used
    size_t owned_cap;          //  owned allocated
} rd_msglist_t;

//  Appends a message. With owned, the list frees it (chat__chat_message__free_unpacked)
//  at reset; when the append fails an owned message is freed at once.
//  Returns 0, or -1 when out of memory.
int rd_msglist_push(rd_msglist_t *list, Chat__ChatMessage *msg, bool owned);

//  Empties the list, freeing owned messages; keeps the arrays for reuse.
void rd_msglist_reset(rd_msglist_t *list);

//  Empties the list and frees its arrays.
void rd_msglist_free(rd_msglist_t *list);

//  Appends to list the stored messages of room_id with lo <= seq <= hi,
//  oldest first. Returns 0, or -1 on failure.
typedef int(rd_reader_fn)(void *ctx, const char *room_id, uint64_t lo, uint64_t hi,
                          rd_msglist_t *list);

//  Where a room finds messages it no longer holds in memory.
typedef struct {
    rd_reader_fn *range; //  the read function
    void *ctx;           //  its first argument
} rd_reader_t;

#endif
