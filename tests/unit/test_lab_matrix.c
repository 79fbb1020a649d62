/* test_lab_matrix.c: the lab's matrix files, cell seeds, cell command lines and scheduling (tools/lab/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab.h"
#include "lab_sched.h"

static char dir[] = "/tmp/vqh-test-labm-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static const char good[] =
    "name: t\n"
    "seed: 42\n"
    "reruns: {same_seed: 2, fresh_seeds: 3}\n"
    "defaults: {migrations: 3, mem: 128}\n"
    "builds:\n"
    "  - {name: old, qemu: /q/old}\n"
    "  - {name: cross, qemu: /q/old, qemu_dst: /q/new}\n"
    "axes:\n"
    "  boot: [pvh, uefi]\n"
    "  smp: [1, 4]\n"
    "  caps: [plain, pc]\n"
    "caps:\n"
    "  plain: {}\n"
    "  pc: {postcopy: true, multifd: 2, migrations: 5}\n"
    "exclude:\n"
    "  - {build: cross, boot: uefi}\n"
    "only:\n"
    "  - {smp: 1}\n"
    "  - {caps: pc}\n";

static void test_expand(void **state)
{
    (void)state;
    struct lab_matrix m;
    struct vqh_err err = {0};
    assert_true(lab_matrix_load(&m, write_file("good.yaml", good), 0, &err));
    assert_string_equal(m.name, "t");
    assert_int_equal(m.seed, 42);
    assert_int_equal(m.rerun_same, 2);
    assert_int_equal(m.rerun_fresh, 3);
    /* 2 builds x 2 boots x 2 smp x 2 caps = 16; cross+uefi drops 4; only: smp 1 or pc drops (smp4, plain): 12 - 3 */
    assert_int_equal(m.ncells, 9);
    for (int i = 0; i < m.ncells; i++) {
        const struct lab_cell *c = &m.cells[i];
        assert_false(!strcmp(c->axis[LAB_AX_BUILD], "cross") && !strcmp(c->axis[LAB_AX_BOOT], "uefi"));
        assert_true(c->smp == 1 || !strcmp(c->axis[LAB_AX_CAPS], "pc"));
        assert_int_equal(lab_cell_cost(c), c->smp);
        assert_int_equal(lab_matrix_find(&m, c->id), i);
    }
    int i = lab_matrix_find(&m, "cross+pc-q35-7.2+pvh+smp4+q4+io1+default+default+pc");
    assert_true(i >= 0);
    char buf[8192], *argv[128];
    int n = lab_cell_argv(&m, &m.cells[i], "vqh", m.cells[i].seed, "/w", "/w/r.json", buf, sizeof(buf), argv, 128);
    assert_true(n > 0);
    assert_null(argv[n]);
    char line[4096] = "";
    for (int k = 0; k < n; k++) {
        strcat(line, argv[k]);
        strcat(line, " ");
    }
    assert_non_null(strstr(line, "vqh migrate --qemu /q/old --qemu-dst /q/new --machine pc-q35-7.2 --boot pvh --smp 4 "));
    assert_non_null(strstr(line, "--workdir /w --json /w/r.json --quiet"));
    assert_non_null(strstr(line, "--migrations 5 "));       /* the scenario overrides the default */
    assert_null(strstr(line, "--migrations 3"));
    assert_non_null(strstr(line, "--mem 128 "));
    assert_non_null(strstr(line, "--postcopy "));
    assert_non_null(strstr(line, "--multifd=2 "));
    /* Too small a buffer is refused, not truncated. */
    assert_int_equal(lab_cell_argv(&m, &m.cells[i], "vqh", 1, "/w", "/w/r.json", buf, 40, argv, 128), -1);
    lab_matrix_free(&m);
}

static void test_seeds(void **state)
{
    (void)state;
    struct lab_matrix a, b, c;
    struct vqh_err err;
    const char *p = write_file("seeds.yaml", good);
    assert_true(lab_matrix_load(&a, p, 0, &err));
    assert_true(lab_matrix_load(&b, p, 0, &err));
    assert_true(lab_matrix_load(&c, p, 7, &err));   /* --seed overrides the file's */
    assert_int_equal(c.seed, 7);
    for (int i = 0; i < a.ncells; i++) {
        assert_int_equal(a.cells[i].seed, b.cells[i].seed);         /* same night seed: same cell seeds */
        assert_int_not_equal(a.cells[i].seed, c.cells[i].seed);     /* another night: other seeds */
        assert_true(a.cells[i].seed && a.cells[i].seed <= 0xffffffffffffull);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(a.cells[i].seed, a.cells[j].seed);
        assert_int_equal(lab_seed_derive(a.cells[i].seed, 0), a.cells[i].seed);
        assert_int_not_equal(lab_seed_derive(a.cells[i].seed, 1), a.cells[i].seed);
        assert_int_not_equal(lab_seed_derive(a.cells[i].seed, 1), lab_seed_derive(a.cells[i].seed, 2));
    }
    assert_int_equal(lab_seed_cell(42, "x"), lab_seed_cell(42, "x"));
    lab_matrix_free(&a);
    lab_matrix_free(&b);
    lab_matrix_free(&c);
}

