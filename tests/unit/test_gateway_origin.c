/*  The origin check of WebSocket upgrades (gw_origin). */
#include "gw_origin.h"

#include <criterion/criterion.h>

Test(origin, a_request_without_origin_is_not_a_page_and_is_allowed)
{
    cr_assert(gw_origin_allowed("self", NULL, "chat.example.com"));
    cr_assert(gw_origin_allowed("", NULL, NULL));
}

Test(origin, self_is_the_host_the_request_was_sent_to)
{
    cr_assert(gw_origin_allowed("self", "http://127.0.0.1:8080", "127.0.0.1:8080"));
    cr_assert(gw_origin_allowed("self", "https://Chat.Example.com", "chat.example.com"));
    cr_assert(gw_origin_allowed("self", "https://chat.example.com", "chat.example.com:443"));
    cr_assert(gw_origin_allowed("self", "http://[::1]:9000", "[::1]:9000"));
    //  a TLS proxy in front of a plain gateway: the page is https, Host is passed on
    cr_assert(gw_origin_allowed("self", "https://chat.example.com", "chat.example.com"));
    cr_assert_not(gw_origin_allowed("self", "http://127.0.0.1:8081", "127.0.0.1:8080"));
    cr_assert_not(gw_origin_allowed("self", "http://evil.example", "chat.example.com"));
    cr_assert_not(gw_origin_allowed("self", "https://chat.example.com", "chat.example.com:80"));
    cr_assert_not(gw_origin_allowed("self", "http://chat.example.com", NULL));
}

Test(origin, listed_origins_match_scheme_host_and_port)
{
    const char *list = "self, https://chat.example.com ,http://localhost:3000";
    cr_assert(gw_origin_allowed(list, "https://chat.example.com", "gateway:8080"));
    cr_assert(gw_origin_allowed(list, "https://chat.example.com:443", "gateway:8080"));
    cr_assert(gw_origin_allowed(list, "HTTP://LOCALHOST:3000", "gateway:8080"));
    cr_assert_not(gw_origin_allowed(list, "http://chat.example.com", "gateway:8080"));
    cr_assert_not(gw_origin_allowed(list, "https://chat.example.com:8443", "gateway:8080"));
    cr_assert_not(gw_origin_allowed(list, "https://evil.chat.example.com", "gateway:8080"));
    cr_assert(gw_origin_allowed("*", "https://anyone.example", "gateway:8080"));
}

Test(origin, what_is_not_an_origin_is_refused)
{
    const char *bad[] = {"null",
                         "",
                         "chat.example.com",
                         "ftp://chat.example.com",
                         "https://chat.example.com/",
                         "https://user@chat.example.com",
                         "https://chat.example.com:0",
                         "https://chat.example.com:65536",
                         "https://chat.example.com:",
                         "https://[]",
                         "https://[zz]:80",
                         "https://chat.example.com\r\nX: y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(
            gw_origin_allowed("self,https://chat.example.com", bad[i], "chat.example.com"),
            "allowed %s", bad[i]);
    cr_assert(gw_origin_allowed("*", "null", "x"), "* allows even an opaque origin");
}

Test(origin, the_list_is_checked_at_start)
{
    char why[256];
    cr_assert_eq(gw_origin_list_check("self", why, sizeof why), 0);
    cr_assert_eq(gw_origin_list_check("self,*, https://a.example:8443", why, sizeof why), 0);
    cr_assert_eq(gw_origin_list_check("", why, sizeof why), 0);
    cr_assert_eq(gw_origin_list_check("self,chat.example.com", why, sizeof why), -1);
    cr_assert(strstr(why, "chat.example.com"), "%s", why);
    cr_assert_eq(gw_origin_list_check("https://a.example/path", why, sizeof why), -1);
}
