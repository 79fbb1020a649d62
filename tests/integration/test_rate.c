/*
 * test_rate.c: `rate=N` paces every queue at about N operations per second for the whole run, in
 * interrupt and in polling mode. Once every queue stalled after its first request (the pacing's
 * catch-up floor wrapped while the guest's clock was below 1 s); the run still passed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include "harness.h"
#include "wire.h"

#define RATE 50
#define SECONDS 4
#define QUEUES 8

/* The run's operations of one queue: the random-load counters (the final verification pass is
 * not paced and is counted apart, under `verified`). */
static json_int_t rate_run_ops(json_t *q)
{
    static const char *const keys[] = { "reads", "writes", "flushes", "discards", "write_zeroes", "get_ids" };
    json_int_t n = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(q, keys[i]);
        assert_true(json_is_integer(v));
        n += json_integer_value(v);
    }
    return n;
}

static void rate_check(const char *mode)
{
    char img[600], drive[700], device[200], config[200];
    snprintf(img, sizeof(img), "%s", harness_image("rate.img", 64ull << 20));
    snprintf(drive, sizeof(drive), "if=none,id=d0,format=raw,cache=none,aio=threads,file=%s", img);
    snprintf(device, sizeof(device), "virtio-blk-pci,drive=d0,serial=vqh0,num-queues=%d,queue-size=256,iothread=io0",
             QUEUES);
    snprintf(config, sizeof(config), "duration=%d\nrate=%d\nmode=%s\n", SECONDS, RATE, mode);
    struct boot_spec s = {
        .boot = "pvh", .config = config, .timeout_ms = 60000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive, "-device", device, NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    json_t *sum = harness_find(&r, WIRE_MSG_SUMMARY), *disk, *q;
    assert_non_null(sum);
    size_t i, j;
    int seen = 0;
    /* Not a timing assertion: a band wide enough for a loaded 2-core TCG host, narrow enough
     * that a stalled queue (1 op) or an unpaced one (thousands) falls outside it. */
    const json_int_t expect = (json_int_t)RATE * SECONDS;
    json_array_foreach(json_object_get(sum, "disks"), i, disk) {
        json_array_foreach(json_object_get(disk, "queues"), j, q) {
            json_int_t ops = rate_run_ops(q);
            if (ops < expect * 3 / 10 || ops > expect * 2)
                fprintf(stderr, "mode %s queue %zu: %lld run operations, expected about %lld\n", mode, j,
                        (long long)ops, (long long)expect);
            assert_in_range(ops, expect * 3 / 10, expect * 2);
            seen++;
        }
    }
    assert_int_equal(seen, QUEUES);
    harness_result_free(&r);
}

static void test_rate_paces_every_queue_irq(void **state)
{
    (void)state;
    rate_check("irq");
}

static void test_rate_paces_every_queue_poll(void **state)
{
    (void)state;
    rate_check("poll");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_paces_every_queue_irq),
        cmocka_unit_test(test_rate_paces_every_queue_poll),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
