/*
 * stress_hotplug.c: data disks that come and go while the load runs, through PCIe native hot-plug
 * slots (drivers/pcie_slot.h). A card found in a powered-off slot is powered on, probed through
 * the ordinary virtio-blk path and hammered like a boot-time disk (a fresh, unwritten expected
 * state); the attention button (QEMU's device_del) makes the guest stop submitting to that disk,
 * wait for what is in flight (or give it up after hotplug_drain_ms), take its queues from the
 * workers, reset the device and power the slot off, which is the guest's acknowledgement. CPU 0
 * does all of it, from the control loop's poll or the host's `hotplug` command.
 */
#include "stress_internal.h"
#include "pcie_slot.h"
#include "report.h"
#include "time.h"

enum hp_state { HP_EMPTY, HP_ACTIVE, HP_FAILED };

struct hp_removal {
    bool valid, surprise, drained, present;
    char serial[VIRTIO_BLK_ID_BYTES + 1];
    uint32_t disk;
    uint64_t ops, bytes, errors, verified, inflight, abandoned;
};

struct hp_slot {
    struct pcie_slot ps;
    int disk;                   /* st.disk index of the slot's disk (kept for re-plugs), -1 none */
    uint8_t state;
    uint32_t plugs, unplugs;
    const char *error;          /* why the last card could not be brought up */
    struct hp_removal last;
};

static struct hp_slot slots[PCIE_SLOTS_MAX];
static uint32_t nslots;
static uint64_t next_poll_ms;
static uint32_t next_cpu;
static struct sdisk *draining;

static const char *hp_state_name(uint8_t s)
{
    return s == HP_ACTIVE ? WIRE_SLOT_ACTIVE : s == HP_FAILED ? WIRE_SLOT_FAILED : WIRE_SLOT_EMPTY;
}

void stress_hotplug_init(void)
{
    struct pcie_slot found[PCIE_SLOTS_MAX];
    nslots = st.cfg->hotplug == CONFIG_HOTPLUG_OFF ? 0 : pcie_slots_find(found, PCIE_SLOTS_MAX);
    for (uint32_t i = 0; i < nslots; i++) {
        struct hp_slot *h = &slots[i];
        struct pcie_slot_events ev;
        h->ps = found[i];
        h->disk = -1;
        pcie_slot_poll(&h->ps, &ev);
        /* A card there since boot, powered: the firmware placed it and vblk_find probed it. */
        for (uint32_t k = 0; ev.present && ev.powered && k < st.ndisks; k++) {
            if (vblk_on_bus(&st.disk[k]->vd, h->ps.sec_bus)) {
                h->disk = (int)k;
                h->state = HP_ACTIVE;
            }
        }
    }
}

static void hp_slot_members(struct msg *m, const struct hp_slot *h)
{
    char port[8];
    pcie_slot_name(&h->ps, port);
    msg_u64(m, "slot", h->ps.psn);
    msg_str(m, "port", port);
}

static void hp_describe_slot(struct msg *m, const struct hp_slot *h)
{
    msg_obj_begin(m, NULL);
    hp_slot_members(m, h);
    msg_u64(m, "bus", h->ps.sec_bus);
    msg_str(m, "state", hp_state_name(h->state));
    msg_u64(m, "mem_window", h->ps.mem.base <= h->ps.mem.limit ? h->ps.mem.limit - h->ps.mem.base + 1 : 0);
    msg_u64(m, "pref_window", h->ps.pref.base <= h->ps.pref.limit ? h->ps.pref.limit - h->ps.pref.base + 1 : 0);
    msg_u64(m, "plugs", h->plugs);
    msg_u64(m, "unplugs", h->unplugs);
    if (h->state == HP_ACTIVE && h->disk >= 0) {
        struct sdisk *d = st.disk[h->disk];
        msg_u64(m, "disk", (uint64_t)h->disk);
        msg_str(m, "serial", d->vd.serial);
        msg_str(m, "role", d->vd.data ? "data" : "ignored");
        if (d->vd.data) {
            uint64_t ops = 0;
            for (uint16_t q = 0; q < d->nq; q++)
                ops += d->q[q].ops;
            msg_u64(m, "ops", ops);
        }
    }
    if (h->error)
        msg_str(m, "error", h->error);
    if (h->last.valid) {
        const struct hp_removal *r = &h->last;
        msg_obj_begin(m, "last");
        msg_u64(m, "disk", r->disk);
        msg_str(m, "serial", r->serial);
        msg_u64(m, "ops", r->ops);
        msg_u64(m, "bytes", r->bytes);
        msg_u64(m, "errors", r->errors);
        msg_u64(m, "verified", r->verified);
        msg_u64(m, "inflight", r->inflight);
        msg_u64(m, "completed", r->inflight - r->abandoned);
        msg_u64(m, "abandoned", r->abandoned);
        msg_bool(m, "drained", r->drained);
        msg_bool(m, "surprise", r->surprise);
        msg_bool(m, "present", r->present);
        msg_obj_end(m);
    }
    msg_obj_end(m);
}

