/* blockgraph.c: -blockdev nodes of the data disks (see blockgraph.h). */
#include "blockgraph.h"
#include "qemu_cmd.h"

#include <stdio.h>
#include <string.h>

void blockgraph_proto_node(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "vqhproto%d", disk);
}

void blockgraph_format_node(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "vqhfmt%d", disk);
}

void blockgraph_top_node(const struct vqh_opts *o, int disk, char *buf, size_t cap)
{
    (void)o;
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

bool blockgraph_args(struct qemu_cmd *c, const struct vqh_opts *o, int disk, const char *image,
                     struct vqh_err *err)
{
    char proto[32], fmt[32], path[2 * OPTS_PATH_MAX];
    const char *direct, *noflush;
    blockgraph_proto_node(disk, proto, sizeof(proto));
    blockgraph_format_node(disk, fmt, sizeof(fmt));
    blockgraph_cache(o, &direct, &noflush);
    if (!strcmp(o->backend, "null-co")) { /* bench only: the virtio path without a backend */
        qemu_cmd_arg(c, "-blockdev");
        qemu_cmd_arg(c, "driver=null-co,node-name=%s,size=%llu,read-zeroes=on", fmt,
                     (unsigned long long)o->disk_size);
        return true;
    }
    if (!strcmp(o->aio, "native") && strcmp(direct, "on")) {
        vqh_err_set(err, "--aio native needs O_DIRECT: use it with --cache none or directsync, not '%s'", o->cache);
        return false;
    }
    qemu_cmd_arg(c, "-blockdev");
    qemu_cmd_arg(c, "driver=file,node-name=%s,filename=%s,aio=%s,cache.direct=%s,cache.no-flush=%s", proto,
                 qemu_cmd_escape(image, path, sizeof(path)), o->aio, direct, noflush);
    qemu_cmd_arg(c, "-blockdev");
    qemu_cmd_arg(c, "driver=raw,node-name=%s,file=%s,cache.direct=%s,cache.no-flush=%s", fmt, proto, direct, noflush);
    return true;
}
