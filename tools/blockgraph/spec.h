/*
 * spec.h: the storage graph of one data disk, as the user writes it with --disk-graph SPEC.
 *
 *   SPEC  = ITEM[,ITEM...]
 *   ITEM  = raw | qcow2                      format node (raw)
 *         | file | nbd                       protocol node: the image file, or an NBD export of it
 *                                            served by the run's qemu-storage-daemon (file)
 *         | l2-cache-size=SIZE               qcow2 only (bytes, K/M/G suffix)
 *         | cache-clean-interval=SECONDS     qcow2 only
 *         | reconnect-delay=SECONDS          nbd only (10)
 *         | server=qemu-storage-daemon|qemu-nbd  nbd only: what serves the run's exports
 *                                            (qemu-storage-daemon); every nbd disk names the same
 *         | align=BYTES                      a blkdebug node with this request alignment under the
 *                                            format node: a host with 4 KiB sectors (align=4096)
 *         | throttle=GROUP:iops=N[:bps=N]    a throttle node in the throttle group GROUP (shared
 *                                            by every disk naming it) on top
 *         | iothread=K                       this disk's device on iothread K of --iothreads
 *         | vq-iothreads=N                   iothread-vq-mapping: the disk's queues spread over
 *                                            iothreads 0..N-1 (QEMU 9.0 or later)
 *
 * --disk-graph is repeatable: one applies to every disk, otherwise the i-th to disk i.
 */
#ifndef VQH_BLOCKGRAPH_SPEC_H
#define VQH_BLOCKGRAPH_SPEC_H

#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "opts.h"

#define BG_GROUP_MAX 32

enum bg_nbd_server { BG_NBD_QSD = 0, BG_NBD_QEMU_NBD = 1 };

struct bg_spec {
    bool qcow2;                   /* format node: qcow2, else raw */
    bool nbd;                     /* protocol node: nbd, else file */
    int reconnect_delay;          /* nbd: seconds */
    int nbd_server;               /* nbd: enum bg_nbd_server */
    uint64_t l2_cache_size;       /* qcow2: bytes, 0 = QEMU's default */
    int cache_clean_interval;     /* qcow2: seconds, -1 = QEMU's default */
    int align;                    /* blkdebug request alignment, 0 = no blkdebug node */
    char group[BG_GROUP_MAX];     /* throttle group, "" = no throttle node */
    uint64_t iops, bps;           /* the group's x-iops-total / x-bps-total (0 = no limit) */
    int iothread;                 /* -1 = spread by disk index */
    int vq_iothreads;             /* 0 = off */
};

/* Parse one SPEC; false with err naming --disk-graph, the item, the bad value and the fix. */
bool bg_spec_parse(const char *text, struct bg_spec *out, struct vqh_err *err);
/* The spec of data disk i under o (the default raw-on-file when no --disk-graph was given).
 * o's specs were checked by bg_spec_validate, so this cannot fail. */
void bg_spec_of(const struct vqh_opts *o, int disk, struct bg_spec *out);
/* Check every --disk-graph against the run: their count against the disks, shared groups'
 * limits, iothread indexes against --iothreads, --nbd-chaos against the NBD disks. */
bool bg_spec_validate(const struct vqh_opts *o, int ndisks, struct vqh_err *err);
/* True when any data disk of the run is served over NBD. */
bool bg_spec_any_nbd(const struct vqh_opts *o, int ndisks);
/* What serves the run's NBD disks (they all agree: bg_spec_validate). */
enum bg_nbd_server bg_spec_nbd_server(const struct vqh_opts *o, int ndisks);
const char *bg_nbd_server_name(enum bg_nbd_server s); /* "qemu-storage-daemon", "qemu-nbd" */
/* The smallest reconnect-delay of the run's NBD disks, in ms (chaos outages stay below it). */
int bg_spec_min_reconnect_ms(const struct vqh_opts *o, int ndisks);

#endif
