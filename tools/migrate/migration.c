/* migration.c: QMP migrate / migrate-incoming / query-migrate, with the loop that watches them. */
#include "migration.h"
#include "modes.h"
#include "hop_action.h"
#include "inject_cancel.h"
#include "prng.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define POLL_MS 50
#define MIG_CONVERGE_PASSES 5 /* RAM passes after which a timed-out migration counts as not converging */
/* query-migrate every 100 ms while a mode, a hop action or a break-off acts on its figures; else
 * the MIGRATION events say when the migration ends, and the query is the liveness check and the
 * fallback should an event be lost. */
#define MIG_QUERY_MS 100
#define MIG_QUERY_IDLE_MS 500
/* QEMU's default max-bandwidth is 128 MiB/s, slower than a local socket: libvirt sets the stream
 * "unlimited" unless told a limit (priv->migMaxBandwidth = INT64_MAX / 1 MiB MiB/s, in bytes
 * here), and so do we unless --bandwidth gives one. */
#define MIG_BANDWIDTH_UNLIMITED ((uint64_t)(INT64_MAX / (1024 * 1024)) * 1024 * 1024)

static bool mig_caps(struct vm *v, const struct vqh_opts *o, uint64_t bandwidth, struct vqh_err *err)
{
    json_t *caps = json_array();
    json_array_append_new(caps, json_pack("{s:s, s:b}", "capability", "events", "state", 1));
    if (o->multifd)
        json_array_append_new(caps, json_pack("{s:s, s:b}", "capability", "multifd", "state", 1));
    if (o->postcopy)
        json_array_append_new(caps, json_pack("{s:s, s:b}", "capability", "postcopy-ram", "state", 1));
    if (o->xbzrle)
        json_array_append_new(caps, json_pack("{s:s, s:b}", "capability", "xbzrle", "state", 1));
    if (o->auto_converge)
        json_array_append_new(caps, json_pack("{s:s, s:b}", "capability", "auto-converge", "state", 1));
    json_t *r = qmp_cmd(v->qmp, "migrate-set-capabilities", json_pack("{s:o}", "capabilities", caps),
                        o->qmp_timeout_ms, err);
    if (!r)
        return false;
    json_decref(r);
    json_t *params = json_object();
    if (o->multifd)
        json_object_set_new(params, "multifd-channels", json_integer(o->multifd));
    if (o->downtime_limit_ms)
        json_object_set_new(params, "downtime-limit", json_integer(o->downtime_limit_ms));
    json_object_set_new(params, "max-bandwidth", json_integer((json_int_t)bandwidth));
    r = qmp_cmd(v->qmp, "migrate-set-parameters", params, o->qmp_timeout_ms, err);
    json_decref(r);
    return r != NULL;
}

/* Start the incoming side; returns the URI the source must use. */
static bool mig_incoming(struct session *s, struct vm *dst, int hop, char *uri, size_t cap, struct vqh_err *err)
{
    char name[32];
    if (s->o->transport == TRANSPORT_UNIX) {
        snprintf(name, sizeof(name), "mig%d.sock", hop);
        const char *p = rundir_sock_path(s->rd, name, err);
        if (!p)
            return false;
        snprintf(uri, cap, "unix:%s", p);
    } else {
        snprintf(uri, cap, "tcp:127.0.0.1:0"); /* QEMU picks a free port; read it back below */
    }
    json_t *r = qmp_cmd(dst->qmp, "migrate-incoming", json_pack("{s:s}", "uri", uri), s->o->qmp_timeout_ms, err);
    if (!r)
        return false;
    json_decref(r);
    if (s->o->transport == TRANSPORT_TCP) {
        r = qmp_cmd(dst->qmp, "query-migrate", NULL, s->o->qmp_timeout_ms, err);
        json_t *addr = json_array_get(json_object_get(r, "socket-address"), 0);
        const char *port = json_string_value(json_object_get(addr, "port"));
        if (!port) {
            vqh_err_set(err, "the destination's query-migrate names no listening port");
            json_decref(r);
            return false;
        }
        snprintf(uri, cap, "tcp:127.0.0.1:%s", port);
        json_decref(r);
    }
    return true;
}

static void mig_stats(struct hop_record *h, const json_t *q)
{
    const json_t *ram = json_object_get(q, "ram");
    h->total_ms = json_integer_value(json_object_get(q, "total-time"));
    h->downtime_ms = json_integer_value(json_object_get(q, "downtime"));
    h->setup_ms = json_integer_value(json_object_get(q, "setup-time"));
    h->transferred = (uint64_t)json_integer_value(json_object_get(ram, "transferred"));
    h->ram_total = (uint64_t)json_integer_value(json_object_get(ram, "total"));
    h->dirty_sync_count = (uint64_t)json_integer_value(json_object_get(ram, "dirty-sync-count"));
    h->mbps = json_number_value(json_object_get(ram, "mbps"));
}