void stress_hotplug_describe(struct msg *m)
{
    msg_arr_begin(m, "hotplug_slots");
    for (uint32_t i = 0; i < nslots; i++)
        hp_describe_slot(m, &slots[i]);
    msg_arr_end(m);
}

static void hp_failed(struct hp_slot *h, const char *why)
{
    struct msg m;
    h->state = HP_FAILED;
    h->error = why;
    msg_begin(&m, WIRE_MSG_LOG);
    msg_str(&m, "level", "error");
    msg_str(&m, "event", WIRE_EVENT_HOTPLUG_FAILED);
    hp_slot_members(&m, h);
    msg_str(&m, "error", why);
    msg_str(&m, "text", "a hot-plugged card could not be brought up");
    report_send(&m);
}

/* The next CPU that runs a worker loop, round-robin: only those take queues mid-run. */
static uint32_t hp_next_worker(void)
{
    for (uint32_t n = 0; n < MAX_CPUS; n++) {
        uint32_t c = next_cpu++ % MAX_CPUS;
        if (st.worker[c])
            return c;
    }
    return 0;
}

/* A queue as fresh as at boot, keeping its request memory (squeue_alloc reuses it). */
static void hp_squeue_fresh(struct squeue *q)
{
    struct sreq *reqs = q->reqs;
    uint16_t *free_ids = q->free_ids;
    uint32_t depth = q->depth, max_segs = q->max_segs, data_bytes = q->data_bytes;
    memset(q, 0, sizeof(*q));
    q->reqs = reqs;
    q->free_ids = free_ids;
    q->depth = depth;
    q->max_segs = max_segs;
    q->data_bytes = data_bytes;
}

/* The disk's queues join the workers' lists (every worker parked meanwhile). */
static bool hp_hand_out(struct sdisk *d)
{
    uint32_t prev = st.phase;
    if (!stress_park(prev))
        return false;
    for (uint16_t q = 0; q < d->nq; q++) {
        uint32_t cpu = d->q[q].cpu;
        st.owned[cpu][st.nowned[cpu]++] = &d->q[q];
        st.all[st.nall++] = &d->q[q];
    }
    st.ndata++;
    st.owned_gen++;
    stress_unpark(prev);
    return true;
}

static void hp_list_remove(struct squeue **list, volatile uint32_t *n, const struct sdisk *d)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < *n; i++)
        if (list[i]->disk != d)
            list[k++] = list[i];
    *n = k;
}

static bool hp_take_back(struct sdisk *d)
{
    uint32_t prev = st.phase;
    if (!stress_park(prev))
        return false;
    for (uint32_t c = 0; c < MAX_CPUS; c++)
        hp_list_remove(st.owned[c], &st.nowned[c], d);
    hp_list_remove(st.all, &st.nall, d);
    st.ndata--;
    st.owned_gen++;
    stress_unpark(prev);
    return true;
}

