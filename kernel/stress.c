/*
 * stress.c: find the data disks, spread their queues over the vCPUs, run the load, obey the
 * host's commands, watch for stuck requests, and end with a verification pass and the verdict.
 */
#include "stress.h"
#include "stress_internal.h"
#include "apic.h"
#include "blockfmt.h"
#include "cmdline.h"
#include "dirtier.h"
#include "console.h"
#include "cpu.h"
#include "memory.h"
#include "report.h"
#include "smp.h"
#include "time.h"
#include "tlb.h"

#define DRAIN_TIMEOUT_MS 30000
#define EXPECT_MEM_SHARE 4 /* the expected-state tables may take 1/4 of free memory */

struct stress st;
static struct sdisk disks[STRESS_MAX_DISKS];

static void stress_choose_region(struct sdisk *d, const struct config *c)
{
    uint64_t blocks = d->vd.capacity / d->spb;
    d->region_start = MIN(c->region_start, blocks);
    d->region_blocks = blocks - d->region_start;
    if (c->region_blocks && c->region_blocks < d->region_blocks)
        d->region_blocks = c->region_blocks;
    /* A huge disk: hammer the first part whose expected state fits in memory. */
    uint64_t budget = pmm_free_bytes() / EXPECT_MEM_SHARE / (st.ndata + 1);
    while (d->region_blocks > 1024 && expect_bytes(d->region_blocks) > budget)
        d->region_blocks /= 2;
}

/* The engine's side of a data disk: request size, region, expected-state table. */
const char *stress_setup_disk(struct sdisk *d, const struct config *c)
{
    d->spb = d->vd.blk_size / VBLK_SECTOR;
    d->max_blocks = MIN(c->max_blocks, (uint32_t)(65536 / d->vd.blk_size) * 4);
    if (d->max_blocks == 0)
        d->max_blocks = 1;
    stress_choose_region(d, c);
    if (d->region_blocks < d->max_blocks)
        return "disk (or region) smaller than max_blocks";
    size_t need = expect_bytes(d->region_blocks);
    if (!d->exp_mem || d->exp_cap < need) { /* a re-plugged disk reuses its slot's table */
        d->exp_mem = pmm_alloc_uninit(need, 8); /* expect_init clears what it needs cleared */
        d->exp_cap = d->exp_mem ? need : 0;
    }
    d->exp = d->exp_mem ? expect_init(d->exp_mem, need, d->region_start, d->region_blocks) : NULL;
    if (!d->exp)
        return "out of memory for the expected-state table";
    memcpy(d->first_id, d->vd.serial, sizeof(d->first_id));
    d->vctx.seed = c->seed;
    d->vctx.disk_tag = blk_disk_tag(d->vd.serial, strlen(d->vd.serial));
    d->vctx.blk_size = d->vd.blk_size;
    return NULL;
}

struct sdisk *stress_disk_storage(uint32_t i)
{
    return &disks[i];
}

void stress_probe(const struct config *cfg)
{
    struct vblk_disk *found[STRESS_MAX_DISKS];
    struct vblk_find_opts o = {
        .serial_prefix = cfg->serial_prefix,
        .event_idx = cfg->event_idx,
        .indirect = cfg->indirect,
        .packed = cfg->packed,
    };
    st.cfg = cfg;
    for (uint32_t i = 0; i < STRESS_MAX_DISKS; i++)
        found[i] = &disks[i].vd;
    st.ndisks = vblk_find(found, STRESS_MAX_DISKS, &o);
    stress_hotplug_init();
    for (uint32_t i = 0; i < st.ndisks; i++) {
        struct sdisk *d = &disks[i];
        st.disk[i] = d;
        if (!d->vd.data)
            continue;
        const char *why = stress_setup_disk(d, cfg);
        if (why) {
            d->vd.data = false;
            d->vd.ignore_reason = why;
            continue;
        }
        st.ndata++;
        d->nq = cfg->queues ? (uint16_t)MIN(cfg->queues, (uint32_t)d->vd.num_queues) : d->vd.num_queues;
        /* Known before hello: a disk that cannot take interrupts is polled, and says so. */
        if (cfg->mode == CONFIG_MODE_IRQ)
            d->vd.irq_fallback = vblk_irq_unavailable(&d->vd, d->nq);
    }
    /* After every expected-state table: the large pool takes a share of what is left. */
    stress_large_setup();
}

