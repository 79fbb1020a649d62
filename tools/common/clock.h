/* clock.h: the host tools' one clock for timeouts: monotonic milliseconds. */
#ifndef VQH_CLOCK_H
#define VQH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
