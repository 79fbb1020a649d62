/*
 * blockgraph.h: the block graph under every data disk, built with -blockdev (named nodes) so QMP
 * can reach every node on both ends of a migration, and the names the rest of the tool uses.
 *
 * Node names of data disk i (stable: hop actions, health checks and evidence rely on them):
 *   vqhproto<i>  the protocol node (file, or nbd: the run's NBD export vqh<i>); absent for null-co
 *   vqhalign<i>  with --disk-graph align=N: blkdebug with that request alignment, under the format
 *   vqhfmt<i>    the format node (raw or qcow2) — the node block jobs copy from
 *   vqhthr<i>    with --disk-graph throttle=G:...: a throttle node in group vqhtg-G, over vqhfmt<i>
 *   the top node — the one the virtio-blk device is attached to — is blockgraph_top_node(): the
 *   format node unless filters (throttle) sit above it. --disk-graph is parsed in spec.h.
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

/* The -object throttle-group of every group the disks name (once each), before the disks. */
void blockgraph_objects(struct qemu_cmd *c, const struct vqh_opts *o, int ndisks);
/* The virtio-blk-pci -device of data disk i over its top node (JSON with vq-iothreads); props are
 * more ",k=v" device properties (the hop actions' error policy). */
void blockgraph_device(struct qemu_cmd *c, const struct vqh_opts *o, int disk, const char *serial,
                       const char *props);
/* The run's NBD server socket (nbd_server.h) that nbd protocol nodes connect to; per_export: one
 * server per export (qemu-nbd), each on the socket blockgraph_nbd_socket names. */
void blockgraph_set_nbd_socket(const char *path, bool per_export);
/* The socket serving export `name`: base itself, or base-NAME with one server per export. */
void blockgraph_nbd_socket(const char *base, bool per_export, const char *name, char *buf, size_t cap);

void blockgraph_proto_node(int disk, char *buf, size_t cap);
void blockgraph_align_node(int disk, char *buf, size_t cap);
void blockgraph_throttle_node(int disk, char *buf, size_t cap);
/* The NBD export name of data disk i. */
void blockgraph_nbd_export(int disk, char *buf, size_t cap);
void blockgraph_format_node(int disk, char *buf, size_t cap);
void blockgraph_top_node(const struct vqh_opts *o, int disk, char *buf, size_t cap);
/* The helper `name` (qemu-img, qemu-storage-daemon) beside --qemu when it is there, else from PATH. */
void blockgraph_tool(const struct vqh_opts *o, const char *name, char *buf, size_t cap);
/* Create the raw image file at path, --disk-size bytes (fresh: emptied first if it exists):
 * sparse, or with --disk-prealloc written in full. err names `what` (e.g. "the data disk"). */
bool blockgraph_create_raw(const struct vqh_opts *o, const char *path, bool fresh, const char *what,
                           struct vqh_err *err);
/* Make data disk i's image what its graph needs at `path` (a qcow2 is created with qemu-img
 * unless the file already is one; the caller keeps the no-overwrite rule); output into log. */
bool blockgraph_prepare_image(const struct vqh_opts *o, int disk, const char *path, const char *log,
                              struct vqh_err *err);
/* Check that --qemu and --qemu-dst can build the graphs (iothread-vq-mapping); output into log. */
bool blockgraph_probe(const struct vqh_opts *o, int ndisks, const char *log, struct vqh_err *err);
struct qmp;
/* query-named-block-nodes (flat) on a QEMU: every node of every data disk's graph is there with
 * its driver, and each protocol node reaches images[i] (or its NBD export); false with err naming
 * the QEMU (label), the node and what differs. */
bool blockgraph_check(struct qmp *q, const struct vqh_opts *o, int ndisks, const char *const *images,
                      const char *label, int timeout_ms, struct vqh_err *err);
/* The QEMU's named block nodes, one "  name: driver file" line each, for evidence.txt (caller frees). */
char *blockgraph_nodes_text(struct qmp *q, int timeout_ms);
/* Data disk index of a query-block / query-blockstats entry (by its qdev path or device name),
 * or -1 for anything else (the ESP). */
int blockgraph_disk_of_qdev(const char *qdev);

#endif
