/*
 * cmd_migrate.c: `vqhammer migrate`: boot the guest, then migrate it back and forth (a fresh
 * destination every hop, roles swapped after it) while every queue is busy, and prove after each
 * hop that no data was lost and the device is healthy.
 */
#include "cmds.h"
#include "prng.h"
#include "health.h"
#include "hopdiag.h"
#include "heartbeat.h"
#include "hop_action.h"
#include "hotplug.h"
#include "inject.h"
#include "knownbug.h"
#include "migration.h"
#include "modes.h"
#include "prestart.h"
#include "ramcheck.h"
#include "reset.h"
#include "session.h"
#include "blockgraph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define QUIESCE_TIMEOUT_MS 60000
#define FINISH_TIMEOUT_MS 600000
/* How long a cancelled hop's destination is given to exit by itself (health_dst_after_cancel). */
#define DST_EXIT_WAIT_MS 3000

/* The guest failed after hop h: if the hop moved it, diagnose before the evidence kills QEMU. */
static void loop_guest_failed(struct session *s, struct hop_record *h)
{
    if (h && !strcmp(h->status, "completed"))
        hopdiag_guest_failed(s, h, s->vm);
}

/* The guest's data or rings went wrong: if the last hop that moved it ran where QEMU loses guest
 * writes, say so, with the reproducer that tells (knownbug_suspect_hop). */
static void loop_guest_suspect(struct session *s)
{
    struct hop_record *h = knownbug_suspect_hop(s);
    if (h)
        hopdiag_guest_failed(s, h, s->vm);
}

/* Any guest error report fails the run at once, naming the first one. */
static bool loop_guest_clean(struct session *s)
{
    if (!s->chan->errors)
        return true;
    char *first = json_dumps(json_array_get(s->chan->error_list, 0), JSON_COMPACT);
    session_fail(s, VERDICT_FAIL, "the guest reported %llu error(s); first: %.380s",
                 (unsigned long long)s->chan->errors, first ? first : "?");
    free(first);
    loop_guest_suspect(s);
    return false;
}

/* Keep reading the guest for ms, failing on silence, errors or a dead QEMU. */
static bool loop_idle(struct session *s, int ms)
{
    int64_t end = clock_now_ms() + ms;
    while (clock_now_ms() < end) {
        chan_pump(s->chan, 50);
        if (!loop_guest_clean(s))
            return false;
        if (!vm_alive(s->vm)) {
            session_fail(s, VERDICT_FAIL, "QEMU %s %s while running the guest", s->vm->label, s->vm->exit_status);
            session_evidence_vm(s, s->vm, "crash");
            return false;
        }
        if (clock_now_ms() - s->chan->last_msg_ms > s->o->guest_timeout_ms) {
            session_fail(s, VERDICT_FAIL, "the guest on %s has been silent for %d ms (hang)", s->vm->label,
                         s->o->guest_timeout_ms);
            session_evidence_vm(s, s->vm, "hang: silent guest");
            return false;
        }
    }
    return true;
}

/* A guest command that must succeed (after hop h, NULL before any); the reply is kept in *reply
 * when asked for. */
static bool loop_cmd(struct session *s, struct hop_record *h, const char *line, const char *cmd, json_t **reply)
{
    struct vqh_err err;
    json_t *r = NULL;
    /* A verification pass over a big disk may take longer than the timeout: it is waited for
     * while the guest's progress shows it moving. */
    bool (*send)(struct chan *, struct vm *, const char *, const char *, int, json_t **, struct vqh_err *) =
        !strcmp(cmd, "verify") ? chan_command_moving : chan_command;
    if (!send(s->chan, s->vm, line, cmd, QUIESCE_TIMEOUT_MS, &r, &err)) {
        session_fail(s, VERDICT_FAIL, "%s", err.msg);
        loop_guest_failed(s, h);
        if (vm_alive(s->vm))
            session_evidence_vm(s, s->vm, "guest did not answer");
        return false;
    }
    if (reply)
        *reply = r;
    else
        json_decref(r);
    return true;
}

/* Whether the guest's vCPUs run now (a hop action may have stopped them): a stopped guest
 * neither answers commands nor writes memory while it migrates. */
