/*  rd_msg: see rd_msg.h. */
#include "rd_msg.h"

#include <stdlib.h>
#include <string.h>

static const char *s_or_empty(const char *text)
{
    return text ? text : "";
}

//  Copies text to *cursor, advances it, and returns where the copy starts.
static char *s_put(char **cursor, const char *text, size_t len)
{
    char *start = *cursor;
    memcpy(start, text, len);
    start[len] = '\0';
    *cursor += len + 1;
    return start;
}

rd_msg_t *rd_msg_new(const rd_msg_fields_t *f)
{
    const char *texts[6] = {s_or_empty(f->room_id),       s_or_empty(f->user_id),
                            s_or_empty(f->user_name),     s_or_empty(f->content),
                            s_or_empty(f->client_msg_id), s_or_empty(f->subject_id)};
    const char *subject_name = s_or_empty(f->subject_name);
    size_t lens[7];
    size_t total = 0;
    for (int i = 0; i < 6; i++) {
        lens[i] = strlen(texts[i]);
        total += lens[i] + 1;
    }
    lens[6] = strlen(subject_name);
    total += lens[6] + 1;

    rd_msg_t *msg = malloc(sizeof *msg + total);
    if (!msg)
        return NULL;
    chat__chat_message__init(&msg->pb);
    char *cursor = msg->text;
    msg->pb.seq = f->seq;
    msg->pb.room_id = s_put(&cursor, texts[0], lens[0]);
    msg->pb.user_id = s_put(&cursor, texts[1], lens[1]);
    msg->pb.user_name = s_put(&cursor, texts[2], lens[2]);
    msg->pb.content = s_put(&cursor, texts[3], lens[3]);
    msg->pb.client_msg_id = s_put(&cursor, texts[4], lens[4]);
    msg->pb.timestamp = f->timestamp;
    msg->pb.type = f->type;
    char *subject_id = s_put(&cursor, texts[5], lens[5]);
    char *subject_nm = s_put(&cursor, subject_name, lens[6]);
    msg->subject_id = f->subject_id ? subject_id : NULL;
    msg->subject_name = f->subject_name ? subject_nm : NULL;
    chat__user__init(&msg->subject);
    if (msg->subject_id) {
        msg->subject.id = subject_id;
        msg->subject.name = subject_nm;
        msg->pb.subject = &msg->subject;
    }
    return msg;
}

rd_msg_t *rd_msg_from_pb(const Chat__ChatMessage *pb)
{
    rd_msg_fields_t f = {
        .seq = pb->seq,
        .room_id = pb->room_id,
        .user_id = pb->user_id,
        .user_name = pb->user_name,
        .content = pb->content,
        .timestamp = pb->timestamp,
        .type = pb->type,
        .client_msg_id = pb->client_msg_id,
    };
    if (pb->subject && pb->subject->id && *pb->subject->id) {
        f.subject_id = pb->subject->id;
        f.subject_name = pb->subject->name && *pb->subject->name ? pb->subject->name : NULL;
    }
    return rd_msg_new(&f);
}

void rd_msg_destroy(rd_msg_t **p)
{
    if (p && *p) {
        free(*p);
        *p = NULL;
    }
}

//  Grows an array of pointers to hold at least need items.
static int s_reserve(Chat__ChatMessage ***array, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t next = *cap ? *cap * 2 : 64;
    while (next < need)
        next *= 2;
    Chat__ChatMessage **grown = realloc(*array, next * sizeof **array);
    if (!grown)
        return -1;
    *array = grown;
    *cap = next;
    return 0;
}

int rd_msglist_push(rd_msglist_t *list, Chat__ChatMessage *msg, bool owned)
{
    if (s_reserve(&list->items, &list->cap, list->count + 1) != 0 ||
        (owned && s_reserve(&list->owned, &list->owned_cap, list->owned_count + 1) != 0)) {
        if (owned)
            chat__chat_message__free_unpacked(msg, NULL);
        return -1;
    }
    list->items[list->count++] = msg;
    if (owned)
        list->owned[list->owned_count++] = msg;
    return 0;
}

void rd_msglist_reset(rd_msglist_t *list)
{
    for (size_t i = 0; i < list->owned_count; i++)
        chat__chat_message__free_unpacked(list->owned[i], NULL);
    list->owned_count = 0;
    list->count = 0;
}

void rd_msglist_free(rd_msglist_t *list)
{
    rd_msglist_reset(list);
    free(list->items);
    free(list->owned);
    memset(list, 0, sizeof *list);
}
