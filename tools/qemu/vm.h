/*
 * vm.h: one running QEMU of a run: its process, its QMP connection and its serial socket.
 * A guest moves between VMs at every migration; the guest channel (chan.h) reads all of them.
 */
#ifndef VQH_VM_H
#define VQH_VM_H

#include <stdbool.h>
#include <stdio.h>
#include "err.h"
#include "guestlog.h"
#include "opts.h"
#include "proc.h"
#include "qmp.h"
#include "rundir.h"

struct vm {
    char label[16];           /* "vm1", "vm2", ... */
    char qmp_path[256], serial_path[256];
    char out_path[1024];      /* QEMU's stdout and stderr */
    char serial_log[1024];    /* every byte of the guest's serial output through this VM */
    char vars[1024];
    char exe[OPTS_PATH_MAX];
    char cmdline[8192];       /* shell form, for the evidence */
    struct proc *proc;
    struct qmp *qmp;
    int listen_fd, serial_fd;
    FILE *serial_log_f;
    struct guestlog_asm asm_;
    bool incoming;
    bool quit_sent;           /* we asked it to quit: its exit is expected */
    bool hold_serial;         /* incoming: not read until the source's partial line is handed over */
    char exit_status[PROC_STATUS_MAX];
    int version;              /* query-version: major * 10000 + minor * 100 + micro; 0 unknown */
};

struct vm_launch {
    const struct vqh_opts *opts;
    struct rundir *rd;
    const char *accel;
    const char *config_file;
    const char *const *disks;
    int ndisks;
    const int *disk_ports;    /* qemu_inst's: spare slot of each disk (hot-plugged), NULL none */
    FILE *qmp_log;
    bool paused;              /* incoming: -S, resumed by whoever migrates to it */
    bool refuse_features;     /* data disks demand VIRTIO_F_ACCESS_PLATFORM (--inject) */
};

/* Start QEMU, take its serial connection and open QMP (all within boot timeouts). */
struct vm *vm_start(const struct vm_launch *l, const char *label, bool incoming, struct vqh_err *err);
/* True while QEMU runs; otherwise fills exit_status. */
bool vm_alive(struct vm *v);
/* QEMU has ended, killed by a signal (a crash, unless the signal was ours). */
bool vm_crashed(struct vm *v);
/* Liveness hook for QMP waits. */
bool vm_alive_hook(void *arg, struct vqh_err *why);
/* Write a command line to the guest (ends with '\n'). */
bool vm_send(struct vm *v, const char *line, struct vqh_err *err);
/* Ask QEMU to quit and reap it; returns false (with err) when it did not exit cleanly. */
bool vm_quit(struct vm *v, int timeout_ms, struct vqh_err *err);
/* vm_quit in two halves, so other work runs while QEMU shuts down: send `quit` (and close QMP),
 * later reap it and check its exit as vm_quit does. */
void vm_quit_send(struct vm *v);
bool vm_quit_wait(struct vm *v, int timeout_ms, struct vqh_err *err);
/* Kill and reap at once. */
void vm_kill(struct vm *v);
/* Close everything and free (kills QEMU if still running). */
void vm_free(struct vm *v);

#endif