static bool loop_vm_running(struct session *s, struct vm *v)
{
    struct vqh_err err;
    json_t *r = qmp_cmd(v->qmp, "query-status", NULL, s->o->qmp_timeout_ms, &err);
    bool running = json_is_true(json_object_get(r, "running"));
    json_decref(r);
    return running;
}

/* After a completed hop: the old source (stopped in postmigrate, so its guest writes nothing
 * more) is asked to quit; what it wrote is read once it has exited. */
static void loop_old_quit(struct vm *old)
{
    old->hold_serial = true;
    vm_quit_send(old);
}

/* The old source has exited cleanly (else FAIL) and is gone; NULL *old: gone already. A source
 * that was never asked to quit (the hop failed before) is killed. */
static bool loop_old_gone(struct session *s, struct hop_record *h, struct vm **old)
{
    struct vqh_err err;
    struct vm *v = *old;
    bool ok = true;
    if (!v)
        return true;
    *old = NULL;
    if (v->quit_sent && !vm_quit_wait(v, 10000, &err)) {
        session_fail(s, VERDICT_FAIL, "hop %d: the old source did not exit cleanly: %s", h->index, err.msg);
        session_evidence_vm(s, v, "old source did not exit cleanly");
        ok = false;
    }
    v->hold_serial = false;
    chan_detach(s->chan, v);
    vm_free(v);
    return ok;
}

/* The checks after every hop, on the QEMU that now runs the guest; old: the source of a completed
 * hop, shutting down meanwhile (NULL: none or gone), waited for after the QMP checks. */
