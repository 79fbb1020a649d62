/* test_proc.c: spawning, exit status decoding, kill escalation, the kill-at-exit registry, gdb. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "rundir.h"

static struct rundir *rd;

static int setup(void **state)
{
    struct vqh_err err;
    struct rlimit no_core = {0, 0};

    (void)state;
    /* Children that die of SIGABRT must not leave core files, and the decoding must not vary. */
    setrlimit(RLIMIT_CORE, &no_core);
    rd = rundir_create(NULL, &err);
    if (!rd)
        fprintf(stderr, "%s\n", err.msg);
    return rd ? 0 : -1;
}

static int teardown(void **state)
{
    struct vqh_err err;

    (void)state;
    assert_true(rundir_remove(rd, &err));
    rundir_free(rd);
    return 0;
}

static char *slurp(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static struct proc *spawn_sh(const char *script, const char *out, const char *errpath)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    struct vqh_err err;
    struct proc *p = proc_spawn(argv, "sh", out, errpath, &err);

    if (!p)
        fail_msg("%s", err.msg);
    return p;
}

static const char *status_of(struct proc *p)
{
    static char buf[PROC_STATUS_MAX];

    assert_true(p->reaped);
    return proc_status_str(proc_status(p), buf);
}

/* ---- status decoding ----------------------------------------------------------------------- */

static void test_status_exit_and_signal(void **state)
{
    struct proc *p;
    char buf[PROC_STATUS_MAX];

    (void)state;
    p = spawn_sh("exit 3", NULL, NULL);
    assert_true(proc_wait(p, 30000));
    assert_string_equal(status_of(p), "exited with status 3");
    proc_free(p);

    p = spawn_sh("kill -ABRT $$", NULL, NULL);
    assert_true(proc_wait(p, 30000));
    assert_string_equal(status_of(p), "killed by signal 6 (Aborted)");
    proc_free(p);

    /* A core needs a core_pattern we do not control: decode a synthetic status. */
    assert_string_equal(proc_status_str(SIGABRT | WCOREFLAG, buf),
                        "killed by signal 6 (Aborted), core dumped");
    assert_string_equal(proc_status_str(W_STOPCODE(SIGSTOP), buf),
                        "stopped by signal 19 (Stopped (signal))");
    assert_string_equal(proc_status_str(W_EXITCODE(7, 0), buf), "exited with status 7");
}

/* ---- spawning ------------------------------------------------------------------------------ */

static void test_spawn_redirects(void **state)
{
    const char *out = rundir_path(rd, "out"), *errf = rundir_path(rd, "err"),
               *both = rundir_path(rd, "both");
    struct proc *p;

    (void)state;
    /* cat reads stdin: /dev/null ends it at once. */
    p = spawn_sh("echo out; echo err >&2; cat; exit 0", out, errf);
    assert_true(proc_wait(p, 30000));
    assert_string_equal(status_of(p), "exited with status 0");
    assert_string_equal(slurp(out), "out\n");
    assert_string_equal(slurp(errf), "err\n");
    proc_free(p);

    p = spawn_sh("echo out; echo err >&2", both, both);
    assert_true(proc_wait(p, 30000));
    assert_string_equal(slurp(both), "out\nerr\n");
    proc_free(p);
}

/* A descriptor the tool forgot to mark close-on-exec (another QEMU's socket) must not leak. */
static void test_spawn_closes_fds(void **state)
{
    const char *out = rundir_path(rd, "fds");
    char script[128];
    int fds[2];
    struct proc *p;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    snprintf(script, sizeof(script), "test -e /proc/self/fd/%d && echo leaked || echo closed",
             fds[1]);
    p = spawn_sh(script, out, NULL);
    assert_true(proc_wait(p, 30000));
    assert_string_equal(slurp(out), "closed\n");
    proc_free(p);
    close(fds[0]);
    close(fds[1]);
}

static void test_spawn_missing_binary(void **state)
{
    const char *argv[] = {"/nonexistent/qemu-system-x86_64", "-version", NULL};
    struct vqh_err err;

    (void)state;
    assert_null(proc_spawn(argv, "src1", NULL, NULL, &err));
    assert_string_equal(err.msg, "src1: cannot run /nonexistent/qemu-system-x86_64: "
                                 "No such file or directory");

    assert_null(proc_spawn(argv, "src1", "/nonexistent/dir/out", NULL, &err));
    assert_string_equal(err.msg, "cannot create /nonexistent/dir/out: No such file or directory");
}

