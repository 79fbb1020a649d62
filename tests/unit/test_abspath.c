/*
 * test_abspath.c: resolving --disk paths into the tools' 1024-byte buffers. A path whose absolute
 * form is longer than the buffer (realpath would write up to PATH_MAX bytes into it) is refused
 * with ENAMETOOLONG, the buffer untouched; ASan would catch any write past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abspath.h"

static char top[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(top, sizeof(top), "%s/vqh-abspath-XXXXXX", t ? t : "/tmp");
    return mkdtemp(top) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_short_path_resolves(void **state)
{
    (void)state;
    char out[1024], cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(top), 0);
    FILE *f = fopen("disk.img", "w");
    assert_non_null(f);
    fclose(f);
    assert_true(abspath_resolve("./disk.img", out, sizeof(out)));
    char want[PATH_MAX + 16];
    snprintf(want, sizeof(want), "%s/disk.img", top);
    char *canon = realpath(want, NULL);
    assert_string_equal(out, canon);
    free(canon);
    errno = 0;
    assert_false(abspath_resolve("absent.img", out, sizeof(out)));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(chdir(cwd), 0);
}

/* A relative name deep down a tree: short to type, 1.5 KiB once resolved. */
static void test_long_path_is_refused(void **state)
{
    (void)state;
    char cwd[PATH_MAX], out[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(top), 0);
    char comp[201];
    memset(comp, 'd', 200);
    comp[200] = '\0';
    for (int i = 0; i < 8; i++) {
        assert_int_equal(mkdir(comp, 0700), 0);
        assert_int_equal(chdir(comp), 0);
    }
    FILE *f = fopen("disk.img", "w");
    assert_non_null(f);
    fclose(f);
    memset(out, 'x', sizeof(out));
    errno = 0;
    assert_false(abspath_resolve("disk.img", out, sizeof(out)));
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(out[0], 'x'); /* untouched */
    char big[PATH_MAX];
    assert_true(abspath_resolve("disk.img", big, sizeof(big)));
    assert_true(strlen(big) > 1600);
    assert_int_equal(chdir(cwd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_path_resolves),
        cmocka_unit_test(test_long_path_is_refused),
    };
    return cmocka_run_group_tests_name("abspath", tests, setup, teardown);
}