static bool loop_check(struct session *s, struct hop_record *h, uint64_t seq_done, json_t *ops_before, struct vm **old)
{
    struct vqh_err err;
    char line[128];
    json_t *reply = NULL;
    struct vm *v = s->vm;
    /* The hop is over: the guest's TLB workaround is needed no more (knownbug.h). The guest
     * reads its commands one after the other, so this one goes with the epoch, whose reply says
     * both were taken. The guest takes its epoch while the host asks QEMU about the device and
     * the block graph. */
    uint64_t epoch_after;
    snprintf(line, sizeof(line), "%s%sepoch epoch=%d\n", h->tlb_refresh ? "tlb refresh=off\n" : "",
             modes_dirtier_off_line(h), h->index);
    if (!heartbeat_send(s, v, line, &epoch_after, &err) || !health_block(s, v, &err) || !health_virtio(s, v, &err) ||
        !blockgraph_check(v->qmp, s->o, s->ndisks, s->disk_ptrs, v->label, s->o->qmp_timeout_ms, &err) ||
        !nbd_server_alive(s->nbd, &err)) {
        session_fail(s, VERDICT_FAIL, "hop %d: %s", h->index, err.msg);
        return false;
    }
    if (old && !loop_old_gone(s, h, old))
        return false;
    if (!heartbeat_reply(s, v, epoch_after, "epoch", QUIESCE_TIMEOUT_MS, NULL, &err)) {
        session_fail(s, VERDICT_FAIL, "%s", err.msg);
        loop_guest_failed(s, h);
        if (vm_alive(v))
            session_evidence_vm(s, v, "guest did not answer");
        return false;
    }
    if (!heartbeat_wait(s, v, seq_done, ops_before, s->o->guest_timeout_ms, &err)) {
        session_fail(s, VERDICT_FAIL, "hop %d: %s", h->index, err.msg);
        loop_guest_failed(s, h);
        session_evidence_vm(s, v, "no progress after migration");
        return false;
    }
    if (!loop_cmd(s, h, "quiesce\n", "quiesce", &reply))
        return false;
    bool ok = json_is_true(json_object_get(reply, "ok"));
    if (!ok || !health_rings(s, v, reply, &err)) {
        session_fail(s, VERDICT_FAIL, "hop %d: %s", h->index, ok ? err.msg : "the guest could not drain its queues (requests stuck)");
        json_decref(reply);
        loop_guest_suspect(s);
        if (!ok)
            session_evidence_vm(s, v, "requests stuck at quiesce");
        return false;
    }
    json_decref(reply);
    if (reset_due(s->o, h->index) && !reset_data_disks(s, v, h->index, &err)) {
        session_fail(s, VERDICT_FAIL, "%s", err.msg);
        return false;
    }
    bool inject = !strcmp(s->o->inject, "overwrite-block") && s->o->inject_hop == h->index;
    if (inject) {
        uint64_t lba;
        if (!inject_overwrite_block(s, v, s->o->seed, &lba, &err)) {
            session_fail(s, VERDICT_ERROR, "%s", err.msg);
            return false;
        }
        status_event(&s->status, "hop %d: injected: corrupted block %llu of %s while the VM was stopped", h->index,
                     (unsigned long long)lba, s->disk_paths[0]);
    }
    bool zero = !strcmp(s->o->inject, "nbd-zero") && s->o->inject_hop == h->index;
    if (zero) {
        if (!s->nbd || !nbd_server_zero(s->nbd, 30000, &err)) {
            session_fail(s, VERDICT_ERROR, "--inject nbd-zero: %s", s->nbd ? err.msg : "no disk is served over NBD");
            return false;
        }
        status_event(&s->status, "hop %d: injected: the NBD server restarted on zeroed images", h->index);
        inject = true;
    }
    if (strcmp(s->o->verify, "none")) {
        if (!strcmp(s->o->verify, "full") || inject || hop_action_full_verify(h))
            snprintf(line, sizeof(line), "verify\n");
        else
            snprintf(line, sizeof(line), "verify sample=%d\n", s->o->verify_sample);
        if (!loop_cmd(s, h, line, "verify", &reply))
            return false;
        h->verify_checked = (uint64_t)json_integer_value(json_object_get(reply, "checked"));
        h->verify_errors = (uint64_t)json_integer_value(json_object_get(reply, "errors"));
        bool vok = json_is_true(json_object_get(reply, "ok"));
        json_decref(reply);
        if (!loop_guest_clean(s))
            return false;
        if (!vok && h->verify_errors) {
            /* The guest counted errors, yet no report of one arrived whole (see the '# bad line'
             * entries of serial-merged.log): still data errors, never a clean pass. */
            session_fail(s, VERDICT_FAIL, "hop %d: the verification pass counted %llu data error(s) whose reports did "
                         "not arrive intact (see serial-merged.log)", h->index, (unsigned long long)h->verify_errors);
            return false;
        }
        if (!vok) {
            session_fail(s, VERDICT_FAIL, "hop %d: the verification pass did not finish", h->index);
            return false;
        }
    }
    if (!loop_cmd(s, h, "resume\n", "resume", NULL))
        return false;
    uint64_t seq = s->chan->last_seq;
    json_t *mid = chan_queue_ops(s->chan->progress);
    ok = heartbeat_wait(s, v, seq, mid, s->o->guest_timeout_ms, &err);
    json_decref(mid);
    if (!ok) {
        session_fail(s, VERDICT_FAIL, "hop %d after resume: %s", h->index, err.msg);
        return false;
    }
    if (!health_blockstats(s, v, true, &err)) {
        session_fail(s, VERDICT_FAIL, "hop %d: %s", h->index, err.msg);
        return false;
    }
    /* Operations each queue completed over the hop and its checks. */
    json_t *after = chan_queue_ops(s->chan->progress);
    h->nqueues = (int)json_array_size(after);
    for (int i = 0; i < h->nqueues && i < HOP_MAX_QUEUES; i++) {
        json_int_t d = json_integer_value(json_array_get(after, (size_t)i)) -
                       json_integer_value(json_array_get(ops_before, (size_t)i));
        h->queue_ops[i] = d > 0 ? (uint64_t)d : 0;
        h->ops += h->queue_ops[i];
    }
    json_decref(after);
    return loop_guest_clean(s);
}

