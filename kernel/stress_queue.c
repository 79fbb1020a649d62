/*
 * stress_queue.c: one queue's load: state each request to the driver (stress_choose.c decides
 * what it is), complete and check it, and the worker loop. Runs only on the queue's owning CPU.
 */
#include "stress_internal.h"
#include "blockfmt.h"
#include "cpu.h"
#include "memory.h"
#include "ratelimit.h"
#include "report.h"
#include "time.h"
#include "tlb.h"

#define STARTUP_DEPTH 4   /* requests in flight per queue until the first verified read */
#define STARTUP_MS 200

static const char *const op_names[OP_COUNT] = {
    "read", "write", "flush", "discard", "write_zeroes", "get_id", "verify",
};

const char *squeue_op_name(uint8_t op)
{
    return op < OP_COUNT ? op_names[op] : "?";
}

void squeue_setup(struct squeue *q, struct sdisk *d, uint16_t index, uint32_t cpu)
{
    q->disk = d;
    q->index = index;
    q->cpu = cpu;
    q->vq = &d->vd.queue[index];
    q->vq->owner_cpu = cpu;
    prng_seed(&q->rng, prng_mix(st.cfg->seed, d->vd.index, index));
    q->next_seq = 1;
}

/* Request memory: done after the queue exists, since depth follows the queue size. */
bool squeue_alloc(struct squeue *q, const char **why)
{
    struct sdisk *d = q->disk;
    uint32_t bytes = d->max_blocks * d->vd.blk_size;
    uint16_t size = vblk_queue_size(q->vq);
    uint32_t depth = st.cfg->depth ? MIN(st.cfg->depth, (uint32_t)size) : size;
    uint32_t max_segs = MIN(q->vq->seg_room, bytes / 512);
    if (q->reqs && depth >= q->depth && max_segs == q->max_segs && bytes <= q->data_bytes) {
        /* A hot-plugged disk in a slot used before: its request memory is reused. */
        q->nfree = 0;
        for (uint32_t i = 0; i < q->depth; i++) {
            q->reqs[i].busy = 0;
            q->reqs[i].timeout_reported = false;
            q->free_ids[q->nfree++] = (uint16_t)i;
        }
        return true;
    }
    q->depth = depth;
    q->max_segs = max_segs;
    q->data_bytes = bytes;
    q->nfree = 0;
    q->reqs = pmm_alloc(sizeof(struct sreq) * q->depth, 64);
    q->free_ids = pmm_alloc(sizeof(uint16_t) * q->depth, 8);
    if (!q->reqs || !q->free_ids)
        goto oom;
    /* Every data buffer starts 512 bytes into a page (segments at offsets that are not 4 KiB
     * aligned), one after the other in one slab: a page-aligned buffer each would cost a page
     * more per request, which QEMU carries as resident memory (4 MiB at 4 x 256 x 4 KiB). A slab
     * too big for the memory left falls back to one buffer at a time, and maybe a shallower queue. */
    uint32_t stride = (uint32_t)ALIGN_UP(bytes, PAGE_SIZE);
    uint8_t *slab = pmm_alloc_uninit((size_t)stride * q->depth + 512, PAGE_SIZE); /* see below */
    for (uint32_t i = 0; i < q->depth; i++) {
        struct sreq *r = &q->reqs[i];
        r->vr = vblk_req_alloc(q->vq, q->max_segs);
        /* Data buffers are not cleared: a write fills its buffer, a read's is the device's to
         * fill (a short one is caught by its used length), before anything looks at it. */
        uint8_t *buf = slab ? slab + (size_t)stride * i : pmm_alloc_uninit(bytes + 512, PAGE_SIZE);
        r->snap = pmm_alloc(sizeof(struct expect_snap) * d->max_blocks, 8);
        r->gens = pmm_alloc(sizeof(uint32_t) * d->max_blocks, 8);
        if (!r->vr || !buf || !r->snap || !r->gens) {
            if (i < 8)
                goto oom;
            q->depth = i; /* less memory than depth wants: run shallower, say so in hello */
            break;
        }
        r->data = buf + 512;
        q->free_ids[q->nfree++] = (uint16_t)i;
    }
    return squeue_large_alloc(q, why);
oom:
    *why = "out of memory for request buffers";
    return false;
}

/* Cut io's data (nblocks blocks, io->bytes long) into segments: one, one per block, or 512-byte
 * pieces, within seg_max and size_max, as one run the ring cuts (io->seg_bytes, io->nsegs).
 * The usual cuts need no division (a QEMU helper call under TCG). */
