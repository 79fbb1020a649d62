/*
 * test_harness.c: the harness's own checks must be able to fail. "No QEMU left" sees a process
 * that looks like one of our QEMUs (sleep run as <scratch dir>/qemu-system-x86_64), whatever
 * tools the machine has (no pgrep needed); so does "nothing left" (test_cases' check after every
 * case) for any process naming the scratch directory.
 * Not a case of cases.cfg: it forks and kills a stand-in process by hand to prove the check fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void test_no_qemu_left_sees_a_running_one(void **state)
{
    (void)state;
    char fake[600];
    /* sleep runs under that name: argv[0] is what a QEMU started by the tool would show, with
     * our scratch directory in its command line. */
    snprintf(fake, sizeof(fake), "%s/qemu-system-x86_64", harness_dir());
    assert_true(harness_no_qemu_left());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sleep", fake, "30", (char *)NULL);
        _exit(127);
    }
    bool seen = false;
    for (int i = 0; i < 200 && !seen; i++) {
        seen = !harness_no_qemu_left();
        if (!seen)
            usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_true(seen);
    assert_true(harness_no_qemu_left());
}

/* The case runner's check: any process naming the scratch directory, whatever its name (an NBD
 * server, a storage daemon), is seen and named. */
static void test_nothing_left_sees_any_process_of_ours(void **state)
{
    (void)state;
    char arg[600], who[700] = "";
    snprintf(arg, sizeof(arg), "%s/nbd.sock", harness_dir());
    assert_true(harness_nothing_left(who, sizeof(who)));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the directory is only an argument: sh keeps it in its command line ($0) */
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", "sleep 30; :", arg, (char *)NULL);
        _exit(127);
    }
    bool seen = false;
    for (int i = 0; i < 200 && !seen; i++) {
        seen = !harness_nothing_left(who, sizeof(who));
        if (!seen)
            usleep(10000);
    }
    kill(-pid, SIGKILL); /* sh and its sleep */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_true(seen);
    assert_non_null(strstr(who, "sh"));
    assert_true(harness_nothing_left(who, sizeof(who)));
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
        cmocka_unit_test(test_no_qemu_left_sees_a_running_one),
        cmocka_unit_test(test_nothing_left_sees_any_process_of_ours),
    };
    return cmocka_run_group_tests_name("harness", tests, NULL, teardown);
}