void stress_describe_disks(struct msg *m)
{
    msg_arr_begin(m, "disks");
    for (uint32_t i = 0; i < st.ndisks; i++) {
        msg_obj_begin(m, NULL);
        stress_describe_disk(m, i);
        msg_obj_end(m);
    }
    msg_arr_end(m);
    stress_hotplug_describe(m);
}

/* One disk's members (hello, and a hot-plugged disk's arrival). */
void stress_describe_disk(struct msg *m, uint32_t i)
{
    char feats[200];
    struct sdisk *d = st.disk[i];
    msg_u64(m, "disk", i);
    msg_str(m, "pci", d->vd.pci_name);
    msg_str(m, "serial", d->vd.serial);
    msg_str(m, "role", d->vd.data ? "data" : "ignored");
    if (!d->vd.data)
        msg_str(m, "reason", d->vd.ignore_reason ? d->vd.ignore_reason : "?");
    msg_u64(m, "capacity", d->vd.capacity);
    msg_u64(m, "blk_size", d->vd.blk_size);
    msg_u64(m, "num_queues", d->vd.num_queues);
    msg_u64(m, "queue_size", d->vd.queue_size);
    msg_u64(m, "seg_max", d->vd.seg_max);
    vblk_feature_names(&d->vd, feats, sizeof(feats));
    msg_str(m, "features", feats);
    if (d->vd.data) {
        msg_u64(m, "region_start", d->region_start);
        msg_u64(m, "region_blocks", d->region_blocks);
        stress_describe_mode(m, d);
        stress_large_describe(m, d);
    }
}

/* The interrupt mode in effect for a disk, and why it is not the one asked for. */
void stress_describe_mode(struct msg *m, const struct sdisk *d)
{
    bool irq = st.cfg->mode == CONFIG_MODE_IRQ && !d->vd.irq_fallback;
    msg_str(m, "mode", irq ? "irq" : "poll");
    if (d->vd.irq_fallback)
        msg_str(m, "mode_reason", d->vd.irq_fallback);
}

/* Queues to CPUs round-robin over the online CPUs, then start each disk. */
static void stress_start_disks(void)
{
    uint32_t online[MAX_CPUS], nonline = 0, k = 0;
    const char *why;
    for (uint32_t c = 0; c < percpu_count; c++)
        if (c == 0 || percpu_area[c].online)
            online[nonline++] = c;
    for (uint32_t i = 0; i < st.ndisks; i++) {
        struct sdisk *d = st.disk[i];
        if (!d->vd.data)
            continue;
        for (uint16_t q = 0; q < d->nq; q++)
            squeue_setup(&d->q[q], d, q, online[k++ % nonline]);
        if (!vblk_start(&d->vd, d->nq, st.cfg->mode == CONFIG_MODE_IRQ, &why)) {
            report_log("error", why);
            report_verdict(WIRE_VERDICT_FAIL, "a data disk could not be started");
        }
        for (uint16_t q = 0; q < d->nq; q++) {
            if (!squeue_alloc(&d->q[q], &why)) {
                report_log("error", why);
                report_verdict(WIRE_VERDICT_FAIL, "not enough memory for the load");
            }
            uint32_t cpu = d->q[q].cpu;
            /* Bounded by construction: no CPU can own more than every queue of every disk. */
            if (st.nowned[cpu] >= STRESS_MAX_OWNED || st.nall >= ARRAY_SIZE(st.all))
                report_verdict(WIRE_VERDICT_FAIL, "more queues than the engine can own");
            st.owned[cpu][st.nowned[cpu]++] = &d->q[q];
            st.all[st.nall++] = &d->q[q];
        }
    }
}

