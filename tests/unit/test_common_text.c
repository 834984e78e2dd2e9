/*  Validation of user-chosen text (chat_text). */
#include "chat_text.h"

#include <criterion/criterion.h>
#include <string.h>

Test(text, counts_code_points_not_bytes)
{
    cr_expect_eq(chat_utf8_length("abc", 3), 3);
    cr_expect_eq(chat_utf8_length("h\xc3\xa9llo", 6), 5);     //  é
    cr_expect_eq(chat_utf8_length("\xe6\x97\xa5", 3), 1);     //  日
    cr_expect_eq(chat_utf8_length("\xf0\x9f\x98\x80", 4), 1); //  emoji
}

Test(text, rejects_invalid_utf8)
{
    cr_expect_eq(chat_utf8_length("\xc3", 1), -1);             //  truncated
    cr_expect_eq(chat_utf8_length("\xc0\xaf", 2), -1);         //  overlong '/'
    cr_expect_eq(chat_utf8_length("\xed\xa0\x80", 3), -1);     //  surrogate
    cr_expect_eq(chat_utf8_length("\xf4\x90\x80\x80", 4), -1); //  past U+10FFFF
    cr_expect_eq(chat_utf8_length("\xff", 1), -1);
    cr_expect_eq(chat_utf8_length("a\x80", 2), -1); //  stray continuation
}

Test(text, user_ids_follow_the_protocol)
{
    cr_expect(chat_valid_user_id("alice"));
    cr_expect(chat_valid_user_id("A.b_c-9"));
    cr_expect(chat_valid_user_id("12345678901234567890123456789012"));
    cr_expect_not(chat_valid_user_id("123456789012345678901234567890123"));
    cr_expect_not(chat_valid_user_id(""));
    cr_expect_not(chat_valid_user_id(NULL));
    cr_expect_not(chat_valid_user_id("al ice"));
    cr_expect_not(chat_valid_user_id("al/ice"));
    cr_expect_not(chat_valid_user_id("h\xc3\xa9"));
}

Test(text, names_are_counted_in_characters_and_not_blank)
{
    char name[200];
    memset(name, 'x', 64);
    name[64] = '\0';
    cr_expect(chat_valid_text(name, 64));
    name[64] = 'x';
    name[65] = '\0';
    cr_expect_not(chat_valid_text(name, 64));
    //  32 two-byte characters = 64 bytes but 32 characters.
    char wide[200] = "";
    for (int i = 0; i < 60; i++)
        strcat(wide, "\xc3\xa9");
    cr_expect(chat_valid_text(wide, 64));
    cr_expect_not(chat_valid_text("   ", 64));
    cr_expect_not(chat_valid_text("", 64));
}

Test(text, blank_means_only_white_space)
{
    cr_expect(chat_text_blank(""));
    cr_expect(chat_text_blank(" \t\r\n "));
    cr_expect_not(chat_text_blank("  x "));
}

Test(text, slugs_make_room_ids)
{
    char id[65];
    cr_expect_eq(chat_room_slug("Test Room", id), 9);
    cr_expect_str_eq(id, "test-room");
    chat_room_slug("  --Hello,  World!! ", id);
    cr_expect_str_eq(id, "hello-world");
    cr_expect_eq(chat_room_slug("\xe6\x97\xa5\xe6\x9c\xac", id), 0);
    cr_expect(chat_valid_room_id("general"));
    cr_expect(chat_valid_room_id("test-room-2"));
    cr_expect_not(chat_valid_room_id("General"));
    cr_expect_not(chat_valid_room_id(""));
    char longname[200];
    memset(longname, 'a', 150);
    longname[150] = '\0';
    cr_expect_eq(chat_room_slug(longname, id), 64);
    cr_expect(chat_valid_room_id(id));
}
