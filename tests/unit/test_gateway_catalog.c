/*  The gateway's room catalog (gw_catalog): listing order, cursors, search,
 *  figures per roomd node, and a search over 100,000 names. */
#include "chat_clock.h"
#include "chat_wire.h"
#include "gw_catalog.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static gw_catalog_t *s_cat;

//  CPU time of this thread, microseconds.
static int64_t s_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_setup(void)
{
    s_cat = gw_catalog_new();
}

static void s_teardown(void)
{
    gw_catalog_destroy(&s_cat);
}

TestSuite(catalog, .init = s_setup, .fini = s_teardown);

static void s_put(const char *id, const char *name, int64_t created_at)
{
    Chat__RoomInfo room = CHAT__ROOM_INFO__INIT;
    room.id = (char *)id;
    room.name = (char *)name;
    room.description = "";
    room.created_at = created_at;
    cr_assert_geq(gw_catalog_put(s_cat, &room), 0);
}

//  A RoomsInfoReply envelope: ids[i] with users[i] users ("u0", "u1", ...)
//  and last seq seqs[i]. Built with protobuf-c's allocator so the catalog
//  can free it.
static Chat__Envelope *s_figures(size_t n, const char *const *ids, const int *users,
                                 const int *seqs)
{
    Chat__RoomsInfoReply reply = CHAT__ROOMS_INFO_REPLY__INIT;
    Chat__RoomInfo infos[16];
    Chat__RoomInfo *ptrs[16];
    Chat__User people[16][8];
    Chat__User *people_ptrs[16][8];
    char names[16][8][8];
    cr_assert_leq(n, 16);
    for (size_t i = 0; i < n; i++) {
        chat__room_info__init(&infos[i]);
        infos[i].id = (char *)ids[i];
        infos[i].last_seq = (uint64_t)seqs[i];
        cr_assert_leq(users[i], 8);
        for (int k = 0; k < users[i]; k++) {
            chat__user__init(&people[i][k]);
            snprintf(names[i][k], sizeof names[i][k], "u%d", k);
            people[i][k].id = names[i][k];
            people_ptrs[i][k] = &people[i][k];
        }
        infos[i].users = people_ptrs[i];
        infos[i].n_users = (size_t)users[i];
        ptrs[i] = &infos[i];
    }
    reply.rooms = ptrs;
    reply.n_rooms = n;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_ROOMS_INFO_REPLY;
    env.rooms_info_reply = &reply;
    uint8_t buf[8192];
    size_t len = chat__envelope__pack(&env, buf);
    return chat__envelope__unpack(NULL, len, buf);
}

//  The ids of a page, joined with spaces, into out.
static long s_page(const char *query, const char *cursor, uint32_t limit, char *out,
                   uint64_t *total, char *next)
{
    Chat__RoomInfo rooms[64];
    long n = gw_catalog_page(s_cat, query, cursor, limit, rooms, total, next);
    out[0] = '\0';
    for (long i = 0; i < n; i++) {
        strcat(out, i ? " " : "");
        strcat(out, rooms[i].id);
    }
    return n;
}

Test(catalog, rooms_are_listed_by_users_then_name_ignoring_ascii_case)
{
    s_put("beta", "Beta", 1);
    s_put("alpha", "alpha", 2);
    s_put("gamma", "GAMMA", 3);
    s_put("delta", "delta", 4);
    const char *ids[] = {"gamma", "delta"};
    const int users[] = {1, 3}, seqs[] = {5, 9};
    Chat__Envelope *env = s_figures(2, ids, users, seqs);
    cr_expect(gw_catalog_figures(s_cat, 1, &env, NULL, 0));
    cr_expect_null(env, "the reply is taken over");
    char out[256], next[GW_CATALOG_CURSOR_MAX];
    uint64_t total;
    cr_assert_eq(s_page("", NULL, 10, out, &total, next), 4);
    cr_expect_str_eq(out, "delta gamma alpha beta");
    cr_expect_eq(total, 4);
    cr_expect_str_eq(next, "", "one page holds it all");

    Chat__RoomInfo rooms[4];
    cr_assert_eq(gw_catalog_page(s_cat, "", NULL, 4, rooms, &total, next), 4);
    cr_expect_eq(rooms[0].n_users, 3);
    cr_expect_str_eq(rooms[0].users[2]->id, "u2");
    cr_expect_eq(rooms[0].last_seq, 9);
    cr_expect_eq(rooms[2].n_users, 0);
}

