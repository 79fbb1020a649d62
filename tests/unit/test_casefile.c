/*
 * test_casefile.c: the integration tests' case file (tests/integration/casefile.c) and its expect
 * language (caseexpr_parse.c, caseexpr_eval.c) without QEMU: good files parse into what they say, every bad one is an
 * error naming file:line, and each assertion form both holds and fails where it must; above all
 * nothing passes vacuously (an empty selection, a missing member).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integration/casefile.h"

static const char good[] =
    "# comment\n"
    "\n"
    "[pingpong]\n"
    "cmd     = migrate --boot pvh --migrations 2\n"
    "exit    = 0\n"
    "needs   = qemu>=8.0 (needs a newer QEMU)\n"
    "needs   = !kvm\n"
    "let h   = .hops[*]\n"
    "expect  = $h.ok == true\n"
    "output ~ hop 2: \"done\"\n"
    "\n"
    "[alone]\n"
    "boot    = uefi\n"
    "smp     = 2\n"
    "config  = duration=1\n"
    "config  = min_disks=0\n"
    "qemu    = -object iothread,id=io0\n"
    "qemu    = -device foo\n"
    "image   = d.img 64M\n"
    "write   = b.conf [x]\\nk = \"v\"\\n\n"
    "exit    = panic\n"
    "timeout = 30\n"
    "output !~ bad\n";

static void test_good_file_parses(void **state)
{
    (void)state;
    struct case_set s;
    char err[CASE_ERR_MAX] = "";
    assert_true(casefile_parse("g.cfg", good, &s, err, sizeof(err)));
    assert_int_equal(s.n, 2);
    const struct vqh_case *a = &s.cases[0], *b = &s.cases[1];
    assert_string_equal(a->name, "pingpong");
    assert_int_equal(a->line, 3);
    assert_string_equal(a->cmd, "migrate --boot pvh --migrations 2");
    assert_null(a->boot);
    assert_int_equal(a->exit, 0);
    assert_int_equal(a->timeout_s, CASE_CMD_TIMEOUT_S);
    assert_true(a->json); /* it has an expect line: vqhammer gets --json */
    assert_int_equal(a->nneeds, 2);
    assert_int_equal(a->needs[0].kind, NEED_QEMU);
    assert_false(a->needs[0].negate);
    assert_int_equal(a->needs[0].ver[0], 8);
    assert_int_equal(a->needs[1].kind, NEED_KVM);
    assert_true(a->needs[1].negate);
    assert_int_equal(a->nlets, 1);
    assert_int_equal(a->nchecks, 2);
    assert_int_equal(a->checks[1].line, 10);

    assert_string_equal(b->boot, "uefi");
    assert_int_equal(b->smp, 2);
    assert_string_equal(b->config, "duration=1\nmin_disks=0"); /* one line each: line numbers hold */
    assert_string_equal(b->qemu, "-object iothread,id=io0 -device foo");
    assert_int_equal(b->exit, 7); /* WIRE_EXIT_STATUS(WIRE_VERDICT_PANIC) */
    assert_int_equal(b->timeout_s, 30);
    assert_false(b->json);
    assert_int_equal(b->nfiles, 2);
    assert_int_equal(b->files[0].size, 64ull << 20);
    assert_null(b->files[0].text);
    assert_string_equal(b->files[1].text, "[x]\nk = \"v\"\n");
    casefile_free(&s);
}

/* Each bad file: the error names the file and line and says what is wrong. */
static void expect_bad(const char *text, const char *want)
{
    struct case_set s;
    char err[CASE_ERR_MAX] = "";
    if (casefile_parse("bad.cfg", text, &s, err, sizeof(err)))
        fail_msg("accepted: %s", text);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    assert_int_equal(s.n, 0);
}

