/*  gw_rate: a token bucket per connection (messages per second, burst).
 *
 *  Tokens are kept in thousandths so that integer arithmetic is exact
 *  enough; the rate and the burst are settings of the gateway, passed in.
 */
#ifndef GW_RATE_H
#define GW_RATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t last_ms; //  monotonic ms of the last refill; 0 = never used (full)
    int64_t milli;   //  tokens * 1000 available at last_ms
} gw_rate_t;

//  Takes one token at now_ms for a bucket refilled at rate tokens/s and
//  holding at most burst. Returns true when the token was there; otherwise
//  *retry_after_ms (may be NULL) gets the wait until one will be.
//  rate <= 0 disables the limit.
bool gw_rate_take(gw_rate_t *rate, int64_t now_ms, long per_second, long burst,
                  int64_t *retry_after_ms);

#endif