Test(catalog, a_cursor_continues_after_the_last_room_of_a_page)
{
    const char *names[] = {"e", "c", "a", "d", "b", "f", "g"};
    for (int i = 0; i < 7; i++)
        s_put(names[i], names[i], i);
    const char *ids[] = {"f", "c"};
    const int users[] = {2, 1}, seqs[] = {1, 1};
    Chat__Envelope *env = s_figures(2, ids, users, seqs);
    gw_catalog_figures(s_cat, 1, &env, NULL, 0);
    char out[256], next[GW_CATALOG_CURSOR_MAX], cursor[GW_CATALOG_CURSOR_MAX];
    uint64_t total;
    cr_assert_eq(s_page("", NULL, 3, out, &total, next), 3);
    cr_expect_str_eq(out, "f c a");
    cr_expect_str_eq(next, "0.a");
    snprintf(cursor, sizeof cursor, "%s", next);
    cr_assert_eq(s_page("", cursor, 3, out, &total, next), 3);
    cr_expect_str_eq(out, "b d e");
    cr_expect_eq(total, 7);
    snprintf(cursor, sizeof cursor, "%s", next);
    cr_assert_eq(s_page("", cursor, 3, out, &total, next), 1);
    cr_expect_str_eq(out, "g");
    cr_expect_str_eq(next, "", "the end of the listing");
    //  A cursor among the rooms with users.
    cr_assert_eq(s_page("", "2.f", 2, out, &total, next), 2);
    cr_expect_str_eq(out, "c a");
    cr_expect_str_eq(next, "0.a");
    cr_expect_eq(s_page("", "0.nowhere", 3, out, &total, next), -1, "unknown room");
    cr_expect_eq(s_page("", "x.a", 3, out, &total, next), -1, "bad syntax");
    cr_expect_eq(s_page("", "1a", 3, out, &total, next), -1, "bad syntax");
}

Test(catalog, search_finds_names_containing_the_query_in_any_ascii_case)
{
    s_put("tech", "tech", 1);
    s_put("biotech", "BioTech Talk", 2);
    s_put("general", "general", 3);
    s_put("techno", "Techno", 4);
    s_put("cafe", "Caf\xc3\xa9 TECH", 5);
    const char *ids[] = {"techno"};
    const int users[] = {1}, seqs[] = {1};
    Chat__Envelope *env = s_figures(1, ids, users, seqs);
    gw_catalog_figures(s_cat, 2, &env, NULL, 0);
    char out[256], next[GW_CATALOG_CURSOR_MAX];
    uint64_t total;
    cr_assert_eq(s_page("TeCh", NULL, 10, out, &total, next), 4);
    cr_expect_str_eq(out, "techno biotech cafe tech");
    cr_expect_eq(total, 4);
    //  Paged through the search: same order, same total on every page.
    cr_assert_eq(s_page("tech", NULL, 2, out, &total, next), 2);
    cr_expect_str_eq(out, "techno biotech");
    cr_expect_str_eq(next, "0.biotech");
    char cursor[GW_CATALOG_CURSOR_MAX];
    snprintf(cursor, sizeof cursor, "%s", next);
    cr_assert_eq(s_page("tech", cursor, 2, out, &total, next), 2);
    cr_expect_str_eq(out, "cafe tech");
    cr_expect_eq(total, 4);
    cr_expect_str_eq(next, "");
    cr_expect_eq(s_page("zzz", NULL, 5, out, &total, next), 0);
    cr_expect_eq(total, 0);
    cr_expect_eq(s_page("\xc3\xa9 t", NULL, 5, out, &total, next), 1,
                 "other bytes match as they are");
    cr_expect_str_eq(out, "cafe");
    cr_expect_eq(s_page("lk", NULL, 5, out, &total, next), 1, "the end of a name");
    cr_expect_eq(s_page("kg", NULL, 5, out, &total, next), 0, "never across two names");
}