static void test_bad_files_name_file_and_line(void **state)
{
    (void)state;
    expect_bad("", "bad.cfg:1: no cases");
    expect_bad("cmd = run\n", "bad.cfg:1: a key before the first [case]");
    expect_bad("[a]\ncmd = run\nexit = 0\nfrob = 1\n", "bad.cfg:4: unknown key 'frob'");
    expect_bad("[a]\ncmd = run\nexit = 0\n[a]\ncmd = run\nexit = 0\n", "bad.cfg:4: case [a] again (first at line 1)");
    expect_bad("[a]\ncmd = run\n\n[b]\ncmd = run\nexit = 0\n", "bad.cfg:1: case [a] has no exit = line");
    expect_bad("[a]\nexit = 0\n", "bad.cfg:1: case [a] has neither cmd");
    expect_bad("[a]\ncmd = run\nexit = 3x\n", "bad.cfg:3: exit = '3x'");
    expect_bad("[a]\ncmd = run\nexit = pass\n", "bad.cfg:3: exit = pass is for boot cases");
    expect_bad("[a]\ncmd = run\nexit = 0\nexpect = .a ==\n", "bad.cfg:4: in '.a ==': column 6: expression ends too early");
    expect_bad("[a]\ncmd = run\nexit = 0\nexpect = .a == 1 1\n", "bad.cfg:4: in '.a == 1 1': column 9: unexpected '1'");
    expect_bad("[a]\ncmd = run\nexit = 0\nexpect = hops == 1\n", "unknown word 'hops'");
    expect_bad("[a]\ncmd = run\nexit = 0\nexpect = $x == 1\n", "bad.cfg:4: in '$x == 1': column 3: unknown variable $x");
    expect_bad("[a]\ncmd = run\nexit = 0\nexpect = .a ~ \"(\"\n", "bad regex");
    expect_bad("[a]\ncmd = run\nexit = 0\noutput ~ a[\n", "bad.cfg:4: bad regex 'a['");
    expect_bad("[a]\ncmd = run\nexit = 0\nconfig = duration=1\n", "bad.cfg:4: config = belongs to boot cases");
    expect_bad("[a]\ncmd = run \"x\nexit = 0\n", "bad.cfg:2: cmd: unterminated quote");
    expect_bad("[a]\ncmd = run\nexit = 0\nneeds = qemu=8\n", "bad.cfg:4: needs 'qemu=8'");
    expect_bad("[a]\ncmd = run\nexit = 0\nneeds = sunshine\n", "expected kvm, !kvm");
    expect_bad("[a]\nboot = bios\n", "bad.cfg:2: boot = 'bios'");
    expect_bad("[a]\nboot = pvh\nimage = x.img lots\nexit = pass\n", "bad.cfg:3: image = x.img 'lots'");
    expect_bad("[a]\nboot = pvh\nimage = ../x.img 1M\nexit = pass\n", "bad.cfg:3: image = NAME SIZE");
    expect_bad("[A b]\n", "bad.cfg:1: case name 'A b'");
    expect_bad("[a]\ncmd = run\nboot = pvh\n", "bad.cfg:3: a case has one cmd or one boot line");
    expect_bad("[a]\ncmd = run\nexit = 0\njust words\n", "bad.cfg:4: expected `key = value`");
    expect_bad("[a]\ncmd = run\nexit = 0\nlet Dir = 1\n", "bad.cfg:4: let 'Dir'");
    expect_bad("[a]\ncmd = run\nexit = 0\nexpect = .a[?b == ]\n", "literal after the filter");
    expect_bad("[a]\ncmd = run\nexit = 0\nexpect = .a[1::0] == 1\n", "slice's step");
    expect_bad("[a]\ncmd = run\nexit = 0\nexpect = capture(output) == 1\n", "capture() takes two arguments");
}

/* ---- the expect language ------------------------------------------------------------------------ */

static const char doc_text[] =
    "{\"verdict\":\"PASS\",\"reason\":\"hop 2: guest RAM differs \\\"bad_lba\\\":770}\",\"duration_s\":12.5,"
    "\"rundir\":\"RUNDIR\",\"known_bug\":null,"
    "\"hops\":[{\"ok\":true,\"src\":\"vm1\",\"dst\":\"vm2\",\"q\":[1,2],\"kind\":\"ping\",\"node-name\":\"n0\"},"
    "{\"ok\":true,\"src\":\"vm2\",\"dst\":\"vm1\",\"q\":[3,4],\"kind\":\"cancel\"},"
    "{\"ok\":false,\"src\":\"vm1\",\"dst\":\"vm2\",\"q\":[5,0],\"kind\":\"ping\"},"
    "{\"ok\":true,\"src\":\"vm2\",\"dst\":\"vm1\",\"q\":[7,8],\"kind\":\"cancel\"}],"
    "\"gen\":{\"found\":4,\"expected\":5},\"tag\":\"0x35071bd1\"}";

static char rundir[256];

static bool holds(const char *expr, char *why, size_t len)
{
    json_t *doc = json_loads(doc_text, 0, NULL);
    assert_non_null(doc);
    json_object_set_new(doc, "rundir", json_string(rundir));
    struct cx_let lets[1] = { { "h", NULL } };
    char err[CX_ERR_MAX];
    lets[0].expr = cx_parse_value(".hops[*]", NULL, 0, err, sizeof(err));
    assert_non_null(lets[0].expr);
    struct cx_node *n = cx_parse(expr, lets, 1, err, sizeof(err));
    if (!n)
        fail_msg("'%s' does not parse: %s", expr, err);
    struct cx_ctx c = { .doc = doc, .output = "hop 1: fine\ncorrupted block 77 of disk 0\n", .exit = 1,
                        .dir = rundir, .lets = lets, .nlets = 1 };
    bool ok = cx_check(n, &c, why, len);
    cx_free(n);
    cx_free(lets[0].expr);
    json_decref(doc);
    return ok;
}

