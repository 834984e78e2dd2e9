/*  chat_config: every setting is a flag with an environment variable beside it.
 *
 *  A program describes its settings in one table of chat_option_t, ended by
 *  an entry whose name is NULL. chat_config_parse fills each option's value
 *  from, in rising priority: its default, its CHAT_* environment variable,
 *  its --flag. --help prints the table. Strings point into argv, the
 *  environment or the table's defaults: they are borrowed, never freed.
 */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stdbool.h>

typedef enum {
    CHAT_OPT_STRING, //  value is const char **
    CHAT_OPT_INT,    //  value is long *
    CHAT_OPT_BOOL,   //  value is bool *; the flag takes no argument, env takes 1/0/true/false
} chat_opt_type_t;

typedef struct {
    const char *name;     //  long flag without the leading "--"
    const char *env;      //  environment variable, or NULL
    chat_opt_type_t type; //  how value is parsed
    const char *def;      //  default as text, or NULL for none
    const char *help;     //  one line for --help
    void *value;          //  where the parsed value goes (see chat_opt_type_t)
} chat_option_t;

//  Parses argv against options. Positional arguments are moved to the end of
//  argv (GNU getopt order); *first_arg receives the index of the first one.
//  Returns 0 on success, 1 when --help was printed (exit 0), -1 after printing
//  an error to stderr (exit 2).
int chat_config_parse(const char *prog, const char *usage, chat_option_t *options, int argc,
                      char **argv, int *first_arg);

//  Prints the --help text: usage, then each option with its env and default.
void chat_config_usage(const char *prog, const char *usage, const chat_option_t *options);

#endif
