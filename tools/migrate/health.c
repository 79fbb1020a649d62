/* health.c: device and block-layer health through QMP, and the guest's ring indices against
 * QEMU's view of them. */
#include "health.h"
#include "qemu_cmd.h"
#include "blockgraph.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool health_dst_after_cancel(struct session *s, struct vm *dst, int timeout_ms, struct vqh_err *err)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    while (vm_alive(dst) && clock_now_ms() < deadline)
        chan_pump(s->chan, 20);
    if (!vm_crashed(dst))
        return true;
    vqh_err_set(err, "the destination QEMU %s crashed after the migration was cancelled: %s", dst->label,
                dst->exit_status);
    session_evidence_vm(s, dst, "destination crashed after the cancel");
    return false;
}

bool health_vm_state(struct session *s, struct vm *v, const char *want, int timeout_ms, struct vqh_err *err)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    char last[32] = "?";
    for (;;) {
        json_t *r = qmp_cmd(v->qmp, "query-status", NULL, s->o->qmp_timeout_ms, err);
        if (!r)
            return false;
        snprintf(last, sizeof(last), "%s", json_string_value(json_object_get(r, "status")) ?: "?");
        json_decref(r);
        if (!strcmp(last, want))
            return true;
        if (clock_now_ms() > deadline) {
            vqh_err_set(err, "QEMU %s is in state '%s', not '%s', %d ms after the migration", v->label, last,
                        want, timeout_ms);
            return false;
        }
        chan_pump(s->chan, 50);
    }
}

/* Our data disks by their device (qdev): the index, or -1 for anything else (the ESP). */
static int health_drive_index(const json_t *entry)
{
    return blockgraph_disk_of_qdev(json_string_value(json_object_get(entry, "qdev")));
}

bool health_block(struct session *s, struct vm *v, struct vqh_err *err)
{
    json_t *r = qmp_cmd(v->qmp, "query-block", NULL, s->o->qmp_timeout_ms, err), *b;
    size_t i;
    int seen = 0;
    if (!r)
        return false;
    json_array_foreach(r, i, b) {
        int d = health_drive_index(b);
        if (d < 0)
            continue;
        seen++;
        const char *io = json_string_value(json_object_get(b, "io-status"));
        if (io && strcmp(io, "ok")) {
            vqh_err_set(err, "query-block on %s: data disk %d has io-status '%s'", v->label, d, io);
            json_decref(r);
            return false;
        }
    }
    json_decref(r);
    if (seen != s->ndisks) {
        vqh_err_set(err, "query-block on %s lists %d of our %d data disks", v->label, seen, s->ndisks);
        return false;
    }
    return true;
}

bool health_blockstats(struct session *s, struct vm *v, bool ops_must_move, struct vqh_err *err)
{
    static const char *const failed[] = {
        "failed_rd_operations", "failed_wr_operations", "failed_flush_operations",
        "failed_unmap_operations", "invalid_rd_operations", "invalid_wr_operations",
        "invalid_flush_operations", "invalid_unmap_operations",
    };
    json_t *r = qmp_cmd(v->qmp, "query-blockstats", NULL, s->o->qmp_timeout_ms, err), *b;
    size_t i;
    if (!r)
        return false;
    json_array_foreach(r, i, b) {
        int d = health_drive_index(b);
        if (d < 0)
            continue;
        json_t *st = json_object_get(b, "stats");
        for (size_t k = 0; k < sizeof(failed) / sizeof(failed[0]); k++) {
            json_int_t n = json_integer_value(json_object_get(st, failed[k]));
            if (n) {
                vqh_err_set(err, "query-blockstats on %s: data disk %d has %s = %lld", v->label, d, failed[k],
                            (long long)n);
                json_decref(r);
                return false;
            }
        }
        if (ops_must_move && (!json_integer_value(json_object_get(st, "rd_operations")) ||
                              !json_integer_value(json_object_get(st, "wr_operations")))) {
            vqh_err_set(err, "query-blockstats on %s: data disk %d shows no reads or no writes since the migration",
                        v->label, d);
            json_decref(r);
            return false;
        }
    }
    json_decref(r);
    return true;
}

bool health_virtio(struct session *s, struct vm *v, struct vqh_err *err)
{
    char path[128];
    for (int d = 0; d < s->ndisks; d++) {
        qemu_cmd_virtio_path(d, path, sizeof(path));
        json_t *r = qmp_cmd(v->qmp, "x-query-virtio-status", json_pack("{s:s}", "path", path),
                            s->o->qmp_timeout_ms, err);
        if (!r)
            return false;
        bool broken = json_is_true(json_object_get(r, "broken"));
        bool started = json_is_true(json_object_get(r, "started"));
        bool driver_ok = false;
        json_t *st;
        size_t i;
        json_array_foreach(json_object_get(json_object_get(r, "status"), "statuses"), i, st)
            if (strstr(json_string_value(st) ?: "", "DRIVER_OK"))
                driver_ok = true;
        json_decref(r);
        if (broken || !started || !driver_ok) {
            vqh_err_set(err, "x-query-virtio-status on %s: data disk %d is %s%s%s", v->label, d,
                        broken ? "broken " : "", started ? "" : "not started ", driver_ok ? "" : "without DRIVER_OK");
            return false;
        }
    }
    return true;
}

bool health_rings(struct session *s, struct vm *v, const json_t *reply, struct vqh_err *err)
{
    char path[128];
    json_t *disk, *q;
    size_t i, j;
    json_array_foreach(json_object_get(reply, "disks"), i, disk) {
        int d = (int)json_integer_value(json_object_get(disk, "disk"));
        /* guest disk numbers count the ESP too under UEFI; match ours by serial */
        const char *serial = json_string_value(json_object_get(disk, "serial"));
        if (!serial || sscanf(serial, "vqh%d", &d) != 1) {
            vqh_err_set(err, "quiesce reply names a disk without a vqhN serial");
            return false;
        }
        qemu_cmd_virtio_path(d, path, sizeof(path));
        json_array_foreach(json_object_get(disk, "queues"), j, q) {
            int qi = (int)json_integer_value(json_object_get(q, "q"));
            json_int_t g_avail = json_integer_value(json_object_get(q, "avail_idx"));
            json_int_t g_used = json_integer_value(json_object_get(q, "used_idx"));
            json_t *r = qmp_cmd(v->qmp, "x-query-virtio-queue-status", json_pack("{s:s, s:i}", "path", path, "queue", qi),
                                s->o->qmp_timeout_ms, err);
            if (!r)
                return false;
            json_int_t last_avail = json_integer_value(json_object_get(r, "last-avail-idx"));
            json_int_t used = json_integer_value(json_object_get(r, "used-idx"));
            json_int_t inuse = json_integer_value(json_object_get(r, "inuse"));
            json_decref(r);
            /* Quiesced: the device has taken every request the driver published and returned
             * every one, so both sides' indices agree (mod 2^16) and nothing is in use. */
            if ((last_avail & 0xffff) != (g_avail & 0xffff) || (used & 0xffff) != (g_used & 0xffff) || inuse) {
                vqh_err_set(err, "disk %d queue %d after quiesce: guest avail_idx %lld used_idx %lld, QEMU "
                            "last-avail-idx %lld used-idx %lld inuse %lld", d, qi, (long long)g_avail,
                            (long long)g_used, (long long)last_avail, (long long)used, (long long)inuse);
                return false;
            }
        }
    }
    return true;
}
