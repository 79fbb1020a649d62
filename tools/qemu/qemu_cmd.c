/* qemu_cmd.c: building the QEMU argv of a VM. */
#include "qemu_cmd.h"
#include "blockgraph.h"
#include "hop_action.h"
#include "hotplug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qemu_cmd_arg(struct qemu_cmd *c, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    if (c->argc >= QEMU_ARGV_MAX)
        return;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s)
        c->argv[c->argc++] = s;
}

char *qemu_cmd_escape(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 2 < cap; s++) {
        if (*s == ',')
            buf[n++] = ',';
        buf[n++] = *s;
    }
    buf[n] = 0;
    return buf;
}

void qemu_cmd_virtio_path(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "/machine/peripheral/vqhdisk%d/virtio-backend", disk);
}

void qemu_cmd_disk_serial(int disk, char *buf, size_t cap)
{
    snprintf(buf, cap, "vqh%d", disk);
}

bool qemu_cmd_build(struct qemu_cmd *c, const struct vqh_opts *o, const struct qemu_inst *in,
                    struct vqh_err *err)
{
    char e1[2 * OPTS_PATH_MAX], serial[32];
    memset(c, 0, sizeof(*c));
    qemu_cmd_arg(c, "%s", in->binary);
    qemu_cmd_arg(c, "-name");
    qemu_cmd_arg(c, "vqh-%s,debug-threads=on", in->label); /* named QEMU threads in backtraces */
    qemu_cmd_arg(c, "-machine");
    qemu_cmd_arg(c, "%s", o->machine);
    qemu_cmd_arg(c, "-accel");
    qemu_cmd_arg(c, "%s", in->accel);
    qemu_cmd_arg(c, "-smp");
    qemu_cmd_arg(c, "%d", o->smp);
    qemu_cmd_arg(c, "-m");
    qemu_cmd_arg(c, "%d", o->mem_mib);
    qemu_cmd_arg(c, "-nodefaults");
    qemu_cmd_arg(c, "-no-user-config");
    qemu_cmd_arg(c, "-display");
    qemu_cmd_arg(c, "none");
    qemu_cmd_arg(c, "-no-reboot");
    qemu_cmd_arg(c, "-chardev");
    qemu_cmd_arg(c, "socket,id=vqhserial,path=%s", qemu_cmd_escape(in->serial_sock, e1, sizeof(e1)));
    qemu_cmd_arg(c, "-serial");
    qemu_cmd_arg(c, "chardev:vqhserial");
    qemu_cmd_arg(c, "-qmp");
    qemu_cmd_arg(c, "unix:%s,server=on,wait=off", qemu_cmd_escape(in->qmp_sock, e1, sizeof(e1)));
    qemu_cmd_arg(c, "-device");
    qemu_cmd_arg(c, "isa-debug-exit,iobase=0xf4,iosize=0x04");
    qemu_cmd_arg(c, "-fw_cfg");
    qemu_cmd_arg(c, "name=opt/vqhammer/config,file=%s", qemu_cmd_escape(in->config_file, e1, sizeof(e1)));
    if (o->boot == BOOT_PVH) {
        qemu_cmd_arg(c, "-kernel");
        qemu_cmd_arg(c, "%s", o->kernel);
    } else {
        qemu_cmd_arg(c, "-drive");
        qemu_cmd_arg(c, "if=pflash,format=raw,unit=0,readonly=on,file=%s", qemu_cmd_escape(o->ovmf_code, e1, sizeof(e1)));
        qemu_cmd_arg(c, "-drive");
        qemu_cmd_arg(c, "if=pflash,format=raw,unit=1,file=%s", qemu_cmd_escape(in->vars, e1, sizeof(e1)));
        /* The ESP on a read-only virtio-blk disk: the same file serves both ends, and the
         * guest leaves it alone (serial "esp" is not a data disk's). */
        qemu_cmd_arg(c, "-blockdev");
        qemu_cmd_arg(c, "driver=file,node-name=espfile,read-only=on,filename=%s", qemu_cmd_escape(o->esp, e1, sizeof(e1)));
        qemu_cmd_arg(c, "-blockdev");
        qemu_cmd_arg(c, "driver=raw,node-name=esp,read-only=on,file=espfile");
        qemu_cmd_arg(c, "-device");
        qemu_cmd_arg(c, "virtio-blk-pci,drive=esp,id=esp0,serial=esp,bootindex=0");
    }
    hotplug_qemu_args(c, o);
    for (int i = 0; i < o->iothreads; i++) {
        qemu_cmd_arg(c, "-object");
        qemu_cmd_arg(c, "iothread,id=iothread%d", i);
    }
    blockgraph_objects(c, o, in->ndisks);
    for (int i = 0; i < in->ndisks; i++) {
        qemu_cmd_disk_serial(i, serial, sizeof(serial));
        if (!blockgraph_args(c, o, i, in->disks[i], err)) {
            qemu_cmd_free(c);
            return false;
        }
        /* A disk hot-plugged into spare slot K sits on that port's bus on every later QEMU too.
         * --inject refuse-features: every data disk is modern-only (iommu_platform needs it, and
         * both ends must match to migrate); the injected destination's also offers and demands
         * VIRTIO_F_ACCESS_PLATFORM, so QEMU refuses FEATURES_OK from a driver that negotiated
         * without it (virtio_validate_features): a real refusal at the guest's next reset. */
        char base[96], props[160];
        bool refuse = !strcmp(o->inject, "refuse-features");
        hotplug_device_props(o, in->disk_ports ? in->disk_ports[i] : 0, base, sizeof(base));
        snprintf(props, sizeof(props), "%s%s%s", base, refuse ? ",disable-legacy=on" : "",
                 refuse && in->refuse_features ? ",iommu_platform=on" : "");
        blockgraph_device(c, o, i, serial, props);
    }
    if (in->paused)
        qemu_cmd_arg(c, "-S");
    if (in->incoming) {
        qemu_cmd_arg(c, "-incoming");
        qemu_cmd_arg(c, "defer");
    }
    if (c->argc >= QEMU_ARGV_MAX) {
        qemu_cmd_free(c);
        vqh_err_set(err, "QEMU command line longer than %d arguments (too many disks?)", QEMU_ARGV_MAX);
        return false;
    }
    c->argv[c->argc] = NULL;
    return true;
}

void qemu_cmd_free(struct qemu_cmd *c)
{
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    c->argc = 0;
    c->argv[0] = NULL;
}

char *qemu_cmd_string(const struct qemu_cmd *c)
{
    size_t cap = 1;
    for (int i = 0; i < c->argc; i++)
        cap += strlen(c->argv[i]) * 4 + 3;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    *p = 0;
    for (int i = 0; i < c->argc; i++) {
        const char *a = c->argv[i];
        bool plain = a[strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,+@%")] == 0 && *a;
        if (i)
            *p++ = ' ';
        if (plain) {
            p = stpcpy(p, a);
            continue;
        }
        *p++ = '\'';
        for (; *a; a++) {
            if (*a == '\'')
                p = stpcpy(p, "'\\''");
            else
                *p++ = *a;
        }
        *p++ = '\'';
        *p = 0;
    }
    return s;
}
