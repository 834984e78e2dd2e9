/*  The room directory through a real cluster (docs/protocol.md, "The room
 *  directory at scale"): getRooms pages, cursors and queries served from
 *  the gateway's catalog, kept fresh by the registry's events and the
 *  roomds' figures, and one encoding shared by many sessions. */
#include "chat_clock.h"
#include "gw_cluster.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gwt_cluster_t C;

static const char *s_extra[] = {"--rate", "0", NULL};

static void s_one(void)
{
    gwt_start(&C, 1, s_extra);
}

static void s_two(void)
{
    gwt_start(&C, 2, s_extra);
}

static void s_stop(void)
{
    gwt_stop(&C);
}

//  Creates rooms named "<prefix> <i>" (i zero-padded to width digits) for
//  i in [from, from + count), a window of them in flight at a time on ws;
//  asserts every one is made.
static void s_create_rooms(chat_ws_t *ws, const char *prefix, int width, int from, int count)
{
    const int window = 50; //  each create is one fsync at the registry: keep the queue short
    int sent = 0, done = 0;
    while (done < count) {
        while (sent < count && sent - done < window) {
            char name[80];
            snprintf(name, sizeof name, "%s %0*d", prefix, width, from + sent);
            chat_ws_sendf(ws, "{\"type\":\"createRoom\",\"name\":\"%s\",\"ref\":\"c%d\"}", name,
                          sent);
            sent++;
        }
        cJSON *reply = chat_ws_recv_type(ws, "roomCreated", true, 15000);
        cr_assert_not_null(reply, "%d of %d rooms made", done, count);
        cr_assert_str_eq(chat_json_str(reply, "type"), "roomCreated", "createRoom: %s",
                         chat_json_str(reply, "code"));
        cJSON_Delete(reply);
        done++;
    }
}

//  A paged getRooms; returns the roomsList (asserted).
static cJSON *s_page(chat_ws_t *ws, const char *query, const char *cursor, int limit)
{
    char text[512];
    int n = snprintf(text, sizeof text, "{\"type\":\"getRooms\",\"limit\":%d,\"ref\":\"g\"", limit);
    if (query)
        n += snprintf(text + n, sizeof text - (size_t)n, ",\"query\":\"%s\"", query);
    if (cursor)
        n += snprintf(text + n, sizeof text - (size_t)n, ",\"cursor\":\"%s\"", cursor);
    snprintf(text + n, sizeof text - (size_t)n, "}");
    cJSON *list = gwt_call(ws, text, "roomsList");
    cr_assert_str_eq(chat_json_str(list, "type"), "roomsList", "getRooms: %s",
                     chat_json_str(list, "code"));
    cr_expect_str_eq(chat_json_str(list, "ref"), "g");
    return list;
}

static cJSON *s_rooms(const cJSON *list)
{
    return cJSON_GetObjectItem(list, "rooms");
}

//  The cursor of a roomsList copied into out ("" when null).
static void s_cursor(const cJSON *list, char *out, size_t cap)
{
    const cJSON *cursor = cJSON_GetObjectItem(list, "cursor");
    cr_assert(cursor && (cJSON_IsNull(cursor) || cJSON_IsString(cursor)),
              "cursor is a string or null");
    snprintf(out, cap, "%s", cJSON_IsString(cursor) ? cursor->valuestring : "");
}

//  Pages through a listing with limit; the ids in order into ids (cap
//  entries, each CHAT_ROOM_ID_MAX + 1). Asserts every page has the same
//  total and that the last cursor is null. Returns the rooms seen.
static int s_walk(chat_ws_t *ws, const char *query, int limit, char (*ids)[65], int cap, int *total)
{
    char cursor[128] = "";
    int n = 0;
    *total = -1;
    for (int pages = 0; pages < 1000; pages++) {
        cJSON *list = s_page(ws, query, cursor[0] ? cursor : NULL, limit);
        int t = (int)chat_json_int(list, "total");
        cr_expect(*total < 0 || *total == t, "total %d then %d", *total, t);
        *total = t;
        const cJSON *r;
        int in_page = 0;
        cJSON_ArrayForEach(r, s_rooms(list))
        {
            cr_assert_lt(n, cap);
            snprintf(ids[n++], 65, "%s", chat_json_str(r, "id"));
            in_page++;
        }
        cr_expect_leq(in_page, limit);
        s_cursor(list, cursor, sizeof cursor);
        cJSON_Delete(list);
        if (!cursor[0])
            return n;
        cr_expect_eq(in_page, limit, "a page before the last is full");
    }
    cr_assert_fail("the listing did not end");
    return n;
}

//  The room with id in a roomsList, or NULL.
static const cJSON *s_find(const cJSON *list, const char *id)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, s_rooms(list)) if (strcmp(chat_json_str(r, "id"), id) == 0) return r;
    return NULL;
}

