/*
 * stress_reset.c: device and queue resets in the middle of the load, on the host's `reset`
 * command and, with reset_ms, at seeded moments of the guest's own: drain, park every worker out
 * of the rings, reset (the whole device, or one queue with VIRTIO_F_RING_RESET), renegotiate,
 * go on. Data on the disk must survive it: the expected-state table is left as it is.
 */
#include "stress_internal.h"
#include "report.h"
#include "time.h"

#define RESET_DRAIN_TIMEOUT_MS 30000
#define PARK_TIMEOUT_MS 2000

static struct prng reset_rng;
static uint64_t next_reset_ms;
static bool reset_fail_injected;

static bool stress_all_parked(void)
{
    for (uint32_t c = 1; c < MAX_CPUS; c++)
        if (st.worker[c] && st.parked[c] != st.reset_gen)
            return false;
    return true;
}

bool stress_park(uint32_t prev)
{
    __atomic_fetch_add(&st.reset_gen, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&st.phase, PHASE_RESET, __ATOMIC_SEQ_CST);
    uint64_t deadline = time_ms() + PARK_TIMEOUT_MS;
    while (!stress_all_parked()) {
        if (time_ms() > deadline) {
            __atomic_store_n(&st.phase, prev, __ATOMIC_SEQ_CST);
            return false;
        }
        cpu_relax();
    }
    return true;
}

void stress_unpark(uint32_t prev)
{
    __atomic_store_n(&st.phase, prev, __ATOMIC_SEQ_CST);
}

struct reset_outcome {
    bool ok;
    uint8_t status_before, status_after;
    const char *error;
};

/* Drain, park the workers, reset disk d (queue < 0: the device), restore the phase. */
static struct reset_outcome stress_reset_disk(struct sdisk *d, int queue)
{
    struct reset_outcome o = { false, 0, 0, NULL };
    uint32_t prev = st.phase == PHASE_RESET ? PHASE_RUN : st.phase;
    __atomic_store_n(&st.phase, PHASE_QUIESCE, __ATOMIC_SEQ_CST);
    if (!stress_wait(stress_drained, RESET_DRAIN_TIMEOUT_MS)) {
        o.error = "requests still in flight: could not drain before the reset";
        __atomic_store_n(&st.phase, prev, __ATOMIC_SEQ_CST);
        return o;
    }
    if (!stress_park(prev)) {
        o.error = "a worker CPU did not leave the rings";
        return o;
    }
    o.status_before = vblk_status(&d->vd);
    const char *why = NULL;
    o.ok = queue < 0 ? vblk_reset(&d->vd, &why) : vblk_queue_reset(&d->vd, (uint16_t)queue, &why);
    if (o.ok && st.cfg->inject == CONFIG_INJECT_RESET_FAIL && !reset_fail_injected) {
        /* inject=reset_fail (tests): the device stays FAILED after its first reset, as when a
         * driver gives up on it; the check below must find that in the device's own status */
        reset_fail_injected = true;
        vblk_give_up(&d->vd);
    }
    o.status_after = vblk_status(&d->vd);
    o.error = why;
    /* After a good reset the device must be live again: DRIVER_OK, not NEEDS_RESET or FAILED. */
    if (o.ok && !vblk_status_live(o.status_after)) {
        o.ok = false;
        o.error = "device status after the reset is not DRIVER_OK alone";
    }
    __atomic_store_n(&st.phase, prev, __ATOMIC_SEQ_CST);
    return o;
}

/* A failed reset is a finding: an error message on the disk's first queue. */
static void stress_reset_failed(struct sdisk *d, int queue, const struct reset_outcome *o)
{
    struct msg m;
    if (!stress_error_begin(&m, WIRE_ERR_RESET, &d->q[0], NULL))
        return;
    msg_i64(&m, "queue", queue);
    msg_u64(&m, "status_before", o->status_before);
    msg_u64(&m, "status_after", o->status_after);
    msg_str(&m, "detail", o->error ? o->error : "?");
    report_send(&m);
}

