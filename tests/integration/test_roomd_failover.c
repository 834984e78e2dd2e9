/*  roomd under failure: SIGKILL and restart of a roomd, restart of the registry. */
#include "chat_clock.h"
#include "rd_cluster.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static rdt_cluster_t s_cluster;

static void s_setup(void)
{
    rdt_cluster_start(&s_cluster, 2, NULL);
}

static void s_teardown(void)
{
    rdt_cluster_stop(&s_cluster);
}

TestSuite(roomd_failover, .init = s_setup, .fini = s_teardown, .timeout = 150);

static int s_index_of(const char *node)
{
    for (int i = 0; i < s_cluster.roomd_count; i++)
        if (strcmp(s_cluster.roomd[i].node, node) == 0)
            return i;
    cr_assert_fail("no roomd %s", node);
    return -1;
}

//  Looks room up until its instance differs from old.
static void s_lookup_new_instance(const char *room, const char *old, rdt_place_t *p)
{
    int64_t deadline = chat_mono_ms() + 20000;
    for (;;) {
        rdt_lookup(&s_cluster, room, p);
        if (strcmp(p->instance, old) != 0)
            return;
        cr_assert_lt(chat_mono_ms(), deadline, "%s is still placed on %s", room, old);
        chat_sleep_ms(100);
    }
}

#define ACKED 400

Test(roomd_failover, a_sigkilled_roomd_comes_back_with_every_acked_message)
{
    rdt_place_t p;
    rdt_lookup(&s_cluster, "general", &p);
    int victim = s_index_of(p.node);
    rdt_gw_t *gw = rdt_gw_new("gw-kill");
    rdt_gw_connect(gw, &p);
    uint64_t last = rdt_gw_join(gw, &p, "alice", 1) + 1;
    //  Pipelined sends; only the acknowledged ones count.
    int sent = 0, acked = 0;
    while (acked < ACKED) {
        while (sent < ACKED && sent - acked < 64) {
            char text[64], cid[64];
            snprintf(text, sizeof text, "message %d", sent);
            snprintf(cid, sizeof cid, "gw-kill:%d", sent);
            Chat__Envelope env;
            rdt_send(&env, &p, "alice", gw->id, 1, text, cid);
            rdt_gw_send(gw, p.instance, &env);
            sent++;
        }
        Chat__Envelope *reply = rdt_gw_recv(gw, 10000);
        cr_assert_not_null(reply, "an ack is missing");
        cr_assert_eq(reply->send_reply->status, CHAT__STATUS__STATUS_OK);
        if (reply->send_reply->seq > last)
            last = reply->send_reply->seq;
        acked++;
        chat_envelope_free(&reply);
    }
    cr_assert_eq(last, ACKED + 1);

    //  SIGKILL right after the last ack, then start it again on the same data.
    int status = chat_proc_signal(s_cluster.roomd[victim].proc, SIGKILL, 5000);
    cr_assert(WIFSIGNALED(status), "the roomd was not killed");
    chat_proc_stop(&s_cluster.roomd[victim].proc);
    rdt_roomd_start(&s_cluster, victim);

    rdt_place_t again;
    s_lookup_new_instance("general", p.instance, &again);
    cr_expect_str_eq(again.node, p.node, "the room moved away from its history");
    cr_expect_gt(again.epoch, p.epoch, "a new instance must get a new epoch");

    rdt_gw_t *gw2 = rdt_gw_new("gw-after");
    rdt_gw_connect(gw2, &again);
    static uint64_t seqs[ACKED + 16];
    size_t n = rdt_gw_history(gw2, &again, 0, seqs, ACKED + 16);
    cr_assert_eq(n, ACKED + 1, "history lost messages: %zu of %d", n, ACKED + 1);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(seqs[k], k + 1);

    //  The old grant is refused; the new one continues the seq.
    Chat__Envelope env;
    rdt_send(&env, &p, "alice", gw2->id, 1, "with the old epoch", NULL);
    Chat__Envelope *reply = rdt_gw_call(gw2, again.instance, &env);
    cr_expect_eq(reply->send_reply->status, CHAT__STATUS__STATUS_NOT_OWNER);
    cr_expect_eq(reply->send_reply->epoch, again.epoch);
    chat_envelope_free(&reply);
    rdt_gw_join(gw2, &again, "alice", 1); //  the old process's sessions died with it
    uint64_t seq = rdt_gw_say(gw2, &again, "alice", 1, "after the crash", "gw-after:1");
    cr_expect_eq(seq, ACKED + 3, "seq did not continue (join line + message)");
    rdt_gw_destroy(&gw2);
    rdt_gw_destroy(&gw);
}