TestSuite(directory, .init = s_one, .fini = s_stop, .timeout = 180);

Test(directory, pages_cover_every_room_once_in_name_order_and_end_with_a_null_cursor)
{
    chat_ws_t *ws = gwt_login(&C, 0, "maker", NULL);
    s_create_rooms(ws, "Dir Room", 2, 0, 25);
    char ids[64][65];
    int total = 0;
    int n = s_walk(ws, NULL, 7, ids, 64, &total);
    cr_expect_eq(total, 28, "25 rooms and the three of a new cluster");
    cr_assert_eq(n, 28);
    //  Nobody is in any room: name order, ignoring case.
    for (int i = 0; i < 25; i++) {
        char id[32];
        snprintf(id, sizeof id, "dir-room-%02d", i);
        cr_expect_str_eq(ids[i], id);
    }
    cr_expect_str_eq(ids[25], "general");
    cr_expect_str_eq(ids[26], "random");
    cr_expect_str_eq(ids[27], "tech");
    chat_ws_destroy(&ws);
}

Test(directory, a_query_matches_names_in_any_case_and_keeps_its_total_on_every_page)
{
    chat_ws_t *ws = gwt_login(&C, 0, "maker", NULL);
    s_create_rooms(ws, "Dir Room", 2, 0, 25);
    char ids[64][65];
    int total = 0;
    int n = s_walk(ws, "rOOm 1", 4, ids, 64, &total);
    cr_expect_eq(total, 10);
    cr_assert_eq(n, 10);
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof id, "dir-room-1%d", i);
        cr_expect_str_eq(ids[i], id);
    }
    cJSON *none = s_page(ws, "no such name", NULL, 10);
    cr_expect_eq(cJSON_GetArraySize(s_rooms(none)), 0);
    cr_expect_eq(chat_json_int(none, "total"), 0);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(none, "cursor")));
    cJSON_Delete(none);
    //  A query alone pages with the default limit.
    cJSON *list = gwt_call(ws, "{\"type\":\"getRooms\",\"query\":\"TECH\"}", "roomsList");
    cr_expect_eq(cJSON_GetArraySize(s_rooms(list)), 1);
    cr_expect_str_eq(chat_json_str(cJSON_GetArrayItem(s_rooms(list), 0), "id"), "tech");
    cr_expect_null(cJSON_GetObjectItem(list, "ref"), "no ref asked, none echoed");
    cJSON_Delete(list);
    chat_ws_destroy(&ws);
}

//  Polls the first page (limit) until the first rooms are ids with users
//  counts; asserts within 10 s.
static void s_expect_first(chat_ws_t *ws, const char *query, const char *const *ids,
                           const int *users, int n)
{
    int64_t deadline = chat_mono_ms() + 10000;
    char seen[512] = "";
    while (true) {
        cJSON *list = s_page(ws, query, NULL, n + 1);
        bool ok = cJSON_GetArraySize(s_rooms(list)) >= n;
        seen[0] = '\0';
        for (int i = 0; i < cJSON_GetArraySize(s_rooms(list)); i++) {
            const cJSON *r = cJSON_GetArrayItem(s_rooms(list), i);
            int count = cJSON_GetArraySize(cJSON_GetObjectItem(r, "users"));
            char one[96];
            snprintf(one, sizeof one, "%s(%d) ", chat_json_str(r, "id"), count);
            strncat(seen, one, sizeof seen - strlen(seen) - 1);
            if (i < n)
                ok = ok && strcmp(chat_json_str(r, "id"), ids[i]) == 0 && count == users[i];
        }
        cJSON_Delete(list);
        if (ok)
            return;
        cr_assert_lt(chat_mono_ms(), deadline, "first rooms: %s", seen);
        chat_sleep_ms(100);
    }
}

