/*
 * proc.c: spawning, waiting for and killing children; the registry that kills them all when the
 * tool exits, is interrupted or crashes.
 */
#include "proc.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC_UNKNOWN_STATUS (-1) /* someone else reaped the child: no status to report */

/*
 * The registry is a fixed array touched by signal handlers, so it is lock-free: a slot belongs to
 * the process whose pid is in `owner` (a fork()ed copy of the tool must not kill its parent's
 * children), and `state` says whether the child still needs killing.
 */
enum { SLOT_FREE, SLOT_STARTING, SLOT_LIVE, SLOT_DONE };
struct proc_slot {
    pid_t owner;
    pid_t pid;
    int state;
    int status;
};
static struct proc_slot proc_reg[PROC_MAX];

static int slot_load(const struct proc_slot *s)
{
    return __atomic_load_n(&s->state, __ATOMIC_SEQ_CST);
}

static void slot_store(struct proc_slot *s, int state)
{
    __atomic_store_n(&s->state, state, __ATOMIC_SEQ_CST);
}

static struct proc_slot *slot_claim(void)
{
    pid_t self = getpid();

    for (int i = 0; i < PROC_MAX; i++) {
        pid_t free_owner = 0;

        if (__atomic_compare_exchange_n(&proc_reg[i].owner, &free_owner, self, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            proc_reg[i].pid = 0;
            slot_store(&proc_reg[i], SLOT_STARTING);
            return &proc_reg[i];
        }
    }
    return NULL;
}

static void slot_release(struct proc_slot *s)
{
    slot_store(s, SLOT_FREE);
    __atomic_store_n(&s->owner, 0, __ATOMIC_SEQ_CST);
}

/* Async-signal-safe: kill(), waitpid(), nanosleep() only. */
void proc_kill_all(void)
{
    pid_t self = getpid();
    const struct timespec step = {0, 10 * 1000 * 1000};

    for (int i = 0; i < PROC_MAX; i++) {
        struct proc_slot *s = &proc_reg[i];

        if (s->owner == self && slot_load(s) == SLOT_LIVE) {
            kill(-s->pid, SIGKILL);
            kill(s->pid, SIGKILL);
        }
    }
    /* Reap with a bound: a child stuck in uninterruptible sleep must not hang our exit. */
    for (int i = 0; i < PROC_MAX; i++) {
        struct proc_slot *s = &proc_reg[i];

        if (s->owner != self || slot_load(s) != SLOT_LIVE)
            continue;
        for (int tries = 0; tries < 500; tries++) {
            int st;
            pid_t r = waitpid(s->pid, &st, WNOHANG);

            if (r == s->pid || (r < 0 && errno == ECHILD)) {
                s->status = r == s->pid ? st : PROC_UNKNOWN_STATUS;
                slot_store(s, SLOT_DONE);
                break;
            }
            nanosleep(&step, NULL);
        }
    }
}

/* ---- handlers ------------------------------------------------------------------------------ */

static const int proc_term_sigs[] = {SIGINT, SIGTERM, SIGHUP};
static const int proc_crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static struct sigaction proc_old_act[NSIG];
static char proc_altstack[64 * 1024];

static void proc_on_signal(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;

    (void)uctx;
    proc_kill_all();
    /* Hand the signal to whoever had it before (default action, or a sanitizer's report). */
    sigaction(sig, &proc_old_act[sig], NULL);
    /* A fault raised by the CPU repeats by itself when we return; a sent signal must be resent. */
    if (info->si_code <= 0)
        raise(sig);
    errno = saved_errno;
}

static void proc_on_exit(void)
{
    proc_kill_all();
}

/* Install ours unless it is there already; whatever was there is chained to. */
static void proc_install_one(int sig, bool keep_ignored)
{
    struct sigaction sa, cur;

    sigaction(sig, NULL, &cur);
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == proc_on_signal)
        return;
    /* Under nohup SIGHUP stays ignored: killing QEMU and then carrying on would be worse. */
    if (keep_ignored && cur.sa_handler == SIG_IGN)
        return;
    proc_old_act[sig] = cur;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = proc_on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void proc_install_once(void)
{
    stack_t old;

    /* A stack overflow can only be handled on a separate stack; keep one a sanitizer installed. */
    if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
        stack_t ss = {.ss_sp = proc_altstack, .ss_size = sizeof(proc_altstack), .ss_flags = 0};

        sigaltstack(&ss, NULL);
    }
    atexit(proc_on_exit);
}

