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

/* The options of the block-layer scenarios (block graphs, hop actions, hot-plug, resets). */
static const char reach[] =
    "name: r\n"
    "defaults: {migrations: 2}\n"
    "builds: [{name: b, qemu: /q/b}]\n"
    "axes:\n"
    "  storage: [qcow2, nbd]\n"
    "  hops: [acts, plug, reset]\n"
    "storage:\n"
    "  qcow2: {disk_graph: \"qcow2,l2-cache-size=1M,cache-clean-interval=1\"}\n"
    "  nbd: {disk_graph: [\"nbd,reconnect-delay=5\"], nbd_chaos: \"4000:8000\"}\n"
    "hops:\n"
    "  acts: {hop_actions: [paused, backup, werror], hop_mix: random}\n"
    "  plug: {hotplug_slots: 2, hotplug_every: 1}\n"
    "  reset: {reset_every: 3, hop_actions: \"commit,late-cancel\"}\n"
    "exclude:\n"
    "  - {storage: nbd, hops: plug}\n";

/* The arguments after --quiet (the matrix's options), joined by single spaces. */
static void cell_opts_line(const struct lab_matrix *m, const char *id, char *line, size_t cap)
{
    int i = lab_matrix_find(m, id);
    if (i < 0)
        fail_msg("no cell %s", id);
    char buf[8192], *argv[128];
    int n = lab_cell_argv(m, &m->cells[i], "vqh", 1, "/w", "/w/r.json", buf, sizeof(buf), argv, 128);
    assert_true(n > 0);
    int k = 0;
    while (k < n && strcmp(argv[k], "--quiet"))
        k++;
    line[0] = 0;
    for (k++; k < n; k++)
        snprintf(line + strlen(line), cap - strlen(line), "%s%s", line[0] ? " " : "", argv[k]);
}

