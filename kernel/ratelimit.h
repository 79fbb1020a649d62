/*
 * ratelimit.h: the per-queue submission pacing of `rate=N` (pure logic, host-tested).
 *
 * A queue may submit when the clock reached its next slot; each submission moves the slot on by
 * 1/rate s. A queue that fell behind (a stall, a migration's downtime) catches up at most one
 * second's worth of slots in a burst, so the slot never lags the clock by more than 1 s.
 * A queue's first slot is its first request (*next == 0): pacing starts then, with no burst.
 * The clock counts from boot, so it is below 1 s early on: the catch-up floor must not be
 * computed as `now - 1 s` in unsigned arithmetic, which wraps to ~2^64 and would push the next
 * slot past the end of time (the queue then never submits again).
 */
#ifndef VQH_RATELIMIT_H
#define VQH_RATELIMIT_H

#include "base.h"

#define RATELIMIT_CATCHUP_NS 1000000000ull

/* True (and *next moved on by one slot) when a request may go now; rate > 0 per second. */
static inline bool ratelimit_admit(uint64_t *next, uint64_t now_ns, uint32_t rate)
{
    if (now_ns < *next)
        return false;
    uint64_t floor = *next == 0 ? now_ns
                     : now_ns > RATELIMIT_CATCHUP_NS ? now_ns - RATELIMIT_CATCHUP_NS : 0;
    *next = MAX(*next, floor) + 1000000000ull / rate;
    return true;
}

#endif
