/*
 * test_lab_results.c: what the lab makes of its cells (tools/lab/): flaky or solid, failure
 * classes, known-issue signatures, the database and its history (new, fixed, still failing,
 * drift), and the JUnit, TAP and HTML writers. Cells are fake: no QEMU runs here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab_report.h"
#include "lab_verdict.h"

static char dir[] = "/tmp/vqh-test-labr-XXXXXX";

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

static void test_flaky(void **state)
{
    (void)state;
    double rate;
    int solid_fail[] = {1, 1, 1, 1};
    assert_int_equal(lab_verdict_of(solid_fail, 4, &rate), LAB_FAIL);
    assert_true(rate == 1.0);
    int flaky[] = {1, 1, 0, 0};
    assert_int_equal(lab_verdict_of(flaky, 4, &rate), LAB_FLAKY);
    assert_true(fabs(rate - 0.5) < 1e-9);
    int pass[] = {0};
    assert_int_equal(lab_verdict_of(pass, 1, &rate), LAB_PASS);
    assert_true(rate == 0.0);
    int error[] = {2};
    assert_int_equal(lab_verdict_of(error, 1, &rate), LAB_ERROR);
    /* A rerun that could not run (ERROR) does not make a solid failure flaky. */
    int fail_err[] = {1, 2, 1};
    assert_int_equal(lab_verdict_of(fail_err, 3, &rate), LAB_FAIL);
    assert_int_equal(lab_verdict_of(NULL, 0, &rate), LAB_ERROR);
    enum lab_verdict v;
    assert_true(lab_verdict_parse("flaky", &v) && v == LAB_FLAKY);
    assert_false(lab_verdict_parse("maybe", &v));
}

static void test_failure_class(void **state)
{
    (void)state;
    assert_string_equal(lab_failure_class("guest RAM differs between vm1 (source, postmigrate) and vm2", 1), "ram-differs");
    assert_string_equal(lab_failure_class("the source QEMU crashed during migration", 1), "qemu-crash");
    assert_string_equal(lab_failure_class("the guest on vm2 has been silent for 30000 ms (hang)", 1), "hang");
    assert_string_equal(lab_failure_class("corrupt block on queue 3", 1), "data-error");
    assert_string_equal(lab_failure_class("guest panic: #GP", 1), "guest-panic");
    assert_string_equal(lab_failure_class("something odd", 1), "other");
    assert_string_equal(lab_failure_class("QEMU would not start", 2), "setup");
    assert_string_equal(lab_failure_class("2 hops", 0), "");
}

static void test_known(void **state)
{
    (void)state;
    struct lab_known k;
    struct vqh_err err = {0};
    if (!lab_known_load(&k, "tests/lab/known-issues.yaml", &err))   /* the shipped signatures */
        fail_msg("%s", err.msg);
    assert_true(k.n >= 1);
    struct lab_failure f = {"ram-differs", "tcg", "guest RAM differs between vm1 and vm2 in 13 pages", "",
                            {"7.2.22", "7.2.22"}, true};
    const struct lab_known_issue *ki = lab_known_match(&k, &f);
    assert_non_null(ki);
    assert_string_equal(ki->id, "qemu-tcg-dirty-bitmap");
    assert_non_null(strstr(ki->upstream_fix, "03bfc2188f06"));
    f.klass = "hang";                               /* silent right after a hop: the same bug */
    assert_non_null(lab_known_match(&k, &f));
    f.qemu_version[0] = f.qemu_version[1] = "9.0.0"; /* fixed there: a new failure */
    assert_null(lab_known_match(&k, &f));
    f.qemu_version[1] = "8.2.1";                    /* a cross-version cell with an old side */
    assert_non_null(lab_known_match(&k, &f));
    f.accel = "kvm";
    assert_null(lab_known_match(&k, &f));
    f.accel = "tcg";
    f.after_hop = false;                            /* before any migration: not this bug */
    assert_null(lab_known_match(&k, &f));
    f.after_hop = true;
    f.klass = "qemu-crash";
    assert_null(lab_known_match(&k, &f));
    f.qemu_version[0] = f.qemu_version[1] = "";     /* unknown version: cannot claim the bug */
    f.klass = "ram-differs";
    assert_null(lab_known_match(&k, &f));

    /* Frames and text: every frame must be in the evidence, one regex in the text. */
    char bk[256];
    snprintf(bk, sizeof(bk), "%s/bad-known.yaml", dir);
    FILE *fp = fopen(bk, "w");
    assert_non_null(fp);
    fputs("issues:\n  - id: x\n    title: t\n    match: ['virtio_blk_.*assert']\n    frames: [virtqueue_pop, vring_used_idx]\n", fp);
    fclose(fp);
    assert_true(lab_known_load(&k, bk, &err));
    struct lab_failure g = {"qemu-crash", "tcg", "virtio_blk_handle_request: assertion failed", "#0 virtqueue_pop\n#1 vring_used_idx\n",
                            {"", ""}, false};
    assert_non_null(lab_known_match(&k, &g));
    g.evidence = "#0 virtqueue_pop\n";
    assert_null(lab_known_match(&k, &g));
    fp = fopen(bk, "w");
    fputs("issues:\n  - id: x\n    title: t\n    colour: red\n", fp);
    fclose(fp);
    assert_false(lab_known_load(&k, bk, &err));
    assert_non_null(strstr(err.msg, "bad-known.yaml:4: key 'colour'"));
    fp = fopen(bk, "w");
    fputs("issues:\n  - id: x\n    title: t\n    match: ['(']\n", fp);
    fclose(fp);
    assert_false(lab_known_load(&k, bk, &err));
    assert_non_null(strstr(err.msg, "key 'match'"));
    unlink(bk);

    assert_true(lab_version_cmp("7.2.22", "9.0") < 0);
    assert_true(lab_version_cmp("9.0.0", "9.0") == 0);
    assert_true(lab_version_cmp("10.0.2", "9.0") > 0);
}

