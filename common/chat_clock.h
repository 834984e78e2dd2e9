/*  chat_clock: the two clocks every process uses. */
#ifndef CHAT_CLOCK_H
#define CHAT_CLOCK_H

#include <stdint.h>

//  Milliseconds since the Unix epoch (UTC): timestamps that leave the process.
int64_t chat_wall_ms(void);

//  Milliseconds of a monotonic clock: timeouts, leases, intervals.
int64_t chat_mono_ms(void);

//  Microseconds of the monotonic clock: latency measurements.
int64_t chat_mono_us(void);

#endif
