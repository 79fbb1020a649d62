/* device.c: the virtio-blk-pci device of a data disk, on top of its block graph: the classic
 * "-device k=v,..." form, or JSON when iothread-vq-mapping (a list) must be given. */
#include "blockgraph.h"
#include "qemu_cmd.h"
#include "spec.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --disk-opts in JSON: JSON -device properties are typed, so numbers become integers and
 * on/off booleans; anything else stays a string (QEMU names a property whose type is wrong). */
static void device_json_extra(json_t *d, const char *extra)
{
    char buf[256], *save = NULL, *kv;
    snprintf(buf, sizeof(buf), "%s", extra);
    for (kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '='), *end;
        if (!eq)
            continue;
        *eq++ = 0;
        long long n = strtoll(eq, &end, 0);
        if (*eq && !*end)
            json_object_set_new(d, kv, json_integer(n));
        else if (!strcmp(eq, "on") || !strcmp(eq, "off") || !strcmp(eq, "true") || !strcmp(eq, "false"))
            json_object_set_new(d, kv, json_boolean(!strcmp(eq, "on") || !strcmp(eq, "true")));
        else
            json_object_set_new(d, kv, json_string(eq));
    }
}

static void device_json(struct qemu_cmd *c, const struct vqh_opts *o, const struct bg_spec *sp, int disk,
                        const char *node, const char *serial, const char *props)
{
    char id[32];
    json_t *map = json_array();
    snprintf(id, sizeof(id), "vqhdisk%d", disk);
    /* No vqs lists: QEMU spreads the queues round-robin over the listed iothreads. */
    for (int t = 0; t < sp->vq_iothreads; t++) {
        char name[32];
        snprintf(name, sizeof(name), "iothread%d", t);
        json_array_append_new(map, json_pack("{s:s}", "iothread", name));
    }
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:o}", "driver", "virtio-blk-pci", "drive", node,
                          "id", id, "serial", serial, "num-queues", o->queues, "queue-size", o->queue_size,
                          "iothread-vq-mapping", map);
    if (*blockgraph_device_props(o))
        json_object_set_new(d, "write-cache", json_string("off"));
    device_json_extra(d, props);
    device_json_extra(d, o->disk_extra);
    char *text = json_dumps(d, JSON_COMPACT);
    qemu_cmd_arg(c, "-device");
    qemu_cmd_arg(c, "%s", text ? text : "{}");
    free(text);
    json_decref(d);
}

void blockgraph_device(struct qemu_cmd *c, const struct vqh_opts *o, int disk, const char *serial, const char *props)
{
    char node[32], iothread[32] = "";
    struct bg_spec sp;
    bg_spec_of(o, disk, &sp);
    blockgraph_top_node(o, disk, node, sizeof(node));
    if (sp.vq_iothreads) {
        device_json(c, o, &sp, disk, node, serial, props);
        return;
    }
    if (sp.iothread >= 0)
        snprintf(iothread, sizeof(iothread), ",iothread=iothread%d", sp.iothread);
    else if (o->iothreads)
        snprintf(iothread, sizeof(iothread), ",iothread=iothread%d", disk % o->iothreads);
    /* num-queues always explicit: its default follows -smp and a mismatch breaks migration
     * (QEMU GitLab #2594). */
    qemu_cmd_arg(c, "-device");
    qemu_cmd_arg(c, "virtio-blk-pci,drive=%s,id=vqhdisk%d,serial=%s,num-queues=%d,queue-size=%d%s%s%s%s%s", node,
                 disk, serial, o->queues, o->queue_size, iothread, blockgraph_device_props(o), props,
                 o->disk_extra[0] ? "," : "", o->disk_extra);
}