static void hp_announce_added(struct hp_slot *h)
{
    struct msg m;
    msg_begin(&m, WIRE_MSG_LOG);
    msg_str(&m, "level", "info");
    msg_str(&m, "event", WIRE_EVENT_DISK_ADDED);
    hp_slot_members(&m, h);
    stress_describe_disk(&m, (uint32_t)h->disk);
    msg_str(&m, "text", "hot-plugged disk found and started");
    report_send(&m);
}

/* A card arrived in slot h: power on, probe, start, hammer. */
static void hp_add(struct hp_slot *h)
{
    const struct config *c = st.cfg;
    const char *why = NULL;
    struct pci_dev *p = pcie_slot_power_on(&h->ps, &why);
    if (!p) {
        hp_failed(h, why);
        return;
    }
    h->plugs++;
    h->error = NULL;
    if (!vblk_is_disk(p)) {
        pci_disable(p);
        hp_failed(h, "the card is not a virtio-blk device: left powered off");
        pcie_slot_power_off(&h->ps);
        return;
    }
    if (h->disk < 0) {
        if (st.ndisks >= STRESS_MAX_DISKS) {
            hp_failed(h, "no room for another disk (STRESS_MAX_DISKS)");
            pcie_slot_power_off(&h->ps);
            return;
        }
        h->disk = (int)st.ndisks;
        st.disk[st.ndisks] = stress_disk_storage(st.ndisks);
        st.ndisks++;
    }
    struct sdisk *d = st.disk[h->disk];
    struct vblk_find_opts o = {
        .serial_prefix = c->serial_prefix, .event_idx = c->event_idx, .indirect = c->indirect, .packed = c->packed,
    };
    vblk_forget(&d->vd);
    d->leaving = false;
    d->large_on = false; /* the large pool (max_request) is taken at start, for boot-time disks */
    d->large_why = "a hot-plugged disk has no large pool";
    h->state = HP_ACTIVE;
    if (vblk_attach(&d->vd, p, (uint32_t)h->disk, &o) && (why = stress_setup_disk(d, c)) != NULL) {
        d->vd.data = false;
        d->vd.ignore_reason = why;
    }
    if (!d->vd.data) { /* listed and left alone, as at boot */
        hp_announce_added(h);
        return;
    }
    d->nq = c->queues ? (uint16_t)MIN(c->queues, (uint32_t)d->vd.num_queues) : d->vd.num_queues;
    for (uint16_t q = 0; q < d->nq; q++) {
        hp_squeue_fresh(&d->q[q]);
        squeue_setup(&d->q[q], d, q, hp_next_worker());
    }
    if (!vblk_start(&d->vd, d->nq, c->mode == CONFIG_MODE_IRQ, &why)) {
        vblk_detach(&d->vd);
        hp_failed(h, why);
        pcie_slot_power_off(&h->ps);
        return;
    }
    for (uint16_t q = 0; q < d->nq; q++) {
        if (!squeue_alloc(&d->q[q], &why)) {
            vblk_detach(&d->vd);
            hp_failed(h, why);
            pcie_slot_power_off(&h->ps);
            return;
        }
    }
    if (!hp_hand_out(d)) {
        vblk_detach(&d->vd);
        hp_failed(h, "a worker CPU did not leave the rings");
        pcie_slot_power_off(&h->ps);
        return;
    }
    hp_announce_added(h);
}

static bool hp_drained(void)
{
    for (uint16_t q = 0; q < draining->nq; q++)
        if (draining->q[q].inflight)
            return false;
    return true;
}

/* Let slot h's disk go: stop submitting, drain (or give up), take its queues back, reset the
 * device, power the slot off; surprise: the card is already gone. */
