/* lab_proc.c: spawning, waiting for and stopping the lab's children. */
#include "lab_proc.h"

#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t lab_stop_requested;

static void lab_on_signal(int sig)
{
    (void)sig;
    lab_stop_requested = 1;
}

void lab_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = lab_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

pid_t lab_proc_spawn(char *const argv[], const char *log, bool own_group)
{
    int fd = -1;
    if (log && (fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        if (own_group)
            setpgid(0, 0);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0 && own_group)
        setpgid(pid, pid);   /* also here: a stop right after spawn must reach the group */
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
    return pid;
}

bool lab_proc_poll(pid_t pid, int *status)
{
    pid_t r;
    do
        r = waitpid(pid, status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r < 0) {   /* not our child (already reaped): nothing left to wait for */
        *status = 0x7f00;
        return true;
    }
    return r == pid;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int lab_proc_stop(pid_t pid, bool group, int grace_ms)
{
    int status = 0;
    if (lab_proc_poll(pid, &status))
        return status;
    kill(group ? -pid : pid, SIGTERM);
    for (int64_t end = clock_now_ms() + grace_ms; clock_now_ms() < end; sleep_ms(50))
        if (lab_proc_poll(pid, &status))
            goto reaped;
    kill(group ? -pid : pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
reaped:
    if (group)
        kill(-pid, SIGKILL);   /* stragglers of the group (a grandchild that ignored SIGTERM) */
    return status;
}

int lab_proc_wait(pid_t pid, bool group, int64_t timeout_ms, bool *timed_out, bool *interrupted)
{
    int status = 0;
    int64_t end = timeout_ms > 0 ? clock_now_ms() + timeout_ms : INT64_MAX;
    *timed_out = *interrupted = false;
    for (;;) {
        if (lab_proc_poll(pid, &status))
            return status;
        if (lab_stop_requested) {
            *interrupted = true;
            return lab_proc_stop(pid, group, 20000);
        }
        if (clock_now_ms() >= end) {
            *timed_out = true;
            return lab_proc_stop(pid, group, 20000);
        }
        sleep_ms(100);
    }
}

int lab_proc_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

const char *lab_self_exe(void)
{
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return "vqhammer";
    path[n] = '\0';
    return path;
}
