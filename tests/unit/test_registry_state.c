/*  The registry's tables and their durable copy (reg_state, reg_store). */
#include "chat_test.h"
#include "reg_state.h"
#include "reg_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static char *s_dir;
static reg_store_t *s_store;
static reg_state_t *s_state;

static void s_open(void)
{
    s_store = reg_store_open(s_dir, 16);
    cr_assert_not_null(s_store);
    s_state = reg_state_new(s_store, 1000);
    cr_assert_not_null(s_state);
}

static void s_close(void)
{
    reg_state_destroy(&s_state);
    reg_store_destroy(&s_store);
}

static void s_setup(void)
{
    s_dir = chat_temp_dir("regstate");
    s_open();
}

static void s_teardown(void)
{
    s_close();
    chat_remove_tree(s_dir);
    free(s_dir);
}

//  Registers node with endpoints made from its name; returns the status.
static Chat__Status s_register(const char *node, const char *prev, reg_node_t **out,
                               bool *regranted)
{
    char cmd[64], pub[64];
    snprintf(cmd, sizeof cmd, "tcp://%s:5600", node);
    snprintf(pub, sizeof pub, "tcp://%s:5601", node);
    Chat__RegisterRequest req = CHAT__REGISTER_REQUEST__INIT;
    req.node = (char *)node;
    req.cmd_endpoint = cmd;
    req.pub_endpoint = pub;
    req.prev_instance = (char *)(prev ? prev : "");
    return reg_state_register(s_state, &req, out, regranted);
}

static reg_node_t *s_live_node(const char *name)
{
    reg_node_t *node = NULL;
    bool regranted;
    cr_assert_eq(s_register(name, NULL, &node, &regranted), CHAT__STATUS__STATUS_OK);
    node->live = true;
    node->has_peer = true;
    return node;
}

TestSuite(registry_state, .init = s_setup, .fini = s_teardown);

Test(registry_state, a_new_catalog_has_the_default_rooms)
{
    cr_expect_eq(reg_state_room_count(s_state), 3);
    reg_room_t *general = reg_state_room(s_state, "general");
    cr_assert_not_null(general);
    cr_expect_str_eq(general->description, "General discussion");
    cr_expect_str_eq(reg_state_room(s_state, "random")->description, "Random chat");
    cr_expect_str_eq(reg_state_room(s_state, "tech")->description, "Technology discussions");
    cr_expect_null(general->node);
    cr_expect_gt(general->created_at, 1700000000000);
}