static void yes(const char *expr)
{
    char why[CX_ERR_MAX];
    if (!holds(expr, why, sizeof(why)))
        fail_msg("'%s' should hold: %s", expr, why);
}

static void no(const char *expr, const char *want)
{
    char why[CX_ERR_MAX];
    if (holds(expr, why, sizeof(why)))
        fail_msg("'%s' should not hold", expr);
    if (!strstr(why, want))
        fail_msg("'%s': reason '%s' lacks '%s'", expr, why, want);
}

static void test_paths_and_comparisons(void **state)
{
    (void)state;
    yes(".verdict == \"PASS\"");
    no(".verdict == \"FAIL\"", "`.verdict` is \"PASS\", not == \"FAIL\"");
    yes(".duration_s < 70 && .duration_s >= 12.5 && .duration_s != 3");
    yes("len(.hops) == 4");
    yes("len(.hops[*].q) == 2");
    yes(".hops[0:2].ok == true");
    no(".hops[*].ok == true", "`.hops[2].ok` is false, not == true");
    no(".hops[*].q[*] > 0", "`.hops[2].q[1]` is 0, not > 0");
    yes(".hops[-1].dst == \"vm1\"");
    yes(".hops[1::2].kind == \"cancel\" && count(.hops[1::2]) == 2");
    yes(".hops[1:].src == .hops[:-1].dst"); /* pairwise */
    no(".hops[1:].src == .hops[1:].dst", "`.hops[1].src` is \"vm2\", not == \"vm1\"");
    no(".hops[1:].src == .hops[*].dst", "3 values against 4");
    yes("sum(.hops[*].q[*]) == 30 && sum(.hops[0].q[*]) == 3");
    yes("count(.hops[?kind == \"cancel\"]) == 2 && .hops[?kind == \"cancel\"].dst == \"vm1\"");
    yes("count(.hops[?kind == \"ping\" && ok == true]) == 1");
    yes("first(.hops[?kind == \"ping\"]).src == \"vm1\"");
    yes("count(.hops[?node-name]) == 1 && .hops[0].node-name == \"n0\"");
    yes(".gen.found == .gen.expected - 1 && .gen.found * 2 == 8 && .duration_s / 5 == 2.5");
    yes("num(.tag) == 0x35071bd1 && num(.tag) == 889658321");
    yes("$h.src ~ \"^vm[12]$\" && count($h) == 4");
    yes(".");
    yes("len(.) > 3");
}

/* Nothing passes for want of a value: an empty selection or a missing member fails every operator. */
static void test_nothing_passes_vacuously(void **state)
{
    (void)state;
    no(".hops[?kind == \"none\"].ok == true", "selects nothing");
    no(".nope == null", "`.nope` is missing");
    no(".nope != 3", "`.nope` is missing");
    no(".nope !~ \"x\"", "~ needs a string");
    no("len(.nope) == 0", "is missing");
    no(".hops[9].ok == true", "`.hops[9].ok` is missing");
    no(".nope", "`.nope` is missing");
    no(".known_bug", "is null");
    no("sum(.hops[*].kind) == 0", "missing");
    no(".verdict + 1 > 0", "is \"PASS1\"");
    no(".hops[*].nope + 1 > 0", "missing");
    yes(".known_bug == null");
    yes("count(.hops[?kind == \"none\"]) == 0 && sum(.hops[?kind == \"none\"].q[0]) == 0");
}

static void test_text_output_files_and_logic(void **state)
{
    (void)state;
    snprintf(rundir, sizeof(rundir), "/tmp/vqh-casefile-XXXXXX");
    assert_non_null(mkdtemp(rundir));
    char path[300];
    snprintf(path, sizeof(path), "%s/serial-merged.log", rundir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("0.1 vm1 {\"type\":\"hello\"}\nnot json\n0.2 vm2 {\"type\":\"error\",\"class\":\"stale\"}\n"
          "0.3 vm2 {\"type\":\"error\",\"class\":\"corrupt\"}\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/zero.img", rundir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 4096), 0);
    fclose(f);

    yes("output ~ \"hop 1: fine\" && output !~ \"hop 3\"");
    no("output ~ \"hop 3\"", "does not match \"hop 3\"");
    yes("exit == 1");
    no("exit == 0", "`exit` is 1, not == 0");
    yes("num(capture(output, \"corrupted block ([0-9]+)\")) == 77");
    no("capture(output, \"no such ([0-9]+)\") == \"77\"", "missing");
    yes(".reason ~ \"\\\"bad_lba\\\":\" + capture(output, \"block ([0-9]+)\") + \"0\"");
    no(".reason ~ \"\\\"bad_lba\\\":\" + capture(output, \"block ([0-9]+)\") + \"([^0-9]|$)\"", "does not match");
    yes("first(lines(file(.rundir + \"/serial-merged.log\"))[?type == \"error\"]).class == \"stale\"");
    yes("count(lines(file($dir + \"/serial-merged.log\"))[*]) == 3");
    yes("nonzero(file($dir + \"/zero.img\")) == 0 && len(file($dir + \"/zero.img\")) == 4096");
    no("nonzero(file($dir + \"/serial-merged.log\")) == 0", "not == 0");
    no("file($dir + \"/nope\") ~ \"x\"", "missing");
    yes("(.verdict == \"FAIL\" && exit == 1) || (.verdict == \"PASS\" && output ~ \"fine\")");
    no("(.verdict == \"FAIL\") || (exit == 0)", "neither holds");
    yes("!(.verdict == \"FAIL\") && !.nope");
    no("!(.verdict == \"PASS\")", "negated");
    yes("(.duration_s + 0.5) * 2 == 26");

    unlink(path);
    snprintf(path, sizeof(path), "%s/serial-merged.log", rundir);
    unlink(path);
    rmdir(rundir);
}