/* ---- waiting and killing ------------------------------------------------------------------- */

static void test_wait_timeout_then_kill_reap(void **state)
{
    const char *argv[] = {"sleep", "1000", NULL};
    struct vqh_err err;
    struct proc *p = proc_spawn(argv, "sleep", NULL, NULL, &err);

    (void)state;
    assert_non_null(p);
    assert_false(proc_wait(p, 50));
    assert_true(proc_alive(p));
    assert_true(proc_kill_reap(p, 30000));
    assert_false(proc_alive(p));
    assert_string_equal(status_of(p), "killed by signal 15 (Terminated)");
    assert_false(proc_kill(p, SIGKILL)); /* reaped: its pid may belong to someone else now */
    assert_int_equal(errno, ESRCH);
    proc_free(p);
}

static void test_kill_reap_escalates(void **state)
{
    const char *out = rundir_path(rd, "ready");
    struct proc *p;

    (void)state;
    p = spawn_sh("trap '' TERM; echo ready; exec sleep 1000", out, NULL);
    /* Wait (bounded) until the trap is set, else SIGTERM could win the race. */
    for (int i = 0; i < 3000 && !strstr(slurp(out), "ready"); i++)
        assert_false(proc_wait(p, 10));
    assert_string_equal(slurp(out), "ready\n");
    assert_true(proc_kill_reap(p, 200));
    assert_string_equal(status_of(p), "killed by signal 9 (Killed)");
    proc_free(p);
}

static void test_kill_all(void **state)
{
    const char *argv[] = {"sleep", "1000", NULL};
    struct vqh_err err;
    struct proc *a = proc_spawn(argv, "a", NULL, NULL, &err);
    struct proc *b = proc_spawn(argv, "b", NULL, NULL, &err);

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    proc_kill_all();
    assert_false(proc_alive(a));
    assert_false(proc_alive(b));
    assert_string_equal(status_of(a), "killed by signal 9 (Killed)");
    assert_string_equal(status_of(b), "killed by signal 9 (Killed)");
    proc_free(a);
    proc_free(b);
}

/* ---- nothing outlives the tool ------------------------------------------------------------- */

enum helper_end { END_EXIT, END_SIGTERM, END_SIGINT, END_SIGINT_IGNORED, END_ABORT, END_SEGV };

static struct proc *helper_child; /* global, so LeakSanitizer in the helper sees it reachable */

/*
 * Fork a helper that spawns `sleep 1000` through proc and then ends as told. We are a child
 * subreaper: a sleep that outlived the helper would be re-parented to us and still be waitable.
 * The registry must have killed and reaped it before the helper ended, so waitpid() finds no such
 * child. (PR_SET_PDEATHSIG alone would kill it too, but only after the helper ended, leaving it to
 * us.)
 */
static int run_helper(enum helper_end end, pid_t *sleep_pid)
{
    int fds[2], status;
    pid_t helper, r;

    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    assert_int_equal(pipe(fds), 0);
    helper = fork();
    assert_true(helper >= 0);
    if (helper == 0) {
        const char *argv[] = {"sleep", "1000", NULL};
        const int crash[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        struct vqh_err err;

        /* Drop the test framework's crash handlers: the helper must just die. */
        for (size_t i = 0; i < sizeof(crash) / sizeof(crash[0]); i++)
            signal(crash[i], SIG_DFL);
        /* A shell starts a background job with SIGINT ignored (a CI script run with `&` did), and
         * the registry rightly leaves an ignored signal ignored: set the disposition each case
         * is about, whatever this test inherited. */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, end == END_SIGINT_IGNORED ? SIG_IGN : SIG_DFL);
        if (!freopen("/dev/null", "w", stderr))
            _exit(90);
        helper_child = proc_spawn(argv, "sleep", NULL, NULL, &err);
        if (!helper_child || write(fds[1], &helper_child->pid, sizeof(pid_t)) != sizeof(pid_t))
            _exit(91);
        switch (end) {
        case END_EXIT:
            exit(0);
        case END_SIGTERM:
            kill(getpid(), SIGTERM);
            break;
        case END_SIGINT:
            kill(getpid(), SIGINT);
            break;
        case END_SIGINT_IGNORED:
            kill(getpid(), SIGINT); /* ignored: the helper goes on, then exits normally */
            exit(3);
        case END_ABORT:
            abort();
        case END_SEGV:
            *(volatile int *)(uintptr_t)8 = 1;
            break;
        }
        _exit(92);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], sleep_pid, sizeof(pid_t)), sizeof(pid_t));
    close(fds[0]);
    do
        r = waitpid(helper, &status, 0);
    while (r < 0 && errno == EINTR);
    assert_int_equal(r, helper);
    return status;
}