/* Checked at every spawn: a library (a test framework, say) may have replaced our handlers. */
static void proc_install_handlers(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

    pthread_once(&once, proc_install_once);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof(proc_term_sigs) / sizeof(proc_term_sigs[0]); i++)
        proc_install_one(proc_term_sigs[i], true);
    for (size_t i = 0; i < sizeof(proc_crash_sigs) / sizeof(proc_crash_sigs[0]); i++)
        proc_install_one(proc_crash_sigs[i], false);
    pthread_mutex_unlock(&lock);
}

/* ---- spawn --------------------------------------------------------------------------------- */

struct spawn_failure {
    const char *step; /* static string: valid in the parent because fork copies the image */
    int err;
};

/* Where children start (proc_set_child_dir); NULL: our own working directory. */
static char *proc_child_dir;

void proc_set_child_dir(const char *dir)
{
    free(proc_child_dir);
    proc_child_dir = dir ? strdup(dir) : NULL;
}

/* Runs in the forked child: async-signal-safe calls only, then exec. */
__attribute__((noreturn)) static void proc_child(const char *const argv[], pid_t parent,
                                                 int out_fd, int err_fd, int report_fd,
                                                 const sigset_t *mask)
{
    struct spawn_failure f = {"exec", 0};
    int null_fd;

    for (size_t i = 0; i < sizeof(proc_term_sigs) / sizeof(proc_term_sigs[0]); i++)
        signal(proc_term_sigs[i], SIG_DFL);
    for (size_t i = 0; i < sizeof(proc_crash_sigs) / sizeof(proc_crash_sigs[0]); i++)
        signal(proc_crash_sigs[i], SIG_DFL);
    /* Our own group, so that proc_kill() reaches whatever the child starts. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The parent may have died before prctl(): then nobody would ever kill us. */
    if (getppid() != parent)
        _exit(127);
    /* Under Yama ptrace_scope=1 this lets gdb, a sibling, attach (harmless without Yama). */
    prctl(PR_SET_PTRACER, parent, 0, 0, 0);
    null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0) {
        f.step = "open /dev/null";
        goto fail;
    }
    if ((out_fd >= 0 && dup2(out_fd, 1) < 0) || (err_fd >= 0 && dup2(err_fd, 2) < 0)) {
        f.step = "redirect output";
        goto fail;
    }
    if (proc_child_dir && chdir(proc_child_dir) < 0) {
        f.step = "chdir to the run directory";
        goto fail;
    }
    /* Descriptors of the tool (other QEMUs' sockets, logs) must not leak into the child. */
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    sigprocmask(SIG_SETMASK, mask, NULL);
    execvp(argv[0], (char *const *)argv);
fail:
    f.err = errno;
    if (write(report_fd, &f, sizeof(f)) < 0)
        _exit(126);
    _exit(127);
}

static int proc_open_out(const char *path, struct vqh_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0)
        vqh_err_set(err, "cannot create %s: %s", path, strerror(errno));
    return fd;
}

