/* hotplug.c: --hotplug-slots and --hotplug-every: the flags, the spare root ports on the QEMU
 * command line, and what hello must show (see hotplug.h). The plugging itself: hotplug_step.c. */
#include "hotplug.h"
#include "hop_action.h"
#include "qemu_cmd.h"
#include "session.h"
#include "spec.h"
#include "wire.h"

#include <stdio.h>
#include <string.h>

/* Spare ports sit at fixed addresses (00:10.0 on), so source and destination match whatever
 * else is on the root bus. */
#define HOTPLUG_FIRST_DEVFN_SLOT 0x10

bool hotplug_validate(const struct vqh_opts *o, struct vqh_err *err)
{
    int ndisks = o->ndisks ? o->ndisks : 1;
    int max = o->boot == BOOT_UEFI ? OPTS_MAX_DISKS_UEFI : OPTS_MAX_DISKS;
    if (o->hotplug_every && !o->hotplug_slots) {
        vqh_err_set(err, "--hotplug-every %d has no slot to plug a disk into: add --hotplug-slots N (1..%d), "
                    "the spare PCIe root ports", o->hotplug_every, HOTPLUG_SLOTS_MAX);
        return false;
    }
    if (!o->hotplug_slots)
        return true;
    if (o->hotplug_every && strcmp(o->command, "migrate")) {
        vqh_err_set(err, "--hotplug-every plugs and unplugs at hops: use it with `vqhammer migrate`");
        return false;
    }
    if (ndisks + o->hotplug_slots > max) {
        vqh_err_set(err, "--hotplug-slots %d with %d data disk(s): the guest drives at most %d data disks%s; use "
                    "--hotplug-slots %d or fewer", o->hotplug_slots, ndisks, max,
                    o->boot == BOOT_UEFI ? " under UEFI (the ESP is one)" : "", max - ndisks);
        return false;
    }
    if (o->hotplug_every && o->ndisk_graphs > 1) {
        vqh_err_set(err, "--disk-graph given once per disk: a hot-plugged disk would have none; give --disk-graph "
                    "once (it then applies to every disk) with --hotplug-every");
        return false;
    }
    if (o->hotplug_every && bg_spec_any_nbd(o, 1)) {
        vqh_err_set(err, "--disk-graph nbd with --hotplug-every: the run's NBD server exports only the disks "
                    "present at start; use a file graph (raw, qcow2, align, throttle)");
        return false;
    }
    if (o->hotplug_every && o->hop_actions[0]) {
        vqh_err_set(err, "--hotplug-every cannot be combined with --hop-actions yet: drop one");
        return false;
    }
    return true;
}

void hotplug_qemu_args(struct qemu_cmd *c, const struct vqh_opts *o)
{
    if (!o->hotplug_slots)
        return;
    /* QEMU 6.1+ q35 hands root-port hot-plug to ACPI (the guest would need an AML interpreter
     * to unplug): off, so the ports' PCIe Slot Capabilities say Hot-Plug Capable and QEMU drives
     * the native sequence (presence detect, attention button, power controller). */
    qemu_cmd_arg(c, "-global");
    qemu_cmd_arg(c, "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off");
    for (int k = 0; k < o->hotplug_slots; k++) {
        qemu_cmd_arg(c, "-device");
        qemu_cmd_arg(c, "pcie-root-port,id=vqhrp%d,chassis=%d,slot=%d,bus=pcie.0,addr=0x%x", k, k + 1, k + 1,
                     HOTPLUG_FIRST_DEVFN_SLOT + k);
    }
}

void hotplug_device_props(const struct vqh_opts *o, int port, char *buf, size_t cap)
{
    const char *base = hop_action_device_props(o);
    if (port > 0)
        snprintf(buf, cap, "%s,bus=vqhrp%d", base, port - 1);
    else
        snprintf(buf, cap, "%s", base);
}

bool hotplug_check_hello(struct session *s, const json_t *hello, struct vqh_err *err)
{
    json_t *slot;
    size_t i;
    int empty = 0;
    if (!s->o->hotplug_slots)
        return true;
    json_array_foreach(json_object_get(hello, "hotplug_slots"), i, slot) {
        if (!strcmp(json_string_value(json_object_get(slot, "state")) ?: "", WIRE_SLOT_EMPTY) &&
            json_integer_value(json_object_get(slot, "mem_window")) > 0)
            empty++;
    }
    if (empty < s->o->hotplug_slots) {
        vqh_err_set(err, "the guest sees %d empty PCIe hot-plug slot(s) with a memory window, not --hotplug-slots "
                    "%d (hello's hotplug_slots in %s): does this QEMU and machine give pcie-root-port native "
                    "hot-plug (q35)?", empty, s->o->hotplug_slots, rundir_path(s->rd, "serial-merged.log"));
        return false;
    }
    return true;
}

bool hotplug_due(const struct vqh_opts *o, int hop)
{
    return o->hotplug_every && hop % o->hotplug_every == 0;
}
