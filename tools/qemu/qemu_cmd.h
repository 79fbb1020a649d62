/*
 * qemu_cmd.h: the QEMU command line of one VM, from the run's one description (struct vqh_opts),
 * so source and destination always match except for what must differ (binary, sockets, -incoming).
 */
#ifndef VQH_QEMU_CMD_H
#define VQH_QEMU_CMD_H

#include <stdbool.h>
#include "err.h"
#include "opts.h"

#define QEMU_ARGV_MAX 256

struct qemu_cmd {
    char *argv[QEMU_ARGV_MAX + 1]; /* NULL-terminated, owned */
    int argc;
};

/* What differs between the QEMUs of one run. */
struct qemu_inst {
    const char *label;        /* "vm1": -name vqh-vm1 and thread names */
    const char *binary;       /* opts qemu or qemu_dst */
    const char *qmp_sock;
    const char *serial_sock;  /* we listen, QEMU connects: no early output is lost */
    const char *vars;         /* this instance's OVMF variables copy (UEFI) */
    const char *config_file;  /* guest configuration for fw_cfg */
    const char *const *disks; /* data disk images (resolved paths), ndisks of them */
    int ndisks;
    const int *disk_ports;    /* per disk: 0 on the root bus, K+1 in spare slot K (hot-plugged); NULL: all 0 */
    bool incoming;            /* -incoming defer */
    bool paused;              /* -S: stay paused after the incoming migration (--check-ram) */
    const char *accel;        /* "kvm" or "tcg" */
    bool refuse_features;     /* --inject refuse-features: this QEMU's data disks demand
                                 VIRTIO_F_ACCESS_PLATFORM */
};

bool qemu_cmd_build(struct qemu_cmd *c, const struct vqh_opts *o, const struct qemu_inst *in,
                    struct vqh_err *err);
void qemu_cmd_free(struct qemu_cmd *c);
/* Append one argument (printf-style); past QEMU_ARGV_MAX, qemu_cmd_build fails. */
void qemu_cmd_arg(struct qemu_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* QEMU option values separate properties by ',': a comma inside a value is written twice. */
char *qemu_cmd_escape(const char *s, char *buf, size_t cap);
/* The command as one shell-quoted line (for logs and reproducers); caller frees. */
char *qemu_cmd_string(const struct qemu_cmd *c);
/* The QOM path of data disk i's virtio device, for x-query-virtio-*. */
void qemu_cmd_virtio_path(int disk, char *buf, size_t cap);
/* Serial number of data disk i (the guest hammers disks whose serial starts with "vqh"). */
void qemu_cmd_disk_serial(int disk, char *buf, size_t cap);

#endif