static void squeue_segments(struct squeue *q, struct vblk_io *io, uint32_t nblocks, uint16_t room,
                            bool many)
{
    const struct vblk_disk *vd = &q->disk->vd;
    uint32_t bytes = io->bytes, sectors = bytes / 512, want;
    switch (many ? 1 : prng_below_pow2(&q->rng, 4)) {
    case 0: want = nblocks; break;
    case 1: want = sectors; break;
    default: want = 1; break;
    }
    uint32_t max_segs = MIN(vd->seg_max, (uint32_t)room);
    if (vd->size_max)
        want = MAX(want, (bytes + vd->size_max - 1) / vd->size_max);
    want = MAX(MIN(want, max_segs), 1u);
    uint32_t seg, n;
    if (want == 1) {
        seg = bytes; /* a multiple of 512: blocks are */
        n = 1;
    } else if (want == sectors) {
        seg = 512;
        n = sectors;
    } else if (want == nblocks) {
        seg = vd->blk_size;
        n = nblocks;
    } else {
        seg = ALIGN_UP((bytes + want - 1) / want, 512u);
        n = 0; /* counted below */
    }
    if (vd->size_max && seg > vd->size_max) {
        seg = vd->size_max & ~511u;
        n = 0;
    }
    if (n == 0)
        n = (bytes + seg - 1) / seg;
    if (n > room) { /* a device whose seg_max * size_max cannot carry the request: cut it short */
        n = room;
        io->bytes = seg * n;
    }
    io->seg_bytes = seg;
    io->nsegs = (uint16_t)n;
}

static void squeue_fill_data(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    uint32_t bs = d->vd.blk_size;
    if (r->zero_data) {
        memset(r->data, 0, (size_t)r->nblocks * bs);
        return;
    }
    for (uint32_t i = 0; i < r->nblocks; i++) {
        struct blk_stamp s = {
            .seed = st.cfg->seed, .disk_tag = d->vctx.disk_tag, .lba = r->lba + i,
            .gen = r->gens[i], .writer_q = q->index, .req_seq = r->seq, .epoch = r->epoch,
        };
        blk_fill(r->data + (size_t)i * bs, bs, &s);
    }
}

static const uint8_t vblk_ops[OP_COUNT] = {
    [OP_READ] = VBLK_READ, [OP_WRITE] = VBLK_WRITE, [OP_FLUSH] = VBLK_FLUSH,
    [OP_DISCARD] = VBLK_DISCARD, [OP_WRITE_ZEROES] = VBLK_WRITE_ZEROES,
    [OP_GET_ID] = VBLK_GET_ID, [OP_VERIFY] = VBLK_READ,
};

/* State the request to the driver and submit it. The range is already claimed. *now: the fill
 * round's time (each TSC read is a QEMU helper taking a lock under TCG), read at the round's
 * start and again after each write's data fill, the one slow step (thousands of instructions a
 * 4 KiB write): a read's submit time is then at most a few dozen reads early, microseconds, and
 * ages and the watchdog count in milliseconds. */
static void squeue_post(struct squeue *q, struct sreq *r, uint64_t *now)
{
    struct sdisk *d = q->disk;
    struct vblk_io io = {
        .op = vblk_ops[r->op],
        .sector = r->lba * d->spb,
        .num_sectors = r->nblocks * d->spb,
        .data = r->data,
        .bytes = r->nblocks * d->vd.blk_size,
    };
    if (r->op == OP_WRITE) {
        squeue_fill_data(q, r);
        *now = time_ns();
    }
    if (r->large)
        squeue_large_segments(q, &io);
    else if (r->op == OP_READ || r->op == OP_VERIFY || r->op == OP_WRITE)
        squeue_segments(q, &io, r->nblocks, (uint16_t)MIN(q->max_segs, (uint32_t)VBLK_SEGS_MAX),
                        r->burst);
    /* Mix indirect tables with direct chains (the driver decides what the device allows); a
     * burst takes one ring descriptor per request, so the whole run fits before one kick. */
    io.indirect = r->burst || ((io.nsegs > 1 || prng_below_pow2(&q->rng, 2)) && prng_below_pow2(&q->rng, 4) != 0);
    r->submit_ns = *now;
    r->busy = 1;
    if (vblk_submit(q->vq, r->vr, &io, r) < 0) {
        /* Room was checked before the claim, so only a broken queue lands here. */
        r->busy = 0;
        return;
    }
    r->head = r->vr->head;
    r->segs = r->vr->descs;
    r->indirect_used = r->vr->indirect_used;
    q->inflight++;
    tlb_refresh(); /* after every request's writes: see tlb.h */
}

