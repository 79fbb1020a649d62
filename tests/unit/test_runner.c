/*
 * test_runner.c: tests/run.sh, the runner `make test` ends with. It is fed fake test programs
 * (shell scripts printing what cmocka prints) and its last line and exit status are checked:
 * a nonzero exit after passing tests is a failure, skipped tests are counted and listed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[PATH_MAX];
static char runner[PATH_MAX];
static char output[65536];

/* tests/run.sh relative to this program (build/tests/test_runner). */
static int setup(void **state)
{
    (void)state;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(runner, sizeof(runner), "%s/../../tests/run.sh", self);
    if (access(runner, X_OK))
        return -1;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/vqh-runner-XXXXXX", t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fake test program: prints body, exits with rc. */
static const char *fake(const char *name, const char *body, int rc)
{
    static char paths[8][PATH_MAX];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\ncat <<'EOF'\n%sEOF\nexit %d\n", body, rc);
    fclose(f);
    assert_int_equal(chmod(p, 0755), 0);
    return p;
}

/* Run the runner on progs; returns its exit status, output in `output`. */
static int run(const char *const progs[])
{
    char cmd[8192];
    size_t len = (size_t)snprintf(cmd, sizeof(cmd), "'%s'", runner);
    for (int i = 0; progs[i]; i++)
        len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " '%s'", progs[i]);
    snprintf(cmd + len, sizeof(cmd) - len, " 2>&1");
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(output, 1, sizeof(output) - 1, f);
    output[n] = '\0';
    int st = pclose(f);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static const char *last_line(void)
{
    size_t n = strlen(output);
    while (n && output[n - 1] == '\n')
        output[--n] = '\0';
    const char *nl = strrchr(output, '\n');
    return nl ? nl + 1 : output;
}

static const char PASS2[] = "[==========] Running 2 test(s).\n[  PASSED  ] 2 test(s).\n";

static void test_all_passing(void **state)
{
    (void)state;
    const char *p[] = { fake("good", PASS2, 0), NULL };
    assert_int_equal(run(p), 0);
    assert_string_equal(last_line(), "2 passed, 0 failed, 0 skipped");
}

/* A sanitizer report at exit: every test passed, the program exits 1. */
static void test_nonzero_exit_is_a_failure(void **state)
{
    (void)state;
    const char *p[] = { fake("good", PASS2, 0),
                        fake("leaky", "[  PASSED  ] 3 test(s).\n==1==ERROR: LeakSanitizer: detected memory leaks\n", 1),
                        NULL };
    assert_int_equal(run(p), 1);
    assert_non_null(strstr(output, "leaky exited with status 1"));
    assert_string_equal(last_line(), "5 passed, 1 failed, 0 skipped");
}

/* Failed tests already explain a nonzero exit: not counted twice. */
static void test_failed_tests_are_counted_once(void **state)
{
    (void)state;
    const char *p[] = { fake("bad", "[  PASSED  ] 1 test(s).\n[  FAILED  ] 2 test(s), listed below:\n"
                                    "[  FAILED  ] a\n[  FAILED  ] b\n", 2),
                        NULL };
    assert_int_equal(run(p), 1);
    assert_string_equal(last_line(), "1 passed, 2 failed, 0 skipped");
}

static void test_skipped_are_counted_and_listed(void **state)
{
    (void)state;
    const char *p[] = { fake("skippy", "[ RUN      ] t_one\n[  SKIPPED ] t_one\n[ RUN      ] t_two\n"
                                       "[       OK ] t_two\n[  PASSED  ] 1 test(s).\n"
                                       "[  SKIPPED ] 1 test(s), listed below:\n[  SKIPPED ] t_one\n", 0),
                        NULL };
    assert_int_equal(run(p), 0);
    assert_non_null(strstr(output, "skipped:\n  skippy: t_one\n"));
    /* listed once although cmocka prints it twice */
    assert_null(strstr(strstr(output, "skippy: t_one") + 1, "skippy: t_one"));
    assert_string_equal(last_line(), "1 passed, 0 failed, 1 skipped");
}

/* A crash before the summary, and a program that cannot even start. */
static void test_no_summary_is_a_failure(void **state)
{
    (void)state;
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof(missing), "%s/absent", dir);
    const char *p[] = { fake("crash", "[ RUN      ] x\nSegmentation fault\n", 139), missing, NULL };
    assert_int_equal(run(p), 1);
    assert_non_null(strstr(output, "crash printed no cmocka summary (exit status 139)"));
    assert_string_equal(last_line(), "0 passed, 2 failed, 0 skipped");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_passing),
        cmocka_unit_test(test_nonzero_exit_is_a_failure),
        cmocka_unit_test(test_failed_tests_are_counted_once),
        cmocka_unit_test(test_skipped_are_counted_and_listed),
        cmocka_unit_test(test_no_summary_is_a_failure),
    };
    return cmocka_run_group_tests_name("runner", tests, setup, teardown);
}