static void stress_set_weights(void)
{
    const struct config *c = st.cfg;
    st.weights[OP_READ] = c->mix_read;
    st.weights[OP_WRITE] = c->mix_write;
    st.weights[OP_FLUSH] = c->mix_flush;
    st.weights[OP_DISCARD] = c->mix_discard;
    st.weights[OP_WRITE_ZEROES] = c->mix_write_zeroes;
    /* What no data disk supports is not tried (and says so in hello's feature list). */
    bool flush = true, discard = true, wz = true;
    for (uint32_t i = 0; i < st.ndisks; i++) {
        struct sdisk *d = st.disk[i];
        if (!d->vd.data)
            continue;
        flush &= vblk_has(&d->vd, VIRTIO_BLK_F_FLUSH);
        discard &= vblk_has(&d->vd, VIRTIO_BLK_F_DISCARD) && d->vd.max_discard_sectors >= d->spb;
        wz &= vblk_has(&d->vd, VIRTIO_BLK_F_WRITE_ZEROES) && d->vd.max_wz_sectors >= d->spb;
    }
    if (!flush)
        st.weights[OP_FLUSH] = 0;
    if (!discard)
        st.weights[OP_DISCARD] = 0;
    if (!wz)
        st.weights[OP_WRITE_ZEROES] = 0;
    if (!st.weights[OP_READ] && !st.weights[OP_WRITE] && !st.weights[OP_FLUSH] &&
        !st.weights[OP_DISCARD] && !st.weights[OP_WRITE_ZEROES])
        st.weights[OP_READ] = 1;
    uint32_t kinds = 0;
    st.weight_total = 0;
    for (uint8_t i = 0; i < OP_COUNT; i++) {
        st.weight_total += st.weights[i];
        if (st.weights[i]) {
            kinds++;
            st.only_op = i;
        }
    }
    if (kinds != 1)
        st.only_op = OP_COUNT;
}

static void stress_ap_main(void *arg)
{
    uint32_t cpu = (uint32_t)(uintptr_t)arg;
    apic_timer_start(100);
    stress_worker_loop(cpu, NULL);
    for (;;)
        cpu_idle();
}

/* ---- control (CPU 0) ----------------------------------------------------------------------- */

static uint64_t next_progress_ms, next_watchdog_ms, end_ms;
static bool finishing;

static uint32_t stress_total_inflight(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < st.nall; i++)
        n += st.all[i]->inflight;
    return n;
}

static void stress_watchdog(void)
{
    uint64_t now = time_ns(), limit = (uint64_t)st.cfg->watchdog_ms * 1000000;
    for (uint32_t i = 0; i < st.nall; i++) {
        struct squeue *q = st.all[i];
        for (uint32_t k = 0; k < q->depth + q->nlarge; k++) {
            struct sreq *r = k < q->depth ? &q->reqs[k] : &q->large[k - q->depth];
            uint64_t t = r->submit_ns;
            if (!r->busy || r->timeout_reported || now < t || now - t < limit)
                continue;
            r->timeout_reported = true;
            struct msg m;
            if (stress_error_begin(&m, WIRE_ERR_TIMEOUT, q, r)) {
                msg_u64(&m, "limit_ms", st.cfg->watchdog_ms);
                report_send(&m);
            }
        }
    }
}

bool stress_drained(void)
{
    return stress_total_inflight() == 0;
}

static bool stress_verify_finished(void)
{
    for (uint32_t i = 0; i < st.nall; i++)
        if (!st.all[i]->verify_done && !vblk_queue_broken(st.all[i]->vq))
            return false;
    return true;
}

static uint64_t stress_verified_total(void)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < st.nall; i++)
        n += st.all[i]->verified_blocks;
    return n;
}