static void assert_sleep_gone(pid_t sleep_pid)
{
    int status;
    pid_t r = waitpid(sleep_pid, &status, WNOHANG);

    if (r != -1 || errno != ECHILD) {
        kill(sleep_pid, SIGKILL);
        waitpid(sleep_pid, &status, 0);
        fail_msg("sleep %d outlived the helper (waitpid returned %d)", (int)sleep_pid, (int)r);
    }
}

static void test_registry_kills_at_exit(void **state)
{
    pid_t sleep_pid;
    int status = run_helper(END_EXIT, &sleep_pid);

    (void)state;
    assert_true(WIFEXITED(status));
    assert_sleep_gone(sleep_pid);
}

static void test_registry_kills_on_sigterm_and_sigint(void **state)
{
    pid_t sleep_pid;
    int status = run_helper(END_SIGTERM, &sleep_pid);

    (void)state;
    assert_true(WIFSIGNALED(status)); /* the signal is re-raised: the tool dies of it */
    assert_int_equal(WTERMSIG(status), SIGTERM);
    assert_sleep_gone(sleep_pid);

    status = run_helper(END_SIGINT, &sleep_pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGINT);
    assert_sleep_gone(sleep_pid);

    /* Started with SIGINT ignored (a background job): the tool does not die of it either, and
     * its children still go when it exits. */
    status = run_helper(END_SIGINT_IGNORED, &sleep_pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_sleep_gone(sleep_pid);
}

static void test_registry_kills_on_crash(void **state)
{
    pid_t sleep_pid;
    int status = run_helper(END_ABORT, &sleep_pid);

    (void)state;
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_sleep_gone(sleep_pid);

    /* A real fault: after our handler the default action (the helper dropped the sanitizer's). */
    status = run_helper(END_SEGV, &sleep_pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_sleep_gone(sleep_pid);
}

/* ---- gdb ----------------------------------------------------------------------------------- */

static void test_gdb_backtrace(void **state)
{
    const char *argv[] = {"sleep", "1000", NULL};
    const char *out = rundir_path(rd, "bt.txt");
    struct vqh_err err;
    struct proc *p;
    bool ok;

    (void)state;
    if (system("command -v gdb >/dev/null 2>&1") != 0)
        skip();
    p = proc_spawn(argv, "sleep", NULL, NULL, &err);
    assert_non_null(p);
    ok = proc_gdb_backtrace(p->pid, NULL, NULL, out, 60000, &err);
    if (!ok)
        fail_msg("%s", err.msg);
    assert_true(strstr(slurp(out), "#0") || strstr(slurp(out), "Thread"));
    assert_true(proc_alive(p)); /* gdb detached and left it running */
    proc_free(p);

    /* No usable core: gdb runs but yields no backtrace, and we say so. */
    ok = proc_gdb_backtrace(0, "/bin/sleep", rundir_path(rd, "no-such-core"), out, 60000, &err);
    assert_false(ok);
    assert_non_null(strstr(err.msg, "no backtrace from gdb"));
}

static void test_gdb_absent(void **state)
{
    char *path = strdup(getenv("PATH") ? getenv("PATH") : "");
    struct vqh_err err;
    bool ok;

    (void)state;
    setenv("PATH", rundir_base(rd), 1);
    ok = proc_gdb_backtrace(1, NULL, NULL, rundir_path(rd, "bt.txt"), 1000, &err);
    setenv("PATH", path, 1);
    free(path);
    assert_false(ok);
    assert_string_equal(err.msg,
                        "no backtrace: gdb is not installed (not in PATH); apt-get install gdb");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_exit_and_signal),
        cmocka_unit_test(test_spawn_redirects),
        cmocka_unit_test(test_spawn_closes_fds),
        cmocka_unit_test(test_spawn_missing_binary),
        cmocka_unit_test(test_wait_timeout_then_kill_reap),
        cmocka_unit_test(test_kill_reap_escalates),
        cmocka_unit_test(test_kill_all),
        cmocka_unit_test(test_registry_kills_at_exit),
        cmocka_unit_test(test_registry_kills_on_sigterm_and_sigint),
        cmocka_unit_test(test_registry_kills_on_crash),
        cmocka_unit_test(test_gdb_backtrace),
        cmocka_unit_test(test_gdb_absent),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
