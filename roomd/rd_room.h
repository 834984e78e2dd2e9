/*  rd_room: the RoomActor (docs/architecture.md, "roomd").
 *
 *  One room's truth in memory: catalog, epoch, seq, the newest messages,
 *  recent client_msg_ids, and members (user id -> name and set of sessions;
 *  a session is (gateway, conn)). Pure logic: no sockets, no LMDB. Older
 *  messages come through an rd_reader_t.
 *
 *  Changes are pending until the caller has stored them: rd_room_commit
 *  makes them the room's committed state; rd_room_rollback undoes every
 *  change since the last commit (messages, seq, ids, members), leaving the
 *  room as it is on disk.
 *
 *  Messages returned by pointer (rd_msg_t, list items) are owned by the room
 *  and valid until its next change, commit or rollback.
 */
#ifndef RD_ROOM_H
#define RD_ROOM_H

#include "chat.pb-c.h"
#include "rd_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RD_ROOM_RECENT 100        //  messages kept in memory, and in a join or room state
#define RD_ROOM_DEDUP_WINDOW 1000 //  client_msg_ids remembered (newest messages)
#define RD_JOIN_SINCE_MAX 1000    //  a join with since gets at most this many
#define RD_HISTORY_DEFAULT 50     //  history limit when none is given
#define RD_HISTORY_BEFORE_MAX 200 //  history limit with before
#define RD_HISTORY_AFTER_MAX 1000 //  history limit with after

typedef struct rd_room rd_room_t;

//  A new, empty room. Strings are copied. Returns NULL when out of memory.
rd_room_t *rd_room_new(const char *id, const char *name, const char *description,
                       int64_t created_at, uint64_t epoch);

//  Frees the room and sets *p to NULL. Safe on NULL.
void rd_room_destroy(rd_room_t **p);

//  Fills a new room from its stored tail: the newest messages, at most
//  RD_ROOM_DEDUP_WINDOW, oldest first, consecutive seqs. They become the
//  committed state. Returns 0, or -1 when the tail is not consecutive or
//  memory runs out.
int rd_room_load(rd_room_t *self, const rd_msglist_t *tail);

const char *rd_room_id(const rd_room_t *self);
uint64_t rd_room_epoch(const rd_room_t *self);
void rd_room_set_epoch(rd_room_t *self, uint64_t epoch);

//  Replaces the catalog fields (strings copied). Returns 0 or -1 (out of memory).
int rd_room_set_catalog(rd_room_t *self, const char *name, const char *description,
                        int64_t created_at);

//  Newest seq, pending messages included.
uint64_t rd_room_last_seq(const rd_room_t *self);

//  Newest seq that has been committed.
uint64_t rd_room_committed_seq(const rd_room_t *self);

//  Users present (each once) and sessions in the room.
size_t rd_room_user_count(const rd_room_t *self);
size_t rd_room_session_count(const rd_room_t *self);

//  True when something changed since the last commit.
bool rd_room_dirty(const rd_room_t *self);

//  What a join did.
typedef struct {
    uint64_t cursor;      //  seq before the join's own line: events > cursor are new to the joiner
    bool session_added;   //  false when the session was already in the room
    const rd_msg_t *line; //  the join line appended, or NULL
} rd_join_t;

//  Adds session (gateway, conn) of user_id to the room; appends the join
//  line "<name> joined the room" when the user was not present and !quiet.
//  An empty user_name means the user id. Returns STATUS_OK, or
//  STATUS_BAD_REQUEST for an invalid user id, name or session.
Chat__Status rd_room_join(rd_room_t *self, const char *user_id, const char *user_name,
                          const char *gateway, uint64_t conn, bool quiet, int64_t now_ms,
                          rd_join_t *out);

//  Removes the session; when its user has no session left, appends the
//  leave line ("<name> left the room") and sets *line to it (else NULL).
//  Returns STATUS_OK, STATUS_NOT_IN_ROOM, or STATUS_BAD_REQUEST.
Chat__Status rd_room_leave(rd_room_t *self, const char *user_id, const char *gateway, uint64_t conn,
                           int64_t now_ms, const rd_msg_t **line);

//  What a send did.
typedef struct {
    uint64_t seq;   //  the message's seq (the original one for a resend)
    bool duplicate; //  client_msg_id seen before: nothing was appended
} rd_send_t;

//  Appends a text message from a session in the room. Returns STATUS_OK,
//  STATUS_NOT_IN_ROOM, STATUS_EMPTY_MESSAGE, STATUS_MESSAGE_TOO_LONG or
//  STATUS_BAD_REQUEST (invalid user id, session, UTF-8 or client_msg_id).
Chat__Status rd_room_send(rd_room_t *self, const char *user_id, const char *user_name,
                          const char *gateway, uint64_t conn, const char *content,
                          const char *client_msg_id, int64_t now_ms, rd_send_t *out);

//  Removes every session of gateway, appending a leave line for each user
//  left without a session. Returns how many sessions were removed.
size_t rd_room_drop_gateway(rd_room_t *self, const char *gateway, int64_t now_ms);

//  Calls fn once per session in the room.
typedef void(rd_session_fn)(void *arg, const char *gateway, uint64_t conn);
void rd_room_each_session(const rd_room_t *self, rd_session_fn *fn, void *arg);

//  The message with seq when the room holds it in memory, else NULL.
const rd_msg_t *rd_room_msg(const rd_room_t *self, uint64_t seq);

//  Appends messages lo..hi (oldest first) to list: older ones through
//  reader, the rest from memory. Returns 0 or -1 (reader or memory failed).
int rd_room_range(const rd_room_t *self, const rd_reader_t *reader, uint64_t lo, uint64_t hi,
                  rd_msglist_t *list);

//  A join's history: without since, the newest RD_ROOM_RECENT with
//  seq <= cursor; with since, the messages since < seq <= cursor, the newest
//  RD_JOIN_SINCE_MAX of them, *truncated when more were left out.
int rd_room_join_history(const rd_room_t *self, const rd_reader_t *reader, uint64_t cursor,
                         bool has_since, uint64_t since, rd_msglist_t *list, bool *truncated);

//  A history request (docs/architecture.md). With after: seq > after, at
//  most limit (<= RD_HISTORY_AFTER_MAX), *has_more when newer ones follow.
//  Else: the limit (default RD_HISTORY_DEFAULT, <= RD_HISTORY_BEFORE_MAX)
//  newest with seq < before (default newest + 1), *has_more when older exist.
//  Limits above the maximum are clamped. Returns 0 or -1.
int rd_room_history(const rd_room_t *self, const rd_reader_t *reader, bool has_after,
                    uint64_t after, bool has_before, uint64_t before, uint32_t limit,
                    rd_msglist_t *list, bool *has_more);

//  Fills info with the room's catalog, present users and last seq. Users
//  point into the room: valid until its next change.
void rd_room_info(rd_room_t *self, Chat__RoomInfo *info);

//  Messages appended since the last commit: seqs committed_seq + 1 .. last_seq.
//  Appends them (borrowed) to list. Returns 0 or -1.
int rd_room_pending(const rd_room_t *self, rd_msglist_t *list);

//  Makes every pending change committed; trims memory to RD_ROOM_RECENT messages.
void rd_room_commit(rd_room_t *self);

//  Undoes every change since the last commit.
void rd_room_rollback(rd_room_t *self);

#endif
