/*
 * test_inject.c: each kind of bad data, written over one block from the host while the VM is
 * stopped (`--inject overwrite-block=PATTERN`), is reported by the guest with its own class and
 * the right LBA: random bytes are corrupt, zeroes unwritten, another LBA's block misdirected, an
 * older generation stale, the other disk's block misdirected_disk. One short PVH run per pattern
 * (two 2 MiB disks, one migration), discards included: the injection picks only blocks the guest's
 * table (its `state` reply) says hold exactly what is there, never a discarded one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockfmt.h"
#include "harness.h"
#include "wire.h"

/* The guest's one error report of a run: its first "error" line in serial-merged.log. */
static json_t *first_error(const char *rundir)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/serial-merged.log", rundir);
    char *text = harness_slurp(path);
    assert_non_null(text);
    json_t *e = NULL;
    for (char *line = strtok(text, "\n"); line && !e; line = strtok(NULL, "\n")) {
        char *obj = strchr(line, '{');
        if (!obj || !strstr(obj, "\"type\":\"error\""))
            continue;
        e = json_loads(obj, 0, NULL);
    }
    free(text);
    assert_non_null(e);
    return e;
}

static json_int_t jint(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* Run one pattern; returns the guest's error report (checked: class, LBA, one error only). */
static json_t *run_pattern(const char *pattern, const char *cls)
{
    char out[600], js[600], d0[600], d1[600], inj[64];
    const char *dir = harness_dir();
    snprintf(out, sizeof(out), "%s/%s.out", dir, pattern);
    snprintf(js, sizeof(js), "%s/%s.json", dir, pattern);
    snprintf(d0, sizeof(d0), "%s/%s-0.img", dir, pattern);
    snprintf(d1, sizeof(d1), "%s/%s-1.img", dir, pattern);
    snprintf(inj, sizeof(inj), "overwrite-block=%s", pattern);
    const char *args[] = { "migrate", "--boot", "pvh", "--accel", "tcg", "--smp", "2", "--mem", "128",
                           "--queues", "2", "--disk-size", "2M", "--disk", d0, "--disk", d1,
                           "--migrations", "1", "--gap", "300:500",
                           "--seed", "11", "--inject", inj, "--json", js, NULL };
    assert_int_equal(harness_tool(args, out, 120000), 1);
    char *text = harness_slurp(out);
    assert_non_null(text);
    char want[96];
    snprintf(want, sizeof(want), "injected %s over block ", pattern);
    const char *at = strstr(text, want);
    if (!at)
        fprintf(stderr, "%s\n", text);
    assert_non_null(at);
    unsigned long long lba = strtoull(at + strlen(want), NULL, 10);
    free(text);

    json_t *doc = json_load_file(js, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "verdict")), "FAIL");
    if (json_integer_value(json_object_get(doc, "guest_errors")) != 1)
        fprintf(stderr, "reason: %s\n", json_string_value(json_object_get(doc, "reason")));
    assert_int_equal(json_integer_value(json_object_get(doc, "guest_errors")), 1);
    json_t *e = first_error(json_string_value(json_object_get(doc, "rundir")));
    json_decref(doc);
    assert_string_equal(json_string_value(json_object_get(e, "class")), cls);
    assert_int_equal(jint(e, "bad_lba", NULL), lba);
    assert_int_equal(jint(e, "bad_blocks", NULL), 1);
    assert_int_equal(jint(e, "disk", NULL), 0);
    assert_true(harness_no_qemu_left());
    return e;
}

static const char *found_status(const json_t *e)
{
    return json_string_value(json_object_get(json_object_get(e, "found"), "status"));
}

static void test_random_bytes_are_corrupt(void **state)
{
    (void)state;
    json_t *e = run_pattern("random", WIRE_ERR_CORRUPT);
    assert_string_equal(found_status(e), "no_header");
    json_decref(e);
}

static void test_zeroes_are_unwritten(void **state)
{
    (void)state;
    json_t *e = run_pattern("zeroes", WIRE_ERR_UNWRITTEN);
    assert_string_equal(found_status(e), "zero");
    json_decref(e);
}

static void test_another_lba_is_misdirected(void **state)
{
    (void)state;
    json_t *e = run_pattern("other-lba", WIRE_ERR_MISDIRECTED);
    assert_string_equal(found_status(e), "ok");
    assert_int_not_equal(jint(e, "found", "lba"), jint(e, "bad_lba", NULL));
    json_decref(e);
}

static void test_older_generation_is_stale(void **state)
{
    (void)state;
    json_t *e = run_pattern("old-gen", WIRE_ERR_STALE);
    assert_string_equal(found_status(e), "ok");
    assert_int_equal(jint(e, "found", "lba"), jint(e, "bad_lba", NULL));
    assert_int_equal(jint(e, "found", "gen"), jint(e, "expected", "gen") - 1);
    json_decref(e);
}

static void test_other_disk_is_misdirected_disk(void **state)
{
    (void)state;
    json_t *e = run_pattern("other-disk", WIRE_ERR_MISDIRECTED_DISK);
    assert_string_equal(found_status(e), "ok");
    assert_int_equal(jint(e, "found", "lba"), jint(e, "bad_lba", NULL));
    const char *tag = json_string_value(json_object_get(json_object_get(e, "found"), "disk_tag"));
    assert_non_null(tag);
    assert_int_equal(strtoull(tag, NULL, 16), blk_disk_tag("vqh1", 4));
    json_decref(e);
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
        cmocka_unit_test(test_random_bytes_are_corrupt),
        cmocka_unit_test(test_zeroes_are_unwritten),
        cmocka_unit_test(test_another_lba_is_misdirected),
        cmocka_unit_test(test_older_generation_is_stale),
        cmocka_unit_test(test_other_disk_is_misdirected_disk),
    };
    return cmocka_run_group_tests_name("inject", tests, NULL, teardown);
}
