/*  chat_error: see chat_error.h. */
#include "chat_error.h"

typedef struct {
    Chat__Status status; //  process-level status
    const char *code;    //  client protocol error code
    const char *message; //  human text sent beside it
} s_entry_t;

static const s_entry_t s_table[] = {
    {CHAT__STATUS__STATUS_OK, "ok", "OK"},
    {CHAT__STATUS__STATUS_BAD_REQUEST, "bad_request", "Bad request"},
    {CHAT__STATUS__STATUS_NOT_FOUND, "room_not_found", "Room not found"},
    //  A client never sees not_owner: the gateway looks up again and retries;
    //  when it gives up, the room is unavailable.
    {CHAT__STATUS__STATUS_NOT_OWNER, "unavailable", "Room is moving, try again"},
    {CHAT__STATUS__STATUS_UNAVAILABLE, "unavailable", "Room is unavailable, try again"},
    {CHAT__STATUS__STATUS_ROOM_EXISTS, "room_exists", "A room with that name exists"},
    {CHAT__STATUS__STATUS_INVALID_ROOM, "invalid_room", "Invalid room name or description"},
    {CHAT__STATUS__STATUS_NOT_IN_ROOM, "not_in_room", "You are not in that room"},
    {CHAT__STATUS__STATUS_INTERNAL, "internal", "Internal error"},
    {CHAT__STATUS__STATUS_UNKNOWN_INSTANCE, "unavailable", "Room is unavailable, try again"},
    {CHAT__STATUS__STATUS_EMPTY_MESSAGE, "empty_message", "Message is empty"},
    {CHAT__STATUS__STATUS_MESSAGE_TOO_LONG, "message_too_long", "Message is too long"},
    //  Clients of a registry quorum follow the leader; a gateway that gives
    //  up answers unavailable.
    {CHAT__STATUS__STATUS_NOT_LEADER, "unavailable", "The registry is changing leaders, try again"},
};

static const s_entry_t *s_find(Chat__Status status)
{
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++)
        if (s_table[i].status == status)
            return &s_table[i];
    return NULL;
}

const char *chat_status_code(Chat__Status status)
{
    const s_entry_t *entry = s_find(status);
    return entry ? entry->code : "internal";
}

const char *chat_status_message(Chat__Status status)
{
    const s_entry_t *entry = s_find(status);
    return entry ? entry->message : "Internal error";
}

const char *chat_message_type_name(Chat__MessageType type)
{
    switch (type) {
    case CHAT__MESSAGE_TYPE__MESSAGE_SYSTEM:
        return "system";
    case CHAT__MESSAGE_TYPE__MESSAGE_JOIN:
        return "join";
    case CHAT__MESSAGE_TYPE__MESSAGE_LEAVE:
        return "leave";
    default:
        return "text";
    }
}