static void test_drift(void **state)
{
    (void)state;
    double mean, spread;
    double prev[] = {1000, 1010, 990, 1005};
    assert_false(lab_drift(prev, 4, 1020, &mean, &spread));   /* within the usual spread */
    assert_true(fabs(mean - 1001.25) < 1e-6);
    assert_true(lab_drift(prev, 4, 700, &mean, &spread));     /* 30% down */
    assert_true(lab_drift(prev, 4, 1300, &mean, &spread));
    assert_false(lab_drift(prev, 2, 700, &mean, &spread));    /* two nights tell no spread */
    double noisy[] = {500, 1500, 800, 1200};                   /* a noisy figure drifts less easily */
    assert_false(lab_drift(noisy, 4, 1700, &mean, &spread));
    double with_gap[] = {1000, NAN, 1000, 1000};
    assert_true(lab_drift(with_gap, 4, 800, &mean, &spread));
}

/* A fake cell: verdict, ops figure, a known issue or not. */
static json_t *fake_cell(int index, const char *id, const char *verdict, double ops_per_s, const char *known)
{
    json_t *hops = json_pack("[{s:i, s:s, s:s, s:s, s:b, s:s, s:f, s:i, s:i, s:i, s:i, s:i, s:[i,i]}]", "index", 1, "kind", "migrate",
                             "src", "vm1", "dst", "vm2", "ok", strcmp(verdict, "fail") != 0, "status", "completed", "start_s", 1.0,
                             "total_ms", 300, "downtime_ms", 40, "setup_ms", 5, "transferred", 1000, "ops", 500, "queue_ops", 250, 250);
    if (!strcmp(verdict, "fail"))
        json_object_set_new(json_array_get(hops, 0), "failure", json_string("guest RAM differs </script><b>"));
    json_t *report = json_pack("{s:s, s:f, s:I, s:o, s:{s:{s:f}, s:{s:f}}, s:s, s:s}", "verdict",
                               !strcmp(verdict, "pass") ? "PASS" : "FAIL", "duration_s", 10.0, "total_ops",
                               (json_int_t)(ops_per_s * 10), "hops", hops, "summary", "downtime_ms", "avg", 40.0, "total_ms",
                               "avg", 300.0, "reproducer", "vqhammer migrate --seed 0x1", "accel", "tcg");
    json_t *c = json_pack("{s:i, s:s, s:s, s:{s:s, s:s}, s:s, s:f, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:i, s:s, s:s, s:f, s:o}]}",
                          "index", index, "id", id, "build", "qemu-7.2", "axes", "build", "qemu-7.2", "caps", id, "verdict", verdict,
                          "fail_rate", !strcmp(verdict, "pass") ? 0.0 : 1.0, "failures", !strcmp(verdict, "pass") ? 0 : 2,
                          "attempts_run", !strcmp(verdict, "pass") ? 1 : 2, "representative", 0, "seed", "0x1", "failure_class",
                          !strcmp(verdict, "pass") ? "" : "ram-differs", "reason", !strcmp(verdict, "pass") ? "2 hops" : "guest RAM differs",
                          "reproducer", "vqhammer migrate --seed 0x1", "qemu", "q", "qemu_dst", "q", "attempts", "attempt", 0,
                          "seed", "0x1", "verdict", !strcmp(verdict, "pass") ? "PASS" : "FAIL", "seconds", 10.0, "report", report);
    json_object_set_new(c, "known_issue", known ? json_pack("{s:s, s:s, s:s, s:s}", "id", known, "title", "t", "fixed_in", "9.0",
                                                            "upstream_fix", "03bfc2188f06") : json_null());
    return c;
}