void squeue_fill(struct squeue *q)
{
    uint32_t phase = st.phase;
    bool posted = false;
    if (phase == PHASE_QUIESCE || phase == PHASE_DONE || phase == PHASE_RESET || vblk_queue_broken(q->vq) ||
        q->disk->leaving)
        return;
    if (phase == PHASE_VERIFY && q->verify_cursor >= q->verify_end) {
        if (q->inflight == 0)
            q->verify_done = true;
        return;
    }
    /* Start shallow: until the first read is verified (for STARTUP_MS at most: a load without
     * writes never verifies one), a queue keeps STARTUP_DEPTH requests in flight, so its first
     * write completes within a round trip and its read-back (stress_choose.c) is not queued
     * behind hundreds of requests in QEMU's thread pool: a verified read 10-20 ms after hello,
     * not 30-50. The full depth follows at once. */
    uint32_t cap = q->depth;
    uint64_t now = time_ns();
    if (!st.first_verified && phase == PHASE_RUN && now - st.start_ns < STARTUP_MS * 1000000ull)
        cap = MIN(cap, STARTUP_DEPTH);
    while (q->nfree && q->inflight < cap && vblk_can_submit(q->vq, q->max_segs)) {
        if (st.cfg->rate && phase == PHASE_RUN) {
            if (!ratelimit_admit(&q->next_submit_ns, time_ns(), st.cfg->rate))
                break;
        }
        /* A seeded share as large as the device allows (max_request), when one is free. */
        struct sreq *r = squeue_take_large(q, phase);
        if (!r) {
            r = &q->reqs[q->free_ids[q->nfree - 1]];
            r->seq = q->next_seq; /* the claim records it as the writer's tag */
            if (!squeue_prepare(q, r, phase))
                break;
            q->nfree--;
        }
        q->next_seq++;
        squeue_post(q, r, &now);
        posted = true;
        if (vblk_queue_broken(q->vq))
            break;
    }
    if (posted)
        vblk_kick(q->vq);
}

/* Give the request's range back to the expected-state table. False when the table did not have
 * it in flight: the device completed something we had already seen completed. */
static bool squeue_release(struct squeue *q, struct sreq *r, bool ok)
{
    struct sdisk *d = q->disk;
    bool consistent = true;
    if ((r->op == OP_READ || r->op == OP_VERIFY) && !r->judged)
        return true; /* the table counted nothing for it: nothing to give back */
    spin_lock(&d->lock);
    switch (r->op) {
    case OP_READ:
    case OP_VERIFY:
        consistent = expect_end_read(d->exp, r->lba, r->nblocks, r->snap);
        break;
    case OP_WRITE:
    case OP_DISCARD:
    case OP_WRITE_ZEROES:
        consistent = expect_end_write(d->exp, r->lba, r->nblocks, ok);
        break;
    }
    spin_unlock(&d->lock);
    return consistent;
}