static void test_words_and_versions(void **state)
{
    (void)state;
    char **w = casefile_words("migrate --disk ${dir}/a.img \"two words\" x'y z'${top} ", "/s", "/t");
    assert_non_null(w);
    assert_string_equal(w[0], "migrate");
    assert_string_equal(w[1], "--disk");
    assert_string_equal(w[2], "/s/a.img");
    assert_string_equal(w[3], "two words");
    assert_string_equal(w[4], "xy z/t");
    assert_null(w[5]);
    casefile_words_free(w);
    assert_null(casefile_words("a 'b", "", ""));

    struct case_need n = { .kind = NEED_QEMU, .ver = { 9, 0, 0 } };
    const int v72[3] = { 7, 2, 22 }, v90[3] = { 9, 0, 0 }, v10[3] = { 10, 0, 2 };
    assert_false(casefile_qemu_ok(&n, v72));
    assert_true(casefile_qemu_ok(&n, v90));
    assert_true(casefile_qemu_ok(&n, v10));
    n.negate = true; /* qemu<9.0 */
    assert_true(casefile_qemu_ok(&n, v72));
    assert_false(casefile_qemu_ok(&n, v90));
}

/* needs = qemu10 and ${qemu10}: the second QEMU's path, $VQH_QEMU10 or the unpacked default. */
static void test_qemu10_need_and_path(void **state)
{
    (void)state;
    struct case_set s = { 0 };
    char err[CASE_ERR_MAX] = "";
    assert_true(casefile_parse("q.cfg", "[q]\nneeds = qemu10 (iothread-vq-mapping)\ncmd = migrate --qemu ${qemu10}\n"
                                        "exit = 0\n", &s, err, sizeof(err)));
    assert_int_equal(s.cases[0].nneeds, 1);
    assert_int_equal(s.cases[0].needs[0].kind, NEED_QEMU10);
    casefile_free(&s);
    assert_false(casefile_parse("q.cfg", "[q]\nneeds = qemu11\ncmd = x\nexit = 0\n", &s, err, sizeof(err)));
    assert_non_null(strstr(err, "qemu11"));

    unsetenv("VQH_QEMU10");
    char **w = casefile_words("--qemu ${qemu10}", "", "");
    assert_string_equal(w[1], CASE_QEMU10_DEFAULT);
    casefile_words_free(w);
    setenv("VQH_QEMU10", "/x/q10", 1);
    w = casefile_words("--qemu=${qemu10}", "", "");
    assert_string_equal(w[0], "--qemu=/x/q10");
    assert_null(w[1]);
    casefile_words_free(w);
    unsetenv("VQH_QEMU10");
}

/* The project's own case file parses (a broken one would fail test_cases as one failure). */
static void test_project_case_file_parses(void **state)
{
    (void)state;
    FILE *f = fopen("tests/integration/cases.cfg", "r");
    if (!f)
        skip(); /* run from elsewhere than the source tree */
    static char text[1 << 18];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    struct case_set s;
    char err[CASE_ERR_MAX] = "";
    if (!casefile_parse("tests/integration/cases.cfg", text, &s, err, sizeof(err)))
        fail_msg("%s", err);
    assert_true(s.n > 10);
    casefile_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file_parses),
        cmocka_unit_test(test_bad_files_name_file_and_line),
        cmocka_unit_test(test_paths_and_comparisons),
        cmocka_unit_test(test_nothing_passes_vacuously),
        cmocka_unit_test(test_text_output_files_and_logic),
        cmocka_unit_test(test_words_and_versions),
        cmocka_unit_test(test_qemu10_need_and_path),
        cmocka_unit_test(test_project_case_file_parses),
    };
    return cmocka_run_group_tests_name("casefile", tests, NULL, NULL);
}
