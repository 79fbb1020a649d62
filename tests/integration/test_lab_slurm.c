/*
 * test_lab_slurm.c: the lab over Slurm on a private single-node cluster (Debian's slurm-wlm
 * and munge, started and stopped by tests/lab/slurm-node.sh in the scratch directory): `lab
 * submit --slurm --wait` runs one array task per cell into a shared night directory and `lab
 * collect` makes the database and the reports of it. `lab cells` prints runnable commands.
 * Not a case of cases.cfg: it starts and stops a Slurm cluster around the runs and reads the
 * night's files between steps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define LAB_TIMEOUT_MS 300000

static char cluster[600], conf[700];
static bool cluster_up;

static const char *scratch(const char *name)
{
    static char p[8][600];
    static int k;
    char *s = p[k++ % 8];
    snprintf(s, 600, "%s/%s", harness_dir(), name);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char matrix_text[] =
    "name: slurm\n"
    "seed: 11\n"
    "cell_timeout: 200\n"
    "reruns: {same_seed: 0, fresh_seeds: 0}\n"
    "defaults: {migrations: 1, mem: 128, disk_size: 16M, gap: \"100:300\", accel: tcg}\n"
    "axes: {boot: pvh, smp: 1, queues: [1, 2]}\n";

static void test_slurm_night(void **state)
{
    (void)state;
    if (!cluster_up)
        skip();
    const char *m = scratch("m.yaml");
    write_text(m, matrix_text);
    const char *night = scratch("shared/night1");
    setenv("SLURM_CONF", conf, 1);
    const char *args[] = {"lab", "submit", "--slurm", m, "--out", night, "--wait", NULL};
    int rc = harness_tool(args, scratch("submit.out"), LAB_TIMEOUT_MS);
    char *out = harness_slurp(scratch("submit.out"));
    if (rc != 0)
        fail_msg("lab submit exited %d:\n%s", rc, out ? out : "");
    assert_non_null(strstr(out, "submitted Slurm job "));
    assert_non_null(strstr(out, ": 2 array tasks into "));
    free(out);
    char p[1200];
    snprintf(p, sizeof(p), "%s/slurm.sh", night);
    char *script = harness_slurp(p);
    assert_non_null(strstr(script, "#SBATCH --array=0-1\n"));
    assert_non_null(strstr(script, "--index \"$SLURM_ARRAY_TASK_ID\""));
    free(script);
    assert_true(harness_no_qemu_left());

    const char *c[] = {"lab", "collect", night, NULL};
    rc = harness_tool(c, scratch("collect.out"), LAB_TIMEOUT_MS);
    out = harness_slurp(scratch("collect.out"));
    if (rc != 0)
        fail_msg("lab collect exited %d:\n%s", rc, out ? out : "");
    assert_non_null(strstr(out, "lab slurm: 2 cells: pass 2, flaky 0, fail 0 (known issues 0), error 0"));
    free(out);
    const char *files[] = {"report.html", "report.json", "results.tap", "junit.xml", "../lab.sqlite",
                           "cells/system+pc-q35-7.2+pvh+smp1+q1+io1+default+default+default/cell.json",
                           "cells/system+pc-q35-7.2+pvh+smp1+q2+io1+default+default+default/cell.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", night, files[i]);
        if (access(p, R_OK))
            fail_msg("%s was not written", p);
    }
    /* Each task's output went to the shared directory, as the script asked. */
    char cmd[1300];
    snprintf(cmd, sizeof(cmd), "test $(ls %s/slurm-*_*.out | wc -l) -eq 2", night);
    assert_int_equal(system(cmd), 0);
}

/* `lab cells`: one self-contained command per cell; the first, run as printed, does its cell. */
static void test_cells_commands(void **state)
{
    (void)state;
    const char *m = scratch("m2.yaml");
    write_text(m, matrix_text);
    const char *night = scratch("shared/night2");
    const char *args[] = {"lab", "cells", m, "--out", night, NULL};
    assert_int_equal(harness_tool(args, scratch("cells.out"), 30000), 0);
    char *out = harness_slurp(scratch("cells.out"));
    int lines = 0;
    for (char *s = out; (s = strchr(s, '\n')); s++)
        lines++;
    assert_int_equal(lines, 2);   /* one per cell */
    char *nl = strchr(out, '\n');
    *nl = '\0';
    assert_non_null(strstr(out, " lab cell "));
    assert_non_null(strstr(out, " --cell system+pc-q35-7.2+pvh+smp1+q1+io1+default+default+default"));
    char cmd[2000];
    snprintf(cmd, sizeof(cmd), "cd / && TMPDIR='%s' %s > '%s' 2>&1", harness_dir(), out, scratch("cell1.out"));
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    free(out);
    char p[1200];
    snprintf(p, sizeof(p), "%s/cells/system+pc-q35-7.2+pvh+smp1+q1+io1+default+default+default/cell.json", night);
    json_t *c = json_load_file(p, 0, NULL);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "verdict")), "pass");
    json_decref(c);
    assert_true(harness_no_qemu_left());
}

static int setup(void **state)
{
    (void)state;
    snprintf(cluster, sizeof(cluster), "%s/cluster", harness_dir());
    char cmd[1500];
    snprintf(cmd, sizeof(cmd), VQH_TOP "/tests/lab/slurm-node.sh start '%s' > '%s/conf.txt' 2> '%s/cluster.err'", cluster,
             harness_dir(), harness_dir());
    int rc = system(cmd);
    char p[700];
    snprintf(p, sizeof(p), "%s/conf.txt", harness_dir());
    char *c = harness_slurp(p);
    if (rc == 0 && c && *c) {
        c[strcspn(c, "\n")] = '\0';
        snprintf(conf, sizeof(conf), "%s", c);
        cluster_up = true;
    } else {
        snprintf(p, sizeof(p), "%s/cluster.err", harness_dir());
        char *e = harness_slurp(p);
        /* The reason is printed; the Slurm test is then skipped, never passed. */
        fprintf(stderr, "test_lab_slurm: no single-node Slurm here, the Slurm test is skipped: %s\n", e ? e : "?");
        free(e);
    }
    free(c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[1000];
    snprintf(cmd, sizeof(cmd), VQH_TOP "/tests/lab/slurm-node.sh stop '%s'", cluster);
    int rc = system(cmd);
    harness_cleanup();
    return rc == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slurm_night),
        cmocka_unit_test(test_cells_commands),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
