/*
 * opts.h: the command-line options of `vqhammer run` and `vqhammer migrate`, and the one
 * description of the VM that both ends of every migration are started from.
 */
#ifndef VQH_OPTS_H
#define VQH_OPTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "err.h"

#define OPTS_MAX_DISKS 8 /* the guest drives 8 virtio-blk disks (STRESS_MAX_DISKS) */
#define OPTS_MAX_DISKS_UEFI (OPTS_MAX_DISKS - 1) /* UEFI: the ESP takes one of them */
#define OPTS_PATH_MAX 1024

enum opts_boot { BOOT_UEFI = 0, BOOT_PVH = 1 };
enum opts_transport { TRANSPORT_UNIX = 0, TRANSPORT_TCP = 1 };
enum opts_accel { ACCEL_AUTO = 0, ACCEL_KVM = 1, ACCEL_TCG = 2 };

struct vqh_opts {
    const char *command;          /* "run" or "migrate" */
    /* the VM */
    char qemu[OPTS_PATH_MAX];     /* --qemu */
    char qemu_dst[OPTS_PATH_MAX]; /* --qemu-dst ("" = same as --qemu) */
    char machine[64];             /* --machine (pinned type, e.g. pc-q35-7.2) */
    enum opts_accel accel;        /* --accel auto|kvm|tcg */
    int smp;                      /* --smp */
    int mem_mib;                  /* --mem */
    enum opts_boot boot;          /* --boot uefi|pvh */
    char kernel[OPTS_PATH_MAX];   /* build/kernel.elf (PVH) */
    char esp[OPTS_PATH_MAX];      /* build/esp.img (UEFI) */
    char ovmf_code[OPTS_PATH_MAX], ovmf_vars[OPTS_PATH_MAX];
    int ndisks;                   /* --disk (repeatable); 0 = one scratch image */
    char disk[OPTS_MAX_DISKS][OPTS_PATH_MAX];
    uint64_t disk_size;           /* --disk-size, bytes, for scratch or created images */
    bool disk_overwrite;          /* --disk-overwrite: an existing --disk image may be written */
    bool disk_prealloc;           /* --disk-prealloc: scratch or created raw images written in full */
    int queues;                   /* --queues: num-queues of every data disk */
    int queue_size;               /* --queue-size */
    int iothreads;                /* --iothreads: 0 = none; disks spread over them */
    char aio[16];                 /* --aio threads|native|io_uring */
    char cache[16];               /* --cache none|writeback|writethrough|directsync|unsafe */
    char disk_extra[256];         /* --disk-opts: extra virtio-blk-pci properties */
    int ndisk_graphs;             /* --disk-graph (repeatable): one for all disks, or one per disk */
    char disk_graph[OPTS_MAX_DISKS][256]; /* the SPEC text, parsed by tools/blockgraph/spec.c */
    int nbd_chaos_min_ms, nbd_chaos_max_ms; /* --nbd-chaos MIN:MAX: NBD server kills; 0 = off */
    char backend[16];             /* data disks' block driver: "" = the image files; "null-co" =
                                     QEMU's null-co (read-zeroes=on), set only by `vqhammer bench`
                                     to measure the virtio path without a backend; no flag */
    /* the guest */
    uint64_t seed;                /* --seed */
    char guest_config[1024];      /* --guest-config: extra key=value for the guest */
    char mode[8];                 /* --guest-mode irq|poll */
    /* the loop */
    int migrations;               /* --migrations N */
    int duration_s;               /* --duration (instead of --migrations) */
    int run_seconds;              /* run: --run-seconds of load before the verdict */
    enum opts_transport transport;/* --transport unix|tcp */
    int multifd;                  /* --multifd[=channels]: 0 = off */
    bool postcopy, xbzrle, auto_converge;
    int downtime_limit_ms;        /* --downtime-limit, 0 = QEMU's default */
    uint64_t bandwidth;           /* --bandwidth bytes/s, 0 = QEMU's default */
    int cancel_every;             /* --cancel-every K */
    int reset_every;              /* --reset-every K: the guest resets its data disks at every
                                     K-th hop's checks */
    int kill_dst_every;           /* --kill-dst-every K */
    int hotplug_slots;            /* --hotplug-slots N: spare PCIe root ports (tools/hotplug/) */
    int hotplug_every;            /* --hotplug-every K: plug or unplug a disk at every K-th hop */
    char hop_actions[192];        /* --hop-actions LIST (tools/hop/): "" = plain migrations */
    unsigned hop_action_mask;     /* parsed from hop_actions, bit per enum hop_action */
    char hop_mix[8];              /* --hop-mix rotate|random */
    char verify[16];              /* --verify full|sample|none: after every hop */
    int verify_sample;            /* ranges per queue for sample */
    int min_gap_ms, max_gap_ms;   /* random pause before each migration (seeded) */
    /* timeouts */
    int boot_timeout_ms;          /* --boot-timeout */
    int migrate_timeout_ms;       /* --migrate-timeout */
    int qmp_timeout_ms;
    int guest_timeout_ms;         /* --guest-timeout: guest silence counts as a hang */
    /* output */
    bool keep;                    /* --keep */
    bool final_state;             /* --final-state: the guest prints its expected-state table */
    bool check_ram;               /* --check-ram: compare both QEMUs' RAM after every migration */
    char json[OPTS_PATH_MAX];     /* --json FILE */
    char junit[OPTS_PATH_MAX];    /* --junit FILE */
    char qmp_log[OPTS_PATH_MAX];  /* --qmp-log FILE */
    char workdir[OPTS_PATH_MAX];  /* --workdir: parent of the run directory */
    bool quiet, verbose;
    /* test hooks (documented as such) */
    char inject[32];              /* --inject abort-src|stop-dst|overwrite-block */
    char inject_pattern[16];      /* --inject overwrite-block=PATTERN (inject_block.h); "" = flip */
    int inject_hop;               /* --inject-hop N: where the fault goes */
};

/* Defaults: the README's main job (UEFI, 4 vCPUs, 8 queues, an iothread, 10 migrations). */
void opts_defaults(struct vqh_opts *o, const char *command);
/*
 * Parse argv (after the subcommand). Returns 0 on success, 1 when --help was printed, -1 with err
 * naming the flag, the bad value and what is expected.
 */
int opts_parse(struct vqh_opts *o, int argc, char **argv, struct vqh_err *err);
/* Cross-checks and file checks (binaries, images); fills derived paths. */
bool opts_validate(struct vqh_opts *o, struct vqh_err *err);
void opts_usage(FILE *f, const char *command);
/* Every option as JSON (the run's configuration in --json). */
json_t *opts_to_json(const struct vqh_opts *o);
/* A shell command line that repeats this run (the reproducer). */
void opts_reproducer(const struct vqh_opts *o, char *buf, size_t cap);

#endif
