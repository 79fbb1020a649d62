/*
 * blockgraph.h: the block graph under every data disk, built with -blockdev (named nodes) so QMP
 * can reach every node on both ends of a migration, and the names the rest of the tool uses.
 *
 * Node names of data disk i (stable: hop actions, health checks and evidence rely on them):
 *   vqhproto<i>  the protocol node (file; later nbd, ...); absent for null-co
 *   vqhfmt<i>    the format node (raw; later qcow2) — the node block jobs copy from
 *   the top node — the one the virtio-blk device is attached to — is blockgraph_top_node(): the
 *   format node unless filters (throttle, ...) sit above it.
 */
#ifndef VQH_BLOCKGRAPH_H
#define VQH_BLOCKGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "opts.h"

struct qemu_cmd;

/* Append the -blockdev arguments of data disk i (image path `image`) to the command line. */
bool blockgraph_args(struct qemu_cmd *c, const struct vqh_opts *o, int disk, const char *image,
                     struct vqh_err *err);
/* Extra virtio-blk-pci properties the cache mode asks of the device (",write-cache=off" or ""). */
const char *blockgraph_device_props(const struct vqh_opts *o);

void blockgraph_proto_node(int disk, char *buf, size_t cap);
void blockgraph_format_node(int disk, char *buf, size_t cap);
void blockgraph_top_node(const struct vqh_opts *o, int disk, char *buf, size_t cap);
/* Data disk index of a query-block / query-blockstats entry (by its qdev path or device name),
 * or -1 for anything else (the ESP). */
int blockgraph_disk_of_qdev(const char *qdev);

#endif
