/*
 * session.h: what `vqhammer run` and `vqhammer migrate` share: the run directory, the data disks,
 * the guest configuration, the accelerator, the guest channel, the QEMU that carries the guest
 * now, the result, and the ending (evidence, reports, exit status).
 */
#ifndef VQH_SESSION_H
#define VQH_SESSION_H

#include <stdint.h>
#include "chan.h"
#include "clock.h"
#include "hop.h"
#include "opts.h"
#include "report.h"
#include "rundir.h"
#include "vm.h"
#include "nbd_server.h"

struct session {
    struct vqh_opts *o;
    struct rundir *rd;
    const char *accel;
    char accel_why[512];
    char config_path[1024];
    char disk_paths[OPTS_MAX_DISKS][OPTS_PATH_MAX];
    const char *disk_ptrs[OPTS_MAX_DISKS];
    int ndisks;
    FILE *qmp_log;
    struct chan *chan;
    struct vm *vm;                /* the QEMU running the guest now */
    int vm_count;                 /* labels vm1, vm2, ... */
    struct run_result result;
    struct status_line status;
    int64_t start_ms;
    bool failed;                  /* result.verdict decided (FAIL or ERROR) */
    struct nbd_server *nbd;       /* the run's NBD server (--disk-graph nbd), or NULL */
    bool dst_paused;              /* the next incoming QEMU starts with -S (hop actions) */
    /* --hotplug-slots (tools/hotplug/): hot-plugged disks are the last ones of the disk list */
    int disk_port[OPTS_MAX_DISKS];/* 0: on the root bus from the start; K+1: in spare slot K */
    int hot_plugged;              /* disks in spare slots now */
    int hot_plugs, hot_unplugs;   /* done in this run */
    bool hot_emptying;            /* the slots were full: unplug until they are empty */
    bool dst_refuse_features;     /* the next incoming QEMU's disks demand ACCESS_PLATFORM (--inject) */
};

/* Defaults, flags and their checks for `vqhammer <command>`: -1 to go on, otherwise the exit status
 * to return at once (0 after --help; 2 after a bad flag, the message printed). */
int session_parse(struct vqh_opts *o, const char *command, int argc, char **argv);
/* Parse-time setup: run directory, disks, guest configuration, accelerator, channel. */
bool session_setup(struct session *s, struct vqh_opts *o, const char *guest_config, struct vqh_err *err);
/* Setup, the first QEMU and its guest's hello; false with the verdict recorded (then return
 * session_end). */
bool session_boot(struct session *s, struct vqh_opts *o, const char *guest_config);
/* Start the next QEMU (vmN) and attach its serial output. */
struct vm *session_start_vm(struct session *s, bool incoming, struct vqh_err *err);
/* Wait for hello and check it against the options (vCPUs online, data disks, queues). */
bool session_wait_hello(struct session *s, struct vqh_err *err);
/* Record the verdict (the first FAIL or ERROR wins) and say it on the status line. */
void session_fail(struct session *s, enum verdict v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A hung or crashed QEMU: gdb backtrace (live, or from its core), then kill it. */
void session_evidence_vm(struct session *s, struct vm *v, const char *what);
/* Close everything, write evidence and reports, remove or keep the run directory; exit status. */
int session_end(struct session *s);

#endif