Test(registry_state, room_names_are_unique_case_insensitively_and_ids_are_slugs)
{
    reg_room_t *room = NULL;
    cr_assert_eq(reg_state_create_room(s_state, "  Test Room ", "A test room", 5, &room),
                 CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(room->id, "test-room");
    cr_expect_str_eq(room->name, "Test Room");
    cr_expect_eq(room->created_at, 5);
    cr_expect_eq(reg_state_create_room(s_state, "TEST ROOM", "", 6, &room),
                 CHAT__STATUS__STATUS_ROOM_EXISTS);
    cr_expect_null(room);
    cr_expect_eq(reg_state_create_room(s_state, "General", "", 6, &room),
                 CHAT__STATUS__STATUS_ROOM_EXISTS);
    cr_assert_eq(reg_state_create_room(s_state, "test-room", "", 7, &room),
                 CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(room->id, "test-room-2");
    cr_assert_eq(reg_state_create_room(s_state, "\xe6\x97\xa5\xe6\x9c\xac", "", 8, &room),
                 CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(room->id, "room");
}

Test(registry_state, bad_room_names_and_descriptions_are_refused)
{
    reg_room_t *room = NULL;
    char long_name[80];
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    char long_desc[300];
    memset(long_desc, 'd', 257);
    long_desc[257] = '\0';
    cr_expect_eq(reg_state_create_room(s_state, "", "", 1, &room),
                 CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(reg_state_create_room(s_state, "   ", "", 1, &room),
                 CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(reg_state_create_room(s_state, long_name, "", 1, &room),
                 CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(reg_state_create_room(s_state, "ok", long_desc, 1, &room),
                 CHAT__STATUS__STATUS_INVALID_ROOM);
    cr_expect_eq(reg_state_create_room(s_state, "bad \xff utf8", "", 1, &room),
                 CHAT__STATUS__STATUS_INVALID_ROOM);
    long_name[64] = '\0';
    cr_expect_eq(reg_state_create_room(s_state, long_name, "", 1, &room), CHAT__STATUS__STATUS_OK);
    cr_expect_eq(reg_state_room_count(s_state), 4);
}

Test(registry_state, rooms_nodes_and_grants_survive_a_reopen)
{
    reg_room_t *room = NULL;
    cr_assert_eq(reg_state_create_room(s_state, "Durable", "kept", 9, &room),
                 CHAT__STATUS__STATUS_OK);
    reg_node_t *node = s_live_node("roomd-a");
    cr_assert_eq(reg_state_grant(s_state, room, node), 0);
    cr_expect_eq(room->epoch, 1);
    cr_expect_eq(node->rooms, 1);
    cr_expect_eq(reg_store_next_boot(s_store), 1);
    s_close();
    s_open();
    room = reg_state_room(s_state, "durable");
    cr_assert_not_null(room);
    cr_expect_str_eq(room->description, "kept");
    cr_expect_str_eq(room->node, "roomd-a");
    cr_expect_str_eq(room->instance, "roomd-a/1");
    cr_expect_eq(room->epoch, 1);
    node = reg_state_node(s_state, "roomd-a");
    cr_assert_not_null(node);
    cr_expect_eq(node->rooms, 1);
    cr_expect(node->live, "known nodes get a lease of grace after a restart");
    cr_expect_not(node->has_peer);
    cr_expect_eq(reg_store_next_boot(s_store), 2);
}

Test(registry_state, a_new_process_of_a_node_takes_its_rooms_with_a_higher_epoch)
{
    reg_node_t *node = s_live_node("roomd-a");
    cr_expect_str_eq(node->instance, "roomd-a/1");
    reg_room_t *general = reg_state_room(s_state, "general");
    cr_assert_eq(reg_state_grant(s_state, general, node), 0);
    cr_expect_eq(reg_state_rooms_granted(s_state, node), 1);

    bool regranted = false;
    cr_assert_eq(s_register("roomd-a", NULL, &node, &regranted), CHAT__STATUS__STATUS_OK);
    cr_expect(regranted);
    cr_expect_str_eq(node->instance, "roomd-a/2");
    cr_expect_str_eq(general->instance, "roomd-a/2");
    cr_expect_eq(general->epoch, 2);
    cr_expect_eq(reg_state_rooms_granted(s_state, node), 1);
}

Test(registry_state, re_registering_with_the_current_instance_changes_nothing)
{
    reg_node_t *node = s_live_node("roomd-a");
    reg_room_t *general = reg_state_room(s_state, "general");
    cr_assert_eq(reg_state_grant(s_state, general, node), 0);
    bool regranted = true;
    cr_assert_eq(s_register("roomd-a", "roomd-a/1", &node, &regranted), CHAT__STATUS__STATUS_OK);
    cr_expect_not(regranted);
    cr_expect_str_eq(node->instance, "roomd-a/1");
    cr_expect_eq(general->epoch, 1);
}

Test(registry_state, an_older_process_of_a_node_is_told_it_was_superseded)
{
    reg_node_t *node = s_live_node("roomd-a");
    bool regranted;
    cr_assert_eq(s_register("roomd-a", NULL, &node, &regranted), CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(node->instance, "roomd-a/2");
    cr_expect_eq(s_register("roomd-a", "roomd-a/1", &node, &regranted),
                 CHAT__STATUS__STATUS_NOT_OWNER);
}

Test(registry_state, a_registry_that_lost_its_data_adopts_the_roomds_instance)
{
    reg_node_t *node = NULL;
    bool regranted;
    cr_assert_eq(s_register("roomd-a", "roomd-a/7", &node, &regranted), CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(node->instance, "roomd-a/7");
    cr_expect_eq(node->boot, 7);
}

Test(registry_state, registration_fields_are_validated)
{
    reg_node_t *node = NULL;
    bool regranted;
    cr_expect_eq(s_register("bad name", NULL, &node, &regranted), CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(s_register("", NULL, &node, &regranted), CHAT__STATUS__STATUS_BAD_REQUEST);
    Chat__RegisterRequest req = CHAT__REGISTER_REQUEST__INIT;
    req.node = "roomd-a";
    req.cmd_endpoint = "nowhere";
    req.pub_endpoint = "tcp://x:1";
    cr_expect_eq(reg_state_register(s_state, &req, &node, &regranted),
                 CHAT__STATUS__STATUS_BAD_REQUEST);
    cr_expect_eq(reg_state_node_count(s_state), 0);
}

Test(registry_state, placement_skips_dead_and_full_nodes)
{
    reg_node_t *a = s_live_node("roomd-a");
    reg_node_t *b = s_live_node("roomd-b");
    a->max_rooms = 1;
    b->live = false;
    reg_node_t *chosen = reg_state_choose_node(s_state, "general");
    cr_assert_eq(chosen, a);
    cr_assert_eq(reg_state_grant(s_state, reg_state_room(s_state, "general"), a), 0);
    cr_expect_null(reg_state_choose_node(s_state, "random"), "a is full and b is dead");
    b->live = true;
    cr_expect_eq(reg_state_choose_node(s_state, "random"), b);
    b->has_peer = false;
    cr_expect_null(reg_state_choose_node(s_state, "random"), "b cannot be told of a grant yet");
}

Test(registry_state, nodes_are_found_by_instance)
{
    reg_node_t *a = s_live_node("roomd-a");
    cr_expect_eq(reg_state_node_by_instance(s_state, "roomd-a/1"), a);
    cr_expect_null(reg_state_node_by_instance(s_state, "roomd-a/2"));
    cr_expect_null(reg_state_node_by_instance(s_state, "roomd-b/1"));
    cr_expect_null(reg_state_node_by_instance(s_state, "/1"));
    cr_expect_null(reg_state_node_by_instance(s_state, "garbage"));
}

//  Registers node with the given held rooms (id, name, epoch triples).
static Chat__Status s_register_holding(const char *node, const char *prev, const char *const *held,
                                       size_t count, reg_node_t **out, bool *regranted)
{
    Chat__RoomInfo infos[8];
    Chat__Assignment items[8];
    Chat__Assignment *list[8];
    for (size_t i = 0; i < count; i++) {
        chat__room_info__init(&infos[i]);
        infos[i].id = (char *)held[3 * i];
        infos[i].name = (char *)held[3 * i + 1];
        infos[i].description = "held";
        infos[i].created_at = 77;
        chat__assignment__init(&items[i]);
        items[i].room = &infos[i];
        items[i].epoch = strtoull(held[3 * i + 2], NULL, 10);
        list[i] = &items[i];
    }
    char cmd[64], pub[64];
    snprintf(cmd, sizeof cmd, "tcp://%s:5600", node);
    snprintf(pub, sizeof pub, "tcp://%s:5601", node);
    Chat__RegisterRequest req = CHAT__REGISTER_REQUEST__INIT;
    req.node = (char *)node;
    req.cmd_endpoint = cmd;
    req.pub_endpoint = pub;
    req.prev_instance = (char *)(prev ? prev : "");
    req.held = list;
    req.n_held = count;
    return reg_state_register(s_state, &req, out, regranted);
}

Test(registry_state, a_catalog_that_lost_its_data_adopts_the_rooms_a_roomd_holds)
{
    //  This catalog is new: it has the default rooms, never placed.
    const char *held[] = {"book-club", "Book Club", "4", "general", "general",
                          "6",         "Bad Id!",   "x", "1"};
    reg_node_t *node = NULL;
    bool regranted = false;
    cr_assert_eq(s_register_holding("roomd-a", "roomd-a/3", held, 3, &node, &regranted),
                 CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(node->instance, "roomd-a/3", "the roomd's instance is kept");
    cr_expect_not(regranted);
    reg_room_t *book = reg_state_room(s_state, "book-club");
    cr_assert_not_null(book, "a room the catalog lacked is added");
    cr_expect_str_eq(book->name, "Book Club");
    cr_expect_str_eq(book->description, "held");
    cr_expect_eq(book->created_at, 77);
    cr_expect_str_eq(book->node, "roomd-a");
    cr_expect_str_eq(book->instance, "roomd-a/3");
    cr_expect_eq(book->epoch, 4, "the epoch the roomd stored");
    reg_room_t *general = reg_state_room(s_state, "general");
    cr_expect_str_eq(general->node, "roomd-a", "a never-placed room goes where its history is");
    cr_expect_eq(general->epoch, 6);
    cr_expect_null(reg_state_room(s_state, "Bad Id!"), "malformed rooms are skipped");
    cr_expect_eq(node->rooms, 2);
    cr_expect_eq(reg_state_rooms_granted(s_state, node), 2);

    //  It survives a reopen, and a taken name is made unique.
    s_close();
    s_open();
    reg_room_t *created = NULL;
    cr_assert_eq(reg_state_create_room(s_state, "Book Club", "", 1, &created),
                 CHAT__STATUS__STATUS_ROOM_EXISTS);
    cr_assert_eq(reg_state_create_room(s_state, "Chess", "", 1, &created), CHAT__STATUS__STATUS_OK);
    const char *chess[] = {"chess-old", "chess", "2"};
    cr_assert_eq(s_register_holding("roomd-b", NULL, chess, 1, &node, &regranted),
                 CHAT__STATUS__STATUS_OK);
    reg_room_t *old = reg_state_room(s_state, "chess-old");
    cr_assert_not_null(old);
    cr_expect_str_eq(old->name, "chess (chess-old)");
    cr_expect_eq(old->epoch, 3, "a new instance takes its rooms at epoch + 1");
}

Test(registry_state, a_room_placed_elsewhere_is_not_taken_by_another_holder)
{
    reg_node_t *a = s_live_node("roomd-a");
    reg_room_t *general = reg_state_room(s_state, "general");
    cr_assert_eq(reg_state_grant(s_state, general, a), 0);
    const char *held[] = {"general", "general", "9"};
    reg_node_t *b = NULL;
    bool regranted;
    cr_assert_eq(s_register_holding("roomd-b", NULL, held, 1, &b, &regranted),
                 CHAT__STATUS__STATUS_OK);
    cr_expect_str_eq(general->node, "roomd-a");
    cr_expect_eq(general->epoch, 1);
    cr_expect_eq(b->rooms, 0);
}

Test(registry_state, pages_of_rooms_come_in_id_order_and_cover_the_catalog_once)
{
    //  Created out of id order; the three default rooms are there too.
    const char *names[] = {"zeta", "alpha", "Mid Room", "beta", "omega", "delta"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        reg_room_t *room = NULL;
        cr_assert_eq(reg_state_create_room(s_state, names[i], "", 1000 + (int64_t)i, &room),
                     CHAT__STATUS__STATUS_OK);
    }
    size_t total = reg_state_room_count(s_state);
    cr_assert_eq(total, 9);
    reg_room_t *page[4];
    char after[80] = "";
    size_t seen = 0;
    char prev[80] = "";
    for (int pages = 0; pages < 10; pages++) {
        size_t n = reg_state_rooms_after(s_state, after, page, 4);
        for (size_t i = 0; i < n; i++) {
            cr_expect(strcmp(page[i]->id, prev) > 0, "%s after %s", page[i]->id, prev);
            snprintf(prev, sizeof prev, "%s", page[i]->id);
        }
        seen += n;
        if (n < 4)
            break;
        snprintf(after, sizeof after, "%s", page[n - 1]->id);
    }
    cr_expect_eq(seen, total, "every room once");
    //  A room created between two pages shows in a later page when its id
    //  sorts after the last one read.
    cr_assert_eq(reg_state_rooms_after(s_state, "", page, 2), 2);
    cr_expect_str_eq(page[0]->id, "alpha");
    cr_expect_str_eq(page[1]->id, "beta");
    reg_room_t *room = NULL;
    cr_assert_eq(reg_state_create_room(s_state, "Charlie", "", 2000, &room),
                 CHAT__STATUS__STATUS_OK);
    cr_assert_eq(reg_state_rooms_after(s_state, "beta", page, 1), 1);
    cr_expect_str_eq(page[0]->id, "charlie");
    cr_expect_eq(reg_state_rooms_after(s_state, "zeta", page, 4), 0, "nothing after the last");
}

Test(registry_state, the_id_order_survives_a_reopen)
{
    reg_room_t *room = NULL;
    cr_assert_eq(reg_state_create_room(s_state, "b2", "", 1, &room), CHAT__STATUS__STATUS_OK);
    cr_assert_eq(reg_state_create_room(s_state, "a1", "", 2, &room), CHAT__STATUS__STATUS_OK);
    s_close();
    s_open();
    reg_room_t *page[8];
    size_t n = reg_state_rooms_after(s_state, NULL, page, 8);
    cr_assert_eq(n, 5);
    const char *ids[] = {"a1", "b2", "general", "random", "tech"};
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(page[i]->id, ids[i]);
}
