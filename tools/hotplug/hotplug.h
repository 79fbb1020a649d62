/*
 * hotplug.h: --hotplug-slots N and --hotplug-every K: data disks that come and go mid-run through
 * PCIe native hot-plug. QEMU gets N spare root ports (vqhrp0.., physical slots 1..N), so the
 * firmware reserves a bus and memory windows behind each, with ACPI PCI hot-plug turned off on
 * them (QEMU 6.1+ q35 uses it by default; the guest drives the ports' own slot registers). After
 * every K-th hop's checks a fresh disk is plugged (blockdev-add, device_add into the next free
 * slot), the guest must find it, hammer it and say so (`hotplug`, kernel/wire.h); or the last one
 * is unplugged (device_del: the attention button; the guest drains or abandons, resets, powers the
 * slot off and says so; DEVICE_DELETED; blockdev-del). Every later QEMU of the run is started with
 * the disks plugged at that moment, in the same slots, as libvirt does.
 */
#ifndef VQH_HOTPLUG_H
#define VQH_HOTPLUG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "opts.h"

#define HOTPLUG_SLOTS_MAX 8

struct qemu_cmd;
struct session;
struct hop_record;

/* Flags that cannot go with hot-plug: false with err naming the flag and the fix. */
bool hotplug_validate(const struct vqh_opts *o, struct vqh_err *err);
/* The spare root ports (and ACPI hot-plug off) on a QEMU command line. */
void hotplug_qemu_args(struct qemu_cmd *c, const struct vqh_opts *o);
/* A data disk's extra -device properties: the hop actions' ones, plus ",bus=vqhrpK" for port K+1. */
void hotplug_device_props(const struct vqh_opts *o, int port, char *buf, size_t cap);
/* hello lists at least --hotplug-slots empty hot-plug slots. */
bool hotplug_check_hello(struct session *s, const json_t *hello, struct vqh_err *err);
bool hotplug_due(const struct vqh_opts *o, int hop);
/* Plug or unplug one disk (see above), recorded in h; false with err (a FAIL, or ERROR when
 * err->kind is VQH_ERR_REFUSED: QEMU would not do it). */
bool hotplug_step(struct session *s, struct hop_record *h, struct vqh_err *err);

#endif