static void test_reach_options(void **state)
{
    (void)state;
    struct lab_matrix m;
    struct vqh_err err = {0};
    if (!lab_matrix_load(&m, write_file("reach.yaml", reach), 0, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(m.ncells, 5);
    char line[4096];
    cell_opts_line(&m, "b+pc-q35-7.2+pvh+smp2+q4+io1+qcow2+acts+default", line, sizeof(line));
    assert_string_equal(line, "--migrations 2 --disk-graph qcow2,l2-cache-size=1M,cache-clean-interval=1 "
                              "--hop-actions paused,backup,werror --hop-mix random");
    cell_opts_line(&m, "b+pc-q35-7.2+pvh+smp2+q4+io1+nbd+reset+default", line, sizeof(line));
    assert_string_equal(line, "--migrations 2 --disk-graph nbd,reconnect-delay=5 --nbd-chaos 4000:8000 "
                              "--reset-every 3 --hop-actions commit,late-cancel");
    cell_opts_line(&m, "b+pc-q35-7.2+pvh+smp2+q4+io1+qcow2+plug+default", line, sizeof(line));
    assert_string_equal(line, "--migrations 2 --disk-graph qcow2,l2-cache-size=1M,cache-clean-interval=1 "
                              "--hotplug-slots 2 --hotplug-every 1");
    assert_int_equal(lab_matrix_find(&m, "b+pc-q35-7.2+pvh+smp2+q4+io1+nbd+plug+default"), -1);
    lab_matrix_free(&m);

    /* A list option is its flag once per item (the i-th --disk-graph is disk i's). */
    struct lab_opt two = {"disk_graph", "qcow2\nraw,align=4096"};
    char buf[512], *argv[16];
    assert_int_equal(lab_opt_argv(&two, "/w", buf, sizeof(buf), argv, 16), 4);
    assert_string_equal(argv[0], "--disk-graph");
    assert_string_equal(argv[1], "qcow2");
    assert_string_equal(argv[2], "--disk-graph");
    assert_string_equal(argv[3], "raw,align=4096");
    assert_null(argv[4]);
}

/* `disks`: the lab's scratch disks beside the attempt's report, so per-disk graphs can be given. */
static void test_disks(void **state)
{
    (void)state;
    struct lab_matrix m;
    struct vqh_err err = {0};
    if (!lab_matrix_load(&m, write_file("disks.yaml",
                                        "name: d\n"
                                        "builds: [{name: b, qemu: /q/b}]\n"
                                        "axes: {iothreads: 2, storage: two}\n"
                                        "storage:\n"
                                        "  two: {disks: 2, disk_graph: [\"qcow2,iothread=0,throttle=tg:iops=500\",\n"
                                        "                               \"raw,align=4096,iothread=1,throttle=tg:iops=500\"]}\n"),
                         0, &err))
        fail_msg("%s", err.msg);
    char line[4096];
    cell_opts_line(&m, "b+pc-q35-7.2+pvh+smp2+q4+io2+two+default+default", line, sizeof(line));
    assert_string_equal(line, "--disk /w/disk0.img --disk /w/disk1.img --disk-overwrite "
                              "--disk-graph qcow2,iothread=0,throttle=tg:iops=500 "
                              "--disk-graph raw,align=4096,iothread=1,throttle=tg:iops=500");
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
    /* The block-layer options: vqhammer's own checks, with its fix, at the key's line. */
    expect_error("name: x\nstorage:\n  s: {disk_graph: qcow3}\n", "3: key 'disk_graph'", "unknown item 'qcow3'");
    expect_error("name: x\nstorage:\n  s: {disk_graph: \"raw,l2-cache-size=1M\"}\n", "3: key 'disk_graph'",
                 "qcow2 options: add qcow2");
    expect_error("name: x\nstorage:\n  s: {disk_graph: []}\n", "3: key 'disk_graph'", "an empty list");
    expect_error("name: x\nstorage:\n  s: {nbd_chaos: \"1000:2000\"}\n", "3: key 'nbd_chaos'",
                 "MIN must be 4000 ms or more");
    expect_error("name: x\nstorage:\n  s: {nbd_chaos: soon}\n", "3: key 'nbd_chaos'", "expected MIN_MS:MAX_MS");
    expect_error("name: x\nhops:\n  h: {hop_actions: [paused, pause]}\n", "3: key 'hop_actions'",
                 "unknown action 'pause'");
    expect_error("name: x\nhops:\n  h: {hop_actions: [\"paused,backup\"]}\n", "3: key 'hop_actions'", "holds a ','");
    expect_error("name: x\nhops:\n  h: {hop_mix: shuffle}\n", "3: key 'hop_mix'", "rotate|random");
    expect_error("name: x\nhops:\n  h: {hotplug_slots: 99}\n", "3: key 'hotplug_slots'", "--hotplug-slots: bad value '99'");
    expect_error("name: x\nhops:\n  h: {reset_every: 0}\n", "3: key 'reset_every'", "--reset-every: bad value '0'");
    expect_error("name: x\ndefaults:\n  multifd: 0\n", "3: key 'multifd'", "--multifd: bad value '0'");
    /* Combinations vqhammer refuses are refused for the cell, with a way out. */
    expect_error("name: x\naxes: {hops: acts, caps: pc}\nhops:\n  acts: {hop_actions: paused}\ncaps:\n  pc: {postcopy: true}\n",
                 "1: cell system+pc-q35-7.2+pvh+smp2+q4+io1+default+acts+pc",
                 "--hop-actions cannot be combined with --cancel-every, --kill-dst-every, --postcopy");
    expect_error("name: x\ndefaults: {hotplug_every: 2}\n", "1: cell ", "add --hotplug-slots N");
    expect_error("name: x\ndefaults: {disk_graph: [raw, qcow2]}\n", "1: cell ",
                 "--disk-graph given 2 times for 1 data disk(s)");
    expect_error("name: x\naxes: {iothreads: 1}\ndefaults: {disk_graph: vq-iothreads=2}\n", "1: cell ", "raise --iothreads");
    expect_error("name: x\ndefaults: {nbd_chaos: \"4000:8000\"}\n", "1: cell ", "add --disk-graph nbd");
    expect_error("name: x\ndefaults: {hotplug_slots: 1, hotplug_every: 1, disk_graph: nbd}\n", "1: cell ",
                 "exclude rule");
    expect_error("name: x\ndefaults: {disks: 9}\n", "2: key 'disks'", "1..8");
    expect_error("name: x\naxes: {boot: uefi}\ndefaults: {disks: 8}\n", "1: cell ", "at most 7 data disks");
    expect_error("name: x\ndefaults: {disks: 2, hotplug_slots: 7}\n", "1: cell ", "use --hotplug-slots 6 or fewer");
    expect_error("name: x\ndefaults: {disks: 2, disk_graph: [raw, qcow2, nbd]}\n", "1: cell ",
                 "--disk-graph given 3 times for 2 data disk(s)");
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
        cmocka_unit_test(test_expand), cmocka_unit_test(test_reach_options), cmocka_unit_test(test_disks), cmocka_unit_test(test_seeds), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_pick), cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
