/*
 * test_actions.c: every --hop-actions action end to end on the Debian QEMU under TCG (PVH, 2 vCPUs,
 * 2 queues, a 16 MiB disk, one or two hops): the healthy ones pass with their jobs' end states
 * recorded and evidence.txt showing jobs and the block graph; the QEMU 7.2 bug the paused action
 * finds (a second migration of a never-resumed VM) is reported as a crash with its assertion.
 * Seeds are chosen for the action's seeded choice (paused legs, late-cancel moment); see
 * hop_cur.rng in tools/hop/actions.c.
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

struct act_run {
    int rc;
    char out[600], json[600];
    json_t *doc;
    char *text, *evidence;
};

/* vqhammer migrate with the small VM, the given actions, seed and hop count (plus extra args). */
static void act(struct act_run *t, const char *name, const char *actions, const char *seed, const char *hops,
                const char *const extra[])
{
    const char *args[48] = { "migrate", "--boot", "pvh", "--accel", "tcg", "--smp", "2", "--queues", "2",
                             "--disk-size", "16M", "--guest-timeout", "5000", "--keep", "--workdir", harness_dir(),
                             "--hop-actions", actions, "--seed", seed, "--migrations", hops };
    int n = 0;
    while (args[n])
        n++;
    snprintf(t->out, sizeof(t->out), "%s/%s.out", harness_dir(), name);
    snprintf(t->json, sizeof(t->json), "%s/%s.json", harness_dir(), name);
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n++] = "--json";
    args[n++] = t->json;
    args[n] = NULL;
    t->rc = harness_tool(args, t->out, TOOL_TIMEOUT_MS);
    t->doc = json_load_file(t->json, 0, NULL);
    t->text = harness_slurp(t->out);
    const char *rd = json_string_value(json_object_get(t->doc, "rundir"));
    char ev[1200];
    snprintf(ev, sizeof(ev), "%s/evidence.txt", rd ? rd : "/nonexistent");
    t->evidence = harness_slurp(ev);
    if (t->text && (t->rc != 0 || !t->doc))
        fprintf(stderr, "--- vqhammer output (%s) ---\n%s\n", name, t->text);
    assert_non_null(t->doc);
    assert_true(harness_no_qemu_left());
}

static void act_free(struct act_run *t)
{
    json_decref(t->doc);
    free(t->text);
    free(t->evidence);
}

static json_t *hop(const struct act_run *t, size_t i)
{
    return json_array_get(json_object_get(t->doc, "hops"), i);
}

static const char *hop_str(const struct act_run *t, size_t i, const char *key)
{
    return json_string_value(json_object_get(hop(t, i), key)) ?: "";
}

static void assert_pass(const struct act_run *t, size_t hops)
{
    assert_int_equal(t->rc, 0);
    assert_string_equal(json_string_value(json_object_get(t->doc, "verdict")), "PASS");
    assert_int_equal(json_array_size(json_object_get(t->doc, "hops")), hops);
    for (size_t i = 0; i < hops; i++) {
        assert_true(json_is_true(json_object_get(hop(t, i), "ok")));
        /* every action hop ends in a full verification pass */
        assert_true(json_integer_value(json_object_get(hop(t, i), "verify_checked")) > 0);
    }
}

static void test_paused_migration_passes(void **state)
{
    (void)state;
    struct act_run t;
    act(&t, "paused", "paused", "1", "1", NULL); /* seed 1: one leg */
    assert_pass(&t, 1);
    assert_string_equal(hop_str(&t, 0, "action"), "paused");
    assert_int_equal(json_integer_value(json_object_get(hop(&t, 0), "legs")), 1);
    assert_non_null(t.evidence);
    assert_non_null(strstr(t.evidence, "paused guest after the last leg, before cont"));
    assert_non_null(strstr(t.evidence, "query-named-block-nodes:"));
    act_free(&t);
}

/* QEMU 7.2: the second migration of a VM that was never resumed inactivates already inactive
 * images (late-block-activate left them so) and asserts in bdrv_inactivate_recurse. */
static void test_paused_twice_is_reported_on_qemu72(void **state)
{
    (void)state;
    struct act_run t;
    act(&t, "paused2", "paused", "3", "1", NULL); /* seed 3: two legs */
    assert_int_equal(json_integer_value(json_object_get(hop(&t, 0), "legs")), 2);
    if (t.rc == 0) { /* a QEMU with the fix (9.1 and later) passes */
        assert_string_equal(json_string_value(json_object_get(t.doc, "verdict")), "PASS");
    } else {
        assert_int_equal(t.rc, 1);
        assert_non_null(strstr(json_string_value(json_object_get(t.doc, "reason")), "crashed"));
        assert_non_null(t.evidence);
        assert_non_null(strstr(t.evidence, "bdrv_inactivate_recurse"));
    }
    act_free(&t);
}