Test(catalog, a_new_reply_replaces_the_nodes_figures_and_a_dead_node_has_none)
{
    s_put("a", "a", 1);
    s_put("b", "b", 2);
    s_put("c", "c", 3);
    const char *ab[] = {"a", "b"};
    const int u12[] = {1, 2}, s00[] = {4, 7};
    Chat__Envelope *env = s_figures(2, ab, u12, s00);
    uint64_t v0 = gw_catalog_version(s_cat);
    cr_expect(gw_catalog_figures(s_cat, 1, &env, NULL, 0));
    uint64_t v1 = gw_catalog_version(s_cat);
    cr_expect_neq(v0, v1);
    //  The same figures again change nothing.
    env = s_figures(2, ab, u12, s00);
    cr_expect(!gw_catalog_figures(s_cat, 1, &env, NULL, 0));
    cr_expect_eq(gw_catalog_version(s_cat), v1);
    //  b left the reply (passivated): no users, its last seq stays.
    const char *a[] = {"a"};
    const int u1[] = {1}, s4[] = {4};
    env = s_figures(1, a, u1, s4);
    cr_expect(gw_catalog_figures(s_cat, 1, &env, NULL, 0));
    Chat__RoomInfo rooms[3];
    uint64_t total;
    char next[GW_CATALOG_CURSOR_MAX];
    cr_assert_eq(gw_catalog_page(s_cat, "", NULL, 3, rooms, &total, next), 3);
    cr_expect_str_eq(rooms[0].id, "a");
    cr_expect_str_eq(rooms[1].id, "b");
    cr_expect_eq(rooms[1].n_users, 0);
    cr_expect_eq(rooms[1].last_seq, 7);
    //  Another node's reply leaves node 1's rooms alone.
    const char *c[] = {"c"};
    const int u5[] = {5}, s1[] = {1};
    env = s_figures(1, c, u5, s1);
    gw_catalog_figures(s_cat, 2, &env, NULL, 0);
    cr_assert_eq(gw_catalog_page(s_cat, "", NULL, 3, rooms, &total, next), 3);
    cr_expect_str_eq(rooms[0].id, "c");
    cr_expect_str_eq(rooms[1].id, "a");
    cr_expect_eq(rooms[1].n_users, 1);
    cr_expect(gw_catalog_node_gone(s_cat, 2));
    cr_assert_eq(gw_catalog_page(s_cat, "", NULL, 3, rooms, &total, next), 3);
    cr_expect_str_eq(rooms[0].id, "a", "c has nobody once its node is gone");
    cr_expect_eq(rooms[2].n_users, 0);
    cr_expect(!gw_catalog_node_gone(s_cat, 2), "twice changes nothing");
}

