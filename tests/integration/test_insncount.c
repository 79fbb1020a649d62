/*
 * test_insncount.c: `make insn-count` (tools/bench/insncount/insn-count.sh with the counting
 * plugin, plugin.c) on the QEMU of this machine: it counts the guest's instructions per null-co
 * request and charges them to the guest's functions; bad input is refused with a message naming
 * it. Not a case of cases.cfg: the command is the script, not build/vqhammer.
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

#define SCRIPT VQH_TOP "/tools/bench/insncount/insn-count.sh"
#define RUN_TIMEOUT_MS 120000

/* Runs the script with args; its exit status (-1: killed at the timeout), output in *out. */
static int run_script(const char *const args[], char **out)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/insn.out", harness_dir());
    int rc = harness_run(SCRIPT, args, path, RUN_TIMEOUT_MS);
    *out = harness_slurp(path);
    assert_non_null(*out);
    return rc;
}

/* Two seconds of null-co load: a plausible count, and the driver's and engine's functions. */
static void test_counts_instructions_per_request(void **state)
{
    (void)state;
    char *out;
    const char *args[] = {"--seconds", "2", "--top", "60", NULL};
    int rc = run_script(args, &out);
    print_message("%s", out);
    assert_int_equal(rc, 0);
    const char *line = strstr(out, "guest instructions per request: ");
    assert_non_null(line);
    long per = strtol(line + strlen("guest instructions per request: "), NULL, 10);
    /* Not a speed target (those live in make bench): just a count that means something. A
     * request cannot take fewer than a hundred instructions, nor a million. */
    assert_true(per > 100 && per < 1000000);
    assert_non_null(strstr(out, "  vblk_submit\n"));
    assert_non_null(strstr(out, "  squeue_complete\n"));
    assert_true(harness_no_qemu_left());
    free(out);
}

static void test_bad_input_is_named(void **state)
{
    (void)state;
    char *out;
    const char *seconds[] = {"--seconds", "soon", NULL};
    assert_int_equal(run_script(seconds, &out), 1);
    assert_non_null(strstr(out, "--seconds 'soon': want a whole number of seconds"));
    free(out);
    const char *unknown[] = {"--frobnicate", NULL};
    assert_int_equal(run_script(unknown, &out), 1);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    free(out);
    const char *kernel[] = {"/nonexistent/kernel.elf", NULL};
    assert_int_equal(run_script(kernel, &out), 1);
    assert_non_null(strstr(out, "no guest kernel at /nonexistent/kernel.elf"));
    free(out);
    const char *qemu[] = {"--qemu", "/nonexistent/qemu", "--seconds", "1", NULL};
    assert_int_equal(run_script(qemu, &out), 1);
    assert_non_null(strstr(out, "QEMU '/nonexistent/qemu' not found"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_instructions_per_request),
        cmocka_unit_test(test_bad_input_is_named),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