static void test_copy_storage_passes_and_proves_the_copy(void **state)
{
    (void)state;
    struct act_run t;
    /* background mirroring converges only when the guest writes less than the mirror copies */
    const char *extra[] = { "--guest-config", "mix_write=3;mix_write_zeroes=1;mix_discard=1", NULL };
    act(&t, "copy", "copy-storage", "3", "1", extra);
    assert_pass(&t, 1);
    assert_string_equal(hop_str(&t, 0, "jobs"), "vqhmirror0=concluded");
    assert_non_null(t.evidence);
    assert_non_null(strstr(t.evidence, "vqhmirror0 mirror ready"));
    assert_non_null(strstr(t.evidence, "vqhmignbd0     nbd"));
    assert_non_null(strstr(t.evidence, "vqhmirror0 mirror concluded"));
    /* the destination runs on its own copy, and the guest's full verification read it */
    assert_non_null(strstr(t.evidence, "copy1-disk0.img"));
    act_free(&t);
}

static void test_backup_and_commit_pass(void **state)
{
    (void)state;
    struct act_run t;
    act(&t, "jobs", "backup,commit", "3", "2", NULL);
    assert_pass(&t, 2);
    assert_string_equal(hop_str(&t, 0, "action"), "backup");
    assert_string_equal(hop_str(&t, 0, "jobs"), "vqhbackup0=concluded");
    assert_string_equal(hop_str(&t, 1, "action"), "commit");
    assert_string_equal(hop_str(&t, 1, "jobs"), "vqhcreateA0=concluded vqhcommit0=concluded");
    assert_non_null(strstr(t.evidence, "vqhcommit0 commit concluded"));
    assert_non_null(strstr(t.evidence, "vqhsnapA0      qcow2"));
    act_free(&t);
}

static void test_werror_held_request_survives_migration(void **state)
{
    (void)state;
    struct act_run t;
    act(&t, "werror", "werror", "5", "1", NULL);
    assert_pass(&t, 1);
    /* the injected error stopped the VM (action stop) on the format node */
    assert_non_null(strstr(hop_str(&t, 0, "jobs"), "io-error=vqhfmt0/"));
    assert_non_null(strstr(hop_str(&t, 0, "jobs"), "/stop"));
    assert_non_null(strstr(t.evidence, "stopped by the injected I/O error, request held"));
    assert_non_null(strstr(t.evidence, "vqhdbg0        blkdebug"));
    act_free(&t);
}

static void test_late_cancel_at_pre_switchover_keeps_the_source(void **state)
{
    (void)state;
    struct act_run t;
    act(&t, "late", "late-cancel", "2", "1", NULL); /* seed 2: cancel at pre-switchover */
    assert_pass(&t, 1);
    assert_string_equal(hop_str(&t, 0, "status"), "cancelled");
    assert_string_equal(hop_str(&t, 0, "jobs"), "cancel-at=pre-switchover outcome=cancelled");
    act_free(&t);
}

static void test_postcopy_pause_and_recover_pass(void **state)
{
    (void)state;
    struct act_run t;
    act(&t, "postcopy", "postcopy-recover", "5", "1", NULL);
    assert_pass(&t, 1);
    assert_string_equal(hop_str(&t, 0, "jobs"), "postcopy=paused,recovered");
    assert_string_equal(hop_str(&t, 0, "status"), "completed");
    act_free(&t);
}

static void test_bad_action_is_an_error(void **state)
{
    (void)state;
    const char *args[] = { "migrate", "--boot", "pvh", "--hop-actions", "paused,teleport", NULL };
    char out[600];
    snprintf(out, sizeof(out), "%s/bad.out", harness_dir());
    assert_int_equal(harness_tool(args, out, 30000), 2);
    char *text = harness_slurp(out);
    assert_non_null(text);
    assert_non_null(strstr(text, "unknown action 'teleport'"));
    free(text);
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
        cmocka_unit_test(test_bad_action_is_an_error),
        cmocka_unit_test(test_paused_migration_passes),
        cmocka_unit_test(test_paused_twice_is_reported_on_qemu72),
        cmocka_unit_test(test_copy_storage_passes_and_proves_the_copy),
        cmocka_unit_test(test_backup_and_commit_pass),
        cmocka_unit_test(test_werror_held_request_survives_migration),
        cmocka_unit_test(test_late_cancel_at_pre_switchover_keeps_the_source),
        cmocka_unit_test(test_postcopy_pause_and_recover_pass),
    };
    return cmocka_run_group_tests_name("actions", tests, NULL, teardown);
}
