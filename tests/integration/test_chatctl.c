/*  chatctl against a real registry: tables, JSON, errors and exit codes. */
#include "chat_test.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char *s_dir;
static chat_proc_t *s_registry;
static int s_port;

static bool s_answers(const Chat__Envelope *reply, void *arg)
{
    return reply->body_case == CHAT__ENVELOPE__BODY_STATS_REPLY;
}

static void s_setup(void)
{
    s_dir = chat_temp_dir("chatctl");
    //  The registry's three ports (requests, events, Raft on + 2), below the
    //  ephemeral range.
    s_port = chat_free_ports(3);
    char pub[64];
    snprintf(pub, sizeof pub, "%s", chat_tcp(s_port + 1));
    const char *args[] = {"--bind", chat_tcp(s_port), "--pub-bind", pub, "--data", s_dir, NULL};
    s_registry = chat_proc_start("registry", args, s_dir, "registry");
    cr_assert_not_null(s_registry);
    cr_assert(chat_proc_wait_ready(s_registry, 20000), "the registry did not bind");
    s_port = chat_proc_ready_port(s_registry, "bind");
    Chat__StatsRequest stats = CHAT__STATS_REQUEST__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.req_id = 1;
    env.body_case = CHAT__ENVELOPE__BODY_STATS;
    env.stats = &stats;
    cr_assert(chat_wait_for(chat_tcp(s_port), &env, s_answers, NULL, 20000),
              "the registry at port %d did not answer Stats in 20 s", s_port);
}

static void s_teardown(void)
{
    cr_expect(chat_proc_stop_clean(&s_registry), "the registry did not exit cleanly");
    chat_remove_tree(s_dir);
    free(s_dir);
}

TestSuite(chatctl, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Runs chatctl with args (a shell fragment); returns its exit code and
//  fills out (stdout, then stderr after a line "--stderr--").
static int s_chatctl(const char *args, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "CHAT_REGISTRY=%s CHAT_TIMEOUT_MS=20000 %s/chatctl %s 2>%s/stderr.txt; rc=$?; "
             "echo --stderr--; "
             "cat %s/stderr.txt; exit $rc",
             chat_tcp(s_port), CHAT_BIN_DIR, args, s_dir, s_dir);
    FILE *pipe = popen(cmd, "r");
    cr_assert_not_null(pipe);
    size_t n = fread(out, 1, size - 1, pipe);
    out[n] = '\0';
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(chatctl, rooms_prints_the_catalog_as_a_table)
{
    char out[8192];
    cr_assert_eq(s_chatctl("rooms", out, sizeof out), 0);
    cr_expect(strstr(out, "ID") && strstr(out, "DESCRIPTION"), "header row: %s", out);
    cr_expect(strstr(out, "general") && strstr(out, "General discussion"));
    cr_expect(strstr(out, "random") && strstr(out, "Random chat"));
    cr_expect(strstr(out, "tech") && strstr(out, "Technology discussions"));
    cr_expect(strstr(out, "unplaced"));
}

Test(chatctl, json_output_is_machine_readable)
{
    char out[8192];
    cr_assert_eq(s_chatctl("--json rooms", out, sizeof out), 0);
    *strstr(out, "--stderr--") = '\0';
    cJSON *rooms = cJSON_Parse(out);
    cr_assert_not_null(rooms, "not JSON: %s", out);
    cr_assert(cJSON_IsArray(rooms));
    cr_expect_eq(cJSON_GetArraySize(rooms), 3);
    cJSON *first = cJSON_GetArrayItem(rooms, 0);
    cr_expect_str_eq(cJSON_GetObjectItem(first, "id")->valuestring, "general");
    cr_expect_str_eq(cJSON_GetObjectItem(first, "state")->valuestring, "unplaced");
    cJSON_Delete(rooms);
}

Test(chatctl, create_room_adds_a_room_and_refuses_a_taken_name)
{
    char out[8192];
    cr_assert_eq(s_chatctl("create-room 'Book Club' 'Books we read'", out, sizeof out), 0);
    cr_expect(strstr(out, "book-club"), "%s", out);
    cr_expect_eq(s_chatctl("create-room 'book club'", out, sizeof out), 1);
    cr_expect(strstr(out, "room_exists"), "%s", out);
    cr_expect_eq(s_chatctl("create-room ''", out, sizeof out), 1);
    cr_expect(strstr(out, "invalid_room"), "%s", out);
    cr_assert_eq(s_chatctl("rooms", out, sizeof out), 0);
    cr_expect(strstr(out, "Books we read"), "%s", out);
}

Test(chatctl, where_reports_a_room_that_cannot_be_served)
{
    char out[8192];
    cr_expect_eq(s_chatctl("where general", out, sizeof out), 1);
    cr_expect(strstr(out, "unavailable"), "%s", out);
    cr_expect_eq(s_chatctl("where nowhere", out, sizeof out), 1);
    cr_expect(strstr(out, "room_not_found"), "%s", out);
}

Test(chatctl, a_silent_registry_gives_a_clear_message_and_exit_code_3)
{
    char out[8192];
    char args[256];
    snprintf(args, sizeof args, "--registry %s --timeout-ms 300 nodes", chat_tcp(chat_free_port()));
    cr_expect_eq(s_chatctl(args, out, sizeof out), 3);
    cr_expect(strstr(out, "did not answer within 300 ms"), "%s", out);
}

Test(chatctl, usage_errors_exit_2_and_help_exits_0)
{
    char out[8192];
    cr_expect_eq(s_chatctl("frobnicate", out, sizeof out), 2);
    cr_expect(strstr(out, "unknown command"), "%s", out);
    cr_expect_eq(s_chatctl("where", out, sizeof out), 2);
    cr_expect_eq(s_chatctl("history general --limit 0", out, sizeof out), 2);
    cr_expect_eq(s_chatctl("--help", out, sizeof out), 0);
    cr_expect(strstr(out, "create-room") && strstr(out, "CHAT_REGISTRY"), "%s", out);
}

Test(chatctl, stats_lists_registry_counters)
{
    char out[8192];
    cr_assert_eq(s_chatctl("--json stats", out, sizeof out), 0);
    *strstr(out, "--stderr--") = '\0';
    cJSON *stats = cJSON_Parse(out);
    cr_assert_not_null(stats, "not JSON: %s", out);
    cJSON *registry = cJSON_GetObjectItem(stats, "registry");
    cr_assert_not_null(registry);
    cr_expect_eq(cJSON_GetObjectItem(registry, "rooms")->valuedouble, 3);
    cr_expect_not_null(cJSON_GetObjectItem(stats, "roomds"));
    cJSON_Delete(stats);
}
