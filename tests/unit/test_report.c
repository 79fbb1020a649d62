/* test_report.c: hop records, --json, --junit, the summary table and the status line (tools/report/report*.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hop.h"
#include "report.h"
#include "rundir.h"

static struct rundir *rd;

static int setup(void **state)
{
    struct vqh_err err;

    (void)state;
    rd = rundir_create(NULL, &err);
    if (!rd)
        fprintf(stderr, "%s\n", err.msg);
    return rd ? 0 : -1;
}

static int teardown(void **state)
{
    struct vqh_err err;

    (void)state;
    bool ok = rundir_remove(rd, &err);
    rundir_free(rd);
    return ok ? 0 : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(m);
    fclose(f);
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* A fresh empty directory per test, so "no temporary file left" can be checked by counting. */
static const char *fresh_dir(const char *name)
{
    const char *dir = rundir_path(rd, name);
    assert_non_null(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    return dir;
}

static const char *path_in(const char *dir, const char *file)
{
    static char buf[2][1024];
    static int i;
    i ^= 1;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, file);
    return buf[i];
}

static struct hop_record *add(struct run_result *r, enum hop_kind kind, bool ok, const char *status,
                              int64_t total, int64_t down)
{
    struct hop_record *h = run_add_hop(r);
    assert_non_null(h);
    h->kind = kind;
    h->ok = ok;
    snprintf(h->src, sizeof(h->src), "vm%d", h->index);
    snprintf(h->dst, sizeof(h->dst), "vm%d", h->index + 1);
    snprintf(h->status, sizeof(h->status), "%s", status);
    h->total_ms = total;
    h->downtime_ms = down;
    return h;
}

/*
 * Five hops: two good migrations (the only ones the stats may use), a cancel and a destination
 * kill whose huge downtimes must be left out, and a migration that failed.
 */
static void make_run(struct run_result *r)
{
    memset(r, 0, sizeof(*r));
    r->verdict = VERDICT_FAIL;
    snprintf(r->reason, sizeof(r->reason), "hop 5: 3 blocks corrupt on disk0 queue 2");
    snprintf(r->accel, sizeof(r->accel), "tcg");
    snprintf(r->rundir, sizeof(r->rundir), "/tmp/vqh-abc123");
    snprintf(r->reproducer, sizeof(r->reproducer), "build/vqhammer migrate --seed 42 --migrations 5");
    snprintf(r->evidence, sizeof(r->evidence), "/tmp/vqh-abc123/evidence.txt");
    r->duration_s = 60.0;
    r->total_ops = 123456;
    r->guest_errors = 3;

    struct hop_record *h = add(r, HOP_MIGRATE, true, "completed", 1234, 50);
    h->start_s = 2.5;
    h->setup_ms = 7;
    h->transferred = 3 * 1024 * 1024;
    h->ram_total = 512ull << 20;
    h->dirty_sync_count = 4;
    h->mbps = 268.5;
    h->ops = 21;
    h->nqueues = 3;
    h->queue_ops[0] = 5;
    h->queue_ops[1] = 9;
    h->queue_ops[2] = 7;
    h->inflight_at_start = 11;
    h->verify_checked = 4096;
    h->verify_errors = 0;
    h->tcg_dirty_exposed = true;
    h->tlb_refresh = true;
    h->modes.asked = HOP_MODE_POSTCOPY | HOP_MODE_XBZRLE;
    h->modes.proven = HOP_MODE_POSTCOPY;
    h->modes.postcopy_active = true;
    h->modes.postcopy_requests = 17;
    add(r, HOP_MIGRATE, true, "completed", 3000, 150);
    add(r, HOP_CANCEL, true, "cancelled", 400, 9000);
    add(r, HOP_KILL_DST, true, "failed", 500, 8000);
    h = add(r, HOP_MIGRATE, false, "completed", 9999, 7777);
    h->verify_checked = 100;
    h->verify_errors = 3;
    snprintf(h->failure, sizeof(h->failure), "%s", r->reason);
}

