/* blockgraph.c: -blockdev nodes of the data disks (see blockgraph.h), layer by layer from the
 * protocol node up, as --disk-graph (spec.h) asks. */
#include "blockgraph.h"
#include "qemu_cmd.h"
#include "spec.h"

#include <stdio.h>
#include <string.h>

/* One NBD server per run (nbd_server.c): its socket, set before the first QEMU is built. */
static char blockgraph_nbd_sock[OPTS_PATH_MAX];
static bool blockgraph_nbd_per_export;

void blockgraph_set_nbd_socket(const char *path, bool per_export)
{
    snprintf(blockgraph_nbd_sock, sizeof(blockgraph_nbd_sock), "%s", path ? path : "");
    blockgraph_nbd_per_export = per_export;
}

void blockgraph_nbd_socket(const char *base, bool per_export, const char *name, char *buf, size_t cap)
{
    if (per_export)
        snprintf(buf, cap, "%s-%s", base, name);
    else
        snprintf(buf, cap, "%s", base);
}

void blockgraph_proto_node(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "vqhproto%d", disk);
}

void blockgraph_format_node(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "vqhfmt%d", disk);
}

void blockgraph_align_node(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "vqhalign%d", disk);
}

void blockgraph_throttle_node(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "vqhthr%d", disk);
}

void blockgraph_nbd_export(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "vqh%d", disk);
}

void blockgraph_top_node(const struct vqh_opts *o, int disk, char *buf, size_t cap)
{
    struct bg_spec sp;
    bg_spec_of(o, disk, &sp);
    if (sp.group[0] && strcmp(o->backend, "null-co"))
        blockgraph_throttle_node(disk, buf, cap);
    else
        blockgraph_format_node(disk, buf, cap);
}

int blockgraph_disk_of_qdev(const char *qdev)
{
    const char *p;
    int i;
    if (!qdev)
        return -1;
    /* 7.2 names the device's QOM path (/machine/peripheral/vqhdisk0/virtio-backend); a bare id works too. */
    p = strstr(qdev, "vqhdisk");
    if (p && sscanf(p, "vqhdisk%d", &i) == 1)
        return i;
    return -1;
}

/*
 * The -drive cache modes in -blockdev terms (QEMU's blockdev options): cache.direct is O_DIRECT,
 * cache.no-flush ignores flushes; "writethrough" and "directsync" also turn the device's write
 * cache off, which is a property of the device, not of a node.
 */
static void blockgraph_cache(const struct vqh_opts *o, const char **direct, const char **noflush)
{
    bool d = !strcmp(o->cache, "none") || !strcmp(o->cache, "directsync");
    *direct = d ? "on" : "off";
    *noflush = !strcmp(o->cache, "unsafe") ? "on" : "off";
}

const char *blockgraph_device_props(const struct vqh_opts *o)
{
    if (!strcmp(o->cache, "writethrough") || !strcmp(o->cache, "directsync"))
        return ",write-cache=off";
    return "";
}

void blockgraph_objects(struct qemu_cmd *c, const struct vqh_opts *o, int ndisks)
{
    struct bg_spec sp[OPTS_MAX_DISKS];
    if (!strcmp(o->backend, "null-co"))
        return;
    for (int i = 0; i < ndisks && i < OPTS_MAX_DISKS; i++) {
        bool first = true;
        bg_spec_of(o, i, &sp[i]);
        for (int j = 0; j < i; j++)
            first = first && strcmp(sp[i].group, sp[j].group);
        if (!sp[i].group[0] || !first)
            continue;
        /* x-iops-total/x-bps-total: the group's limits as plain properties (7.2 and 10.0 alike). */
        char lim[96] = "";
        if (sp[i].iops)
            snprintf(lim, sizeof(lim), ",x-iops-total=%llu", (unsigned long long)sp[i].iops);
        if (sp[i].bps)
            snprintf(lim + strlen(lim), sizeof(lim) - strlen(lim), ",x-bps-total=%llu", (unsigned long long)sp[i].bps);
        qemu_cmd_arg(c, "-object");
        qemu_cmd_arg(c, "throttle-group,id=vqhtg-%s%s", sp[i].group, lim);
    }
}

