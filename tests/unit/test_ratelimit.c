/* test_ratelimit.c: the `rate=N` pacing of a queue (kernel/ratelimit.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* Count admissions when the queue is polled every `step` ns over [start, start + span). */
static uint32_t admitted(uint64_t *next, uint64_t start, uint64_t span, uint64_t step, uint32_t rate)
{
    uint32_t n = 0;
    for (uint64_t t = start; t < start + span; t += step)
        while (ratelimit_admit(next, t, rate))
            n++;
    return n;
}

/* The measured bug: the guest starts its run ~0.3 s after boot, when `now - 1 s` wraps. One
 * request went per queue, then none for the rest of the run. */
static void test_early_boot_keeps_pacing(void **state)
{
    (void)state;
    uint64_t next = 0;
    assert_true(ratelimit_admit(&next, 300 * MS, 50));
    assert_int_equal(next, 320 * MS); /* pacing starts at the first request, no burst */
    assert_false(ratelimit_admit(&next, 310 * MS, 50));
    assert_true(ratelimit_admit(&next, 320 * MS, 50));
    /* 3 s at 50/s, polled at the 100 Hz tick: 150 requests, give or take the first slot. */
    next = 0;
    uint32_t n = admitted(&next, 300 * MS, 3 * SEC, 10 * MS, 50);
    assert_in_range(n, 149, 151);
}

static void test_steady_rate(void **state)
{
    (void)state;
    uint64_t next = 0;
    uint32_t n = admitted(&next, 5 * SEC, 10 * SEC, 1 * MS, 200);
    assert_in_range(n, 1999, 2001);
}

/* Polled less often than the rate: each wake-up submits the slots that came due meanwhile. */
static void test_slow_polling_catches_up(void **state)
{
    (void)state;
    uint64_t next = 0;
    uint32_t n = admitted(&next, 0, 2 * SEC, 10 * MS, 1000);
    assert_in_range(n, 1990, 2001); /* the last poll is at 1.99 s */
}

/* A queue that stalled (a migration's downtime) bursts at most one second's worth of slots. */
static void test_stall_bursts_at_most_one_second(void **state)
{
    (void)state;
    uint64_t next = 0;
    admitted(&next, 2 * SEC, 1 * SEC, 1 * MS, 100);
    uint64_t after_stall = 20 * SEC;
    uint32_t burst = 0;
    while (ratelimit_admit(&next, after_stall, 100))
        burst++;
    assert_in_range(burst, 100, 101);
    assert_true(next > after_stall);
}

static void test_rate_one(void **state)
{
    (void)state;
    uint64_t next = 0;
    assert_true(ratelimit_admit(&next, 7 * SEC, 1));
    assert_int_equal(next, 8 * SEC);
    assert_false(ratelimit_admit(&next, 8 * SEC - 1, 1));
    assert_true(ratelimit_admit(&next, 8 * SEC, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_early_boot_keeps_pacing),
        cmocka_unit_test(test_steady_rate),
        cmocka_unit_test(test_slow_polling_catches_up),
        cmocka_unit_test(test_stall_bursts_at_most_one_second),
        cmocka_unit_test(test_rate_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