static json_t *fake_night(int k, json_t *cells)
{
    char d[64], started[32];
    snprintf(d, sizeof(d), "/nights/n%d", k);
    snprintf(started, sizeof(started), "2026-11-%02dT02:00:00Z", k + 1);
    int by[4] = {0};
    size_t i;
    json_t *c;
    json_array_foreach(cells, i, c) {
        enum lab_verdict v;
        lab_verdict_parse(json_string_value(json_object_get(c, "verdict")), &v);
        by[v]++;
    }
    return json_pack("{s:{s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:o, s:{s:i, s:i, s:i, s:i, s:i, s:i}}", "lab", "version", "t",
                     "night", "name", "t", "started", started, "seed", "0x1", "host", "h", "dir", d, "cells", cells, "summary",
                     "cells", (int)json_array_size(cells), "pass", by[0], "flaky", by[1], "fail", by[2], "error", by[3], "known", 0);
}

static void test_db_history(void **state)
{
    (void)state;
    struct vqh_err err = {0};
    unlink("lab.sqlite");
    /* Four nights: "a" passes at a steady rate then drops; "b" fails once then is fixed; "c" starts failing on the last. */
    double a_ops[] = {1000, 1010, 995, 600};
    for (int k = 0; k < 4; k++) {
        json_t *cells = json_pack("[o, o, o]", fake_cell(0, "a", "pass", a_ops[k], NULL),
                                  fake_cell(1, "b", k == 2 ? "fail" : "pass", 500, NULL),
                                  fake_cell(2, "c", k == 3 ? "fail" : "pass", 500, NULL));
        json_t *night = fake_night(k, cells);
        if (!lab_db_store("lab.sqlite", night, &err))
            fail_msg("%s", err.msg);
        json_decref(night);
    }
    /* Storing the same night again replaces it: no duplicate rows. */
    json_t *again = fake_night(3, json_pack("[o, o, o]", fake_cell(0, "a", "pass", 600, NULL), fake_cell(1, "b", "pass", 500, NULL),
                                            fake_cell(2, "c", "fail", 500, "k1")));
    assert_true(lab_db_store("lab.sqlite", again, &err));
    json_decref(again);
    json_t *t = lab_db_trends("lab.sqlite", "t", NULL, 30, &err);
    if (!t)
        fail_msg("%s", err.msg);
    assert_int_equal(json_array_size(json_object_get(t, "nights")), 4);
    json_t *a = json_object_get(json_object_get(t, "cells"), "a");
    assert_int_equal(json_array_size(a), 4);
    assert_true(fabs(json_number_value(json_object_get(json_array_get(a, 0), "ops_per_s")) - 1000) < 1e-6);

    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int new_failures = -1;
    assert_int_equal(lab_history_print(m, t, &new_failures), 1);
    fclose(m);
    assert_int_equal(new_failures, 1);
    char *nf = strstr(buf, "new failures:"), *fx = strstr(buf, "fixed:"), *sf = strstr(buf, "still failing:"),
         *dr = strstr(buf, "drifted figures:");
    assert_true(nf && fx && sf && dr && nf < fx && fx < sf && sf < dr);
    char *c_line = strstr(buf, "  c: fail (ram-differs) known issue k1");
    assert_true(c_line && c_line > nf && c_line < fx);
    char *b_line = strstr(buf, "  b: pass (was fail)");
    assert_true(b_line && b_line > fx && b_line < sf);
    assert_non_null(strstr(sf, "none"));
    char *a_line = strstr(buf, "  a: ops_per_s 600.0, usually 1001.7");
    assert_true(a_line && a_line > dr);
    free(buf);
    json_decref(t);

    /* Trends up to an earlier night: night 2 (index 1) is then the last. */
    t = lab_db_trends("lab.sqlite", "t", "/nights/n1", 30, &err);
    assert_non_null(t);
    assert_int_equal(json_array_size(json_object_get(t, "nights")), 2);
    json_decref(t);
    assert_null(lab_db_trends("lab.sqlite", "t", "/nights/none", 30, &err));
    assert_non_null(strstr(err.msg, "no night stored from /nights/none"));
    assert_null(lab_db_trends("lab.sqlite", "other", NULL, 30, &err));
    unlink("lab.sqlite");
}

