/*  chat_config: see chat_config.h. */
#include "chat_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_MAX_OPTIONS 64

static int s_parse_bool(const char *text, bool *out)
{
    if (!strcmp(text, "1") || !strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on"))
        *out = true;
    else if (!strcmp(text, "0") || !strcmp(text, "false") || !strcmp(text, "no") ||
             !strcmp(text, "off") || !strcmp(text, ""))
        *out = false;
    else
        return -1;
    return 0;
}

//  Stores text into the option's value; returns -1 when it does not parse.
static int s_assign(const chat_option_t *opt, const char *text)
{
    switch (opt->type) {
    case CHAT_OPT_STRING:
        *(const char **)opt->value = text;
        return 0;
    case CHAT_OPT_INT: {
        char *end = NULL;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (errno || end == text || *end != '\0')
            return -1;
        *(long *)opt->value = v;
        return 0;
    }
    case CHAT_OPT_BOOL:
        return s_parse_bool(text, (bool *)opt->value);
    }
    return -1;
}

void chat_config_usage(const char *prog, const char *usage, const chat_option_t *options)
{
    printf("usage: %s %s\n\noptions (flag, environment variable, default):\n", prog,
           usage ? usage : "[options]");
    for (const chat_option_t *opt = options; opt->name; opt++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", opt->name, opt->type == CHAT_OPT_BOOL ? "" : " V");
        printf("  %-24s %s\n", flag, opt->help);
        printf("  %-24s [%s%s%s]\n", "", opt->env ? opt->env : "no env",
               opt->def ? ", default " : "", opt->def ? opt->def : "");
    }
    printf("  %-24s %s\n", "--help", "print this and exit");
}

int chat_config_parse(const char *prog, const char *usage, chat_option_t *options, int argc,
                      char **argv, int *first_arg)
{
    int count = 0;
    while (options[count].name)
        count++;
    if (count >= CHAT_MAX_OPTIONS) {
        fprintf(stderr, "%s: too many options\n", prog);
        return -1;
    }

    for (int i = 0; i < count; i++) {
        chat_option_t *opt = &options[i];
        const char *env = opt->env ? getenv(opt->env) : NULL;
        const char *text = env ? env : opt->def;
        if (!text) {
            if (opt->type == CHAT_OPT_BOOL)
                *(bool *)opt->value = false;
            continue;
        }
        if (s_assign(opt, text) != 0) {
            fprintf(stderr, "%s: %s=%s is not a valid value for --%s\n", prog,
                    env ? opt->env : "default", text, opt->name);
            return -1;
        }
    }

    struct option longopts[CHAT_MAX_OPTIONS + 2];
    for (int i = 0; i < count; i++) {
        longopts[i].name = options[i].name;
        longopts[i].has_arg = options[i].type == CHAT_OPT_BOOL ? no_argument : required_argument;
        longopts[i].flag = NULL;
        longopts[i].val = 1000 + i;
    }
    longopts[count] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[count + 1] = (struct option){NULL, 0, NULL, 0};

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            chat_config_usage(prog, usage, options);
            return 1;
        }
        if (c >= 1000 && c < 1000 + count) {
            chat_option_t *opt = &options[c - 1000];
            const char *text = opt->type == CHAT_OPT_BOOL ? "1" : optarg;
            if (s_assign(opt, text) != 0) {
                fprintf(stderr, "%s: --%s %s: not a valid value\n", prog, opt->name, text);
                return -1;
            }
            continue;
        }
        if (optopt >= 1000 && optopt < 1000 + count)
            fprintf(stderr, "%s: --%s needs a value\n", prog, options[optopt - 1000].name);
        else
            fprintf(stderr, "%s: unknown option %s (try --help)\n", prog, argv[optind - 1]);
        return -1;
    }
    if (first_arg)
        *first_arg = optind;
    return 0;
}