static void test_names_and_hops(void **state)
{
    struct run_result r;

    (void)state;
    assert_string_equal(verdict_name(VERDICT_PASS), "PASS");
    assert_string_equal(verdict_name(VERDICT_FAIL), "FAIL");
    assert_string_equal(verdict_name(VERDICT_ERROR), "ERROR");
    assert_string_equal(hop_kind_name(HOP_MIGRATE), "migrate");
    assert_string_equal(hop_kind_name(HOP_CANCEL), "cancel");
    assert_string_equal(hop_kind_name(HOP_KILL_DST), "kill-dst");

    memset(&r, 0, sizeof(r));
    assert_non_null(run_add_hop(&r));
    r.hops[0].ops = 10;
    /* Garbage in the spare capacity: each new record must still come back zeroed. */
    memset(r.hops + 1, 0x5a, (size_t)(r.hops_cap - 1) * sizeof(r.hops[0]));
    /* Past the first growth, earlier records must survive the reallocation. */
    for (int i = 2; i <= 40; i++) {
        struct hop_record *h = run_add_hop(&r);
        assert_non_null(h);
        assert_int_equal(h->index, i);
        assert_false(h->ok);
        assert_int_equal(h->total_ms, 0);
        assert_int_equal(h->nqueues, 0);
        assert_string_equal(h->failure, "");
        h->ops = (uint64_t)i * 10;
    }
    assert_int_equal(r.nhops, 40);
    assert_true(r.hops_cap >= 40);
    for (int i = 0; i < 40; i++)
        assert_int_equal(r.hops[i].ops, (uint64_t)(i + 1) * 10);
    run_result_free(&r);
    assert_null(r.hops);
    assert_int_equal(r.nhops, 0);
    assert_int_equal(r.hops_cap, 0);
    run_result_free(&r); /* twice is harmless */
}

static void test_stats(void **state)
{
    struct run_result r;
    struct report_stats st;

    (void)state;
    make_run(&r);
    report_stats_compute(&r, &st);
    assert_int_equal(st.migrations, 2);
    assert_int_equal(st.downtime_ms.min, 50);
    assert_int_equal(st.downtime_ms.max, 150);
    assert_float_equal(st.downtime_ms.avg, 100.0, 1e-9);
    assert_int_equal(st.total_ms.min, 1234);
    assert_int_equal(st.total_ms.max, 3000);
    assert_float_equal(st.total_ms.avg, 2117.0, 1e-9);
    assert_float_equal(st.per_minute, 2.0, 1e-9);
    r.duration_s = 0;
    report_stats_compute(&r, &st);
    assert_float_equal(st.per_minute, 0.0, 0);
    run_result_free(&r);
}

static void check_minmax(json_t *m, json_int_t min, double avg, json_int_t max)
{
    assert_true(json_is_object(m));
    assert_int_equal(json_integer_value(json_object_get(m, "min")), min);
    assert_float_equal(json_real_value(json_object_get(m, "avg")), avg, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(m, "max")), max);
}