/* --check-ram found pages the migration did not carry: QEMU's fault, by name when it is known. */
static void loop_ram_differs(struct session *s, struct hop_record *h, struct vm *src, struct vm *dst,
                             const char *what)
{
    char ver[128];
    if (!h->ram_diff_pages) { /* the comparison itself could not be done */
        session_fail(s, VERDICT_ERROR, "hop %d: %s", h->index, what);
        return;
    }
    knownbug_describe(s, src, dst, ver, sizeof(ver));
    if (h->tcg_dirty_exposed) {
        session_fail(s, VERDICT_FAIL, "hop %d: %s (%s, guest TLB workaround %s): %s", h->index, KNOWNBUG_TCG_DIRTY,
                     ver, h->tlb_refresh ? "on" : "off", what);
        snprintf(s->result.known_bug, sizeof(s->result.known_bug), "%s", KNOWNBUG_TCG_DIRTY);
    } else {
        session_fail(s, VERDICT_FAIL, "hop %d: QEMU lost guest memory in migration (%s): %s", h->index, ver, what);
    }
    snprintf(s->result.fault, sizeof(s->result.fault), "qemu");
    hopdiag_guest_failed(s, h, dst);
}

/* One hop; false ends the loop (the verdict is recorded). */
static bool loop_hop(struct session *s, int index, uint64_t *rng)
{
    const struct vqh_opts *o = s->o;
    struct vqh_err err;
    struct hop_record *h = run_add_hop(&s->result);
    if (!h) {
        session_fail(s, VERDICT_ERROR, "out of memory");
        return false;
    }
    h->index = index;
    h->kind = o->cancel_every && index % o->cancel_every == 0     ? HOP_CANCEL
              : o->kill_dst_every && index % o->kill_dst_every == 0 ? HOP_KILL_DST
                                                                    : HOP_MIGRATE;
    hop_action_pick(s, h);
    h->start_s = (double)(clock_now_ms() - s->start_ms) / 1000.0;
    int outages = nbd_server_outages(s->nbd);
    /* A seeded random moment, while the load runs on every queue. */
    int gap = o->min_gap_ms + (int)(prng_splitmix64(rng) % (uint64_t)(o->max_gap_ms - o->min_gap_ms + 1));
    int took_ms = 0;
    struct vm *src = s->vm, *dst;
    s->dst_refuse_features = !strcmp(s->o->inject, "refuse-features") && s->o->inject_hop == index;
    if (h->action) {
        /* A hop action prepares the source (and the destination's disk) before the destination
         * exists, and may want it started with -S: no pre-start for it. */
        if (!loop_idle(s, gap))
            return false;
        if (!hop_action_before_dst(s, h, &err)) {
            session_fail(s, VERDICT_FAIL, "hop %d (%s): %s", index, h->action_name, err.msg);
            snprintf(h->failure, sizeof(h->failure), "%s", s->result.reason);
            return false;
        }
        s->dst_paused = hop_action_dst_paused(h);
        gap = 0;
        dst = session_start_vm(s, true, &err);
    } else {
        s->dst_paused = false;
        dst = prestart_dst(s, &took_ms, &err);
    }
    if (!dst) {
        session_fail(s, VERDICT_ERROR, "hop %d: cannot start the destination: %s", index, err.msg);
        return false;
    }
    if (!loop_idle(s, gap - took_ms)) {
        prestart_drop(s, dst);
        return false;
    }
    json_t *ops_before = chan_queue_ops(s->chan->progress);
    snprintf(h->src, sizeof(h->src), "%s", src->label);
    snprintf(h->dst, sizeof(h->dst), "%s", dst->label);
    /* The guest's TLB workaround, only where the known TCG bug can bite (knownbug.h). */
    h->tcg_dirty_exposed = knownbug_tcg_dirty_exposed(s, src, dst);
    if (h->tcg_dirty_exposed && loop_vm_running(s, src) && !knownbug_tlb(s, src, true, &h->tlb_refresh, &err)) {
        json_decref(ops_before);
        session_fail(s, VERDICT_FAIL, "hop %d: %s", index, err.msg);
        prestart_drop(s, dst);
        return false;
    }
    /* Memory kept dirty, so a hop asked for postcopy, xbzrle or auto-converge cannot converge
     * in its first pass (modes.h). */
    if (loop_vm_running(s, src) && !modes_dirtier_on(s, src, h, &err)) {
        json_decref(ops_before);
        session_fail(s, VERDICT_FAIL, "hop %d: %s", index, err.msg);
        prestart_drop(s, dst);
        return false;
    }
    enum migration_outcome out = migration_run(s, dst, h, rng);
    modes_end(s, h);
    bool ok = out != MIG_FAILED;
    if (out == MIG_COMPLETED) {
        uint64_t seq_done = s->chan->last_seq;
        if (ok && s->o->check_ram) {
            /* The destination was started with -S: it has not run yet. */
            if (!health_vm_state(s, dst, "paused", 10000, &err)) {
                session_fail(s, VERDICT_FAIL, "hop %d: %s", index, err.msg);
                ok = false;
            } else if (!ramcheck_compare(s, src, dst, h, &err)) {
                loop_ram_differs(s, h, src, dst, err.msg);
                ok = false;
            }
            if (!hop_action_dst_paused(h)) /* else the action resumes it */
                json_decref(qmp_cmd(dst->qmp, "cont", NULL, s->o->qmp_timeout_ms, &err));
        }
        if (!health_vm_state(s, src, "postmigrate", 5000, &err) ||
            !health_vm_state(s, dst, hop_action_dst_state(s, h), 10000, &err)) {
            /* A QMP that stops answering is a hang: take the backtraces before anything else. */
            bool hang = err.kind == VQH_ERR_TIMEOUT;
            session_fail(s, VERDICT_FAIL, "hop %d: %s%s", index, hang ? "hang: " : "", err.msg);
            if (hang) {
                session_evidence_vm(s, src, "hang after migration");
                session_evidence_vm(s, dst, "hang after migration");
            }
            ok = false;
        }
        chan_handoff(s->chan, src, dst);
        s->vm = dst;
        /* The old source shuts down while the destination is checked, unless something after
         * this point acts on the disks (a hop action, an injection). */
        struct vm *old = src;
        if (ok)
            loop_old_quit(old);
        if (h->action || (o->inject_hop == index && o->inject[0] && strcmp(o->inject, "none")))
            ok = loop_old_gone(s, h, &old) && ok;
        if (ok && !hop_action_after(s, h, &err)) {
            session_fail(s, VERDICT_FAIL, "hop %d (%s): %s", index, h->action_name, err.msg);
            ok = false;
        }
        if (ok && !strcmp(o->inject, "stop-guest") && o->inject_hop == index) {
            /* A guest that goes silent right after a hop, for the diagnosis (hopdiag.h). */
            json_decref(qmp_cmd(dst->qmp, "stop", NULL, o->qmp_timeout_ms, &err));
            status_event(&s->status, "hop %d: injected: stopped the vCPUs of %s", index, dst->label);
        }
        ok = ok && loop_check(s, h, seq_done, ops_before, &old);
        ok = loop_old_gone(s, h, &old) && ok;
    } else if (out == MIG_ABORTED) {
        if (h->kind != HOP_KILL_DST && !health_dst_after_cancel(s, dst, DST_EXIT_WAIT_MS, &err)) {
            session_fail(s, VERDICT_FAIL, "hop %d (%s): %s", index, h->action ? h->action_name : hop_kind_name(h->kind),
                         err.msg);
            ok = false;
        }
        /* The source must carry on as if nothing happened. */
        if (ok && !hop_action_after_abort(s, h, dst, &err)) {
            session_fail(s, VERDICT_FAIL, "hop %d (%s): %s", index, h->action_name, err.msg);
            ok = false;
        }
        vm_kill(dst);
        chan_detach(s->chan, dst);
        vm_free(dst);
        uint64_t seq_done = s->chan->last_seq;
        if (!health_vm_state(s, src, "running", 10000, &err)) {
            session_fail(s, VERDICT_FAIL, "hop %d (%s): the source did not keep running: %s", index,
                         hop_kind_name(h->kind), err.msg);
            ok = false;
        }
        ok = ok && loop_check(s, h, seq_done, ops_before, NULL);
    } else {
        if (vm_alive(dst) || dst->proc) {
            chan_detach(s->chan, dst);
            vm_free(dst);
        }
    }
    json_decref(ops_before);
    if (ok && hotplug_due(o, index) && !hotplug_step(s, h, &err)) {
        session_fail(s, err.kind == VQH_ERR_REFUSED ? VERDICT_ERROR : VERDICT_FAIL, "hop %d: %s", index, err.msg);
        ok = false;
    }
    h->nbd_outages = nbd_server_outages(s->nbd) - outages;
    h->ok = ok;
    if (!ok)
        snprintf(h->failure, sizeof(h->failure), "%s", s->result.reason);
    double secs = (double)(clock_now_ms() - s->start_ms) / 1000.0 - h->start_s;
    status_update(&s->status, "hop %d/%d %s %s->%s %s total %lld ms downtime %lld ms, %.0f ops/s", index,
                  o->duration_s ? 0 : o->migrations, h->action_name[0] ? h->action_name : hop_kind_name(h->kind), h->src, h->dst, h->status,
                  (long long)h->total_ms, (long long)h->downtime_ms, secs > 0 ? (double)h->ops / secs : 0.0);
    return ok;
}

