/*  gw_rate: see gw_rate.h. */
#include "gw_rate.h"

bool gw_rate_take(gw_rate_t *rate, int64_t now_ms, long per_second, long burst,
                  int64_t *retry_after_ms)
{
    if (per_second <= 0)
        return true;
    if (burst < 1)
        burst = 1;
    int64_t full = (int64_t)burst * 1000;
    if (rate->last_ms == 0) {
        rate->milli = full;
    } else if (now_ms > rate->last_ms) {
        rate->milli += (now_ms - rate->last_ms) * per_second;
        if (rate->milli > full)
            rate->milli = full;
    }
    if (now_ms > rate->last_ms || rate->last_ms == 0)
        rate->last_ms = now_ms;
    if (rate->milli >= 1000) {
        rate->milli -= 1000;
        return true;
    }
    if (retry_after_ms)
        *retry_after_ms = (1000 - rate->milli + per_second - 1) / per_second;
    return false;
}
