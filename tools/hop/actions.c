/*
 * actions.c: the hop actions' names, flags, seeded choice and the dispatch of the hop loop's hooks
 * to the action files (paused.c, copy_storage.c, jobs.c, errpolicy.c, late_cancel.c).
 */
#include "hop_internal.h"

#include <stdio.h>
#include <string.h>

#define PC_BANDWIDTH (8ull << 20)

static const char *const hop_action_names[HA__COUNT] = {
    [HA_NONE] = "none",
    [HA_PAUSED] = "paused",
    [HA_COPY_STORAGE] = "copy-storage",
    [HA_COPY_STORAGE_SYNC] = "copy-storage-sync",
    [HA_BACKUP] = "backup",
    [HA_COMMIT] = "commit",
    [HA_STREAM] = "stream",
    [HA_WERROR] = "werror",
    [HA_LATE_CANCEL] = "late-cancel",
    [HA_POSTCOPY_RECOVER] = "postcopy-recover",
};

const char *hop_action_name(enum hop_action a)
{
    return a < HA__COUNT ? hop_action_names[a] : "unknown";
}

bool hop_action_parse(const char *list, unsigned *mask, struct vqh_err *err)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", list);
    *mask = 0;
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (!strcmp(w, "all")) {
            *mask |= ((1u << HA__COUNT) - 1) & ~1u;
            continue;
        }
        int a = 1;
        while (a < HA__COUNT && strcmp(w, hop_action_names[a]))
            a++;
        if (a == HA__COUNT) {
            vqh_err_set(err, "--hop-actions: unknown action '%s': expected paused, copy-storage, copy-storage-sync, "
                        "backup, commit, stream, werror, late-cancel, postcopy-recover or all", w);
            return false;
        }
        *mask |= 1u << a;
    }
    if (!*mask) {
        vqh_err_set(err, "--hop-actions: empty list: name at least one action");
        return false;
    }
    return true;
}

bool hop_action_validate(const struct vqh_opts *o, struct vqh_err *err)
{
    if (!o->hop_action_mask)
        return true;
    if (strcmp(o->command, "migrate")) {
        vqh_err_set(err, "--hop-actions belongs to `vqhammer migrate`, not `%s`", o->command);
        return false;
    }
    if (o->cancel_every || o->kill_dst_every || o->postcopy || o->multifd) {
        vqh_err_set(err, "--hop-actions cannot be combined with --cancel-every, --kill-dst-every, --postcopy or "
                    "--multifd (each action sets up its own migration): drop one");
        return false;
    }
    if (!strcmp(o->backend, "null-co")) {
        vqh_err_set(err, "--hop-actions needs image-backed data disks");
        return false;
    }
    return true;
}

const char *hop_action_device_props(const struct vqh_opts *o)
{
    /* What libvirt writes for error_policy='stop' rerror_policy='stop'. */
    return o->hop_action_mask & (1u << HA_WERROR) ? ",werror=stop,rerror=stop" : "";
}

void hop_action_pick(struct session *s, struct hop_record *h)
{
    const struct vqh_opts *o = s->o;
    enum hop_action list[HA__COUNT];
    int n = 0;
    for (int a = 1; a < HA__COUNT; a++)
        if (o->hop_action_mask & (1u << a))
            list[n++] = (enum hop_action)a;
    memset(&hop_cur, 0, sizeof(hop_cur));
    /* The actions' own seeded stream: the hop gaps stay those of a plain run with this seed. */
    hop_cur.rng = o->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)h->index);
    h->legs = 1;
    if (!n)
        return;
    if (!strcmp(o->hop_mix, "random"))
        hop_cur.act = list[hop_rand() % (uint64_t)n];
    else
        hop_cur.act = list[(h->index - 1) % n];
    h->action = hop_cur.act;
    snprintf(h->action_name, sizeof(h->action_name), "%s", hop_action_name(hop_cur.act));
}

/* A failed action step: a QEMU that died or stopped answering gets named and its backtrace (from
 * the live process or its core) goes to evidence.txt. Returns false. */
static bool hop_failed(struct session *s, struct vm *v, struct vqh_err *err)
{
    if (s->failed)
        return false; /* reported with its evidence already (a migration inside the action) */
    /* A closed QMP connection usually means QEMU is dying: let it, so its exit is named. */
    if (strstr(err->msg, "connection closed"))
        proc_wait(v->proc, 3000);
    if (!vm_alive(v)) {
        struct vqh_err e2 = *err;
        vqh_err_set(err, "QEMU %s %s (%s)", v->label, v->exit_status, e2.msg);
        session_evidence_vm(s, v, "died during a hop action");
    } else if (strstr(err->msg, "timed out")) {
        session_evidence_vm(s, v, "hang during a hop action");
    }
    return false;
}

static bool hop_action_before_dst_do(struct session *s, struct hop_record *h, struct vqh_err *err);

bool hop_action_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    return hop_action_before_dst_do(s, h, err) || hop_failed(s, s->vm, err);
}

static bool hop_action_before_dst_do(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    switch (hop_cur.act) {
    case HA_PAUSED:
        return paused_before_dst(s, h, err);
    case HA_COPY_STORAGE:
    case HA_COPY_STORAGE_SYNC:
        return copy_before_dst(s, h, err);
    case HA_BACKUP:
    case HA_COMMIT:
    case HA_STREAM:
        return jobs_before_dst(s, h, err);
    case HA_WERROR:
        return werror_before_dst(s, h, err);
    default:
        return true;
    }
}