/* Each bad matrix must be refused with the file, the line and the key. */
static void expect_error(const char *text, const char *line_key, const char *words)
{
    struct lab_matrix m;
    struct vqh_err err = {0};
    const char *p = write_file("bad.yaml", text);
    assert_false(lab_matrix_load(&m, p, 0, &err));
    char want[512];
    snprintf(want, sizeof(want), "%s:%s", p, line_key);
    if (!strstr(err.msg, want) || !strstr(err.msg, words))
        fail_msg("error '%s' lacks '%s' or '%s'", err.msg, want, words);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("name: x\naxes:\n  boot: [pvh, pxe]\n", "3: key 'boot'", "not a boot path");
    expect_error("name: x\naxes:\n  smp: [1, two]\n", "3: key 'smp'", "not a whole number");
    expect_error("name: x\ndefaults:\n  migrashuns: 3\n", "3: key 'migrashuns'", "not an option");
    expect_error("name: x\ndefaults:\n  postcopy: maybe\n", "3: key 'postcopy'", "true or false");
    expect_error("name: x\ndefaults:\n  transport: udp\n", "3: key 'transport'", "unix|tcp");
    expect_error("name: x\nflavour: 3\n", "2: key 'flavour'", "unknown top-level key");
    expect_error("name: x\naxes:\n  caps: [fast]\n", "3: key 'caps'", "no caps scenario named 'fast'");
    expect_error("name: x\naxes:\n  build: [b]\n", "3: key 'build'", "no build named 'b'");
    expect_error("name: x\naxes: {boot: [pvh]}\nexclude:\n  - {boot: uefi}\n", "4: key 'boot'", "not a value of axis boot");
    expect_error("name: x\naxes: {boot: [pvh]}\nonly:\n  - {bot: pvh}\n", "4: key 'bot'", "not an axis");
    expect_error("name: x\naxes: {boot: [pvh]}\nexclude:\n  - {boot: pvh}\n", "1: key 'only'", "leave no cell");
    expect_error("name: x\nseed: -1\n", "2: key 'seed'", "not a non-negative number");
    expect_error("name: [x\n", "", "not valid YAML");
    expect_error("", "", "empty");
    expect_error("builds:\n  - {name: a}\n", "2: key 'builds'", "needs a name");
}

static void test_pick(void **state)
{
    (void)state;
    int cost[] = {2, 1, 4, 1};
    bool pending[] = {true, true, true, true};
    /* Capacity 2: the 2-CPU cell first, then nothing fits until it ends. */
    assert_int_equal(lab_sched_pick(cost, pending, 4, 0, 2), 0);
    pending[0] = false;
    assert_int_equal(lab_sched_pick(cost, pending, 4, 2, 2), -1);
    /* One CPU free: the first 1-CPU cell, skipping the 4-CPU one. */
    assert_int_equal(lab_sched_pick(cost, pending, 4, 1, 2), 1);
    pending[1] = false;
    assert_int_equal(lab_sched_pick(cost, pending, 4, 1, 2), 3);
    /* A cell bigger than the host runs alone, only when nothing else runs. */
    pending[3] = false;
    assert_int_equal(lab_sched_pick(cost, pending, 4, 1, 2), -1);
    assert_int_equal(lab_sched_pick(cost, pending, 4, 0, 2), 2);
    pending[2] = false;
    assert_int_equal(lab_sched_pick(cost, pending, 4, 0, 2), -1);
}

/* The shipped matrices must load: a typo in them would break `make lab-smoke` and the nights. */
static void test_shipped(void **state)
{
    (void)state;
    const char *files[] = {"tests/lab/smoke.yaml", "tests/lab/nightly.yaml"   /* run from the top: make test */};
    for (size_t i = 0; i < 2; i++) {
        struct lab_matrix m;
        struct vqh_err err = {0};
        if (!lab_matrix_load(&m, files[i], 0, &err))
            fail_msg("%s", err.msg);
        assert_true(m.ncells >= 4);
        assert_true(m.known_issues[0]);
        lab_matrix_free(&m);
    }
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand), cmocka_unit_test(test_seeds), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_pick), cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
