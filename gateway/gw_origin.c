/*  gw_origin: see gw_origin.h. */
#include "gw_origin.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

//  An origin or a Host, taken apart and lower-cased.
typedef struct {
    char scheme[6];               //  "http" or "https"; "" for a Host
    char host[GW_ORIGIN_MAX + 1]; //  name, IPv4 or [IPv6], lower case
    unsigned port;                //  explicit, or the scheme's default
} s_origin_t;

static unsigned s_default_port(const char *scheme)
{
    return strcmp(scheme, "https") == 0 ? 443 : 80;
}

//  Characters of a host name or address outside brackets.
static bool s_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

//  Parses host[:port] of len bytes at p into o (port defaults to
//  default_port). Returns 0, or -1 for anything else (user info, path,
//  spaces, a bad port).
static int s_authority(const char *p, size_t len, unsigned default_port, s_origin_t *o)
{
    size_t host_len = 0;
    if (len && p[0] == '[') {
        const char *close = memchr(p, ']', len);
        if (!close)
            return -1;
        host_len = (size_t)(close - p) + 1;
        if (host_len < 3)
            return -1;
        for (size_t i = 1; i + 1 < host_len; i++)
            if (!isxdigit((unsigned char)p[i]) && p[i] != ':' && p[i] != '.')
                return -1;
    } else {
        while (host_len < len && s_host_char(p[host_len]))
            host_len++;
    }
    if (host_len == 0 || host_len > GW_ORIGIN_MAX)
        return -1;
    for (size_t i = 0; i < host_len; i++)
        o->host[i] = (char)tolower((unsigned char)p[i]);
    o->host[host_len] = '\0';
    o->port = default_port;
    if (host_len == len)
        return 0;
    if (p[host_len] != ':' || len - host_len < 2 || len - host_len > 6)
        return -1;
    unsigned port = 0;
    for (size_t i = host_len + 1; i < len; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        port = port * 10 + (unsigned)(p[i] - '0');
    }
    if (port == 0 || port > 65535)
        return -1;
    o->port = port;
    return 0;
}

//  Parses an origin ("https://host[:port]") of len bytes. Returns 0 or -1.
static int s_origin(const char *text, size_t len, s_origin_t *o)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < len && !sep; i++)
        if (text[i] == ':' && text[i + 1] == '/' && text[i + 2] == '/')
            sep = text + i;
    if (!sep)
        return -1;
    size_t scheme_len = (size_t)(sep - text);
    if (scheme_len == 4 && strncasecmp(text, "http", 4) == 0)
        strcpy(o->scheme, "http");
    else if (scheme_len == 5 && strncasecmp(text, "https", 5) == 0)
        strcpy(o->scheme, "https");
    else
        return -1;
    const char *authority = sep + 3;
    return s_authority(authority, len - (size_t)(authority - text), s_default_port(o->scheme), o);
}

static bool s_same_place(const s_origin_t *a, const s_origin_t *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

//  One entry of the list, trimmed: [*start, *start + *len).
static const char *s_next_entry(const char *p, const char **start, size_t *len)
{
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    if (!*p)
        return NULL;
    const char *end = p;
    while (*end && *end != ',')
        end++;
    const char *last = end;
    while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
        last--;
    *start = p;
    *len = (size_t)(last - p);
    return end;
}

static bool s_is(const char *entry, size_t len, const char *word)
{
    return len == strlen(word) && strncasecmp(entry, word, len) == 0;
}

bool gw_origin_allowed(const char *allowed, const char *origin, const char *host)
{
    if (!origin)
        return true;
    s_origin_t from;
    bool parsed = s_origin(origin, strlen(origin), &from) == 0;
    s_origin_t reached;
    bool host_ok = parsed && host &&
                   s_authority(host, strlen(host), s_default_port(from.scheme), &reached) == 0;
    const char *entry;
    size_t len;
    for (const char *p = allowed ? allowed : ""; (p = s_next_entry(p, &entry, &len)) != NULL;) {
        s_origin_t listed;
        if (s_is(entry, len, "*"))
            return true;
        if (s_is(entry, len, "self")) {
            if (host_ok && s_same_place(&from, &reached))
                return true;
        } else if (parsed && s_origin(entry, len, &listed) == 0 &&
                   strcmp(listed.scheme, from.scheme) == 0 && s_same_place(&listed, &from)) {
            return true;
        }
    }
    return false;
}

int gw_origin_list_check(const char *allowed, char *why, size_t cap)
{
    const char *entry;
    size_t len;
    for (const char *p = allowed ? allowed : ""; (p = s_next_entry(p, &entry, &len)) != NULL;) {
        s_origin_t o;
        if (s_is(entry, len, "*") || s_is(entry, len, "self") || s_origin(entry, len, &o) == 0)
            continue;
        snprintf(why, cap,
                 "--allowed-origins: '%.*s' is not self, * or scheme://host[:port] "
                 "(http or https, no path)",
                 (int)(len > 100 ? 100 : len), entry);
        return -1;
    }
    return 0;
}
