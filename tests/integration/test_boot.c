/*
 * test_boot.c: the guest boots through both paths with every vCPU, reads its configuration and
 * ends with the documented exit codes (issue: boot foundation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include "harness.h"
#include "wire.h"

static void assert_hello(const struct boot_result *r, const char *path, int cpus)
{
    json_t *h = harness_find(r, WIRE_MSG_HELLO);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "boot_path")), path);
    assert_int_equal(json_integer_value(json_object_get(h, "cpus")), cpus);
    assert_int_equal(json_integer_value(json_object_get(h, "wire")), WIRE_VERSION);
    assert_true(json_integer_value(json_object_get(h, "mem_mib")) > 200);
    assert_non_null(json_object_get(h, "config"));
}

static void test_pvh_boots_four_cpus_and_passes(void **state)
{
    (void)state;
    struct boot_spec s = { .boot = "pvh", .config = "min_disks=0\nduration=1\n", .timeout_ms = 30000 };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_false(r.timed_out);
    assert_hello(&r, "pvh", 4);
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    json_t *v = harness_find(&r, WIRE_MSG_VERDICT);
    assert_string_equal(json_string_value(json_object_get(v, "verdict")), "pass");
    /* no CPU failed to start */
    assert_int_equal(harness_count(&r, WIRE_MSG_CPU), 0);
    harness_result_free(&r);
}

static void test_uefi_boots_four_cpus_and_passes(void **state)
{
    (void)state;
    struct boot_spec s = { .boot = "uefi", .config = "min_disks=0\nduration=1\n", .timeout_ms = 60000 };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_false(r.timed_out);
    assert_hello(&r, "uefi", 4);
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    /* the ESP (serial "esp") is listed and left alone */
    json_t *disk = json_array_get(json_object_get(harness_find(&r, WIRE_MSG_HELLO), "disks"), 0);
    assert_string_equal(json_string_value(json_object_get(disk, "serial")), "esp");
    assert_string_equal(json_string_value(json_object_get(disk, "role")), "ignored");
    harness_result_free(&r);
}

static void check_panic(const char *boot, const char *inject, int vector, const char *name)
{
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "min_disks=0\nduration=5\ninject=%s\n", inject);
    struct boot_spec s = { .boot = boot, .config = cfg, .timeout_ms = 60000 };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PANIC));
    json_t *p = harness_find(&r, WIRE_MSG_PANIC);
    assert_non_null(p);
    assert_int_equal(json_integer_value(json_object_get(p, "vector")), vector);
    assert_string_equal(json_string_value(json_object_get(p, "name")), name);
    assert_non_null(json_object_get(p, "rip"));
    assert_non_null(json_object_get(json_object_get(p, "regs"), "rax"));
    if (vector == 14)
        assert_string_equal(json_string_value(json_object_get(p, "cr2")), "0x7f0000000000");
    json_t *v = harness_find(&r, WIRE_MSG_VERDICT);
    assert_string_equal(json_string_value(json_object_get(v, "verdict")), "panic");
    harness_result_free(&r);
}

static void test_exception_panics_pvh(void **state)
{
    (void)state;
    check_panic("pvh", "ud", 6, "invalid opcode");
    check_panic("pvh", "pf", 14, "page fault");
    check_panic("pvh", "gp", 13, "general protection");
    check_panic("pvh", "de", 0, "divide error");
}

static void test_exception_panics_uefi(void **state)
{
    (void)state;
    check_panic("uefi", "pf", 14, "page fault");
}

static void test_bad_config_key_fails(void **state)
{
    (void)state;
    struct boot_spec s = { .boot = "pvh", .config = "min_disks=0\ndepht=4\n", .timeout_ms = 30000 };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_FAIL));
    json_t *e = harness_find(&r, WIRE_MSG_CONFIG_ERROR);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "key")), "depht");
    assert_int_equal(json_integer_value(json_object_get(e, "line")), 2);
    assert_non_null(strstr(json_string_value(json_object_get(e, "error")), "depht"));
    assert_null(harness_find(&r, WIRE_MSG_HELLO)); /* it never gets to work on a bad config */
    harness_result_free(&r);
}

static void test_bad_config_value_fails(void **state)
{
    (void)state;
    struct boot_spec s = { .boot = "pvh", .config = "mode=turbo\n", .timeout_ms = 30000 };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_FAIL));
    json_t *e = harness_find(&r, WIRE_MSG_CONFIG_ERROR);
    assert_string_equal(json_string_value(json_object_get(e, "key")), "mode");
    assert_string_equal(json_string_value(json_object_get(e, "value")), "turbo");
    harness_result_free(&r);
}

static void test_missing_data_disk_fails(void **state)
{
    (void)state;
    /* default min_disks=1: a lab that forgot to attach the disk gets a failure, not a pass */
    struct boot_spec s = { .boot = "pvh", .config = "duration=1\n", .timeout_ms = 30000 };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_FAIL));
    assert_non_null(harness_find(&r, WIRE_MSG_HELLO));
    harness_result_free(&r);
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pvh_boots_four_cpus_and_passes),
        cmocka_unit_test(test_uefi_boots_four_cpus_and_passes),
        cmocka_unit_test(test_exception_panics_pvh),
        cmocka_unit_test(test_exception_panics_uefi),
        cmocka_unit_test(test_bad_config_key_fails),
        cmocka_unit_test(test_bad_config_value_fails),
        cmocka_unit_test(test_missing_data_disk_fails),
    };
    return cmocka_run_group_tests_name("boot", tests, NULL, teardown);
}