static void test_json_every_field(void **state)
{
    struct run_result r;
    struct vqh_err err;
    json_error_t jerr;

    (void)state;
    make_run(&r);
    const char *dir = fresh_dir("json");
    const char *path = path_in(dir, "run.json");
    json_t *cfg = json_pack("{s:I, s:s}", "seed", (json_int_t)42, "command", "migrate");
    assert_true(report_json_write(path, cfg, &r, &err));
    assert_int_equal(cfg->refcount, 1); /* borrowed, not stolen or leaked */
    assert_int_equal(dir_entries(dir), 1);

    json_t *doc = json_load_file(path, JSON_STRICT, &jerr);
    if (!doc)
        fail_msg("%s: %s", path, jerr.text);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "vqhammer"), "version")),
                        report_build_id());
    assert_true(report_build_id()[0] != 0);
    assert_true(json_equal(json_object_get(doc, "config"), cfg));
    assert_string_equal(json_string_value(json_object_get(doc, "verdict")), "FAIL");
    assert_string_equal(json_string_value(json_object_get(doc, "reason")), r.reason);
    assert_string_equal(json_string_value(json_object_get(doc, "accel")), "tcg");
    assert_float_equal(json_real_value(json_object_get(doc, "duration_s")), 60.0, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(doc, "total_ops")), 123456);
    assert_int_equal(json_integer_value(json_object_get(doc, "guest_errors")), 3);
    assert_float_equal(json_real_value(json_object_get(doc, "migrations_per_minute")), 2.0, 1e-9);
    assert_string_equal(json_string_value(json_object_get(doc, "rundir")), r.rundir);
    assert_string_equal(json_string_value(json_object_get(doc, "reproducer")), r.reproducer);
    assert_string_equal(json_string_value(json_object_get(doc, "evidence")), r.evidence);

    json_t *hops = json_object_get(doc, "hops");
    assert_int_equal(json_array_size(hops), 5);
    json_t *h = json_array_get(hops, 0);
    assert_int_equal(json_object_size(h), 23); /* every field; no "failure" on a good hop, no
                                                  "ram_diff_pages" without --check-ram */
    assert_int_equal(json_integer_value(json_object_get(h, "nbd_outages")), 0);
    assert_int_equal(json_integer_value(json_object_get(h, "index")), 1);
    assert_string_equal(json_string_value(json_object_get(h, "kind")), "migrate");
    assert_string_equal(json_string_value(json_object_get(h, "src")), "vm1");
    assert_string_equal(json_string_value(json_object_get(h, "dst")), "vm2");
    assert_true(json_is_true(json_object_get(h, "ok")));
    assert_string_equal(json_string_value(json_object_get(h, "status")), "completed");
    assert_float_equal(json_real_value(json_object_get(h, "start_s")), 2.5, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(h, "total_ms")), 1234);
    assert_int_equal(json_integer_value(json_object_get(h, "downtime_ms")), 50);
    assert_int_equal(json_integer_value(json_object_get(h, "setup_ms")), 7);
    assert_int_equal(json_integer_value(json_object_get(h, "transferred")), 3 * 1024 * 1024);
    assert_int_equal(json_integer_value(json_object_get(h, "ram_total")), 512ll << 20);
    assert_int_equal(json_integer_value(json_object_get(h, "dirty_sync_count")), 4);
    assert_float_equal(json_real_value(json_object_get(h, "mbps")), 268.5, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(h, "ops")), 21);
    json_t *q = json_object_get(h, "queue_ops");
    assert_int_equal(json_array_size(q), 3);
    assert_int_equal(json_integer_value(json_array_get(q, 0)), 5);
    assert_int_equal(json_integer_value(json_array_get(q, 1)), 9);
    assert_int_equal(json_integer_value(json_array_get(q, 2)), 7);
    assert_int_equal(json_integer_value(json_object_get(h, "inflight_at_start")), 11);
    assert_int_equal(json_integer_value(json_object_get(h, "verify_checked")), 4096);
    assert_int_equal(json_integer_value(json_object_get(h, "verify_errors")), 0);
    assert_null(json_object_get(h, "failure"));
    assert_true(json_is_true(json_object_get(h, "tcg_dirty_exposed")));
    assert_true(json_is_true(json_object_get(h, "tlb_refresh")));
    json_t *m = json_object_get(h, "modes");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "asked"), 1)), "xbzrle");
    assert_int_equal(json_array_size(json_object_get(m, "proven")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "unexercised"), 0)), "xbzrle");
    assert_true(json_is_true(json_object_get(m, "postcopy_active")));
    assert_int_equal(json_integer_value(json_object_get(m, "postcopy_requests")), 17);

    h = json_array_get(hops, 2);
    assert_string_equal(json_string_value(json_object_get(h, "kind")), "cancel");
    assert_int_equal(json_array_size(json_object_get(h, "queue_ops")), 0);
    h = json_array_get(hops, 3);
    assert_string_equal(json_string_value(json_object_get(h, "kind")), "kill-dst");
    h = json_array_get(hops, 4);
    assert_true(json_is_false(json_object_get(h, "ok")));
    assert_int_equal(json_integer_value(json_object_get(h, "verify_errors")), 3);
    assert_string_equal(json_string_value(json_object_get(h, "failure")), r.reason);

    /* Only hops 1 and 2: cancel, kill-dst and the failed hop stay out of the stats. */
    json_t *sum = json_object_get(doc, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "migrations")), 2);
    check_minmax(json_object_get(sum, "downtime_ms"), 50, 100.0, 150);
    check_minmax(json_object_get(sum, "total_ms"), 1234, 2117.0, 3000);

    json_decref(doc);
    json_decref(cfg);
    run_result_free(&r);
}