struct proc *proc_spawn(const char *const argv[], const char *label, const char *stdout_path,
                        const char *stderr_path, struct vqh_err *err)
{
    struct proc *p = calloc(1, sizeof(*p));
    int out_fd = -1, err_fd = -1, report[2] = {-1, -1};
    struct proc_slot *slot = NULL;
    struct spawn_failure f;
    sigset_t block, old;
    pid_t parent = getpid();
    ssize_t n;

    if (!p) {
        vqh_err_set(err, "%s: out of memory", label);
        return NULL;
    }
    snprintf(p->label, sizeof(p->label), "%s", label);
    proc_install_handlers();
    if (stdout_path && (out_fd = proc_open_out(stdout_path, err)) < 0)
        goto fail;
    if (stderr_path && stdout_path && strcmp(stderr_path, stdout_path) == 0)
        err_fd = out_fd;
    else if (stderr_path && (err_fd = proc_open_out(stderr_path, err)) < 0)
        goto fail;
    if (pipe2(report, O_CLOEXEC) < 0) {
        vqh_err_set(err, "%s: pipe: %s", label, strerror(errno));
        goto fail;
    }
    slot = slot_claim();
    if (!slot) {
        vqh_err_set(err, "%s: too many child processes (%d)", label, PROC_MAX);
        goto fail;
    }
    p->slot = (int)(slot - proc_reg);
    /* A SIGINT between fork() and registration would leave the child unknown to the handler. */
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof(proc_term_sigs) / sizeof(proc_term_sigs[0]); i++)
        sigaddset(&block, proc_term_sigs[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    p->pid = fork();
    if (p->pid == 0)
        proc_child(argv, parent, out_fd, err_fd, report[1], &old);
    if (p->pid > 0) {
        slot->pid = p->pid;
        slot_store(slot, SLOT_LIVE);
        setpgid(p->pid, p->pid); /* also here, so a kill right after spawn reaches the group */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->pid < 0) {
        vqh_err_set(err, "%s: fork: %s", label, strerror(errno));
        goto fail;
    }
    close(report[1]);
    do
        n = read(report[0], &f, sizeof(f));
    while (n < 0 && errno == EINTR);
    close(report[0]);
    if (err_fd >= 0 && err_fd != out_fd)
        close(err_fd);
    if (out_fd >= 0)
        close(out_fd);
    if (n == (ssize_t)sizeof(f)) {
        vqh_err_set(err, "%s: cannot run %s: %s%s%s", label, argv[0], strerror(f.err),
                    strcmp(f.step, "exec") ? " at " : "", strcmp(f.step, "exec") ? f.step : "");
        proc_free(p); /* the child is already in _exit() */
        return NULL;
    }
    return p;
fail:
    if (report[0] >= 0)
        close(report[0]);
    if (report[1] >= 0)
        close(report[1]);
    if (err_fd >= 0 && err_fd != out_fd)
        close(err_fd);
    if (out_fd >= 0)
        close(out_fd);
    if (slot)
        slot_release(slot);
    free(p);
    return NULL;
}

/* ---- wait and kill ------------------------------------------------------------------------- */

static bool proc_try_reap(struct proc *p)
{
    struct proc_slot *s = &proc_reg[p->slot];
    int st;
    pid_t r;

    if (p->reaped)
        return true;
    if (slot_load(s) == SLOT_DONE) { /* proc_kill_all() got there first */
        p->status = s->status;
        p->reaped = true;
        return true;
    }
    do
        r = waitpid(p->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == p->pid || (r < 0 && errno == ECHILD)) {
        p->status = r == p->pid ? st : PROC_UNKNOWN_STATUS;
        p->reaped = true;
        s->status = p->status;
        slot_store(s, SLOT_DONE);
        return true;
    }
    return false;
}

bool proc_wait(struct proc *p, int timeout_ms)
{
    int64_t deadline = clock_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int pidfd;

    if (proc_try_reap(p))
        return true;
    /* A pidfd becomes readable the moment the child ends; without one, poll in short naps. */
    pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    for (;;) {
        int64_t left = deadline - clock_now_ms();
        int slice = left > 100 ? 100 : (int)left;

        if (proc_try_reap(p))
            break;
        if (left <= 0)
            break;
        if (pidfd >= 0) {
            struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

            poll(&pfd, 1, slice);
        } else {
            struct timespec nap = {0, (slice < 10 ? slice : 10) * 1000000L};

            nanosleep(&nap, NULL);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return p->reaped;
}

bool proc_alive(struct proc *p)
{
    return !proc_try_reap(p);
}

bool proc_kill(struct proc *p, int sig)
{
    if (p->reaped) {
        errno = ESRCH;
        return false;
    }
    if (kill(-p->pid, sig) == 0)
        return true;
    return kill(p->pid, sig) == 0;
}

bool proc_kill_reap(struct proc *p, int grace_ms)
{
    if (proc_try_reap(p))
        return true;
    proc_kill(p, SIGTERM);
    if (proc_wait(p, grace_ms))
        return true;
    proc_kill(p, SIGKILL);
    return proc_wait(p, 10000);
}

int proc_status(const struct proc *p)
{
    return p->status;
}

void proc_free(struct proc *p)
{
    if (!p)
        return;
    /* An unkillable child stays registered so that the exit handler tries once more. */
    if (proc_kill_reap(p, 0))
        slot_release(&proc_reg[p->slot]);
    free(p);
}

const char *proc_status_str(int status, char *buf)
{
    if (status == PROC_UNKNOWN_STATUS)
        snprintf(buf, PROC_STATUS_MAX, "ended with an unknown status (reaped elsewhere)");
    else if (WIFEXITED(status))
        snprintf(buf, PROC_STATUS_MAX, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, PROC_STATUS_MAX, "killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
    else if (WIFSTOPPED(status))
        snprintf(buf, PROC_STATUS_MAX, "stopped by signal %d (%s)", WSTOPSIG(status),
                 strsignal(WSTOPSIG(status)));
    else
        snprintf(buf, PROC_STATUS_MAX, "unrecognised wait status 0x%x", (unsigned)status);
    return buf;
}

/* ---- gdb ----------------------------------------------------------------------------------- */

static bool proc_in_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];

    while (path && *path) {
        size_t len = strcspn(path, ":");

        if (len > 0 && len + strlen(name) + 2 <= sizeof(buf)) {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, name);
            if (access(buf, X_OK) == 0)
                return true;
        }
        path += len + (path[len] == ':');
    }
    return false;
}

/* Whether the file shows a frame line; else its last non-empty line (gdb's complaint) in why. */
static bool proc_file_has_backtrace(const char *path, char *why, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[512];
    bool found = false;

    snprintf(why, cap, "empty output");
    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "#0 ", 3) == 0 || strncmp(line, "#0  ", 4) == 0)
            found = true;
        else if (line[0])
            snprintf(why, cap, "%.200s", line);
    }
    fclose(f);
    return found;
}

