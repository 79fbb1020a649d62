/*
 * test_harness.c: the harness's own checks must be able to fail. "No QEMU left" sees a process
 * that looks like one of our QEMUs (sleep run as <scratch dir>/qemu-system-x86_64), whatever
 * tools the machine has (no pgrep needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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
    };
    return cmocka_run_group_tests_name("harness", tests, NULL, teardown);
}