/* The protocol node: the image file, or the run's NBD export of it. */
static bool blockgraph_proto(struct qemu_cmd *c, const struct vqh_opts *o, const struct bg_spec *sp, int disk,
                             const char *image, struct vqh_err *err)
{
    char proto[32], path[2 * OPTS_PATH_MAX], exp[32], sock[OPTS_PATH_MAX + 40];
    const char *direct, *noflush;
    blockgraph_proto_node(disk, proto, sizeof(proto));
    blockgraph_cache(o, &direct, &noflush);
    if (sp->nbd) {
        if (!blockgraph_nbd_sock[0]) {
            vqh_err_set(err, "internal: disk %d is served over NBD but no NBD server was started", disk);
            return false;
        }
        /* reconnect-delay: requests wait that long for the server to come back before they fail;
         * open-timeout (QEMU 7.0+): a QEMU started during an outage keeps trying as long. */
        blockgraph_nbd_export(disk, exp, sizeof(exp));
        blockgraph_nbd_socket(blockgraph_nbd_sock, blockgraph_nbd_per_export, exp, sock, sizeof(sock));
        qemu_cmd_arg(c, "-blockdev");
        qemu_cmd_arg(c, "driver=nbd,node-name=%s,server.type=unix,server.path=%s,export=%s,reconnect-delay=%d,"
                     "open-timeout=%d", proto, qemu_cmd_escape(sock, path, sizeof(path)), exp,
                     sp->reconnect_delay, sp->reconnect_delay);
        return true;
    }
    if (!strcmp(o->aio, "native") && strcmp(direct, "on")) {
        vqh_err_set(err, "--aio native needs O_DIRECT: use it with --cache none or directsync, not '%s'", o->cache);
        return false;
    }
    qemu_cmd_arg(c, "-blockdev");
    qemu_cmd_arg(c, "driver=file,node-name=%s,filename=%s,aio=%s,cache.direct=%s,cache.no-flush=%s", proto,
                 qemu_cmd_escape(image, path, sizeof(path)), o->aio, direct, noflush);
    return true;
}

bool blockgraph_args(struct qemu_cmd *c, const struct vqh_opts *o, int disk, const char *image,
                     struct vqh_err *err)
{
    char below[32], fmt[32], node[32], opts[128] = "";
    const char *direct, *noflush;
    struct bg_spec sp;
    bg_spec_of(o, disk, &sp);
    blockgraph_format_node(disk, fmt, sizeof(fmt));
    blockgraph_cache(o, &direct, &noflush);
    if (!strcmp(o->backend, "null-co")) { /* bench only: the virtio path without a backend */
        qemu_cmd_arg(c, "-blockdev");
        qemu_cmd_arg(c, "driver=null-co,node-name=%s,size=%llu,read-zeroes=on", fmt,
                     (unsigned long long)o->disk_size);
        return true;
    }
    if (!blockgraph_proto(c, o, &sp, disk, image, err))
        return false;
    blockgraph_proto_node(disk, below, sizeof(below));
    if (sp.align) {
        /* A host with big sectors: blkdebug's request alignment makes the block layer pad and
         * split every guest request that is not aligned to it (read-modify-write). */
        blockgraph_align_node(disk, node, sizeof(node));
        qemu_cmd_arg(c, "-blockdev");
        qemu_cmd_arg(c, "driver=blkdebug,node-name=%s,align=%d,image=%s", node, sp.align, below);
        snprintf(below, sizeof(below), "%s", node);
    }
    if (sp.qcow2 && sp.l2_cache_size)
        snprintf(opts, sizeof(opts), ",l2-cache-size=%llu", (unsigned long long)sp.l2_cache_size);
    if (sp.qcow2 && sp.cache_clean_interval >= 0)
        snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), ",cache-clean-interval=%d", sp.cache_clean_interval);
    qemu_cmd_arg(c, "-blockdev");
    qemu_cmd_arg(c, "driver=%s,node-name=%s,file=%s,cache.direct=%s,cache.no-flush=%s%s", sp.qcow2 ? "qcow2" : "raw",
                 fmt, below, direct, noflush, opts);
    if (sp.group[0]) {
        blockgraph_throttle_node(disk, node, sizeof(node));
        qemu_cmd_arg(c, "-blockdev");
        qemu_cmd_arg(c, "driver=throttle,node-name=%s,throttle-group=vqhtg-%s,file=%s", node, sp.group, fmt);
    }
    return true;
}
