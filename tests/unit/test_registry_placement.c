/*  Rendezvous hashing (reg_placement). */
#include "reg_placement.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(placement, is_deterministic)
{
    const char *nodes[] = {"a", "b", "c"};
    cr_expect_eq(reg_placement_choose("general", nodes, 3),
                 reg_placement_choose("general", nodes, 3));
    cr_expect_eq(reg_placement_score("general", "a"), reg_placement_score("general", "a"));
    cr_expect_neq(reg_placement_score("general", "a"), reg_placement_score("general", "b"));
    cr_expect_neq(reg_placement_score("ab", "c"), reg_placement_score("a", "bc"));
}

Test(placement, no_nodes_gives_no_choice)
{
    cr_expect_eq(reg_placement_choose("general", NULL, 0), -1);
}

Test(placement, spreads_rooms_evenly)
{
    const char *nodes[] = {"roomd-1", "roomd-2", "roomd-3"};
    int counts[3] = {0};
    for (int i = 0; i < 3000; i++) {
        char room[32];
        snprintf(room, sizeof room, "room-%d", i);
        counts[reg_placement_choose(room, nodes, 3)]++;
    }
    for (int n = 0; n < 3; n++)
        cr_expect(counts[n] > 850 && counts[n] < 1150, "node %d got %d of 3000", n, counts[n]);
}

Test(placement, removing_a_node_moves_only_its_rooms)
{
    const char *three[] = {"roomd-1", "roomd-2", "roomd-3"};
    const char *two[] = {"roomd-1", "roomd-3"};
    int moved_wrongly = 0, moved = 0;
    for (int i = 0; i < 1000; i++) {
        char room[32];
        snprintf(room, sizeof room, "room-%d", i);
        const char *before = three[reg_placement_choose(room, three, 3)];
        const char *after = two[reg_placement_choose(room, two, 2)];
        if (strcmp(before, after) != 0) {
            moved++;
            if (strcmp(before, "roomd-2") != 0)
                moved_wrongly++;
        }
    }
    cr_expect_eq(moved_wrongly, 0);
    cr_expect_gt(moved, 0);
}
