/*
 * test_modes.c: a migration mode asked for is a mode proven. Short PVH runs with --postcopy,
 * --multifd, --xbzrle and --auto-converge each pass and every hop carries the evidence that its
 * mode did its work (postcopy-active reached, multifd bytes, xbzrle pages, CPU throttling); the
 * TCG dirty-tracking workaround is on exactly where the QEMU lacks the fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define TOOL_TIMEOUT_MS 300000

/* Run vqhammer migrate with these flags (2 PVH hops); returns its --json document. */
static json_t *modes_run(const char *name, const char *flag)
{
    char out[600], js[600];
    snprintf(out, sizeof(out), "%s/%s.out", harness_dir(), name);
    snprintf(js, sizeof(js), "%s/%s.json", harness_dir(), name);
    const char *args[] = { "migrate", "--boot", "pvh", "--accel", "tcg", "--migrations", "2", "--seed", "7", flag,
                           "--json", js, NULL };
    int rc = harness_tool(args, out, TOOL_TIMEOUT_MS);
    json_t *doc = json_load_file(js, 0, NULL);
    if (rc != 0) {
        char *text = harness_slurp(out);
        fprintf(stderr, "--- vqhammer output (%s) ---\n%s\n", name, text ? text : "?");
        free(text);
    }
    assert_int_equal(rc, 0);
    assert_true(harness_no_qemu_left());
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "verdict")), "PASS");
    assert_int_equal(json_integer_value(json_object_get(doc, "unexercised_hops")), 0);
    return doc;
}

/* Every hop asked for `mode`, proved it, and its evidence counter `field` is above zero. */
static void modes_expect(json_t *doc, const char *mode, const char *field)
{
    json_t *hops = json_object_get(doc, "hops"), *h;
    size_t i;
    assert_int_equal(json_array_size(hops), 2);
    json_array_foreach(hops, i, h) {
        json_t *m = json_object_get(h, "modes");
        assert_string_equal(json_string_value(json_array_get(json_object_get(m, "asked"), 0)), mode);
        assert_string_equal(json_string_value(json_array_get(json_object_get(m, "proven"), 0)), mode);
        assert_int_equal(json_array_size(json_object_get(m, "unexercised")), 0);
        if (field)
            assert_true(json_integer_value(json_object_get(m, field)) > 0);
        assert_string_equal(json_string_value(json_object_get(h, "status")), "completed");
    }
}

static void test_postcopy_reaches_postcopy_active(void **state)
{
    (void)state;
    json_t *doc = modes_run("postcopy", "--postcopy");
    modes_expect(doc, "postcopy", NULL);
    json_t *h, *hops = json_object_get(doc, "hops");
    size_t i;
    json_array_foreach(hops, i, h)
        assert_true(json_is_true(json_object_get(json_object_get(h, "modes"), "postcopy_active")));
    json_decref(doc);
}

static void test_multifd_channels_carry_pages(void **state)
{
    (void)state;
    json_t *doc = modes_run("multifd", "--multifd=4");
    modes_expect(doc, "multifd", "multifd_bytes");
    json_decref(doc);
}

static void test_xbzrle_sends_deltas(void **state)
{
    (void)state;
    json_t *doc = modes_run("xbzrle", "--xbzrle");
    modes_expect(doc, "xbzrle", "xbzrle_pages");
    json_decref(doc);
}

static void test_auto_converge_throttles(void **state)
{
    (void)state;
    json_t *doc = modes_run("autoconverge", "--auto-converge");
    modes_expect(doc, "auto-converge", "throttle_max");
    json_decref(doc);
}

/* Under TCG with Debian's QEMU 7.2 (no fix 03bfc2188f06) every hop has the guest's TLB workaround
 * on; a QEMU from 9.0 on would need none. */
static void test_tlb_workaround_where_needed(void **state)
{
    (void)state;
    json_t *doc = modes_run("tlb", "--verify=sample");
    json_t *h, *hops = json_object_get(doc, "hops");
    size_t i;
    json_array_foreach(hops, i, h) {
        bool exposed = json_is_true(json_object_get(h, "tcg_dirty_exposed"));
        assert_true(json_is_true(json_object_get(h, "tlb_refresh")) == exposed);
    }
    json_decref(doc);
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
        cmocka_unit_test(test_postcopy_reaches_postcopy_active),
        cmocka_unit_test(test_multifd_channels_carry_pages),
        cmocka_unit_test(test_xbzrle_sends_deltas),
        cmocka_unit_test(test_auto_converge_throttles),
        cmocka_unit_test(test_tlb_workaround_where_needed),
    };
    return cmocka_run_group_tests_name("modes", tests, NULL, teardown);
}