Test(catalog, rooms_of_unknown_last_seq_are_asked_about_until_a_reply_covers_them)
{
    s_put("a", "a", 1);
    s_put("b", "b", 2);
    s_put("c", "c", 3);
    gw_catalog_place(s_cat, "a", 1);
    gw_catalog_place(s_cat, "b", 1);
    gw_catalog_place(s_cat, "c", 2);
    gw_catalog_place(s_cat, "nowhere", 1);
    const char *ids[4];
    cr_expect_eq(gw_catalog_unknown(s_cat, 1, ids, 4), 2);
    cr_expect_eq(gw_catalog_unknown(s_cat, 2, ids, 4), 1);
    cr_expect_str_eq(ids[0], "c");
    //  a answered; b asked and left out (the roomd has nothing on it).
    const char *a[] = {"a"};
    const int u0[] = {0}, s3[] = {3};
    Chat__Envelope *env = s_figures(1, a, u0, s3);
    char *asked[] = {"a", "b"};
    gw_catalog_figures(s_cat, 1, &env, asked, 2);
    cr_expect_eq(gw_catalog_unknown(s_cat, 1, ids, 4), 0);
    //  c moved to node 1 before any reply.
    gw_catalog_place(s_cat, "c", 1);
    cr_expect_eq(gw_catalog_unknown(s_cat, 2, ids, 4), 0);
    cr_expect_eq(gw_catalog_unknown(s_cat, 1, ids, 4), 1);
}

Test(catalog, every_room_is_listed_oldest_first_for_v1)
{
    s_put("new", "new", 30);
    s_put("old", "old", 10);
    s_put("mid-b", "mid b", 20);
    s_put("mid-a", "mid a", 20);
    cr_expect_eq(gw_catalog_put(s_cat, &(Chat__RoomInfo)CHAT__ROOM_INFO__INIT), -1);
    Chat__RoomInfo rooms[4];
    cr_assert_eq(gw_catalog_all(s_cat, rooms), 4);
    const char *order[] = {"old", "mid-a", "mid-b", "new"};
    for (int i = 0; i < 4; i++)
        cr_expect_str_eq(rooms[i].id, order[i]);
    cr_expect_eq(gw_catalog_count(s_cat), 4);
    cr_expect(gw_catalog_has(s_cat, "mid-a"));
}

//  A name for room i made of pseudo-random words (deterministic).
static void s_name(unsigned i, char *out, size_t cap)
{
    static const char *words[] = {"Book", "club",    "Tech",   "talk", "garden", "music", "Chess",
                                  "news", "cooking", "travel", "Rust", "photo",  "bikes", "jazz"};
    unsigned x = i * 2654435761u;
    snprintf(out, cap, "%s %s %u", words[x % 14], words[(x >> 8) % 14], i);
}

Test(catalog, a_search_over_100000_names_is_right_and_fast, .timeout = 120)
{
    enum { N = 100000 };
    char id[32], name[64];
    for (unsigned i = 0; i < N; i++) {
        snprintf(id, sizeof id, "room-%u", i);
        s_name(i, name, sizeof name);
        s_put(id, name, i);
    }
    //  A few rooms with users, as after a refresh.
    const char *busy[] = {"room-7", "room-70000", "room-123"};
    const int users[] = {3, 1, 2}, seqs[] = {1, 1, 1};
    Chat__Envelope *env = s_figures(3, busy, users, seqs);
    gw_catalog_figures(s_cat, 1, &env, NULL, 0);

    //  The count the listing gives agrees with a plain scan.
    const char *query = "TECH TALK";
    unsigned expected = 0;
    for (unsigned i = 0; i < N; i++) {
        s_name(i, name, sizeof name);
        char folded[64];
        gw_catalog_fold(name, folded, sizeof folded);
        expected += strstr(folded, "tech talk") != NULL;
    }
    Chat__RoomInfo rooms[50];
    uint64_t total = 0;
    char next[GW_CATALOG_CURSOR_MAX];
    int64_t first = chat_mono_us();
    cr_assert_eq(gw_catalog_page(s_cat, query, NULL, 50, rooms, &total, next), 50);
    int64_t settle_us = chat_mono_us() - first;
    cr_expect_eq(total, expected);
    //  CPU time, not wall time: on a shared machine a search may wait for a
    //  core, which says nothing about what it costs.
    int64_t worst = 0, sum = 0, cpu_worst = 0;
    for (int k = 0; k < 20; k++) {
        int64_t t0 = chat_mono_us(), c0 = s_cpu_us();
        gw_catalog_page(s_cat, k % 2 ? "jazz" : query, NULL, 50, rooms, &total, next);
        int64_t us = chat_mono_us() - t0, cpu = s_cpu_us() - c0;
        sum += us;
        worst = us > worst ? us : worst;
        cpu_worst = cpu > cpu_worst ? cpu : cpu_worst;
    }
    printf("catalog: 100000 rooms, first search %.2f ms (sorts and builds the text), then mean "
           "%.2f ms, worst %.2f ms (%.2f ms of CPU)\n",
           settle_us / 1e3, sum / 20 / 1e3, worst / 1e3, cpu_worst / 1e3);
    //  Far from the 20 ms a search may take end to end, even under ASan.
    cr_expect_lt(cpu_worst, 250000, "a search took %lld us of CPU", (long long)cpu_worst);
    //  Pages of the whole listing: the first one holds the busy rooms.
    cr_assert_eq(gw_catalog_page(s_cat, "", NULL, 50, rooms, &total, next), 50);
    cr_expect_str_eq(rooms[0].id, "room-7");
    cr_expect_str_eq(rooms[1].id, "room-123");
    cr_expect_str_eq(rooms[2].id, "room-70000");
    cr_expect_eq(total, N);
}

