/*  bench_proc: see bench_proc.h. */
#define _GNU_SOURCE
#include "bench_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Reads a whole (small) /proc file into a malloc'd string, or NULL.
static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

unsigned long bench_proc_parse_listen_inode(const char *text, int port)
{
    //  "  sl  local_address rem_address   st tx_queue:rx_queue tr tm->when retrnsmt   uid  timeout
    //  inode" "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 0
    //  12345 ..."
    const char *line = strchr(text, '\n');
    while (line && *++line) {
        char local[64], remote[64], state[8];
        unsigned long inode = 0;
        int n =
            sscanf(line, "%*s %63s %63s %7s %*s %*s %*s %*s %*s %lu", local, remote, state, &inode);
        const char *colon = strrchr(local, ':');
        if (n == 4 && colon && strcmp(state, "0A") == 0 && strtol(colon + 1, NULL, 16) == port)
            return inode;
        line = strchr(line, '\n');
    }
    return 0;
}

long bench_proc_parse_kb(const char *text, const char *field)
{
    size_t n = strlen(field);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            return strtol(line + n + 1, NULL, 10) * 1024;
    return -1;
}

long bench_proc_parse_sockstat_pages(const char *text)
{
    const char *line = strstr(text, "TCP:");
    if (!line)
        return -1;
    const char *eol = strchr(line, '\n');
    const char *mem = strstr(line, " mem ");
    if (!mem || (eol && mem > eol))
        return -1;
    return strtol(mem + 5, NULL, 10);
}

//  The process with an fd on socket:[inode], or -1.
static pid_t s_owner(unsigned long inode)
{
    char want[64];
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *proc = opendir("/proc");
    if (!proc)
        return -1;
    pid_t found = -1;
    struct dirent *p;
    while (found < 0 && (p = readdir(proc)) != NULL) {
        if (!isdigit((unsigned char)p->d_name[0]))
            continue;
        char dir[300];
        snprintf(dir, sizeof dir, "/proc/%s/fd", p->d_name);
        DIR *fds = opendir(dir);
        if (!fds)
            continue;
        struct dirent *f;
        while ((f = readdir(fds)) != NULL) {
            char path[600], target[64];
            snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
            ssize_t n = readlink(path, target, sizeof target - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            if (strcmp(target, want) == 0) {
                found = (pid_t)atol(p->d_name);
                break;
            }
        }
        closedir(fds);
    }
    closedir(proc);
    return found;
}

pid_t bench_proc_find_listener(int port)
{
    const char *tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (int i = 0; i < 2; i++) {
        char *text = s_slurp(tables[i]);
        unsigned long inode = text ? bench_proc_parse_listen_inode(text, port) : 0;
        free(text);
        if (inode)
            return s_owner(inode);
    }
    return -1;
}

long bench_proc_rss(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *text = s_slurp(path);
    long rss = text ? bench_proc_parse_kb(text, "VmRSS") : -1;
    free(text);
    return rss;
}

void bench_proc_kernel(long *tcp_mem, long *slab)
{
    char *text = s_slurp("/proc/net/sockstat");
    long pages = text ? bench_proc_parse_sockstat_pages(text) : -1;
    free(text);
    *tcp_mem = pages >= 0 ? pages * sysconf(_SC_PAGESIZE) : -1;
    text = s_slurp("/proc/meminfo");
    *slab = text ? bench_proc_parse_kb(text, "Slab") : -1;
    free(text);
}
