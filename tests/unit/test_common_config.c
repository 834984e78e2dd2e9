/*  Flags and CHAT_* environment variables (chat_config). */
#include "chat_config.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static const char *s_endpoint;
static long s_port;
static bool s_verbose;

static chat_option_t s_options[] = {
    {"registry", "CHAT_TEST_REGISTRY", CHAT_OPT_STRING, "tcp://127.0.0.1:5555", "registry",
     &s_endpoint},
    {"port", "CHAT_TEST_PORT", CHAT_OPT_INT, "8080", "port", &s_port},
    {"verbose", "CHAT_TEST_VERBOSE", CHAT_OPT_BOOL, NULL, "verbose", &s_verbose},
    {NULL, NULL, 0, NULL, NULL, NULL},
};

static int s_parse(int argc, char **argv, int *first)
{
    return chat_config_parse("test", NULL, s_options, argc, argv, first);
}

Test(config, defaults_apply_without_flags_or_env)
{
    char *argv[] = {"test", NULL};
    unsetenv("CHAT_TEST_PORT");
    cr_assert_eq(s_parse(1, argv, NULL), 0);
    cr_expect_str_eq(s_endpoint, "tcp://127.0.0.1:5555");
    cr_expect_eq(s_port, 8080);
    cr_expect_not(s_verbose);
}

Test(config, environment_overrides_default_and_flag_overrides_environment)
{
    setenv("CHAT_TEST_PORT", "9000", 1);
    setenv("CHAT_TEST_VERBOSE", "true", 1);
    char *argv1[] = {"test", NULL};
    cr_assert_eq(s_parse(1, argv1, NULL), 0);
    cr_expect_eq(s_port, 9000);
    cr_expect(s_verbose);
    char *argv2[] = {"test", "--port", "9100", NULL};
    cr_assert_eq(s_parse(3, argv2, NULL), 0);
    cr_expect_eq(s_port, 9100);
}

Test(config, positional_arguments_are_found_after_options)
{
    unsetenv("CHAT_TEST_PORT");
    char *argv[] = {"test", "history", "general", "--port", "1", NULL};
    int first = 0;
    cr_assert_eq(s_parse(5, argv, &first), 0);
    cr_expect_eq(s_port, 1);
    cr_assert_eq(first, 3);
    cr_expect_str_eq(argv[first], "history");
    cr_expect_str_eq(argv[first + 1], "general");
}

Test(config, bad_values_and_unknown_flags_are_errors)
{
    unsetenv("CHAT_TEST_PORT");
    char *argv1[] = {"test", "--port", "eighty", NULL};
    cr_expect_eq(s_parse(3, argv1, NULL), -1);
    char *argv2[] = {"test", "--nope", NULL};
    cr_expect_eq(s_parse(2, argv2, NULL), -1);
    char *argv3[] = {"test", "--port", NULL};
    cr_expect_eq(s_parse(2, argv3, NULL), -1);
    setenv("CHAT_TEST_PORT", "x", 1);
    char *argv4[] = {"test", NULL};
    cr_expect_eq(s_parse(1, argv4, NULL), -1);
}

Test(config, help_is_reported_to_the_caller)
{
    unsetenv("CHAT_TEST_PORT");
    char *argv[] = {"test", "--help", NULL};
    cr_expect_eq(s_parse(2, argv, NULL), 1);
}