Test(roomd_failover, sends_stay_acknowledged_while_the_registry_restarts)
{
    const char *rooms[] = {"general", "random", "tech"};
    rdt_place_t p[3];
    rdt_gw_t *gw = rdt_gw_new("gw-reg");
    for (int i = 0; i < 3; i++) {
        rdt_lookup(&s_cluster, rooms[i], &p[i]);
        rdt_gw_connect(gw, &p[i]);
        rdt_gw_join(gw, &p[i], "bob", 7);
    }
    uint64_t expect[3] = {2, 2, 2};
    int phase = 0; //  0 registry up, 1 registry killed, 2 registry back
    int64_t phase_end = chat_mono_ms() + 1000;
    int sends = 0;
    while (phase < 3) {
        for (int i = 0; i < 3; i++) {
            char text[64];
            snprintf(text, sizeof text, "phase %d send %d", phase, sends);
            uint64_t seq = rdt_gw_say(gw, &p[i], "bob", 7, text, NULL);
            cr_assert_eq(seq, expect[i], "room %s: seq %llu, expected %llu", rooms[i],
                         (unsigned long long)seq, (unsigned long long)expect[i]);
            expect[i]++;
            sends++;
        }
        if (chat_mono_ms() < phase_end)
            continue;
        if (phase == 0) {
            int status = chat_proc_signal(s_cluster.registry, SIGKILL, 5000);
            cr_assert(WIFSIGNALED(status));
            chat_proc_stop(&s_cluster.registry);
            phase_end = chat_mono_ms() + 2500; //  beyond the roomds' lease of 3 heartbeats
        } else if (phase == 1) {
            rdt_registry_start(&s_cluster);
            phase_end = chat_mono_ms() + 1500;
        }
        phase++;
    }
    cr_expect_gt(sends, 30);
    //  The registry knows the roomds again, with the same instances and epochs.
    rdt_wait_live(&s_cluster, 2);
    for (int i = 0; i < 3; i++) {
        rdt_place_t now;
        rdt_lookup(&s_cluster, rooms[i], &now);
        cr_expect_str_eq(now.instance, p[i].instance, "%s changed instance", rooms[i]);
        cr_expect_eq(now.epoch, p[i].epoch, "%s changed epoch", rooms[i]);
        uint64_t seqs[1];
        size_t n = rdt_gw_history(gw, &now, 0, seqs, 1);
        cr_expect_eq(n, expect[i] - 1, "%s holds %zu messages, expected %llu", rooms[i], n,
                     (unsigned long long)(expect[i] - 1));
    }
    rdt_gw_destroy(&gw);
}

Test(roomd_failover, a_roomd_started_before_the_registry_registers_when_it_comes)
{
    chat_proc_stop(&s_cluster.registry);
    chat_proc_stop(&s_cluster.roomd[1].proc);
    //  A fresh node, while the registry is away.
    s_cluster.roomd_count = 3;
    rdt_roomd_t *r = &s_cluster.roomd[2];
    snprintf(r->node, sizeof r->node, "node-2");
    snprintf(r->data, sizeof r->data, "%s/node-2", s_cluster.dir);
    r->port = 0; //  free ports, reported in its ready file once it serves
    r->pub_port = 0;
    rdt_roomd_launch(&s_cluster, 2);
    //  Not an event but its absence: the roomd keeps waiting, does not exit.
    chat_sleep_ms(300);
    cr_assert(chat_proc_alive(r->proc), "roomd gave up without a registry");
    rdt_registry_start(&s_cluster);
    rdt_roomd_start(&s_cluster, 1);
    rdt_roomd_ready(&s_cluster, 2);
    rdt_wait_live(&s_cluster, 3);
}

//  The registry's view of a node: instance, command endpoint, max rooms.
static bool s_node_info(const char *node, char *instance, char *cmd, uint32_t *max_rooms)
{
    Chat__ListNodesRequest req = CHAT__LIST_NODES_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.body_case = CHAT__ENVELOPE__BODY_LIST_NODES;
    env.list_nodes = &req;
    Chat__Envelope *reply = rdt_registry_call(&s_cluster, &env);
    bool found = false;
    for (size_t i = 0; i < reply->list_nodes_reply->n_nodes; i++) {
        Chat__NodeInfo *n = reply->list_nodes_reply->nodes[i];
        if (strcmp(n->node, node) != 0 || !n->live)
            continue;
        snprintf(instance, 96, "%s", n->instance);
        snprintf(cmd, 128, "%s", n->cmd_endpoint);
        *max_rooms = n->max_rooms;
        found = true;
    }
    chat_envelope_free(&reply);
    return found;
}

