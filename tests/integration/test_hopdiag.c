/*
 * test_hopdiag.c: a guest that goes silent right after a hop is diagnosed, not just reported: the
 * destination's vCPU registers, the guest's last messages, the hop's RAM comparison and a
 * reproducer are in the evidence, and the verdict says which side is at fault.
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

/* The vCPUs of the hop's destination stopped (QMP stop) once the RAM comparison found both RAMs
 * identical: the guest's side is at fault, and the evidence shows why. */
static void test_silent_guest_after_a_hop_is_diagnosed(void **state)
{
    (void)state;
    char out[600], js[600];
    snprintf(out, sizeof(out), "%s/silent.out", harness_dir());
    snprintf(js, sizeof(js), "%s/silent.json", harness_dir());
    const char *args[] = { "migrate", "--boot", "pvh", "--accel", "tcg", "--migrations", "2", "--check-ram", "--inject",
                           "stop-guest", "--inject-hop", "1", "--json", js, NULL };
    assert_int_equal(harness_tool(args, out, 300000), 1);
    assert_true(harness_no_qemu_left());
    json_t *doc = json_load_file(js, 0, NULL);
    assert_non_null(doc);
    const char *reason = json_string_value(json_object_get(doc, "reason"));
    assert_non_null(strstr(reason, "did not answer"));
    assert_non_null(strstr(reason, "guest RAM was identical on both ends"));
    assert_string_equal(json_string_value(json_object_get(doc, "fault")), "guest");
    json_t *h = json_array_get(json_object_get(doc, "hops"), 0);
    assert_int_equal(json_integer_value(json_object_get(h, "ram_diff_pages")), 0);
    char *ev = harness_slurp(json_string_value(json_object_get(doc, "evidence")));
    assert_non_null(ev);
    assert_non_null(strstr(ev, "== hop 1: the guest failed on vm2"));
    assert_non_null(strstr(ev, "RAM comparison of this hop: 0 differing pages"));
    assert_non_null(strstr(ev, "query-cpus-fast on vm2"));
    assert_non_null(strstr(ev, "RIP="));             /* info registers -a */
    assert_non_null(strstr(ev, "\"type\":\"progress\"")); /* the guest's last messages */
    assert_non_null(strstr(ev, "reproducer with the RAM comparison: vqhammer migrate --seed"));
    free(ev);
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
        cmocka_unit_test(test_silent_guest_after_a_hop_is_diagnosed),
    };
    return cmocka_run_group_tests_name("hopdiag", tests, NULL, teardown);
}