/* Verification pass over every written block (samples = 0) or `samples` ranges per queue. */
static bool stress_verify_pass(uint32_t samples, uint64_t *checked, uint64_t *errors)
{
    uint32_t prev = st.phase;
    uint64_t errors_before = st.errors, blocks_before = stress_verified_total();
    for (uint32_t i = 0; i < st.nall; i++) {
        struct squeue *q = st.all[i];
        struct sdisk *d = q->disk;
        uint64_t stripe = d->region_blocks / d->nq;
        q->verify_start = d->region_start + stripe * q->index;
        q->verify_end = q->index == d->nq - 1 ? d->region_start + d->region_blocks : q->verify_start + stripe;
        q->verify_cursor = q->verify_start;
        q->verify_samples = samples;
        q->verify_done = false;
    }
    __atomic_store_n(&st.phase, PHASE_VERIFY, __ATOMIC_SEQ_CST);
    /* As long as it moves, a pass over a big disk may take its time; one that stops moving for
     * twice the watchdog limit has requests stuck (the watchdog names them) and ends unfinished. */
    bool ok = false;
    uint64_t seen = stress_verified_total(), now_seen;
    while (!(ok = stress_wait(stress_verify_finished, (uint64_t)st.cfg->watchdog_ms * 2))) {
        now_seen = stress_verified_total();
        if (now_seen == seen)
            break;
        seen = now_seen;
    }
    __atomic_store_n(&st.phase, prev, __ATOMIC_SEQ_CST);
    *checked = stress_verified_total() - blocks_before;
    *errors = st.errors - errors_before;
    return ok;
}

void stress_reply_begin(struct msg *m, const char *cmd, bool ok)
{
    report_begin_big(m, WIRE_MSG_REPLY); /* quiesce lists every queue */
    msg_str(m, "cmd", cmd);
    msg_bool(m, "ok", ok);
    msg_u64(m, "epoch", st.epoch);
}

static void stress_cmd_verify(const struct cmdline *c)
{
    uint64_t samples = 0, checked, errors;
    cmdline_u64(c, "sample", &samples);
    bool done = stress_verify_pass((uint32_t)samples, &checked, &errors);
    struct msg m;
    stress_reply_begin(&m, WIRE_CMD_VERIFY, done && errors == 0);
    msg_bool(&m, "finished", done);
    msg_u64(&m, "sample", samples);
    msg_u64(&m, "checked", checked);
    msg_u64(&m, "errors", errors);
    msg_u64(&m, "errors_total", st.errors);
    report_send(&m);
}

static void stress_cmd_quiesce(void)
{
    __atomic_store_n(&st.phase, PHASE_QUIESCE, __ATOMIC_SEQ_CST);
    bool drained = stress_wait(stress_drained, DRAIN_TIMEOUT_MS);
    struct msg m;
    stress_reply_begin(&m, WIRE_CMD_QUIESCE, drained);
    msg_u64(&m, "inflight", stress_total_inflight());
    msg_arr_begin(&m, "disks");
    for (uint32_t i = 0; i < st.ndisks; i++) {
        struct sdisk *d = st.disk[i];
        if (!d->vd.data)
            continue;
        msg_obj_begin(&m, NULL);
        msg_u64(&m, "disk", i);
        msg_str(&m, "serial", d->vd.serial);
        msg_arr_begin(&m, "queues");
        for (uint16_t q = 0; q < d->nq; q++)
            stress_queue_counters(&m, &d->q[q], true);
        msg_arr_end(&m);
        msg_obj_end(&m);
    }
    msg_arr_end(&m);
    report_send(&m);
}

/* tlb refresh=on|off: the host's TLB switch for a migration (kernel/tlb.h). */
static void stress_cmd_tlb(const struct cmdline *c)
{
    const char *v = NULL;
    for (uint32_t i = 0; i < c->nargs; i++)
        if (!strcmp(c->key[i], "refresh"))
            v = c->value[i];
    bool ok = v && (!strcmp(v, "on") || !strcmp(v, "off"));
    if (ok && tlb_refresh_host_controlled())
        tlb_refresh_set(!strcmp(v, "on"));
    struct msg m;
    stress_reply_begin(&m, WIRE_CMD_TLB, ok);
    msg_bool(&m, "refresh", tlb_refresh_enabled());
    msg_bool(&m, "host_controlled", tlb_refresh_host_controlled());
    report_send(&m);
}

