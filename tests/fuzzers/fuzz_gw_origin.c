/*  fuzz_gw_origin: the origin check of WebSocket upgrades (gateway/gw_origin)
 *  on the Origin and Host headers a client sends. Frames (fuzz_support.h):
 *  the --allowed-origins list, the Origin (no frame: no header), the Host.
 *  Properties: no Origin is always allowed; "*" allows every origin; a list
 *  the gateway accepts at start allows an origin it names.
 */
#define _GNU_SOURCE
#include "fuzz_support.h"
#include "gw_origin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reader_t r = {data, size};
    const uint8_t *part[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    int n = 0;
    while (n < 3 && fuzz_next_frame(&r, &part[n], &len[n]))
        n++;
    char *allowed = fuzz_strndup(part[0] ? part[0] : (const uint8_t *)"", len[0]);
    char *origin = part[1] ? fuzz_strndup(part[1], len[1]) : NULL;
    char *host = part[2] ? fuzz_strndup(part[2], len[2]) : NULL;

    bool ok = gw_origin_allowed(allowed, origin, host);
    if (!origin && !ok)
        fuzz_fail("a request without Origin was refused");
    if (!gw_origin_allowed("*", origin, host))
        fuzz_fail("* refused \"%s\"", origin);
    char why[256];
    //  One entry naming this exact origin (the list trims white space, the
    //  header is taken as it comes; "self" is a rule, not an origin).
    if (origin && *origin && gw_origin_list_check(allowed, why, sizeof why) == 0 &&
        !strpbrk(origin, ", \t") && gw_origin_list_check(origin, why, sizeof why) == 0 &&
        strcasecmp(origin, "self") != 0) {
        char *list = NULL;
        if (asprintf(&list, "%s,%s", allowed, origin) < 0)
            abort();
        if (!gw_origin_allowed(list, origin, host))
            fuzz_fail("\"%s\" refused although listed in \"%s\"", origin, list);
        free(list);
    }
    free(allowed);
    free(origin);
    free(host);
    return 0;
}
