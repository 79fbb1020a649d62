/*
 * lab_proc.h: the lab's children (vqhammer runs, `lab cell` workers, qemu --version): spawned
 * with their output in a file, waited for with a deadline, stopped by process group, always
 * reaped. SIGINT/SIGTERM/SIGHUP only raise lab_stop_requested; the loops act on it.
 */
#ifndef VQH_LAB_PROC_H
#define VQH_LAB_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

extern volatile sig_atomic_t lab_stop_requested;
void lab_signals_install(void);

/*
 * Fork and exec argv[0] (PATH searched) with stdin from /dev/null and stdout+stderr appended
 * to log (NULL: inherited). own_group: the child leads a new process group, which
 * lab_proc_stop() signals as a whole. Returns the pid, or -1 with errno set.
 */
pid_t lab_proc_spawn(char *const argv[], const char *log, bool own_group);

/* Non-blocking: true once pid has exited (reaped; *status its wait status). */
bool lab_proc_poll(pid_t pid, int *status);

/*
 * Stop a child: SIGTERM (to its group when group), up to grace_ms for it to exit, then SIGKILL
 * and reap. Returns its wait status.
 */
int lab_proc_stop(pid_t pid, bool group, int grace_ms);

/*
 * Wait for pid until timeout_ms (<= 0: no limit) or lab_stop_requested; a child still running
 * then is stopped. *timed_out / *interrupted say why it ended early. Returns the wait status.
 */
int lab_proc_wait(pid_t pid, bool group, int64_t timeout_ms, bool *timed_out, bool *interrupted);

/* Exit code of a wait status, 128+signal for a signal. */
int lab_proc_exit_code(int status);

/* The absolute path of the running vqhammer (/proc/self/exe). */
const char *lab_self_exe(void);

#endif