Test(roomd_failover, the_node_name_stays_with_the_data_and_wildcard_binds_are_advertised)
{
    //  node-1 again, bound to every interface, with a room limit.
    chat_proc_stop(&s_cluster.roomd[1].proc);
    rdt_roomd_t *r = &s_cluster.roomd[1];
    const char *bind = "tcp://*:*", *pub = "tcp://*:*"; //  free ports, on every interface
    const char *args[] = {"--registry",
                          chat_tcp(s_cluster.port),
                          "--bind",
                          bind,
                          "--pub-bind",
                          pub,
                          "--data",
                          r->data,
                          "--advertise-host",
                          "127.0.0.1",
                          "--max-rooms",
                          "5",
                          NULL}; //  no --node: the name comes from the data directory
    r->proc = chat_proc_start("roomd", args, s_cluster.dir, "node-1-again");
    cr_assert(chat_proc_wait_ready(r->proc, 20000), "node-1 did not come back");
    char instance[96] = "", cmd[128] = "", want[128];
    uint32_t max_rooms = 0;
    int64_t deadline = chat_mono_ms() + 20000;
    while (
        !(s_node_info("node-1", instance, cmd, &max_rooms) && strcmp(instance, "node-1/1") != 0)) {
        cr_assert_lt(chat_mono_ms(), deadline,
                     "node-1 did not come back under its name (registry says instance %s)",
                     instance);
        chat_sleep_ms(100);
    }
    cr_expect_str_eq(instance, "node-1/2");
    //  Bound to tcp://0.0.0.0:<free port>, advertised with --advertise-host.
    int port = chat_proc_ready_port(r->proc, "cmd");
    cr_assert_gt(port, 0);
    snprintf(want, sizeof want, "tcp://127.0.0.1:%d", port);
    cr_expect_str_eq(cmd, want);
    cr_expect_eq(max_rooms, 5);
}

Test(roomd_failover, a_registry_that_lost_its_data_rebuilds_placements_from_the_roomds)
{
    char book[72];
    rdt_create_room(&s_cluster, "Book Club", book);
    const char *rooms[] = {book, "general", "random"};
    rdt_place_t before[3];
    rdt_gw_t *gw = rdt_gw_new("gw-lost");
    uint64_t next_seq[3];
    for (int i = 0; i < 3; i++) {
        rdt_lookup(&s_cluster, rooms[i], &before[i]);
        rdt_gw_connect(gw, &before[i]);
        rdt_gw_join(gw, &before[i], "ann", 3);
        for (int k = 0; k < 5; k++)
            next_seq[i] = rdt_gw_say(gw, &before[i], "ann", 3, "before the loss", NULL) + 1;
    }

    //  The registry dies and its data directory is gone.
    int status = chat_proc_signal(s_cluster.registry, SIGKILL, 5000);
    cr_assert(WIFSIGNALED(status));
    chat_proc_stop(&s_cluster.registry);
    char data[600];
    snprintf(data, sizeof data, "rm -rf '%s/registry'", s_cluster.dir);
    cr_assert_eq(system(data), 0);
    rdt_registry_start(&s_cluster);
    rdt_wait_live(&s_cluster, 2);

    //  Every room is found where its history is, and its seq continues.
    for (int i = 0; i < 3; i++) {
        rdt_place_t after;
        rdt_lookup(&s_cluster, rooms[i], &after);
        cr_expect_str_eq(after.node, before[i].node, "%s moved away from its history", rooms[i]);
        cr_expect_geq(after.epoch, before[i].epoch, "%s went back in epoch", rooms[i]);
        rdt_gw_connect(gw, &after);
        if (strcmp(after.instance, before[i].instance) != 0 || after.epoch != before[i].epoch)
            rdt_gw_join(gw, &after, "ann", 3);
        uint64_t seq = rdt_gw_say(gw, &after, "ann", 3, "after the loss", NULL);
        cr_expect_geq(seq, next_seq[i], "%s reused seq %llu", rooms[i], (unsigned long long)seq);
    }
    rdt_gw_destroy(&gw);
}
