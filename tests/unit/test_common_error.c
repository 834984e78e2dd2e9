/*  The tables from process-level enums to protocol names (chat_error). */
#include "chat_error.h"

#include <criterion/criterion.h>

Test(error, statuses_map_to_the_protocol_error_codes)
{
    cr_expect_str_eq(chat_status_code(CHAT__STATUS__STATUS_NOT_FOUND), "room_not_found");
    cr_expect_str_eq(chat_status_code(CHAT__STATUS__STATUS_ROOM_EXISTS), "room_exists");
    cr_expect_str_eq(chat_status_code(CHAT__STATUS__STATUS_NOT_IN_ROOM), "not_in_room");
    cr_expect_str_eq(chat_status_code(CHAT__STATUS__STATUS_EMPTY_MESSAGE), "empty_message");
    cr_expect_str_eq(chat_status_code(CHAT__STATUS__STATUS_MESSAGE_TOO_LONG), "message_too_long");
    cr_expect_str_eq(chat_status_message(CHAT__STATUS__STATUS_NOT_FOUND), "Room not found");
}

Test(error, statuses_a_client_must_not_see_become_unavailable)
{
    cr_expect_str_eq(chat_status_code(CHAT__STATUS__STATUS_NOT_OWNER), "unavailable");
    cr_expect_str_eq(chat_status_code(CHAT__STATUS__STATUS_UNKNOWN_INSTANCE), "unavailable");
    cr_expect_str_eq(chat_status_code((Chat__Status)999), "internal");
}

Test(error, message_types_have_their_protocol_names)
{
    cr_expect_str_eq(chat_message_type_name(CHAT__MESSAGE_TYPE__MESSAGE_TEXT), "text");
    cr_expect_str_eq(chat_message_type_name(CHAT__MESSAGE_TYPE__MESSAGE_SYSTEM), "system");
    cr_expect_str_eq(chat_message_type_name(CHAT__MESSAGE_TYPE__MESSAGE_JOIN), "join");
    cr_expect_str_eq(chat_message_type_name(CHAT__MESSAGE_TYPE__MESSAGE_LEAVE), "leave");
    cr_expect_str_eq(chat_message_type_name((Chat__MessageType)42), "text");
}