static void squeue_complete(struct squeue *q, struct sreq *r, uint32_t len)
{
    struct sdisk *d = q->disk;
    uint32_t bytes = r->nblocks * d->vd.blk_size;
    uint8_t status = vblk_req_status(r->vr);
    bool ok = status == VIRTIO_BLK_S_OK;

    if (!ok) {
        stress_report_status_error(q, r, status, len, status == VBLK_STATUS_NONE ? "device wrote no status byte" : NULL);
    } else if ((r->op == OP_READ || r->op == OP_VERIFY) && len != bytes + 1) {
        /* The device says it wrote less than the whole buffer: the data cannot be trusted. */
        stress_report_status_error(q, r, status, len, "used length differs from data + status");
        ok = false;
    } else if (r->op == OP_READ || r->op == OP_VERIFY) {
        /* A read that judges nothing (never-written blocks: all reads on null-co) passes
         * whatever it returned: verify_read would look at no block of it. */
        struct verify_result res;
        if (r->judged) {
            if (!verify_read(&d->vctx, r->lba, r->nblocks, r->data, r->snap, &res))
                stress_report_verify_error(q, r, &res);
            else if (!st.first_verified && res.checked &&
                     !__atomic_exchange_n(&st.first_verified, true, __ATOMIC_RELAXED))
                stress_report_first_verified(q, r);
        }
        if (r->op == OP_VERIFY)
            q->verified_blocks += r->nblocks;
    } else if (r->op == OP_GET_ID) {
        char id[VIRTIO_BLK_ID_BYTES + 1];
        memcpy(id, vblk_req_id(r->vr), VIRTIO_BLK_ID_BYTES);
        id[VIRTIO_BLK_ID_BYTES] = 0;
        if (memcmp(id, d->first_id, sizeof(id)))
            stress_report_status_error(q, r, status, len, "GET_ID answered differently from its first answer");
    }
    if (!r->busy || !squeue_release(q, r, ok)) {
        struct msg m;
        if (stress_error_begin(&m, WIRE_ERR_DOUBLE, q, r)) {
            msg_bool(&m, "was_busy", r->busy);
            msg_u64(&m, "used_len", len);
            msg_u64(&m, "last_used", vblk_queue_used_idx(q->vq));
            msg_u64(&m, "avail_idx", vblk_queue_avail_idx(q->vq));
            msg_str(&m, "detail", "completion of a request whose range was not in flight");
            report_send(&m);
        }
        if (!r->busy)
            return; /* already back on the free list: do not free it twice */
    }
    if (ok && r->op == OP_WRITE) {
        q->recent_lba = r->lba;
        q->recent_n = r->nblocks;
    }
    q->op_count[r->op]++;
    q->ops++;
    q->bytes += bytes;
    r->busy = 0;
    q->inflight--;
    if (r->large)
        squeue_large_done(q, r);
    else
        q->free_ids[q->nfree++] = (uint16_t)(r - q->reqs);
    tlb_refresh();
}

void squeue_poll(struct squeue *q)
{
    uint32_t len;
    struct sreq *r;
    if (st.phase == PHASE_RESET)
        return; /* the ring is being laid out again */
    tlb_refresh(); /* a vCPU may wake from HLT with TLB entries older than a dirty-bitmap sync */
    while ((r = vblk_collect(q->vq, &len)) != NULL)
        squeue_complete(q, r, len);
    if (vblk_queue_broken(q->vq) && !q->broken_reported) {
        q->broken_reported = true;
        stress_report_broken(q);
    }
}

/* Poll and refill every queue this CPU owns, forever (APs: until PHASE_DONE; CPU 0: until
 * control() says stop). Sleeps in interrupt mode when nothing moved. */
void stress_worker_loop(uint32_t cpu, bool (*control)(void))
{
    struct squeue **mine = st.owned[cpu];
    uint32_t n = 0, gen = ~0u;
    bool irq = false;

    for (;;) {
        if (!control && st.phase == PHASE_DONE)
            return;
        if (!control && st.phase == PHASE_RESET) {
            /* Say "I am out of every ring" and wait: CPU 0 resets a disk (or adds or removes a
             * hot-plugged one) meanwhile. */
            __atomic_store_n(&st.parked[cpu], st.reset_gen, __ATOMIC_SEQ_CST);
            cpu_relax();
            continue;
        }
        if (gen != st.owned_gen) {
            /* The queues this CPU owns changed (hot-plug; only while every worker is parked). */
            gen = st.owned_gen;
            n = st.nowned[cpu];
            /* Sleep between rounds only when every queue this CPU owns takes interrupts: a disk
             * that fell back to polling (hello says why) would otherwise wait for the 100 Hz tick. */
            irq = st.cfg->mode == CONFIG_MODE_IRQ;
            for (uint32_t i = 0; i < n; i++)
                irq &= mine[i]->disk->vd.irq_mode;
        }
        tlb_refresh();
        uint64_t before = 0, after = 0;
        for (uint32_t i = 0; i < n; i++) {
            before += mine[i]->ops + mine[i]->inflight;
            squeue_poll(mine[i]);
            squeue_fill(mine[i]);
            after += mine[i]->ops + mine[i]->inflight;
        }
        if (control && !control())
            return;
        if (before != after)
            continue;
        if (irq) {
            /* Sleep until a queue interrupt or the 100 Hz tick, unless work slipped in. While
             * the worker is busy its queues stay muted: completions are polled, not signalled. */
            bool idle = true;
            for (uint32_t i = 0; i < n; i++)
                idle &= vblk_irq_arm(mine[i]->vq);
            if (idle)
                cpu_idle();
            for (uint32_t i = 0; i < n; i++)
                vblk_irq_mute(mine[i]->vq);
        } else {
            cpu_relax();
        }
    }
}
