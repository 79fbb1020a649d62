/*
 * late_cancel.c: breaking a migration off at its last moments, and breaking a postcopy migration's
 * channel and mending it.
 *   late-cancel: with pause-before-switchover the source stops in pre-switchover; seeded, either
 *     migrate_cancel right there, or migrate-continue and migrate_cancel at once (the device
 *     stage, while the device state is on its way). Whatever QEMU reports, exactly one side may
 *     run the guest: a cancelled source must run on and its destination must never have started
 *     the guest (it keeps QEMU's autostart here, so a destination that did shows itself).
 *   postcopy-recover: postcopy-ram on both ends, migrate-start-postcopy after the first RAM pass,
 *     then migrate-pause on the source while pages are still missing on the destination; both
 *     ends go to postcopy-paused; migrate-recover on the destination with a new channel and
 *     migrate resume=true on the source (libvirt's --postcopy-resume) finish the migration.
 */
#include "hop_internal.h"

#include <stdio.h>
#include <string.h>

#define PC_PAUSED_TIMEOUT_MS 20000

bool late_switchover(struct session *s, struct hop_record *h, bool *planned_abort, struct vqh_err *err)
{
    (void)planned_abort;
    hop_cur.late_mode = (int)(hop_rand() % 2);
    snprintf(h->jobs, sizeof(h->jobs), "cancel-at=%s", hop_cur.late_mode ? "device" : "pre-switchover");
    if (hop_cur.late_mode &&
        !hop_qmp_ok(s, s->vm, "migrate-continue", json_pack("{s:s}", "state", "pre-switchover"), err))
        return false;
    hop_cur.cancelled = true;
    return hop_qmp_ok(s, s->vm, "migrate_cancel", NULL, err);
}

bool late_after_abort(struct session *s, struct hop_record *h, struct vm *dst, struct vqh_err *err)
{
    struct vqh_err e2;
    size_t n = strlen(h->jobs);
    snprintf(h->jobs + n, sizeof(h->jobs) - n, " outcome=cancelled");
    if (!vm_alive(dst))
        return true; /* the destination gave up on the broken stream and exited */
    json_t *r = hop_qmp(s, dst, "query-status", NULL, &e2);
    if (!r)
        return true; /* on its way out */
    const char *st = json_string_value(json_object_get(r, "status"));
    bool runs = st && !strcmp(st, "running");
    if (runs)
        vqh_err_set(err, "split brain: the source reports the migration cancelled and runs the guest, but the "
                    "destination %s runs it too", dst->label);
    json_decref(r);
    return !runs;
}

static const char *postcopy_dst_status(struct session *s, struct vm *dst, char *buf, size_t cap)
{
    struct vqh_err e2;
    json_t *r = hop_qmp(s, dst, "query-migrate", NULL, &e2);
    snprintf(buf, cap, "%s", r ? json_string_value(json_object_get(r, "status")) ?: "?" : "?");
    json_decref(r);
    return buf;
}

static bool postcopy_dst_running(struct session *s, struct vm *dst)
{
    struct vqh_err e2;
    json_t *r = hop_qmp(s, dst, "query-status", NULL, &e2);
    bool running = r && json_is_true(json_object_get(r, "running"));
    json_decref(r);
    return running;
}

bool postcopy_poll(struct session *s, struct hop_record *h, struct vm *dst, const char *status,
                   struct vqh_err *err)
{
    char st[32];
    switch (hop_cur.pc_phase) {
    case 0:
        if (strcmp(status, "active") || h->dirty_sync_count < 1)
            return true;
        hop_cur.pc_phase = 1;
        return hop_qmp_ok(s, s->vm, "migrate-start-postcopy", NULL, err);
    case 1:
        if (strcmp(status, "postcopy-active"))
            return true;
        /* Not before the guest runs on the destination: until then the destination's main thread
         * is still loading the device state the source packaged at the switch, and a channel
         * broken under that load is fatal there (the destination exits) where it would be
         * recoverable a moment later (postcopy-paused). The source reports postcopy-active as it
         * sends the package, so reacting to its event at once broke the channel too early. Then
         * at once: postcopy sends the guest's RAM, mostly zero pages, quickly. */
        if (!postcopy_dst_running(s, dst))
            return true;
        hop_cur.pc_phase = 2;
        snprintf(h->jobs, sizeof(h->jobs), "postcopy=paused");
        return hop_qmp_ok(s, s->vm, "migrate-pause", NULL, err);
    case 2: {
        if (!strcmp(status, "completed"))
            return true; /* every page had arrived before the pause: nothing to recover */
        if (strcmp(status, "postcopy-paused"))
            return true;
        int64_t deadline = clock_now_ms() + PC_PAUSED_TIMEOUT_MS;
        while (strcmp(postcopy_dst_status(s, dst, st, sizeof(st)), "postcopy-paused")) {
            if (clock_now_ms() > deadline || !vm_alive(dst)) {
                vqh_err_set(err, "after migrate-pause the destination %s is in migration state %s, not "
                            "postcopy-paused", dst->label, st);
                return false;
            }
            chan_pump(s->chan, 50);
        }
        char name[32], uri[600];
        snprintf(name, sizeof(name), "rec%d.sock", h->index);
        const char *p = rundir_sock_path(s->rd, name, err);
        if (!p)
            return false;
        snprintf(uri, sizeof(uri), "unix:%s", p);
        /* Without the block graph: a paused destination's iothread may sit in a fault on a page
         * that cannot come until the recovery, holding its AioContext, and query-named-block-nodes
         * waits for that AioContext on the main thread (QEMU 7.2): the monitor would hang and
         * migrate-recover never run. */
        hop_evidence_nodes(s, dst, h, "destination in postcopy-paused, before migrate-recover", false);
        hop_cur.pc_phase = 3;
        snprintf(h->jobs, sizeof(h->jobs), "postcopy=paused,recovered");
        return hop_qmp_ok(s, dst, "migrate-recover", json_pack("{s:s}", "uri", uri), err) &&
               hop_qmp_ok(s, s->vm, "migrate", json_pack("{s:s, s:b}", "uri", uri, "resume", 1), err);
    }
    default:
        return true;
    }
}
