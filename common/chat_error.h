/*  chat_error: the tables from process-level enums to the client protocol's
 *  names: statuses to error codes and messages (docs/protocol.md, "Errors"),
 *  message types to messageType values.
 */
#ifndef CHAT_ERROR_H
#define CHAT_ERROR_H

#include "chat.pb-c.h"

//  The protocol's error code for a status, e.g. "room_not_found".
//  STATUS_OK gives "ok"; a value outside the enum gives "internal".
const char *chat_status_code(Chat__Status status);

//  A short human sentence for the same status, e.g. "Room not found".
const char *chat_status_message(Chat__Status status);

//  The protocol's messageType for a message type: "text", "system", "join"
//  or "leave"; a value outside the enum gives "text".
const char *chat_message_type_name(Chat__MessageType type);

#endif
