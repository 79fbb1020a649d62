/*
 * paused.c: the paused migration: `stop`, migrate the paused VM (libvirt's capabilities: the
 * source pauses before switchover, the destination starts with -S and late-block-activate), then
 * again to one or two more fresh QEMUs while still paused, and `cont` only on the last one. Each
 * leg hands over block devices that nobody activated since the last one inactivated them.
 */
#include "hop_internal.h"
#include "health.h"
#include "migration.h"

#include <stdio.h>

#define PAUSED_MAX_LEGS 3

bool paused_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    h->legs = 1 + (int)(hop_rand() % PAUSED_MAX_LEGS);
    if (!hop_qmp_ok(s, s->vm, "stop", NULL, err))
        return false;
    return health_vm_state(s, s->vm, "paused", 10000, err);
}

/* One more migration of the paused guest, from s->vm to a fresh QEMU. */
static bool paused_leg(struct session *s, struct hop_record *h, int leg, struct vqh_err *err)
{
    struct vm *src = s->vm, *dst = session_start_vm(s, true, err);
    if (!dst)
        return false;
    hop_cur.switched = false;
    snprintf(h->dst, sizeof(h->dst), "%s", dst->label);
    enum migration_outcome out = migration_run(s, dst, h, &hop_cur.rng);
    if (out != MIG_COMPLETED) {
        vqh_err_set(err, "leg %d of the paused migration (%s->%s) did not complete: %s", leg, src->label,
                    dst->label, s->result.reason);
        chan_detach(s->chan, dst);
        vm_free(dst);
        return false;
    }
    bool ok = health_vm_state(s, src, "postmigrate", 5000, err) && health_vm_state(s, dst, "paused", 10000, err);
    chan_handoff(s->chan, src, dst);
    s->vm = dst;
    if (ok && !vm_quit(src, 10000, err))
        ok = false;
    chan_detach(s->chan, src);
    vm_free(src);
    return ok;
}

bool paused_after(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    for (int leg = 2; leg <= h->legs; leg++)
        if (!paused_leg(s, h, leg, err))
            return false;
    hop_evidence(s, s->vm, h, "paused guest after the last leg, before cont");
    return hop_cont(s, s->vm, err);
}