bool hop_action_dst_paused(const struct hop_record *h)
{
    /* libvirt starts every destination with -S and resumes it itself; late-cancel keeps QEMU's
     * autostart so a destination that runs the guest after a cancel shows itself, and postcopy
     * needs the destination running as soon as it switches over. */
    return h->action != HA_NONE && h->action != HA_LATE_CANCEL && h->action != HA_POSTCOPY_RECOVER;
}

static bool hop_set_caps(struct session *s, struct vm *v, const char *const names[], const bool on[], int n,
                         struct vqh_err *err)
{
    json_t *caps = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(caps, json_pack("{s:s, s:b}", "capability", names[i], "state", on[i]));
    return hop_qmp_ok(s, v, "migrate-set-capabilities", json_pack("{s:o}", "capabilities", caps), err);
}

bool hop_action_caps(struct session *s, struct hop_record *h, struct vm *v, bool dst, struct vqh_err *err)
{
    if (!s->o->hop_action_mask)
        return true;
    bool any = h->action != HA_NONE, pc = h->action == HA_POSTCOPY_RECOVER;
    struct vqh_err e2;
    /* Both are in QEMU since 3.0; a QEMU without them gets a clear message instead of QMP's. */
    if (dst) {
        /* libvirt's "always on" capability of the destination: the images are activated by cont. */
        const char *names[] = { "late-block-activate", "postcopy-ram" };
        const bool on[] = { hop_action_dst_paused(h), pc };
        if (!hop_set_caps(s, v, names, on, pc ? 2 : 1, &e2)) {
            vqh_err_set(err, "hop action %s needs late-block-activate on %s: %s", h->action_name, v->label, e2.msg);
            return false;
        }
        return true;
    }
    /* libvirt's "always on" capability of the source: stop at pre-switchover and let the manager
     * finish its part (the NBD mirrors) before the device state goes. Set on every hop, because a
     * source carries it over from an earlier hop it served as destination or aborted. */
    const char *names[] = { "pause-before-switchover", "postcopy-ram" };
    const bool on[] = { any, pc };
    if (!hop_set_caps(s, v, names, on, pc ? 2 : 1, &e2)) {
        vqh_err_set(err, "hop action %s needs pause-before-switchover on %s: %s", h->action_name, v->label, e2.msg);
        return false;
    }
    /* Postcopy must still be missing pages when the channel breaks: a slow stream both ways
     * (this source quits after the hop, so the limits go with it). */
    if (pc)
        return hop_qmp_ok(s, v, "migrate-set-parameters",
                          json_pack("{s:I, s:I}", "max-bandwidth", (json_int_t)PC_BANDWIDTH, "max-postcopy-bandwidth",
                                    (json_int_t)PC_BANDWIDTH), err);
    return true;
}

bool hop_action_before_migrate(struct session *s, struct hop_record *h, struct vm *dst, struct vqh_err *err)
{
    if (hop_cur.act == HA_COPY_STORAGE || hop_cur.act == HA_COPY_STORAGE_SYNC)
        return copy_before_migrate(s, h, dst, err);
    return true;
}

bool hop_action_poll(struct session *s, struct hop_record *h, struct vm *dst, const char *status,
                     bool *planned_abort, struct vqh_err *err)
{
    if (hop_cur.act == HA_NONE)
        return true;
    if (hop_cur.act == HA_POSTCOPY_RECOVER && !postcopy_poll(s, h, dst, status, err))
        return false;
    if (hop_cur.act == HA_LATE_CANCEL && hop_cur.cancelled && !strcmp(status, "cancelled"))
        *planned_abort = true;
    if (strcmp(status, "pre-switchover") || hop_cur.switched)
        return true;
    hop_cur.switched = true;
    switch (hop_cur.act) {
    case HA_COPY_STORAGE:
    case HA_COPY_STORAGE_SYNC:
        if (!copy_switchover(s, h, err))
            return false;
        break;
    case HA_LATE_CANCEL:
        return late_switchover(s, h, planned_abort, err);
    default:
        break;
    }
    return hop_qmp_ok(s, s->vm, "migrate-continue", json_pack("{s:s}", "state", "pre-switchover"), err);
}

bool hop_action_cancelled(void)
{
    return hop_cur.act == HA_LATE_CANCEL && hop_cur.cancelled;
}

const char *hop_action_dst_state(const struct session *s, const struct hop_record *h)
{
    (void)s;
    if (h->action == HA_WERROR)
        return "io-error"; /* the source's run state travels with the migration */
    return hop_action_dst_paused(h) ? "paused" : "running";
}

static bool hop_action_after_do(struct session *s, struct hop_record *h, struct vqh_err *err);

bool hop_action_after(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    return hop_action_after_do(s, h, err) || hop_failed(s, s->vm, err);
}

static bool hop_action_after_do(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    switch (hop_cur.act) {
    case HA_NONE:
    case HA_LATE_CANCEL:
    case HA_POSTCOPY_RECOVER:
        return true;
    case HA_PAUSED:
        return paused_after(s, h, err);
    case HA_COPY_STORAGE:
    case HA_COPY_STORAGE_SYNC:
        if (!copy_after(s, h, err))
            return false;
        break;
    default:
        break;
    }
    hop_evidence(s, s->vm, h, "destination before cont");
    return hop_cont(s, s->vm, err);
}

bool hop_action_after_abort(struct session *s, struct hop_record *h, struct vm *dst, struct vqh_err *err)
{
    if (hop_cur.act == HA_LATE_CANCEL)
        return late_after_abort(s, h, dst, err);
    return true;
}

bool hop_action_full_verify(const struct hop_record *h)
{
    return h->action != HA_NONE;
}
