/*
 * errpolicy.c: the error policy hop. Every data disk's device has werror=stop,rerror=stop (what
 * libvirt writes for error_policy='stop'). On the source a blkdebug node is slid between a disk's
 * format and protocol nodes (blockdev-add, blockdev-reopen of the format node) with one EIO armed
 * on the next read or write (seeded); the guest's next such request fails, QEMU stops the VM
 * (BLOCK_IO_ERROR with action stop, run state io-error) and keeps the request inside virtio-blk.
 * The VM stays stopped longer than the guest silence limit, blkdebug is taken out again, and the
 * stopped VM migrates with the held request in its device state. `cont` on the destination
 * retries it there; the guest sees it complete exactly once (a second completion is a driver
 * error) and the hop's full verification proves its data.
 */
#include "hop_internal.h"
#include "blockgraph.h"
#include "health.h"

#include <stdio.h>
#include <string.h>

#define WERROR_EVENT_TIMEOUT_MS 60000

/* The format node's driver and cache options: a reopen resets what it does not repeat. */
static bool werror_node(struct session *s, const char *node, char *drv, size_t cap, json_t **cache,
                        struct vqh_err *err)
{
    json_t *r = hop_qmp(s, s->vm, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), err), *n;
    size_t i;
    if (!r)
        return false;
    json_array_foreach(r, i, n) {
        if (strcmp(json_string_value(json_object_get(n, "node-name")) ?: "", node))
            continue;
        snprintf(drv, cap, "%s", json_string_value(json_object_get(n, "drv")) ?: "?");
        json_t *c = json_object_get(n, "cache");
        *cache = json_pack("{s:O, s:O}", "direct", json_object_get(c, "direct"), "no-flush",
                           json_object_get(c, "no-flush"));
        json_decref(r);
        return *cache != NULL;
    }
    json_decref(r);
    vqh_err_set(err, "node %s is not in %s's block graph", node, s->vm->label);
    return false;
}

static bool werror_reopen(struct session *s, const char *fmt, const char *drv, json_t *cache, const char *file,
                          struct vqh_err *err)
{
    return hop_qmp_ok(s, s->vm, "blockdev-reopen",
                      json_pack("{s:[{s:s, s:s, s:s, s:O}]}", "options", "driver", drv, "node-name", fmt, "file", file,
                                "cache", cache), err);
}

bool werror_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    int disk = (int)(hop_rand() % (uint64_t)s->ndisks);
    const char *event = hop_rand() % 2 ? "read_aio" : "write_aio";
    char fmt[32], proto[32], dbg[32], drv[32];
    json_t *cache = NULL, *ev = NULL;
    blockgraph_format_node(disk, fmt, sizeof(fmt));
    blockgraph_proto_node(disk, proto, sizeof(proto));
    snprintf(dbg, sizeof(dbg), "vqhdbg%d", disk);
    if (!werror_node(s, fmt, drv, sizeof(drv), &cache, err))
        return false;
    if (strcmp(drv, "raw")) {
        vqh_err_set(err, "the werror action slides blkdebug under a raw format node; disk %d's is %s", disk, drv);
        json_decref(cache);
        return false;
    }
    bool ok = hop_qmp_ok(s, s->vm, "blockdev-add",
                         json_pack("{s:s, s:s, s:s, s:O, s:[{s:s, s:i, s:b}]}", "driver", "blkdebug", "node-name", dbg,
                                   "image", proto, "cache", cache, "inject-error", "event", event, "errno", 5, "once", 1),
                         err) &&
              werror_reopen(s, fmt, drv, cache, dbg, err) &&
              hop_wait_event(s, s->vm, "BLOCK_IO_ERROR", WERROR_EVENT_TIMEOUT_MS, &ev, err);
    if (ok) {
        const char *action = json_string_value(json_object_get(ev, "action"));
        snprintf(h->jobs, sizeof(h->jobs), "io-error=%s/%s/%s", json_string_value(json_object_get(ev, "node-name")) ?: "?",
                 json_string_value(json_object_get(ev, "operation")) ?: "?", action ?: "?");
        if (!action || strcmp(action, "stop")) {
            vqh_err_set(err, "BLOCK_IO_ERROR on disk %d came with action %s, not stop (werror/rerror=stop)", disk,
                        action ? action : "(none)");
            ok = false;
        }
    }
    json_decref(ev);
    ok = ok && health_vm_state(s, s->vm, "io-error", 10000, err);
    if (ok) {
        hop_cur.held = true;
        hop_evidence(s, s->vm, h, "stopped by the injected I/O error, request held");
        /* Stopped longer than the host's silence limit: neither watchdog may call that a hang. */
        int64_t end = clock_now_ms() + s->o->guest_timeout_ms + (int64_t)(hop_rand() % 1000);
        while (clock_now_ms() < end)
            chan_pump(s->chan, 100);
        ok = werror_reopen(s, fmt, drv, cache, proto, err) &&
             hop_qmp_ok(s, s->vm, "blockdev-del", json_pack("{s:s}", "node-name", dbg), err) &&
             health_vm_state(s, s->vm, "io-error", 1000, err);
    }
    json_decref(cache);
    return ok;
}