bool proc_gdb_backtrace(pid_t pid, const char *exe, const char *core, const char *out_path,
                        int timeout_ms, struct vqh_err *err)
{
    char pid_str[24], why[256], st[PROC_STATUS_MAX];
    const char *argv[16];
    struct proc *g;
    int n = 0;
    bool ok;

    if (!proc_in_path("gdb")) {
        vqh_err_set(err, "no backtrace: gdb is not installed (not in PATH); apt-get install gdb");
        return false;
    }
    argv[n++] = "gdb";
    argv[n++] = "-batch";
    argv[n++] = "-nx";
    /* Never wait on the network for debug symbols while a test hangs. */
    argv[n++] = "-iex";
    argv[n++] = "set debuginfod enabled off";
    argv[n++] = "-ex";
    argv[n++] = "set pagination off";
    argv[n++] = "-ex";
    argv[n++] = "thread apply all bt";
    if (pid > 0) {
        snprintf(pid_str, sizeof(pid_str), "%d", (int)pid);
        argv[n++] = "-p";
        argv[n++] = pid_str;
    } else {
        argv[n++] = exe;
        argv[n++] = core;
    }
    argv[n] = NULL;
    g = proc_spawn(argv, "gdb", out_path, out_path, err);
    if (!g)
        return false;
    if (!proc_wait(g, timeout_ms)) {
        proc_free(g);
        vqh_err_set(err, "no backtrace: gdb timed out after %d ms (partial output in %s)",
                    timeout_ms, out_path);
        return false;
    }
    ok = proc_file_has_backtrace(out_path, why, sizeof(why));
    if (!ok)
        vqh_err_set(err, "no backtrace from gdb (%s): %s (see %s)",
                    proc_status_str(proc_status(g), st), why, out_path);
    proc_free(g);
    return ok;
}
