/* test_bench_compare.c: `make bench`'s side-by-side rows, goals and inputs (tools/bench/bench_compare.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench_compare.h"

static char tmp[] = "/tmp/vqh-test-bench-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The fields of ../shared/linux-fio's result.json that the bench reads. */
static const char *fio_result(const char *name, int total_err, const char *vmsgs)
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"fio\": {\"ok\": true, \"total_iops\": 10800.0, \"total_err\": %d}, \"verify_msgs\": \"%s\","
             " \"first_io\": {\"first_io_s\": 7.1}, \"qemu_proc\": {\"maxrss_kb\": 402432}}", total_err, vmsgs);
    return write_file(name, text);
}

static json_t *row(json_t *rows, const char *prefix)
{
    json_t *r;
    size_t i;
    json_array_foreach(rows, i, r)
        if (!strncmp(json_string_value(json_object_get(r, "figure")), prefix, strlen(prefix)))
            return r;
    fail_msg("no row starting with '%s'", prefix);
    return NULL;
}

static double num(json_t *r, const char *key)
{
    assert_true(json_is_number(json_object_get(r, key)));
    return json_number_value(json_object_get(r, key));
}

static void test_goals_against_the_baseline_and_the_host(void **state)
{
    struct vqh_err err;
    struct bench_baseline b;
    struct bench_ceiling c;
    (void)state;
    assert_true(bench_baseline_load(fio_result("ok.json", 0, "0"), &b, &err));
    assert_true(bench_ceiling_load(write_file("ceil.json", "{\"raw_read_iops\": 80000, \"raw_write_iops\": 40000,"
                                              " \"null_read_iops\": 1900000}"), &c, &err));
    struct bench_hops hu = { .boot = "uefi", .hops = 20, .hops_per_hour = 1900 };
    struct bench_hops hp = { .boot = "pvh", .hops = 20, .hops_per_hour = 2500 };
    struct bench_figures f = { .iops_raw = 32400, .iops_null = 250000, .pvh_first_s = 0.2, .uefi_first_s = 4.0,
                               .uefi_firmware_s = 3.6, .rss_mib = 101, .hops_uefi = &hu, .hops_pvh = &hp };
    json_t *rows = bench_compare_rows(&f, &b, &c);

    json_t *r = row(rows, "verified I/Os");
    assert_true(fabs(num(r, "vs_linux_fio") - 3.0) < 1e-9); /* 32.4k vs 10.8k: exactly the goal */
    assert_true(json_is_true(json_object_get(r, "met")));
    assert_true(fabs(num(r, "host_limit") - 3.0 / (2.0 / 80000 + 1.0 / 40000)) < 1e-6); /* the 2:1 blend */
    assert_false(json_is_true(json_object_get(row(rows, "I/Os per second, null-co"), "met")));
    r = row(rows, "QEMU start -> first verified I/O, PVH");
    assert_true(json_is_true(json_object_get(r, "met")));
    assert_true(fabs(num(r, "vs_linux_fio") - 7.1 / 0.2) < 1e-9); /* lower is better: Linux / ours */
    r = row(rows, "QEMU start -> first verified I/O, UEFI"); /* 4.0 > 3.6 + 0.3 */
    assert_false(json_is_true(json_object_get(r, "met")));
    assert_true(json_is_boolean(json_object_get(r, "met")));
    r = row(rows, "QEMU peak RSS");
    assert_false(json_is_true(json_object_get(r, "met")));
    assert_true(fabs(num(r, "linux_fio") - 393.0) < 1e-9);
    assert_true(json_is_true(json_object_get(row(rows, "`make run` hops"), "met")));
    assert_true(json_is_null(json_object_get(row(rows, "hops per hour, the same with --boot pvh"), "met")));
    json_decref(rows);
}

static void test_without_baseline_the_ratio_goal_is_unknown(void **state)
{
    struct bench_baseline b = { 0 };
    struct bench_ceiling c = { 0 };
    struct bench_figures f = { .iops_raw = 50000, .uefi_firmware_s = -1, .uefi_first_s = 4.0 };
    (void)state;
    json_t *rows = bench_compare_rows(&f, &b, &c);
    json_t *r = row(rows, "verified I/Os");
    assert_true(json_is_null(json_object_get(r, "met")));
    assert_true(json_is_null(json_object_get(r, "linux_fio")));
    assert_true(json_is_null(json_object_get(r, "host_limit")));
    /* OVMF's marker not seen: the UEFI goal cannot be judged, rather than judged against 0 */
    assert_true(json_is_null(json_object_get(row(rows, "QEMU start -> first verified I/O, UEFI"), "met")));
    json_decref(rows);
}

static void test_a_baseline_with_errors_is_refused(void **state)
{
    struct vqh_err err;
    struct bench_baseline b;
    struct bench_ceiling c;
    (void)state;
    assert_false(bench_baseline_load(fio_result("bad.json", 0, "3"), &b, &err));
    assert_non_null(strstr(err.msg, "fio reported errors"));
    assert_false(b.have);
    assert_false(bench_baseline_load(fio_result("bad2.json", 2, "0"), &b, &err));
    assert_false(bench_baseline_load(write_file("junk.json", "{\"fio\": "), &b, &err));
    assert_non_null(strstr(err.msg, "junk.json"));
    assert_false(bench_ceiling_load(write_file("c.json", "{\"raw_read_iops\": 1}"), &c, &err));
    assert_non_null(strstr(err.msg, "null_read_iops"));
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_goals_against_the_baseline_and_the_host),
        cmocka_unit_test(test_without_baseline_the_ratio_goal_is_unknown),
        cmocka_unit_test(test_a_baseline_with_errors_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