/* dirty pages=N: keep N pages of guest memory dirty (0: stop; kernel/dirtier.h). */
static void stress_cmd_dirty(const struct cmdline *c)
{
    uint64_t pages = 0;
    bool ok = cmdline_u64(c, "pages", &pages);
    uint32_t now = ok ? dirtier_set(pages) : 0;
    struct msg m;
    stress_reply_begin(&m, WIRE_CMD_DIRTY, ok && (now > 0 || pages == 0));
    if (!ok)
        msg_str(&m, "error", "expected pages=N");
    else if (!now && pages)
        msg_str(&m, "error", "no memory to spare for it");
    msg_u64(&m, "pages", now);
    msg_u64(&m, "sweeps", dirtier_sweeps());
    report_send(&m);
}

/* The final-state table, as runs of blocks (kernel/expect.h text form), many per message. */
static void stress_cmd_state(void)
{
    struct msg m;
    char text[EXPECT_RUN_TEXT_MAX];
    uint64_t runs = 0;
    for (uint32_t i = 0; i < st.ndisks; i++) {
        struct sdisk *d = st.disk[i];
        if (!d->vd.data)
            continue;
        uint64_t cursor = expect_base(d->exp);
        struct expect_run run;
        bool more = true;
        while (more) {
            stress_reply_begin(&m, WIRE_CMD_STATE, true);
            msg_u64(&m, "disk", i);
            msg_str(&m, "serial", d->vd.serial);
            msg_u64(&m, "blk_size", d->vd.blk_size);
            msg_hex(&m, "seed", st.cfg->seed);
            msg_hex(&m, "disk_tag", d->vctx.disk_tag);
            msg_arr_begin(&m, "runs");
            for (int k = 0; k < 40; k++) {
                spin_lock(&d->lock);
                more = expect_encode_run(d->exp, &cursor, &run);
                spin_unlock(&d->lock);
                if (!more)
                    break;
                expect_run_format(&run, text, sizeof(text));
                msg_str(&m, NULL, text);
                runs++;
            }
            msg_arr_end(&m);
            msg_bool(&m, "last", !more);
            report_send(&m);
        }
    }
    stress_reply_begin(&m, WIRE_REPLY_STATE_END, true);
    msg_u64(&m, "runs", runs);
    report_send(&m);
}

static void stress_command(const char *line)
{
    struct cmdline c;
    const char *why;
    struct msg m;
    if (!cmdline_parse(line, &c, &why)) {
        stress_reply_begin(&m, "?", false);
        msg_str(&m, "line", line);
        msg_str(&m, "error", why);
        report_send(&m);
        return;
    }
    if (!strcmp(c.word, WIRE_CMD_VERIFY)) {
        stress_cmd_verify(&c);
    } else if (!strcmp(c.word, WIRE_CMD_QUIESCE)) {
        stress_cmd_quiesce();
    } else if (!strcmp(c.word, WIRE_CMD_RESUME)) {
        __atomic_store_n(&st.phase, PHASE_RUN, __ATOMIC_SEQ_CST);
        stress_reply_begin(&m, WIRE_CMD_RESUME, true);
        report_send(&m);
    } else if (!strcmp(c.word, WIRE_CMD_REPORT)) {
        stress_report_progress();
    } else if (!strcmp(c.word, WIRE_CMD_EPOCH)) {
        uint64_t e;
        bool ok = cmdline_u64(&c, "epoch", &e);
        if (ok)
            st.epoch = (uint32_t)e;
        stress_reply_begin(&m, WIRE_CMD_EPOCH, ok);
        report_send(&m);
    } else if (!strcmp(c.word, WIRE_CMD_FINISH)) {
        finishing = true;
    } else if (!strcmp(c.word, WIRE_CMD_STATE)) {
        stress_cmd_state();
    } else if (!strcmp(c.word, WIRE_CMD_TLB)) {
        stress_cmd_tlb(&c);
    } else if (!strcmp(c.word, WIRE_CMD_DIRTY)) {
        stress_cmd_dirty(&c);
    } else if (!strcmp(c.word, WIRE_CMD_RESET)) {
        stress_cmd_reset(&c);
    } else if (!strcmp(c.word, WIRE_CMD_HOTPLUG)) {
        stress_cmd_hotplug(&c);
    } else {
        stress_reply_begin(&m, c.word, false);
        msg_str(&m, "error", "unknown command; known: verify [sample=N], quiesce, resume, report, epoch epoch=N, finish, state, "
                               "tlb refresh=on|off, dirty pages=N, reset [disk=N] [queue=Q], hotplug");
        report_send(&m);
    }
}