/* A QEMU died or stopped answering during the migration: evidence from both, then FAIL. */
static enum migration_outcome mig_broken(struct session *s, struct vm *dst, const char *what,
                                         enum vqh_err_kind kind, const char *detail)
{
    /* A closed QMP connection usually means QEMU is on its way out: let it finish dying, so the
     * report says how it died and gdb reads its core rather than attaching to a corpse. */
    if (kind == VQH_ERR_CLOSED || kind == VQH_ERR_DIED) {
        proc_wait(s->vm->proc, 3000);
        proc_wait(dst->proc, 1000);
    }
    bool src_dead = !vm_alive(s->vm), dst_dead = !vm_alive(dst);
    if (src_dead && WIFSIGNALED(proc_status(s->vm->proc))) {
        what = "the source QEMU crashed during migration";
        detail = s->vm->exit_status;
        src_dead = false; /* said already */
    }
    session_fail(s, VERDICT_FAIL, "%s: %s%s%s%s%s", what, detail,
                 src_dead ? "; source " : "", src_dead ? s->vm->exit_status : "",
                 dst_dead ? "; destination " : "", dst_dead ? dst->exit_status : "");
    session_evidence_vm(s, s->vm, src_dead ? "source died during migration" : what);
    session_evidence_vm(s, dst, dst_dead ? "destination died during migration" : what);
    return MIG_FAILED;
}

/* Cancel and kill hops must catch the stream mid-way: slow it down for them (and restore the
 * source's setting afterwards, since the source carries on). */
#define BREAK_OFF_BANDWIDTH (24ull << 20)

static bool mig_set_bandwidth(struct session *s, struct vm *v, uint64_t bps, struct vqh_err *err)
{
    json_t *r = qmp_cmd(v->qmp, "migrate-set-parameters", json_pack("{s:I}", "max-bandwidth", (json_int_t)bps),
                        s->o->qmp_timeout_ms, err);
    json_decref(r);
    return r != NULL;
}

static uint64_t mig_get_bandwidth(struct session *s, struct vm *v, struct vqh_err *err)
{
    json_t *r = qmp_cmd(v->qmp, "query-migrate-parameters", NULL, s->o->qmp_timeout_ms, err);
    uint64_t bps = r ? (uint64_t)json_integer_value(json_object_get(r, "max-bandwidth")) : 0;
    json_decref(r);
    return bps;
}

static enum migration_outcome migration_watch(struct session *s, struct vm *dst, struct hop_record *h, uint64_t bandwidth,
                                              uint64_t *rng);

enum migration_outcome migration_run(struct session *s, struct vm *dst, struct hop_record *h, uint64_t *rng)
{
    struct vqh_err err;
    const struct vqh_opts *o = s->o;
    bool inject_here = o->inject_hop == h->index && (!strcmp(o->inject, "abort-src") || !strcmp(o->inject, "stop-dst"));
    /* A fault injected into the migration must land mid-way too. */
    if (h->kind == HOP_MIGRATE && !inject_here)
        return migration_watch(s, dst, h, o->bandwidth ? o->bandwidth : MIG_BANDWIDTH_UNLIMITED, rng);
    uint64_t saved = mig_get_bandwidth(s, s->vm, &err);
    if (!saved || !mig_set_bandwidth(s, s->vm, BREAK_OFF_BANDWIDTH, &err)) {
        session_fail(s, VERDICT_FAIL, "hop %d: setting the migration bandwidth: %s", h->index, err.msg);
        return MIG_FAILED;
    }
    enum migration_outcome out = migration_watch(s, dst, h, BREAK_OFF_BANDWIDTH, rng);
    if (out == MIG_ABORTED && !mig_set_bandwidth(s, s->vm, saved, &err)) {
        session_fail(s, VERDICT_FAIL, "hop %d: restoring the migration bandwidth: %s", h->index, err.msg);
        return MIG_FAILED;
    }
    return out;
}

/* The on_event hook of the source's QMP while it migrates: the moment a MIGRATION event says the
 * migration ended (or entered postcopy), whether or not anyone has taken the event yet. */
struct mig_events {
    bool ended;
    bool postcopy_active;
};