static void test_json_optional_members(void **state)
{
    struct run_result r;
    struct vqh_err err;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.verdict = VERDICT_ERROR;
    snprintf(r.reason, sizeof(r.reason), "qemu said \xff\xfe here"); /* not UTF-8 */
    add(&r, HOP_CANCEL, true, "cancelled", 10, 10);
    const char *dir = fresh_dir("json-opt");
    const char *path = path_in(dir, "run.json");
    assert_true(report_json_write(path, NULL, &r, &err));
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    assert_true(json_is_null(json_object_get(doc, "config")));
    assert_string_equal(json_string_value(json_object_get(doc, "verdict")), "ERROR");
    assert_string_equal(json_string_value(json_object_get(doc, "reason")), "qemu said ?? here");
    assert_null(json_object_get(doc, "rundir"));
    assert_null(json_object_get(doc, "evidence"));
    assert_string_equal(json_string_value(json_object_get(doc, "reproducer")), "");
    assert_float_equal(json_real_value(json_object_get(doc, "migrations_per_minute")), 0.0, 0);
    json_t *sum = json_object_get(doc, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "migrations")), 0);
    assert_true(json_is_null(json_object_get(json_object_get(sum, "downtime_ms"), "min")));
    assert_true(json_is_null(json_object_get(json_object_get(sum, "downtime_ms"), "avg")));
    assert_true(json_is_null(json_object_get(json_object_get(sum, "total_ms"), "max")));
    json_decref(doc);
    run_result_free(&r);
}

