/*
 * reset.c: --reset-every K: at the checks of every K-th hop the guest drains, resets each data
 * disk and renegotiates (`reset`, kernel/wire.h); QEMU must show every data disk healthy before
 * and after (x-query-virtio-status), and the guest's reply must show each device live again.
 */
#include "reset.h"
#include "health.h"
#include "wire.h"

#include <stdio.h>

#define RESET_TIMEOUT_MS 60000
#define STATUS_DRIVER_OK 4
#define STATUS_BAD (64 | 128) /* DEVICE_NEEDS_RESET, FAILED */

bool reset_due(const struct vqh_opts *o, int hop)
{
    return o->reset_every && hop % o->reset_every == 0;
}

bool reset_data_disks(struct session *s, struct vm *v, int hop, struct vqh_err *err)
{
    json_t *reply = NULL;
    if (!health_virtio(s, v, err))
        return false; /* names the disk and what is wrong */
    if (!chan_command(s->chan, v, WIRE_CMD_RESET "\n", WIRE_CMD_RESET, RESET_TIMEOUT_MS, &reply, err))
        return false;
    json_t *disk;
    size_t i;
    bool ok = json_is_true(json_object_get(reply, "ok")) && json_array_size(json_object_get(reply, "disks")) > 0;
    json_array_foreach(json_object_get(reply, "disks"), i, disk) {
        json_int_t after = json_integer_value(json_object_get(disk, "status_after"));
        if (!json_is_true(json_object_get(disk, "ok")) || !(after & STATUS_DRIVER_OK) || (after & STATUS_BAD)) {
            const char *why = json_string_value(json_object_get(disk, "error"));
            vqh_err_set(err, "hop %d: the guest's reset of disk %s failed (" WIRE_ERR_RESET "): status after 0x%llx%s%s", hop,
                        json_string_value(json_object_get(disk, "serial")), (long long)after,
                        why ? ": " : "", why ? why : "");
            json_decref(reply);
            return false;
        }
    }
    json_decref(reply);
    if (!ok) {
        vqh_err_set(err, "hop %d: the guest reset no data disk", hop);
        return false;
    }
    if (!health_virtio(s, v, err)) {
        char msg[VQH_ERR_MAX];
        snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
        vqh_err_set(err, "hop %d, after the device reset: %s", hop, msg);
        return false;
    }
    status_event(&s->status, "hop %d: every data disk reset and renegotiated", hop);
    return true;
}
