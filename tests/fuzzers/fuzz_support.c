/*  fuzz_support: see fuzz_support.h. */
#define _GNU_SOURCE
#include "fuzz_support.h"
#include "chat_log.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool fuzz_next_frame(fuzz_reader_t *r, const uint8_t **frame, size_t *len)
{
    if (r->size < 2)
        return false;
    size_t want = ((size_t)r->data[0] << 8) | r->data[1];
    r->data += 2;
    r->size -= 2;
    *len = want < r->size ? want : r->size;
    *frame = r->data;
    r->data += *len;
    r->size -= *len;
    return true;
}

char *fuzz_strndup(const uint8_t *data, size_t len)
{
    char *copy = strndup((const char *)data, len);
    if (!copy)
        abort();
    return copy;
}

char *fuzz_temp_dir(const char *tag)
{
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    char *path = NULL;
    if (asprintf(&path, "%s/chat-fuzz-%s-XXXXXX", base, tag) < 0 || !mkdtemp(path))
        abort();
    return path;
}

static int s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void fuzz_remove_tree(const char *path)
{
    nftw(path, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

void fuzz_quiet(void)
{
    chat_log_init("fuzz", CHAT_LOG_ERROR);
}

void fuzz_fail(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "fuzz: property broken: ");
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    abort();
}