Test(directory, rooms_with_people_come_first_and_counts_follow_joins_and_leaves)
{
    chat_ws_t *ws = gwt_login(&C, 0, "maker", NULL);
    s_create_rooms(ws, "Dir Room", 2, 0, 25);
    chat_ws_t *alice = gwt_login(&C, 0, "alice", "Alice");
    chat_ws_t *bob = gwt_login(&C, 0, "bob", "Bob");
    cJSON_Delete(gwt_join(alice, "dir-room-20"));
    cJSON_Delete(gwt_join(bob, "dir-room-20"));
    cJSON_Delete(gwt_join(alice, "dir-room-05"));
    const char *ids[] = {"dir-room-20", "dir-room-05", "dir-room-00"};
    const int users[] = {2, 1, 0};
    s_expect_first(ws, NULL, ids, users, 3);
    //  The query keeps the same order among its matches.
    const char *two[] = {"dir-room-20", "dir-room-21"};
    const int two_users[] = {2, 0};
    s_expect_first(ws, "room 2", two, two_users, 2);
    //  Both leave the busiest room: it falls back into name order.
    cJSON_Delete(
        gwt_call(alice, "{\"type\":\"leaveRoom\",\"roomId\":\"dir-room-20\"}", "roomLeft"));
    cJSON_Delete(gwt_call(bob, "{\"type\":\"leaveRoom\",\"roomId\":\"dir-room-20\"}", "roomLeft"));
    const char *after[] = {"dir-room-05", "dir-room-00"};
    const int after_users[] = {1, 0};
    s_expect_first(ws, NULL, after, after_users, 2);
    //  A v1 getRooms (every room) shows what happened before it was asked.
    cJSON_Delete(gwt_join(bob, "dir-room-07"));
    cJSON *all = gwt_call(ws, "{\"type\":\"getRooms\"}", "roomsList");
    const cJSON *room = s_find(all, "dir-room-07");
    cr_assert_not_null(room);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(room, "users")), 1);
    cr_expect_eq(chat_json_int(room, "lastSeq"), 1, "bob's join line");
    cJSON_Delete(all);
    chat_ws_destroy(&alice);
    chat_ws_destroy(&bob);
    chat_ws_destroy(&ws);
}

Test(directory, v1_lists_every_room_oldest_first_without_paging_fields)
{
    chat_ws_t *ws = gwt_login(&C, 0, "maker", NULL);
    s_create_rooms(ws, "Zeta", 1, 0, 1);
    s_create_rooms(ws, "Alpha", 1, 0, 1);
    cJSON *all = gwt_call(ws, "{\"type\":\"getRooms\",\"ref\":\"v1\"}", "roomsList");
    cr_expect_str_eq(chat_json_str(all, "ref"), "v1");
    cr_expect_null(cJSON_GetObjectItem(all, "cursor"));
    cr_expect_null(cJSON_GetObjectItem(all, "total"));
    cJSON *rooms = s_rooms(all);
    cr_assert_eq(cJSON_GetArraySize(rooms), 5);
    cr_expect_str_eq(chat_json_str(cJSON_GetArrayItem(rooms, 3), "id"), "zeta-0");
    cr_expect_str_eq(chat_json_str(cJSON_GetArrayItem(rooms, 4), "id"), "alpha-0");
    cJSON_Delete(all);
    chat_ws_destroy(&ws);
}

//  Sends text and expects an error with code and ref "e".
static void s_expect_error(chat_ws_t *ws, const char *text, const char *code)
{
    cJSON *reply = gwt_call(ws, text, "none");
    cr_expect_str_eq(chat_json_str(reply, "type"), "error", "%s", text);
    cr_expect_str_eq(chat_json_str(reply, "code"), code, "%s", text);
    cr_expect_str_eq(chat_json_str(reply, "ref"), "e");
    cJSON_Delete(reply);
}

Test(directory, bad_cursors_and_limits_are_refused_and_a_large_limit_is_served_as_200)
{
    chat_ws_t *ws = gwt_login(&C, 0, "maker", NULL);
    s_expect_error(ws, "{\"type\":\"getRooms\",\"limit\":10,\"cursor\":\"nonsense\",\"ref\":\"e\"}",
                   "bad_request");
    s_expect_error(ws, "{\"type\":\"getRooms\",\"cursor\":\"0.no-such-room\",\"ref\":\"e\"}",
                   "bad_request");
    s_expect_error(ws, "{\"type\":\"getRooms\",\"limit\":0,\"ref\":\"e\"}", "bad_request");
    s_expect_error(ws, "{\"type\":\"getRooms\",\"limit\":\"9\",\"ref\":\"e\"}", "bad_request");
    s_create_rooms(ws, "Many", 3, 0, 205);
    cJSON *list = s_page(ws, NULL, NULL, 1000);
    cr_expect_eq(cJSON_GetArraySize(s_rooms(list)), 200);
    cr_expect_eq(chat_json_int(list, "total"), 208);
    char cursor[128];
    s_cursor(list, cursor, sizeof cursor);
    cr_expect_str_eq(cursor, "0.many-198", "general, then many 000 to 198");
    cJSON_Delete(list);
    list = s_page(ws, NULL, cursor, 1000);
    cr_expect_eq(cJSON_GetArraySize(s_rooms(list)), 8, "many 199 to 204, random, tech");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(list, "cursor")));
    cJSON_Delete(list);
    //  The connection is still fine.
    cJSON_Delete(gwt_call(ws, "{\"type\":\"ping\"}", "pong"));
    chat_ws_destroy(&ws);
}

//  A counter of the gateway's /metrics.
static long long s_metric(int g, const char *name)
{
    static char body[1 << 16];
    cr_assert_eq(gwt_http_get(&C, g, "/metrics", body, sizeof body), 200);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(body, key);
    cr_assert_not_null(at, "no %s in /metrics", name);
    return atoll(at + strlen(key));
}