static void test_writers(void **state)
{
    (void)state;
    struct vqh_err err = {0};
    json_t *night = fake_night(0, json_pack("[o, o, o]", fake_cell(0, "a", "pass", 1000, NULL), fake_cell(1, "b", "fail", 500, NULL),
                                            fake_cell(2, "c", "fail", 500, "qemu-tcg-dirty-bitmap")));
    assert_int_equal(lab_night_status(night), 1);

    assert_true(lab_report_junit("j.xml", night, &err));
    char *j = slurp("j.xml");
    assert_non_null(j);
    assert_non_null(strstr(j, "<testsuites name=\"vqhammer lab t\" tests=\"3\" failures=\"2\" errors=\"0\">"));
    assert_non_null(strstr(j, "<testsuite name=\"b\" tests=\"2\" failures=\"2\""));          /* a hop and the verdict */
    assert_non_null(strstr(j, "name=\"hop 1 (migrate vm1-&gt;vm2)\"") ?: strstr(j, "name=\"hop 1 (migrate vm1->vm2)\""));
    assert_non_null(strstr(j, "<skipped message=\"known issue qemu-tcg-dirty-bitmap"));
    assert_null(strstr(j, "</script>"));                                                      /* escaped */
    free(j);

    assert_true(lab_report_tap("r.tap", night, &err));
    char *t = slurp("r.tap");
    assert_non_null(strstr(t, "TAP version 13\n1..3\nok 1 - a\nnot ok 2 - b\n  ---\n  verdict: fail\n"));
    assert_non_null(strstr(t, "not ok 3 - c # TODO known issue qemu-tcg-dirty-bitmap (fixed in QEMU 9.0)\n"));
    free(t);

    FILE *fp = fopen("chart.js", "w");
    fputs("window.Chart = function () {};", fp);
    fclose(fp);
    assert_true(lab_report_html("r.html", night, NULL, "chart.js", &err));
    char *h = slurp("r.html");
    assert_non_null(strstr(h, "window.Chart = function () {};"));                        /* inlined, no network */
    assert_null(strstr(h, "src=\"http"));
    assert_non_null(strstr(h, "<script type=\"application/json\" id=\"night\">"));
    assert_non_null(strstr(h, "guest RAM differs <\\/script>"));                          /* cannot end the element */
    assert_non_null(strstr(h, "function cellPage"));                                      /* the page's own script */
    free(h);
    assert_false(lab_report_html("r.html", night, NULL, "missing-chart.js", &err));
    assert_non_null(strstr(err.msg, "libjs-chart.js"));
    fp = fopen("chart.js", "w");
    fputs("x = '</script>';", fp);
    fclose(fp);
    assert_false(lab_report_html("r.html", night, NULL, "chart.js", &err));
    json_decref(night);
    unlink("j.xml"), unlink("r.tap"), unlink("r.html"), unlink("chart.js");
}

static char top[4096];

static int setup(void **state)
{
    (void)state;
    if (!getcwd(top, sizeof(top)) || !mkdtemp(dir))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* Tests that write files work in the scratch directory; test_known reads the shipped file first. */
static int in_scratch(void **state)
{
    (void)state;
    return chdir(dir);
}

static int back_to_top(void **state)
{
    (void)state;
    return chdir(top);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flaky), cmocka_unit_test(test_failure_class), cmocka_unit_test(test_known),
        cmocka_unit_test(test_drift), cmocka_unit_test_setup_teardown(test_db_history, in_scratch, back_to_top),
        cmocka_unit_test_setup_teardown(test_writers, in_scratch, back_to_top),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