static char cmd_line[256];
static bool in_command;

static void stress_control(void)
{
    uint64_t now = time_ms();
    if (st.cfg->report_ms && now >= next_progress_ms) {
        next_progress_ms = now + st.cfg->report_ms;
        stress_report_progress();
    }
    if (now >= next_watchdog_ms) {
        next_watchdog_ms = now + 100;
        stress_watchdog();
    }
    if (end_ms && now >= end_ms)
        finishing = true;
    if (!in_command && !finishing) {
        stress_reset_tick(now);
        stress_hotplug_tick(now);
    }
    dirtier_tick(now);
    /* Commands nest no deeper than one: a command's own waits keep the load going but do not
     * read further commands until it has replied. */
    if (!in_command && console_poll_line(cmd_line, sizeof(cmd_line))) {
        in_command = true;
        stress_command(cmd_line);
        in_command = false;
    }
}

/* CPU 0's work loop calls this between rounds; false ends the run. */
static bool stress_control_step(void)
{
    stress_control();
    return !finishing;
}

bool stress_wait(bool (*cond)(void), uint64_t timeout_ms)
{
    uint64_t deadline = time_ms() + timeout_ms;
    bool saved = in_command;
    in_command = true;
    while (!cond()) {
        if (time_ms() > deadline) {
            in_command = saved;
            return false;
        }
        struct squeue **mine = st.owned[0];
        for (uint32_t i = 0; i < st.nowned[0]; i++) {
            squeue_poll(mine[i]);
            squeue_fill(mine[i]);
        }
        stress_control();
        tlb_refresh();
        cpu_relax();
    }
    in_command = saved;
    return true;
}

static __attribute__((noreturn)) void stress_finish(void)
{
    uint64_t checked = 0, errors = 0;
    __atomic_store_n(&st.phase, PHASE_QUIESCE, __ATOMIC_SEQ_CST);
    bool drained = stress_wait(stress_drained, DRAIN_TIMEOUT_MS);
    bool verified = drained && stress_verify_pass(0, &checked, &errors);
    __atomic_store_n(&st.phase, PHASE_DONE, __ATOMIC_SEQ_CST);
    if (st.cfg->final_state)
        stress_cmd_state();
    stress_report_summary();
    if (!drained)
        report_verdict(WIRE_VERDICT_FAIL, "requests still in flight at the end (see timeout errors)");
    if (!verified)
        report_verdict(WIRE_VERDICT_FAIL, "the final verification pass stopped moving (see timeout errors)");
    if (st.errors)
        report_verdict(WIRE_VERDICT_FAIL, "errors found (see error messages)");
    report_verdict(WIRE_VERDICT_PASS, "no errors");
}

void stress_run(const struct config *cfg)
{
    if (st.ndata < cfg->min_disks) {
        report_log_u64("error", "fewer data disks than min_disks; data disks found:", st.ndata);
        report_verdict(WIRE_VERDICT_FAIL, "fewer data disks than min_disks (see hello: disks)");
    }
    stress_set_weights();
    apic_timer_start(100);
    stress_start_disks();
    st.start_ns = time_ns();
    end_ms = cfg->duration ? time_ms() + (uint64_t)cfg->duration * 1000 : 0;
    st.worker[0] = true;
    for (uint32_t c = 1; c < percpu_count; c++) {
        if (st.nowned[c]) {
            st.worker[c] = true;
            smp_run_on(c, stress_ap_main, (void *)(uintptr_t)c);
        }
    }
    stress_worker_loop(0, stress_control_step);
    stress_finish();
}