Test(directory, sessions_asking_for_the_same_page_share_one_encoding)
{
    enum { N = 40 };
    chat_ws_t *ws[N];
    for (int i = 0; i < N; i++) {
        char user[32];
        snprintf(user, sizeof user, "reader-%d", i);
        ws[i] = gwt_login(&C, 0, user, NULL);
    }
    //  Once for the catalog to be in and figures to be fresh.
    cJSON_Delete(s_page(ws[0], NULL, NULL, 50));
    long long built = s_metric(0, "chat_gateway_directory_pages_total");
    long long shared = s_metric(0, "chat_gateway_directory_shared_total");
    for (int i = 0; i < N; i++)
        chat_ws_sendf(ws[i], "{\"type\":\"getRooms\",\"limit\":50,\"ref\":\"r%d\"}", i);
    for (int i = 0; i < N; i++) {
        cJSON *list = chat_ws_recv_type(ws[i], "roomsList", true, 15000);
        cr_assert_not_null(list);
        char ref[16];
        snprintf(ref, sizeof ref, "r%d", i);
        cr_expect_str_eq(chat_json_str(list, "ref"), ref, "each its own ref");
        cr_expect_eq(cJSON_GetArraySize(s_rooms(list)), 3);
        cJSON_Delete(list);
    }
    long long built_now = s_metric(0, "chat_gateway_directory_pages_total") - built;
    long long shared_now = s_metric(0, "chat_gateway_directory_shared_total") - shared;
    cr_expect_leq(built_now, 2, "pages encoded for %d requests: %lld", N, built_now);
    cr_expect_geq(shared_now, N - 2, "requests served from a page encoded before: %lld",
                  shared_now);
    for (int i = 0; i < N; i++)
        chat_ws_destroy(&ws[i]);
}

Test(directory, a_gateway_started_later_reads_a_catalog_of_several_pages, .timeout = 240)
{
    chat_ws_t *ws = gwt_login(&C, 0, "maker", NULL);
    //  More than one page of the gateway's snapshot (2000 rooms).
    s_create_rooms(ws, "Bulk", 4, 0, 2100);
    chat_ws_destroy(&ws);
    int g = gwt_gateway_add(&C, s_extra);
    chat_ws_t *late = gwt_login(&C, g, "late", NULL);
    cJSON *list = s_page(late, NULL, NULL, 1);
    cr_expect_eq(chat_json_int(list, "total"), 2103);
    cJSON_Delete(list);
    //  Rooms from the first and the last pages of the snapshot.
    static char ids[128][65];
    int total = 0;
    int n = s_walk(late, "bulk 00", 40, ids, 128, &total);
    cr_expect_eq(total, 100);
    cr_assert_eq(n, 100);
    cr_expect_str_eq(ids[0], "bulk-0000");
    cr_expect_str_eq(ids[99], "bulk-0099");
    n = s_walk(late, "bulk 20", 40, ids, 128, &total);
    cr_expect_eq(total, 100);
    cr_assert_eq(n, 100);
    cr_expect_str_eq(ids[0], "bulk-2000");
    cr_expect_str_eq(ids[99], "bulk-2099");
    chat_ws_destroy(&late);
}

TestSuite(directory_two, .init = s_two, .fini = s_stop, .timeout = 180);

Test(directory_two, a_room_made_on_another_gateway_is_listed_at_once_and_so_are_its_people)
{
    chat_ws_t *bob = gwt_login(&C, 0, "bob", "Bob");
    chat_ws_t *alice = gwt_login(&C, 1, "alice", "Alice");
    cJSON *made =
        gwt_call(alice, "{\"type\":\"createRoom\",\"name\":\"Fresh Orchid\",\"description\":\"d\"}",
                 "roomCreated");
    cr_assert_str_eq(chat_json_str(made, "type"), "roomCreated");
    cJSON_Delete(made);
    //  Bob is told of it; from then on his gateway lists it.
    cJSON_Delete(gwt_expect(bob, "roomCreated", 10000));
    cJSON *list = s_page(bob, "ORCHID", NULL, 10);
    const cJSON *room = s_find(list, "fresh-orchid");
    cr_assert_not_null(room, "the new room in the other gateway's directory");
    cr_expect_str_eq(chat_json_str(room, "description"), "d");
    cr_expect_eq(chat_json_int(list, "total"), 1);
    cJSON_Delete(list);
    //  Alice's join on her gateway shows on Bob's within a refresh or two.
    cJSON_Delete(gwt_join(alice, "fresh-orchid"));
    const char *ids[] = {"fresh-orchid"};
    const int users[] = {1};
    s_expect_first(bob, "orchid", ids, users, 1);
    chat_ws_destroy(&alice);
    chat_ws_destroy(&bob);
}