static void hp_remove(struct hp_slot *h, bool surprise)
{
    struct hp_removal *r = &h->last;
    /* Only an active slot's disk belongs to the card now in it (a failed card never got one). */
    struct sdisk *d = h->state == HP_ACTIVE && h->disk >= 0 ? st.disk[h->disk] : NULL;
    memset(r, 0, sizeof(*r));
    r->valid = true;
    r->surprise = surprise;
    r->drained = true;
    if (d && d->vd.data) {
        d->leaving = true;
        draining = d;
        for (uint16_t q = 0; q < d->nq; q++)
            r->inflight += d->q[q].inflight;
        /* The device still works until its slot is powered off: what is in flight completes
         * and is checked as usual, unless the card is gone or the wait runs out. */
        r->drained = !surprise && stress_wait(hp_drained, st.cfg->hotplug_drain_ms);
        for (uint16_t q = 0; q < d->nq; q++) {
            r->abandoned += d->q[q].inflight;
            r->ops += d->q[q].ops;
            r->bytes += d->q[q].bytes;
            r->errors += d->q[q].errors;
            r->verified += d->q[q].verified_blocks;
        }
        if (!hp_take_back(d))
            report_verdict(WIRE_VERDICT_FAIL, "a worker CPU did not leave the rings for a hot-unplug");
    }
    if (d) {
        r->disk = (uint32_t)h->disk;
        memcpy(r->serial, d->vd.serial, sizeof(r->serial));
        vblk_detach(&d->vd);
        d->vd.ignore_reason = "hot-unplugged";
    }
    r->present = pcie_slot_power_off(&h->ps);
    h->state = HP_EMPTY;
    h->unplugs++;
    struct msg m;
    msg_begin(&m, WIRE_MSG_LOG);
    msg_str(&m, "level", "info");
    msg_str(&m, "event", WIRE_EVENT_DISK_REMOVED);
    hp_slot_members(&m, h);
    msg_u64(&m, "disk", r->disk);
    msg_str(&m, "serial", r->serial);
    msg_u64(&m, "ops", r->ops);
    msg_u64(&m, "bytes", r->bytes);
    msg_u64(&m, "errors", r->errors);
    msg_u64(&m, "verified", r->verified);
    msg_u64(&m, "inflight", r->inflight);
    msg_u64(&m, "completed", r->inflight - r->abandoned);
    msg_u64(&m, "abandoned", r->abandoned);
    msg_bool(&m, "surprise", r->surprise);
    msg_bool(&m, "present", r->present);
    msg_str(&m, "text", "hot-unplugged disk let go, slot powered off");
    report_send(&m);
}

/* Look at every slot once and act on what changed. */
static void hp_scan(void)
{
    for (uint32_t i = 0; i < nslots; i++) {
        struct hp_slot *h = &slots[i];
        struct pcie_slot_events ev;
        pcie_slot_poll(&h->ps, &ev);
        if (h->state == HP_EMPTY) {
            /* 6.7.1.5 / 6.7.3.4: a card present in a slot that is off is a request to use it
             * (QEMU presses the attention button and changes presence together). */
            if (ev.present && !ev.powered && st.cfg->hotplug != CONFIG_HOTPLUG_IGNORE_CARD)
                hp_add(h);
        } else if (!ev.present) {
            hp_remove(h, true);
        } else if (ev.button && st.cfg->hotplug != CONFIG_HOTPLUG_IGNORE_BUTTON) {
            /* 6.7.1.5 Attention Button: "hot-plug software ... initiates the hot-removal". */
            if (h->state == HP_FAILED)
                pcie_slot_power_on(&h->ps, &h->error); /* off again below: QEMU needs the change */
            hp_remove(h, false);
        }
    }
}

void stress_hotplug_tick(uint64_t now_ms)
{
    if (!nslots || st.phase != PHASE_RUN || now_ms < next_poll_ms)
        return;
    next_poll_ms = now_ms + WIRE_HOTPLUG_POLL_MS;
    hp_scan();
}

void stress_cmd_hotplug(const struct cmdline *c)
{
    (void)c;
    struct msg m;
    bool run = st.phase == PHASE_RUN;
    if (run)
        hp_scan();
    stress_reply_begin(&m, WIRE_CMD_HOTPLUG, run);
    if (!run)
        msg_str(&m, "error", "the load is not running (quiesced?): send resume first");
    stress_hotplug_describe(&m);
    report_send(&m);
}
