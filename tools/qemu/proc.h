/*
 * proc.h: child processes (QEMU, gdb) that never outlive the tool.
 *
 *     struct proc *p = proc_spawn(argv, "src1", "qemu-src1.out", "qemu-src1.out", &err);
 *     ...
 *     if (!proc_wait(p, 5000)) proc_kill_reap(p, 2000);
 *     proc_status_str(proc_status(p), buf);      // "killed by signal 6 (Aborted), core dumped"
 *     proc_free(p);
 *
 * Every spawned child is in its own process group and in a registry. The registry is emptied (the
 * groups SIGKILLed and the leaders reaped) by an atexit handler, by SIGINT/SIGTERM/SIGHUP handlers
 * and by SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT handlers that then re-raise the signal; on top of
 * that each child gets PR_SET_PDEATHSIG(SIGKILL). Every spawn (re)installs the handlers, chaining
 * to whatever handler was there before.
 * Spawn from the main thread: PDEATHSIG fires when the *thread* that forked ends.
 *
 * This module owns reaping: never waitpid() a proc's pid yourself, so a pid is never signalled
 * after it was reaped and reused.
 */
#ifndef VQH_PROC_H
#define VQH_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

#define PROC_MAX 64          /* live children at once */
#define PROC_STATUS_MAX 96   /* buffer size for proc_status_str */
#define PROC_LABEL_MAX 32

struct proc {
    pid_t pid;
    char label[PROC_LABEL_MAX]; /* "src1", "gdb": names the child in messages */
    bool reaped;                /* status is valid; pid must not be used any more */
    int status;                 /* waitpid() status once reaped */
    int slot;                   /* registry entry: internal to proc.c */
};

/*
 * Start argv[0] (searched in PATH) with stdin on /dev/null and stdout/stderr truncated into the
 * given files (NULL: inherit ours; the same path twice: one shared file). Returns NULL with err
 * when the files cannot be opened, the registry is full, or exec fails ("cannot run qemu: No such
 * file or directory").
 */
struct proc *proc_spawn(const char *const argv[], const char *label, const char *stdout_path,
                        const char *stderr_path, struct vqh_err *err);

/*
 * Start every later child in dir (NULL: our working directory), e.g. the run directory, so that a
 * crashing QEMU's core file ("core", relative) lands there and nowhere else. Paths given to
 * children must then be absolute.
 */
void proc_set_child_dir(const char *dir);
/* Wait up to timeout_ms (0: just look) for the child to end. True once it is reaped. */
bool proc_wait(struct proc *p, int timeout_ms);

/* False once the child has ended (it is then reaped and its status kept). */
bool proc_alive(struct proc *p);

/* Send sig to the child's process group. False (errno set) when it is already reaped. */
bool proc_kill(struct proc *p, int sig);

/*
 * SIGTERM the group, wait grace_ms, then SIGKILL it and reap. True when the child is reaped (it
 * may already have been); false only if it survived SIGKILL for 10 s (stuck in the kernel).
 */
bool proc_kill_reap(struct proc *p, int grace_ms);

/* The waitpid() status; meaningful only when p->reaped. */
int proc_status(const struct proc *p);

/* Kill and reap the child if it still runs, unregister it and free p. NULL is fine. */
void proc_free(struct proc *p);

/* SIGKILL every registered child's group and reap it: what the exit and signal handlers do. */
void proc_kill_all(void);

/*
 * Decode a waitpid() status into buf (PROC_STATUS_MAX bytes): "exited with status 3",
 * "killed by signal 6 (Aborted), core dumped", "stopped by signal 19 (Stopped (signal))".
 * Returns buf.
 */
const char *proc_status_str(int status, char *buf);

/*
 * Write all threads' backtraces into out_path with gdb in batch mode, attaching to pid (pid > 0)
 * or reading core with exe (pid <= 0). gdb is killed after timeout_ms. True when the output holds
 * a backtrace ("#0"); otherwise false with err saying why (gdb not installed, timed out, no
 * backtrace in its output).
 */
bool proc_gdb_backtrace(pid_t pid, const char *exe, const char *core, const char *out_path,
                        int timeout_ms, struct vqh_err *err);

#endif
