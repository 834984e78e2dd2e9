/*  gw_origin: which web pages may open a WebSocket to the gateway.
 *
 *  A browser lets any page open a WebSocket to any host, and sends the
 *  page's origin ("https://chat.example.com") with the upgrade. A gateway
 *  that upgraded every origin would let any site its users visit chat in
 *  their name (cross-site WebSocket hijacking). So an upgrade goes ahead
 *  only when its Origin is allowed by --allowed-origins, a comma-separated
 *  list of:
 *
 *      self                  the origin whose host[:port] is the Host the
 *                            request was sent to: the gateway's own page
 *                            (also behind a proxy that passes Host on)
 *      *                     any origin
 *      scheme://host[:port]  that origin (http or https)
 *
 *  A request without an Origin header does not come from a web page:
 *  browsers always send one, programs (chat-bench, bots, tests) send none.
 *  It is allowed: the check protects the users of browsers, it does not
 *  authenticate programs. Origins compare without regard to case, and a
 *  scheme's default port (http 80, https 443) is the same as none. The
 *  scheme is not compared for "self", so a page served as https by a TLS
 *  proxy in front of a plain gateway is still the gateway's own.
 *
 *  Pure functions over strings: no state, no allocation.
 */
#ifndef GW_ORIGIN_H
#define GW_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

//  Longest origin or Host value looked at; longer ones are refused.
#define GW_ORIGIN_MAX 300

//  True when an upgrade that carried origin (NULL: no Origin header) and
//  host (the Host header, NULL when absent) may proceed under allowed (the
//  --allowed-origins list, which gw_origin_list_check accepted).
bool gw_origin_allowed(const char *allowed, const char *origin, const char *host);

//  Checks an --allowed-origins list. Returns 0, or -1 with a message for
//  the first bad entry written into why (cap bytes).
int gw_origin_list_check(const char *allowed, char *why, size_t cap);

#endif