/* The last words: a full verification pass in the guest, then its verdict and exit status. */
static void loop_finish(struct session *s)
{
    struct vqh_err err;
    if (!vm_send(s->vm, "finish\n", &err)) {
        session_fail(s, VERDICT_FAIL, "%s", err.msg);
        return;
    }
    int64_t deadline = clock_now_ms() + FINISH_TIMEOUT_MS;
    while (vm_alive(s->vm)) {
        chan_pump(s->chan, 100);
        if (clock_now_ms() - s->chan->last_msg_ms > s->o->guest_timeout_ms || clock_now_ms() > deadline) {
            session_fail(s, VERDICT_FAIL, "the guest's final verification on %s went silent or took too long", s->vm->label);
            session_evidence_vm(s, s->vm, "hang at finish");
            return;
        }
    }
    chan_pump(s->chan, 0);
    int st = proc_status(s->vm->proc);
    const char *gv = json_string_value(json_object_get(s->chan->verdict, "verdict"));
    if (WIFEXITED(st) && WEXITSTATUS(st) == WIRE_EXIT_STATUS(WIRE_VERDICT_PASS) && gv && !strcmp(gv, "pass") &&
        loop_guest_clean(s)) {
        s->result.verdict = VERDICT_PASS;
        snprintf(s->result.reason, sizeof(s->result.reason), "%d hops, guest verdict pass after a full verification",
                 s->result.nhops);
        if (s->nbd) /* outages QEMU rode out: part of what this PASS means */
            snprintf(s->result.reason + strlen(s->result.reason), sizeof(s->result.reason) - strlen(s->result.reason),
                     "; %d NBD server outage(s) ridden out", nbd_server_outages(s->nbd));
        if (s->hot_plugs) /* what came and went: part of what this PASS covers */
            snprintf(s->result.reason + strlen(s->result.reason), sizeof(s->result.reason) - strlen(s->result.reason),
                     "; %d disk(s) hot-plugged, %d hot-unplugged", s->hot_plugs, s->hot_unplugs);
        return;
    }
    if (!loop_guest_clean(s))
        return;
    session_fail(s, VERDICT_FAIL, "guest verdict %s (%s); QEMU %s %s", gv ? gv : "missing",
                 json_string_value(json_object_get(s->chan->verdict, "reason")) ?: "no reason", s->vm->label,
                 s->vm->exit_status);
    if (WIFSIGNALED(st))
        session_evidence_vm(s, s->vm, "crash");
}

int cmd_migrate(int argc, char **argv)
{
    struct vqh_opts o;
    struct session s;
    struct vqh_err err;
    char guest_cfg[128];
    int rc = session_parse(&o, "migrate", argc, argv);
    if (rc >= 0)
        return rc;
    snprintf(guest_cfg, sizeof(guest_cfg), "duration=0\nreport_ms=500\nwatchdog_ms=%d", o.guest_timeout_ms);
    if (!session_boot(&s, &o, guest_cfg))
        return session_end(&s);
    if (!chan_wait_progress(s.chan, s.vm, 0, NULL, o.guest_timeout_ms, &err)) {
        session_fail(&s, VERDICT_FAIL, "%s", err.msg);
        return session_end(&s);
    }
    uint64_t rng = o.seed;
    int64_t end = o.duration_s ? clock_now_ms() + (int64_t)o.duration_s * 1000 : 0;
    for (int i = 1; end ? clock_now_ms() < end : i <= o.migrations; i++)
        if (!loop_hop(&s, i, &rng))
            break;
    if (!s.failed)
        loop_finish(&s);
    modes_run_verdict(&s);
    return session_end(&s);
}