static void test_atomic_replaces_and_cleans(void **state)
{
    struct run_result r;
    struct vqh_err err;

    (void)state;
    make_run(&r);
    const char *dir = fresh_dir("atomic");
    const char *path = path_in(dir, "out.json");
    FILE *f = fopen(path, "w");
    fputs("old contents, much longer than nothing at all, and not JSON", f);
    fclose(f);
    assert_true(report_json_write(path, NULL, &r, &err));
    assert_true(report_junit_write(path_in(dir, "out.xml"), &r, "migrate", &err));
    assert_int_equal(dir_entries(dir), 2); /* no temporary file left behind */
    /* A bare file name: the temporary file goes in the current directory. */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    bool rel = report_json_write("bare.json", NULL, &r, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_true(rel);
    assert_int_equal(dir_entries(dir), 3);
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    json_decref(doc);
    run_result_free(&r);
}

static bool fill_then_fail(FILE *f, void *ctx)
{
    (void)ctx;
    fputs("half a report", f);
    return false;
}

static void test_atomic_failed_fill_keeps_old(void **state)
{
    struct vqh_err err;

    (void)state;
    const char *dir = fresh_dir("atomic-fail");
    const char *path = path_in(dir, "keep.json");
    FILE *f = fopen(path, "w");
    fputs("{\"previous\": true}\n", f);
    fclose(f);
    err.msg[0] = 0;
    assert_false(report_write_atomic(path, fill_then_fail, NULL, &err));
    if (!strstr(err.msg, path))
        fail_msg("error '%s' does not name %s", err.msg, path);
    assert_int_equal(dir_entries(dir), 1);
    char *text = slurp(path);
    assert_string_equal(text, "{\"previous\": true}\n");
    free(text);
}

static void test_atomic_missing_dir(void **state)
{
    struct run_result r;
    struct vqh_err err;

    (void)state;
    make_run(&r);
    const char *path = path_in(rundir_base(rd), "no-such-dir/run.json");
    err.msg[0] = 0;
    assert_false(report_json_write(path, NULL, &r, &err));
    if (!strstr(err.msg, path) || !strstr(err.msg, strerror(ENOENT)))
        fail_msg("error '%s' lacks the path or the errno text", err.msg);
    const char *xml = path_in(rundir_base(rd), "no-such-dir/run.xml");
    err.msg[0] = 0;
    assert_false(report_junit_write(xml, &r, "migrate", &err));
    if (!strstr(err.msg, xml) || !strstr(err.msg, strerror(ENOENT)))
        fail_msg("error '%s' lacks the path or the errno text", err.msg);
    struct stat st;
    assert_int_not_equal(stat(path_in(rundir_base(rd), "no-such-dir"), &st), 0);
    /* A directory as the target is refused up front, not renamed over. */
    const char *dir = fresh_dir("a-dir");
    assert_false(report_json_write(dir, NULL, &r, &err));
    assert_non_null(strstr(err.msg, dir));
    assert_int_equal(dir_entries(dir), 0);
    run_result_free(&r);
}

/*
 * Well-formed enough: every element that opens closes, in order (a stack of names), outside the
 * XML declaration. '>' never appears raw inside attribute values (the writer escapes it).
 */
static void check_balanced(const char *xml)
{
    char stack[16][32];
    int depth = 0;

    for (const char *p = strchr(xml, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        if (p[1] == '?')
            continue;
        bool closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t n = strcspn(name, " />");
        assert_true(n > 0 && n < sizeof(stack[0]));
        if (closing) {
            assert_true(depth > 0);
            depth--;
            if (strncmp(stack[depth], name, n) || stack[depth][n])
                fail_msg("</%.*s> closes <%s>", (int)n, name, stack[depth]);
        } else if (end[-1] != '/') {
            assert_true(depth < 16);
            memcpy(stack[depth], name, n);
            stack[depth++][n] = 0;
        }
    }
    assert_int_equal(depth, 0);
}

static void check_plain_text(const char *xml)
{
    for (const unsigned char *p = (const unsigned char *)xml; *p; p++)
        if (*p < 0x20 && *p != '\n' && *p != '\t')
            fail_msg("control character 0x%02x in the XML", *p);
}

static void test_junit_fail(void **state)
{
    struct run_result r;
    struct vqh_err err;

    (void)state;
    make_run(&r);
    snprintf(r.hops[4].failure, sizeof(r.hops[4].failure), "bad <&\"'\x01 block");
    const char *dir = fresh_dir("junit");
    const char *path = path_in(dir, "run.xml");
    assert_true(report_junit_write(path, &r, "migrate", &err));
    assert_int_equal(dir_entries(dir), 1);
    char *xml = slurp(path);
    assert_non_null(xml);

    assert_non_null(strstr(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    char prop[256];
    snprintf(prop, sizeof(prop), "<property name=\"version\" value=\"%s\"/>", report_build_id());
    assert_non_null(strstr(xml, prop));
    check_balanced(xml);
    check_plain_text(xml);
    assert_int_equal(count(xml, "<testsuites "), 1);
    assert_int_equal(count(xml, "<testsuite "), 1);
    assert_int_equal(count(xml, "<testcase "), 6);
    assert_non_null(strstr(xml, "<testsuite name=\"migrate\" tests=\"6\" failures=\"2\" errors=\"0\""));
    assert_non_null(strstr(xml, "<testsuites name=\"vqhammer\" tests=\"6\" failures=\"2\" errors=\"0\" time=\"60.000\""));
    assert_non_null(strstr(xml, "name=\"hop 1 (migrate vm1-&gt;vm2)\" time=\"1.234\"/>"));
    assert_non_null(strstr(xml, "name=\"hop 3 (cancel vm3-&gt;vm4)\" time=\"0.400\"/>"));
    assert_non_null(strstr(xml, "name=\"hop 4 (kill-dst vm4-&gt;vm5)\""));
    assert_non_null(strstr(xml, "name=\"hop 5 (migrate vm5-&gt;vm6)\" time=\"9.999\">"));
    assert_non_null(strstr(xml, "<failure message=\"bad &lt;&amp;&quot;&apos;? block\""));
    assert_int_equal(count(xml, "<failure "), 2);
    assert_int_equal(count(xml, "</failure>"), 2);
    assert_int_equal(count(xml, "<error"), 0);
    assert_non_null(strstr(xml, "name=\"verdict\""));
    assert_non_null(strstr(xml, "<failure message=\"hop 5: 3 blocks corrupt on disk0 queue 2\" type=\"FAIL\">"));
    assert_non_null(strstr(xml, "reproducer: build/vqhammer migrate --seed 42 --migrations 5"));
    assert_null(strstr(xml, "<&"));
    free(xml);
    run_result_free(&r);
}

static void test_junit_error_and_pass(void **state)
{
    struct run_result r;
    struct vqh_err err;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.verdict = VERDICT_ERROR;
    snprintf(r.reason, sizeof(r.reason), "hop 2: cannot start the destination: qemu not found");
    add(&r, HOP_MIGRATE, true, "completed", 100, 5);
    struct hop_record *h = add(&r, HOP_MIGRATE, false, "", 0, 0);
    snprintf(h->failure, sizeof(h->failure), "%s", r.reason);
    const char *dir = fresh_dir("junit-error");
    const char *path = path_in(dir, "run.xml");
    assert_true(report_junit_write(path, &r, NULL, &err));
    char *xml = slurp(path);
    check_balanced(xml);
    assert_non_null(strstr(xml, "<testsuite name=\"vqhammer\" tests=\"3\" failures=\"0\" errors=\"2\""));
    assert_int_equal(count(xml, "<error "), 2);
    assert_int_equal(count(xml, "</error>"), 2);
    assert_non_null(strstr(xml, "type=\"ERROR\""));
    assert_int_equal(count(xml, "<failure"), 0);
    free(xml);

    r.verdict = VERDICT_PASS;
    r.reason[0] = 0;
    r.hops[1].ok = true;
    r.hops[1].failure[0] = 0;
    assert_true(report_junit_write(path, &r, "run", &err));
    xml = slurp(path);
    check_balanced(xml);
    assert_non_null(strstr(xml, "<testsuite name=\"run\" tests=\"3\" failures=\"0\" errors=\"0\""));
    assert_int_equal(count(xml, "<testcase "), 3);
    assert_int_equal(count(xml, "/>\n"), 3 + 2); /* three empty testcases, version and accel */
    assert_null(strstr(xml, "<failure"));
    assert_null(strstr(xml, "<error"));
    free(xml);
    assert_int_equal(dir_entries(dir), 1);
    run_result_free(&r);
}

static char *escaped(const char *s, bool attribute)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    report_xml_escape(m, s, attribute);
    fclose(m);
    return buf;
}

static void test_xml_escape(void **state)
{
    (void)state;
    struct {
        const char *in;
        bool attr;
        const char *out;
    } cases[] = {
        {"a&b<c>d\"e'f", false, "a&amp;b&lt;c&gt;d&quot;e&apos;f"},
        {"tab\tnl\ncr\r", true, "tab&#9;nl&#10;cr&#13;"},
        {"tab\tnl\ncr\r", false, "tab\tnl\ncr&#13;"},
        {"bell\a esc\033 nul-free\x1f del\x7f", false, "bell? esc? nul-free? del?"},
        {"caf\xc3\xa9 \xe2\x9c\x93", false, "caf\xc3\xa9 \xe2\x9c\x93"},       /* valid UTF-8 kept */
        {"bad \xc3\x28 \xff \xc0\xaf \xed\xa0\x80", false, "bad ?( ? ?? ???"}, /* invalid, overlong, surrogate */
        {"nonchar \xef\xbf\xbe|\xef\xbf\xbf", false, "nonchar ?|?"},
        {"cut \xe2\x9c", false, "cut ??"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = escaped(cases[i].in, cases[i].attr);
        if (strcmp(got, cases[i].out))
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].out);
        free(got);
    }
}

/* The whitespace-separated fields of the table row that starts with `prefix`. */
static int row_fields(const char *table, const char *prefix, char fields[16][64])
{
    const char *p = strstr(table, prefix);
    assert_non_null(p);
    char line[512];
    size_t n = strcspn(p, "\n");
    assert_true(n < sizeof(line));
    memcpy(line, p, n);
    line[n] = 0;
    int k = 0;
    for (char *save, *t = strtok_r(line, " ", &save); t && k < 16; t = strtok_r(NULL, " ", &save))
        snprintf(fields[k++], 64, "%s", t);
    return k;
}

static void test_table(void **state)
{
    struct run_result r;
    char *out = NULL;
    size_t len = 0;
    char fields[16][64];

    (void)state;
    make_run(&r);
    FILE *m = open_memstream(&out, &len);
    report_table_print(m, &r);
    fclose(m);

    assert_non_null(strstr(out, "src->dst"));
    assert_non_null(strstr(out, "\nhop 1 did not exercise xbzrle\n")); /* asked, no evidence */
    assert_null(strstr(out, "did not exercise postcopy"));
    int n = row_fields(out, "   1 migrate", fields);
    assert_int_equal(n, 14);
    const char *want[14] = {"1", "migrate", "vm1->vm2", "completed", "1234", "50", "7", "3.0", "21", "5", "9",
                            "4096", "0", "OK"};
    for (int i = 0; i < 14; i++)
        if (strcmp(fields[i], want[i]))
            fail_msg("hop 1 column %d: '%s', want '%s'", i, fields[i], want[i]);
    n = row_fields(out, "   3 cancel", fields);
    assert_int_equal(n, 14);
    assert_string_equal(fields[2], "vm3->vm4");
    assert_string_equal(fields[9], "-"); /* no queues recorded */
    n = row_fields(out, "   5 migrate", fields);
    assert_string_equal(fields[12], "3");
    assert_string_equal(fields[13], "FAIL");
    assert_non_null(strstr(out, "   4 kill-dst"));
    assert_non_null(strstr(out, "hop 5 failed: hop 5: 3 blocks corrupt"));
    assert_non_null(strstr(out, "migrations: 2 completed of 5 hops, 2.00 per minute"));
    assert_non_null(strstr(out, "downtime: min 50 ms, avg 100.0 ms, max 150 ms"));
    assert_non_null(strstr(out, "migration time: min 1234 ms, avg 2117.0 ms, max 3000 ms"));
    assert_non_null(strstr(out, "guest: 123456 operations, 3 errors"));
    assert_non_null(strstr(out, "\nVERDICT: FAIL - hop 5: 3 blocks corrupt on disk0 queue 2\n"));
    assert_non_null(strstr(out, "run directory: /tmp/vqh-abc123\n"));
    assert_non_null(strstr(out, "evidence: /tmp/vqh-abc123/evidence.txt\n"));
    assert_non_null(strstr(out, "reproducer: build/vqhammer migrate --seed 42"));
    for (size_t i = 0; i < len; i++)
        assert_true((unsigned char)out[i] < 0x80);
    free(out);
    run_result_free(&r);

    /* A run that never got to migrate: no table, and the verdict without a dangling dash. */
    memset(&r, 0, sizeof(r));
    m = open_memstream(&out, &len);
    report_table_print(m, &r);
    fclose(m);
    assert_null(strstr(out, "src->dst"));
    assert_non_null(strstr(out, "downtime: - (no completed migration)"));
    assert_non_null(strstr(out, "\nVERDICT: PASS\n"));
    assert_null(strstr(out, "run directory"));
    free(out);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static void test_status_plain(void **state)
{
    struct status_line s;
    char *out = NULL;
    size_t len = 0;

    (void)state;
    FILE *m = open_memstream(&out, &len);
    status_init(&s, m, false);
    assert_false(s.tty); /* a memstream is no terminal */
    s.clock_ms = fake_clock;
    fake_now = 1000;
    status_update(&s, "hop %d", 1);
    fake_now += 1000;
    status_update(&s, "hop %d", 2); /* too soon: dropped */
    status_event(&s, "event %s", "A"); /* events are never rate-limited */
    status_event(&s, "event %s", "B");
    fake_now += 3999;
    status_update(&s, "hop %d", 3);
    fake_now += 1;
    status_update(&s, "hop %d", 4); /* 5 s after hop 1 */
    fake_now += 100;
    status_update(&s, "hop %d", 5);
    status_done(&s);
    fclose(m);
    assert_string_equal(out, "hop 1\nevent A\nevent B\nhop 4\n");
    free(out);

    /* Never initialised: a no-op, not a crash. */
    struct status_line zero;
    memset(&zero, 0, sizeof(zero));
    status_update(&zero, "x");
    status_event(&zero, "y");
    status_done(&zero);
}

static void test_status_terminal(void **state)
{
    struct status_line s;
    char *out = NULL;
    size_t len = 0;

    (void)state;
    FILE *m = open_memstream(&out, &len);
    status_init(&s, m, false);
    s.tty = true; /* as if on a terminal; its width is unknown, so lines cut at 79 */
    s.clock_ms = fake_clock;
    fake_now = 0;
    status_update(&s, "a");
    fake_now = 50;
    status_update(&s, "b"); /* within 100 ms: not drawn yet */
    fake_now = 150;
    status_update(&s, "c\nd");
    status_event(&s, "E");
    fake_now = 160;
    status_update(&s, "%0100d", 7);
    status_done(&s); /* draws the skipped text, then ends the line */
    status_done(&s);
    fclose(m);
    char want[512];
    snprintf(want, sizeof(want), "\ra\033[K\rc d\033[K\r\033[KE\n\rc d\033[K\r%079d\033[K\n", 0);
    assert_string_equal(out, want);
    free(out);

    /* force_plain wins even on a terminal-looking stream. */
    status_init(&s, stderr, true);
    assert_false(s.tty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_hops),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_json_every_field),
        cmocka_unit_test(test_json_optional_members),
        cmocka_unit_test(test_atomic_replaces_and_cleans),
        cmocka_unit_test(test_atomic_failed_fill_keeps_old),
        cmocka_unit_test(test_atomic_missing_dir),
        cmocka_unit_test(test_junit_fail),
        cmocka_unit_test(test_junit_error_and_pass),
        cmocka_unit_test(test_xml_escape),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_status_plain),
        cmocka_unit_test(test_status_terminal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