Test(catalog, batches_of_rooms_merged_in_keep_the_name_order)
{
    //  Three batches bigger than the one-by-one insertion handles, then a
    //  few: each batch is merged into the rooms listed before.
    char id[32], name[32];
    unsigned n = 0;
    for (int batch = 0; batch < 4; batch++) {
        unsigned size = batch < 3 ? 700 : 5;
        for (unsigned k = 0; k < size; k++, n++) {
            snprintf(id, sizeof id, "r-%u", n);
            snprintf(name, sizeof name, "Name %05u", (n * 7919u) % 100000u);
            s_put(id, name, n);
        }
        gw_catalog_prepare(s_cat);
    }
    Chat__RoomInfo rooms[200];
    uint64_t total = 0;
    char next[GW_CATALOG_CURSOR_MAX] = "", cursor[GW_CATALOG_CURSOR_MAX];
    char prev[64] = "";
    unsigned seen = 0;
    do {
        snprintf(cursor, sizeof cursor, "%s", next);
        long got = gw_catalog_page(s_cat, "", seen ? cursor : NULL, 200, rooms, &total, next);
        cr_assert_geq(got, 0);
        for (long i = 0; i < got; i++, seen++) {
            cr_assert(strcmp(rooms[i].name, prev) > 0, "%s after %s", rooms[i].name, prev);
            snprintf(prev, sizeof prev, "%s", rooms[i].name);
        }
    } while (next[0]);
    cr_expect_eq(seen, n, "every room once");
    cr_expect_eq(total, n);
}

Test(catalog, an_empty_catalog_and_one_without_figures_list_what_they_have)
{
    char out[256], next[GW_CATALOG_CURSOR_MAX];
    uint64_t total = 7;
    cr_expect_eq(s_page("", NULL, 10, out, &total, next), 0);
    cr_expect_eq(total, 0);
    cr_expect_eq(s_page("x", NULL, 10, out, &total, next), 0);
    Chat__RoomInfo none[1];
    cr_expect_eq(gw_catalog_all(s_cat, none), 0);
    s_put("b", "B", 1);
    s_put("a", "a", 2);
    cr_assert_eq(s_page("", NULL, 10, out, &total, next), 2, "no roomd said anything yet");
    cr_expect_str_eq(out, "a b");
    cr_expect_eq(total, 2);
    //  Figures in which nobody is online: still no room with users.
    const char *b[] = {"b"};
    const int u0[] = {0}, s5[] = {5};
    Chat__Envelope *env = s_figures(1, b, u0, s5);
    cr_expect(gw_catalog_figures(s_cat, 1, &env, NULL, 0), "b's last seq changed");
    cr_assert_eq(s_page("", NULL, 10, out, &total, next), 2);
    cr_expect_str_eq(out, "a b");
}