static void mig_on_event(void *arg, const json_t *ev)
{
    struct mig_events *e = arg;
    const char *st = json_string_value(json_object_get(json_object_get(ev, "data"), "status")) ?: "";
    if (strcmp(json_string_value(json_object_get(ev, "event")) ?: "", "MIGRATION"))
        return;
    if (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled"))
        e->ended = true;
    if (!strcmp(st, "postcopy-active"))
        e->postcopy_active = true;
}

static enum migration_outcome migration_watch_loop(struct session *s, struct vm *dst, struct hop_record *h,
                                                   uint64_t bandwidth, uint64_t *rng, struct mig_events *ev);

static enum migration_outcome migration_watch(struct session *s, struct vm *dst, struct hop_record *h, uint64_t bandwidth,
                                              uint64_t *rng)
{
    struct mig_events ev = { 0 };
    struct vm *src = s->vm;
    qmp_set_event_fn(src->qmp, mig_on_event, &ev);
    enum migration_outcome out = migration_watch_loop(s, dst, h, bandwidth, rng, &ev);
    if (src->qmp) /* the source may have been dropped on the way */
        qmp_set_event_fn(src->qmp, NULL, NULL);
    return out;
}

static enum migration_outcome migration_watch_loop(struct session *s, struct vm *dst, struct hop_record *h,
                                                   uint64_t bandwidth, uint64_t *rng, struct mig_events *ev)
{
    const struct vqh_opts *o = s->o;
    struct vm *src = s->vm;
    struct vqh_err err;
    char uri[512];
    if (!mig_caps(src, o, bandwidth, &err) || !mig_caps(dst, o, bandwidth, &err) || !hop_action_caps(s, h, src, false, &err) ||
        !hop_action_caps(s, h, dst, true, &err) || !mig_incoming(s, dst, h->index, uri, sizeof(uri), &err))
        return mig_broken(s, dst, "migration setup", err.kind, err.msg);
    struct modes_hold hold;
    if (!modes_begin(s, src, h, &hold, &err))
        return mig_broken(s, dst, "migration setup", err.kind, err.msg);
    if (!hop_action_before_migrate(s, h, dst, &err))
        return mig_broken(s, dst, "hop action before migrate", err.kind, err.msg);
    if (s->chan->progress)
        h->inflight_at_start = chan_inflight(s->chan->progress);
    /* --nbd-chaos: on a seeded half of the hops the server goes down just before `migrate`; a
     * migration here lasts well under the outage, so the switchover (drain, inactivate, the
     * destination's activation) happens while the NBD client is reconnecting. */
    if (s->nbd && o->nbd_chaos_max_ms && prng_splitmix64(rng) % 2 == 0 && nbd_server_kick(s->nbd, 2000))
        status_event(&s->status, "hop %d: NBD server killed as the migration starts (switchover during the outage)",
                     h->index);
    json_t *r = qmp_cmd(src->qmp, "migrate", json_pack("{s:s}", "uri", uri), o->qmp_timeout_ms, &err);
    if (!r)
        return mig_broken(s, dst, "migrate", err.kind, err.msg);
    json_decref(r);

    int64_t t0 = clock_now_ms(), last_query = 0;
    /* The moment to break off a cancel or kill hop: early enough to hit the active phase. */
    int64_t break_at = t0 + 20 + (int64_t)(prng_splitmix64(rng) % 300);
    bool broke_off = false, injected = false;
    bool inject_here = o->inject[0] && strcmp(o->inject, "none") && o->inject_hop == h->index;
    int every = h->kind != HOP_MIGRATE || h->action || h->modes.asked || inject_here ? MIG_QUERY_MS : MIG_QUERY_IDLE_MS;
    for (;;) {
        int64_t wait = last_query + every - clock_now_ms();
        struct vqh_err qerr;
        /* Events may already sit read behind a command's reply: taken before the socket is
         * waited on. A broken connection is reported by the query below, with the source's fate. */
        if (!qmp_pump(src->qmp, &qerr))
            ev->ended = true;
        if (!ev->ended)
            chan_pump_fd(s->chan, qmp_fd(src->qmp), wait < 0 ? 0 : wait > POLL_MS ? POLL_MS : (int)wait);
        if (!qmp_pump(src->qmp, &qerr))
            ev->ended = true;
        if (ev->postcopy_active)
            h->modes.postcopy_active = true;
        int64_t now = clock_now_ms();
        if (!ev->ended && now - last_query < every)
            continue;
        last_query = now;
        if (inject_here && !injected && now >= break_at && !inject_at_cancel(o)) {
            injected = true;
            if (!strcmp(o->inject, "abort-src"))
                proc_kill(src->proc, SIGABRT);
            else if (!strcmp(o->inject, "stop-dst"))
                proc_kill(dst->proc, SIGSTOP);
        }
        if (!vm_alive(src))
            return mig_broken(s, dst, "the source QEMU died during migration", VQH_ERR_DIED, src->exit_status);
        json_t *q = qmp_cmd(src->qmp, "query-migrate", NULL, o->qmp_timeout_ms, &err);
        if (!q && err.kind == VQH_ERR_TIMEOUT)
            return mig_broken(s, dst, "migration hang: the source's QMP stopped answering", err.kind, err.msg);
        if (!q)
            return mig_broken(s, dst, "query-migrate on the source", err.kind, err.msg);
        const char *st = json_string_value(json_object_get(q, "status"));
        snprintf(h->status, sizeof(h->status), "%s", st ? st : "?");
        mig_stats(h, q);
        if (!modes_poll(s, src, h, &hold, q, &err)) {
            json_decref(q);
            return mig_broken(s, dst, "migration modes", err.kind, err.msg);
        }
        bool planned_abort = false;
        /* A late-cancel hop cancels at its first pre-switchover. */
        bool at_cancel = inject_here && !injected && inject_at_cancel(o);
        if (at_cancel && st && !strcmp(st, "pre-switchover"))
            inject_cancel_before(s, dst);
        if (!hop_action_poll(s, h, dst, st ? st : "?", &planned_abort, &err)) {
            json_decref(q);
            return mig_broken(s, dst, "hop action during migration", err.kind, err.msg);
        }
        if (at_cancel && hop_action_cancelled()) {
            injected = true;
            inject_cancel_after(s, src, dst, h->index);
        }
        if (st && !strcmp(st, "completed")) {
            /* QEMU 7.2 reports "completed" a moment before it has computed total-time and
             * downtime (they read 0 then): ask again for the real figures. */
            for (int tries = 0; tries < 20 && h->total_ms == 0; tries++) {
                json_decref(q);
                usleep(20000);
                q = qmp_cmd(src->qmp, "query-migrate", NULL, o->qmp_timeout_ms, &err);
                if (!q)
                    break;
                mig_stats(h, q);
                modes_poll(s, src, h, &hold, q, &err);
            }
            json_decref(q);
            return MIG_COMPLETED;
        }
        if (st && (!strcmp(st, "failed") || !strcmp(st, "cancelled"))) {
            const char *desc = json_string_value(json_object_get(q, "error-desc"));
            bool planned = planned_abort || (broke_off && ((h->kind == HOP_CANCEL && !strcmp(st, "cancelled")) ||
                                                           (h->kind == HOP_KILL_DST && !strcmp(st, "failed"))));
            if (!planned) {
                char d[HOP_TEXT_MAX];
                snprintf(d, sizeof(d), "status %s: %s", st, desc ? desc : "no error-desc");
                json_decref(q);
                return mig_broken(s, dst, "the migration failed", VQH_ERR_OTHER, d);
            }
            json_decref(q);
            return MIG_ABORTED;
        }
        /* An event of an earlier migration on this QEMU (it migrated before, as a destination
         * or in an aborted hop) may have set ended: back to waiting. */
        ev->ended = false;
        bool active = st && (!strcmp(st, "active") || !strcmp(st, "postcopy-active"));
        if (active && !broke_off && now >= break_at && h->kind != HOP_MIGRATE) {
            broke_off = true;
            if (h->kind == HOP_CANCEL) {
                if (at_cancel)
                    inject_cancel_before(s, dst);
                json_decref(qmp_cmd(src->qmp, "migrate_cancel", NULL, o->qmp_timeout_ms, &err));
                if (at_cancel) {
                    injected = true;
                    inject_cancel_after(s, src, dst, h->index);
                }
            } else {
                proc_kill(dst->proc, SIGKILL);
                proc_wait(dst->proc, 5000);
            }
        }
        json_decref(q);
        /* Once the migration is cancelled on purpose, the destination's exit is the cancel's own
         * consequence: the source shut the stream down and the destination's load failed. The
         * source's final state decides (above); it may report "cancelling" for a while yet. How
         * the destination ended is judged after the hop, as for every cancel
         * (health_dst_after_cancel: a death by a signal is a crash). */
        if (h->kind == HOP_MIGRATE && !hop_action_cancelled() && !vm_alive(dst))
            return mig_broken(s, dst, "the destination QEMU died during migration", VQH_ERR_DIED, dst->exit_status);
        if (now - t0 > o->migrate_timeout_ms) {
            char d[256];
            /* Still copying RAM pass after pass: the guest dirties memory faster than the stream
             * carries it. That is its own result, not a hang. */
            if (h->dirty_sync_count >= MIG_CONVERGE_PASSES && !strcmp(h->status, "active")) {
                snprintf(d, sizeof(d), "still active after %d ms and %d RAM passes; remedies: --auto-converge, "
                         "a higher --downtime-limit, or a guest rate limit (--guest-config rate=N)",
                         o->migrate_timeout_ms, (int)h->dirty_sync_count);
                return mig_broken(s, dst, "migration did not converge", VQH_ERR_OTHER, d);
            }
            snprintf(d, sizeof(d), "not finished after %d ms (status %s, %d RAM passes)", o->migrate_timeout_ms,
                     h->status, (int)h->dirty_sync_count);
            return mig_broken(s, dst, "migration hang", VQH_ERR_TIMEOUT, d);
        }
    }
}