static void stress_reset_member(struct msg *m, struct sdisk *d, int queue, const struct reset_outcome *o)
{
    msg_obj_begin(m, NULL);
    msg_u64(m, "disk", d->vd.index);
    msg_str(m, "serial", d->vd.serial);
    msg_i64(m, "queue", queue);
    msg_bool(m, "ok", o->ok);
    msg_u64(m, "status_before", o->status_before);
    msg_u64(m, "status_after", o->status_after);
    msg_u64(m, "resets", d->vd.resets);
    msg_u64(m, "queue_resets", d->vd.queue_resets);
    if (d->vd.queue_reset_reads_0)
        msg_str(m, "deviation", "queue_reset read 0 after the reset, not 1 (virtio 1.2 2.6.1)");
    if (o->error)
        msg_str(m, "error", o->error);
    msg_obj_end(m);
}

void stress_cmd_reset(const struct cmdline *c)
{
    uint64_t disk = UINT64_MAX, queue = UINT64_MAX;
    struct msg m;
    bool all_ok = true;
    cmdline_u64(c, "disk", &disk);
    cmdline_u64(c, "queue", &queue);
    struct reset_outcome outs[STRESS_MAX_DISKS];
    bool done[STRESS_MAX_DISKS] = { false };
    for (uint32_t i = 0; i < st.ndisks; i++) {
        struct sdisk *d = st.disk[i];
        if (!d->vd.data || (disk != UINT64_MAX && disk != d->vd.index))
            continue;
        int qi = queue == UINT64_MAX ? -1 : (int)MIN(queue, (uint64_t)VBLK_MAX_QUEUES);
        outs[i] = stress_reset_disk(d, qi);
        done[i] = true;
        if (!outs[i].ok) {
            all_ok = false;
            stress_reset_failed(d, qi, &outs[i]);
        }
    }
    stress_reply_begin(&m, WIRE_CMD_RESET, all_ok);
    msg_arr_begin(&m, "disks");
    for (uint32_t i = 0; i < st.ndisks; i++)
        if (done[i])
            stress_reset_member(&m, st.disk[i], queue == UINT64_MAX ? -1 : (int)queue, &outs[i]);
    msg_arr_end(&m);
    report_send(&m);
}

/* reset_ms: a seeded disk, and the whole device or (when it can) one seeded queue. */
void stress_reset_tick(uint64_t now_ms)
{
    uint32_t every = st.cfg->reset_ms;
    if (!every || st.phase != PHASE_RUN || !st.ndata)
        return;
    if (!next_reset_ms) {
        prng_seed(&reset_rng, prng_mix(st.cfg->seed, 0x7e5e7, 0));
        next_reset_ms = now_ms + every;
        return;
    }
    if (now_ms < next_reset_ms)
        return;
    next_reset_ms = now_ms + every;
    struct sdisk *d;
    do
        d = st.disk[prng_below(&reset_rng, st.ndisks)];
    while (!d->vd.data);
    int queue = vblk_can_reset_queue(&d->vd) && prng_below(&reset_rng, 2)
                    ? (int)prng_below(&reset_rng, d->nq) : -1;
    struct reset_outcome o = stress_reset_disk(d, queue);
    struct msg m;
    if (!o.ok) {
        stress_reset_failed(d, queue, &o);
        return;
    }
    msg_begin(&m, WIRE_MSG_LOG);
    msg_str(&m, "level", "info");
    msg_str(&m, "event", "reset");
    msg_u64(&m, "disk", d->vd.index);
    msg_i64(&m, "queue", queue);
    msg_u64(&m, "status_before", o.status_before);
    msg_u64(&m, "status_after", o.status_after);
    msg_str(&m, "text", queue < 0 ? "device reset" : "queue reset");
    if (queue >= 0 && d->vd.queue_reset_reads_0)
        msg_str(&m, "deviation", "queue_reset read 0 after the reset, not 1 (virtio 1.2 2.6.1)");
    report_send(&m);
}
