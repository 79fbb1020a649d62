/*
 * stress_queue.c: one queue's load: choose an operation, build and post it, complete and check
 * it. Runs only on the queue's owning CPU.
 */
#include "stress_internal.h"
#include "blockfmt.h"
#include "cpu.h"
#include "memory.h"
#include "report.h"
#include "time.h"
#include "tlb.h"

#define GET_ID_EVERY 512        /* one GET_ID among this many operations */
#define WRITE_RETRIES 4         /* other LBAs tried when a write range is busy */
#define BURST_ODDS 32           /* a merge burst starts at one request in this many */

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
    q->depth = st.cfg->depth ? MIN(st.cfg->depth, (uint32_t)size) : size;
    q->max_segs = MIN(q->vq->seg_room, bytes / 512);
    q->reqs = pmm_alloc(sizeof(struct sreq) * q->depth, 64);
    q->free_ids = pmm_alloc(sizeof(uint16_t) * q->depth, 8);
    if (!q->reqs || !q->free_ids)
        goto oom;
    for (uint32_t i = 0; i < q->depth; i++) {
        struct sreq *r = &q->reqs[i];
        r->vr = vblk_req_alloc(q->vq, q->max_segs);
        /* 512 bytes into a page: segments at offsets that are not 4 KiB aligned */
        uint8_t *buf = pmm_alloc(bytes + 512, PAGE_SIZE);
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
    return true;
oom:
    *why = "out of memory for request buffers";
    return false;
}

static uint8_t squeue_pick_op(struct squeue *q)
{
    uint32_t total = 0;
    for (int i = 0; i < OP_COUNT; i++)
        total += st.weights[i];
    if (prng_below(&q->rng, GET_ID_EVERY) == 0)
        return OP_GET_ID;
    uint32_t x = (uint32_t)prng_below(&q->rng, total);
    for (uint8_t i = 0; i < OP_COUNT; i++) {
        if (x < st.weights[i])
            return i;
        x -= st.weights[i];
    }
    return OP_READ;
}

/* A range in the region: mostly random, sometimes continuing the previous one (mergeable). */
static void squeue_pick_range(struct squeue *q, uint32_t align, uint32_t max_n, uint64_t *lba, uint32_t *n)
{
    struct sdisk *d = q->disk;
    const struct config *c = st.cfg;
    uint32_t hi = MIN(MIN(c->max_blocks, d->max_blocks), max_n);
    uint32_t lo = MIN(c->min_blocks, hi);
    *n = (uint32_t)prng_range(&q->rng, lo, hi);
    if (*n > d->region_blocks)
        *n = (uint32_t)d->region_blocks;
    uint64_t end = d->region_start + d->region_blocks;
    if (align <= 1 && q->burst_next && q->burst_next + *n <= end && prng_below(&q->rng, 4) == 0) {
        *lba = q->burst_next;
    } else {
        *lba = d->region_start + prng_below(&q->rng, d->region_blocks - *n + 1);
        if (align > 1) {
            *lba -= (*lba - d->region_start) % align;
            *n = MAX(*n - *n % align, MIN(align, (uint32_t)d->region_blocks));
        }
    }
    q->burst_next = *lba + *n;
}

/* Cut the data buffer into segments: one, one per block, or 512-byte pieces, within seg_max
 * and size_max. Returns the segment count written to bufs. */
static uint16_t squeue_segments(struct squeue *q, uint8_t *data, uint32_t bytes, struct vblk_seg *segs, uint16_t room,
                                bool many)
{
    const struct vblk_disk *vd = &q->disk->vd;
    uint32_t want;
    switch (many ? 1 : prng_below(&q->rng, 4)) {
    case 0: want = bytes / vd->blk_size; break;
    case 1: want = bytes / 512; break;
    default: want = 1; break;
    }
    uint32_t max_segs = MIN(vd->seg_max, (uint32_t)room);
    if (vd->size_max)
        want = MAX(want, (bytes + vd->size_max - 1) / vd->size_max);
    want = MAX(MIN(want, max_segs), 1u);
    uint32_t seg = ALIGN_UP((bytes + want - 1) / want, 512u);
    if (vd->size_max && seg > vd->size_max)
        seg = vd->size_max & ~511u;
    uint16_t n = 0;
    for (uint32_t off = 0; off < bytes && n < room; off += seg, n++) {
        segs[n].buf = data + off;
        segs[n].len = MIN(seg, bytes - off);
    }
    return n;
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

/* Reserve the range in the expected-state table; false when it is busy. */
static bool squeue_claim(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    struct expect_tag tag = { q->index, r->seq };
    bool ok;
    spin_lock(&d->lock);
    switch (r->op) {
    case OP_READ:
    case OP_VERIFY:
        ok = expect_begin_read(d->exp, r->lba, r->nblocks, r->snap);
        break;
    case OP_WRITE:
        ok = expect_begin_write(d->exp, r->lba, r->nblocks, r->zero_data ? EXPECT_ZERO : EXPECT_GEN, tag, r->gens);
        break;
    case OP_DISCARD:
        ok = expect_begin_write(d->exp, r->lba, r->nblocks, EXPECT_DISCARDED, tag, r->gens);
        break;
    case OP_WRITE_ZEROES:
        ok = expect_begin_write(d->exp, r->lba, r->nblocks, EXPECT_ZERO, tag, r->gens);
        break;
    default:
        ok = true;
    }
    spin_unlock(&d->lock);
    return ok;
}

static const uint8_t vblk_ops[OP_COUNT] = {
    [OP_READ] = VBLK_READ, [OP_WRITE] = VBLK_WRITE, [OP_FLUSH] = VBLK_FLUSH,
    [OP_DISCARD] = VBLK_DISCARD, [OP_WRITE_ZEROES] = VBLK_WRITE_ZEROES,
    [OP_GET_ID] = VBLK_GET_ID, [OP_VERIFY] = VBLK_READ,
};

/* State the request to the driver and submit it. The range is already claimed. */
static void squeue_post(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    struct vblk_seg segs[VBLK_SEGS_MAX];
    uint32_t bytes = r->nblocks * d->vd.blk_size;
    struct vblk_io io = {
        .op = vblk_ops[r->op],
        .sector = r->lba * d->spb,
        .num_sectors = r->nblocks * d->spb,
        .segs = segs,
    };
    if (r->op == OP_WRITE)
        squeue_fill_data(q, r);
    if (r->op == OP_READ || r->op == OP_VERIFY || r->op == OP_WRITE)
        io.nsegs = squeue_segments(q, r->data, bytes, segs, (uint16_t)MIN(q->max_segs, (uint32_t)VBLK_SEGS_MAX),
                                   r->burst);
    /* Mix indirect tables with direct chains (the driver decides what the device allows); a
     * burst takes one ring descriptor per request, so the whole run fits before one kick. */
    io.indirect = r->burst || ((io.nsegs > 1 || prng_below(&q->rng, 2)) && prng_below(&q->rng, 4) != 0);
    r->submit_ns = time_ns();
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

/* The next range of the verification pass over this queue's stripe of the region: in order
 * for a full pass, from random points for a sampled one. */
static bool squeue_next_verify(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    uint64_t first, from;
    uint32_t n;
    bool found;
    while (q->verify_cursor < q->verify_end) {
        if (q->verify_samples) {
            from = q->verify_start + prng_below(&q->rng, q->verify_end - q->verify_start);
            if (--q->verify_samples == 0)
                q->verify_cursor = q->verify_end;
        } else {
            from = q->verify_cursor;
        }
        spin_lock(&d->lock);
        found = expect_next_checkable(d->exp, from, d->max_blocks, &first, &n);
        spin_unlock(&d->lock);
        if (!found || first >= q->verify_end) {
            if (!q->verify_samples)
                q->verify_cursor = q->verify_end;
            continue;
        }
        if (first + n > q->verify_end)
            n = (uint32_t)(q->verify_end - first);
        if (!q->verify_samples && q->verify_cursor < q->verify_end)
            q->verify_cursor = first + n;
        r->op = OP_VERIFY;
        r->lba = first;
        r->nblocks = n;
        return true;
    }
    return false;
}

/*
 * Merge bursts (burst=N): now and then N requests of one direction over contiguous blocks from an
 * odd LBA, each cut into 512-byte segments in an indirect table, posted in one round and so
 * published together before one notification: the device sees a run it can merge into one huge
 * host request, with more segments in all than any one request may carry. False: no burst now.
 */
static bool squeue_burst(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    uint64_t end = d->region_start + d->region_blocks;
    if (!q->burst_left) {
        bool can_read = st.weights[OP_READ] != 0, can_write = st.weights[OP_WRITE] != 0;
        if ((!can_read && !can_write) || prng_below(&q->rng, BURST_ODDS) != 0)
            return false;
        q->burst_left = st.cfg->burst;
        q->burst_op = can_write && (!can_read || prng_below(&q->rng, 2)) ? OP_WRITE : OP_READ;
        q->burst_lba = d->region_start + (prng_below(&q->rng, d->region_blocks) | 1);
    }
    uint32_t hi = d->max_blocks, lo = MIN(st.cfg->min_blocks, hi);
    r->op = q->burst_op;
    r->nblocks = (uint32_t)prng_range(&q->rng, lo, hi);
    r->lba = q->burst_lba;
    if (r->lba + r->nblocks > end || !squeue_claim(q, r)) {
        q->burst_left = 0; /* the run hit the end or a busy range: it ends here */
        return false;
    }
    r->burst = true;
    q->burst_left--;
    q->burst_lba += r->nblocks;
    q->bursts += q->burst_left == 0;
    return true;
}

/* Choose what request r will be; false when nothing can be posted now. */
static bool squeue_prepare(struct squeue *q, struct sreq *r, uint32_t phase)
{
    struct sdisk *d = q->disk;
    r->zero_data = false;
    r->epoch = st.epoch;
    if (phase == PHASE_VERIFY)
        return squeue_next_verify(q, r) && squeue_claim(q, r);
    r->burst = false;
    if (phase == PHASE_RUN && st.cfg->burst && squeue_burst(q, r))
        return true;
    r->op = squeue_pick_op(q);
    for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
        switch (r->op) {
        case OP_FLUSH:
        case OP_GET_ID:
            r->lba = 0;
            r->nblocks = 0;
            return true;
        case OP_DISCARD: {
            uint32_t align = MAX(d->vd.discard_align / d->spb, 1u);
            squeue_pick_range(q, align, MAX(d->vd.max_discard_sectors / d->spb, 1u), &r->lba, &r->nblocks);
            break;
        }
        case OP_WRITE_ZEROES:
            squeue_pick_range(q, 1, MAX(d->vd.max_wz_sectors / d->spb, 1u), &r->lba, &r->nblocks);
            break;
        default:
            squeue_pick_range(q, 1, d->max_blocks, &r->lba, &r->nblocks);
            r->zero_data = r->op == OP_WRITE && prng_below(&q->rng, 16) == 0;
            break;
        }
        if (r->nblocks && squeue_claim(q, r))
            return true;
    }
    return false;
}

void squeue_fill(struct squeue *q)
{
    uint32_t phase = st.phase;
    bool posted = false;
    if (phase == PHASE_QUIESCE || phase == PHASE_DONE || phase == PHASE_RESET || vblk_queue_broken(q->vq))
        return;
    if (phase == PHASE_VERIFY && q->verify_cursor >= q->verify_end) {
        if (q->inflight == 0)
            q->verify_done = true;
        return;
    }
    while (q->nfree && vblk_can_submit(q->vq, q->max_segs)) {
        if (st.cfg->rate && phase == PHASE_RUN) {
            uint64_t now = time_ns();
            if (now < q->next_submit_ns)
                break;
            q->next_submit_ns = MAX(q->next_submit_ns, now - 1000000000ull) + 1000000000ull / st.cfg->rate;
        }
        struct sreq *r = &q->reqs[q->free_ids[q->nfree - 1]];
        r->seq = q->next_seq; /* the claim records it as the writer's tag */
        if (!squeue_prepare(q, r, phase))
            break;
        q->next_seq++;
        q->nfree--;
        squeue_post(q, r);
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
    spin_lock(&d->lock);
    switch (r->op) {
    case OP_READ:
    case OP_VERIFY:
        consistent = expect_end_read(d->exp, r->lba, r->nblocks);
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

/* A read that compared real data: some block held our data or zeroes we wrote. */
static bool squeue_checked_something(const struct sreq *r)
{
    for (uint32_t i = 0; i < r->nblocks; i++)
        if (r->snap[i].state == EXPECT_GEN || r->snap[i].state == EXPECT_ZERO)
            return true;
    return false;
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
        struct verify_result res;
        if (!verify_read(&d->vctx, r->lba, r->nblocks, r->data, r->snap, &res))
            stress_report_verify_error(q, r, &res);
        else if (!st.first_verified && squeue_checked_something(r) &&
                 !__atomic_exchange_n(&st.first_verified, true, __ATOMIC_RELAXED))
            stress_report_first_verified(q, r);
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
    q->op_count[r->op]++;
    q->ops++;
    q->bytes += bytes;
    r->busy = 0;
    q->inflight--;
    q->free_ids[q->nfree++] = (uint16_t)(r - q->reqs);
    tlb_refresh();
}

void squeue_poll(struct squeue *q)
{
    uint32_t len;
    struct sreq *r;
    if (st.phase == PHASE_RESET)
        return; /* the ring is being laid out again */
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
    uint32_t n = st.nowned[cpu];
    /* Sleep between rounds only when every queue this CPU owns takes interrupts: a disk that
     * fell back to polling (hello says why) would otherwise wait for the 100 Hz tick. */
    bool irq = st.cfg->mode == CONFIG_MODE_IRQ;
    for (uint32_t i = 0; i < n; i++)
        irq &= mine[i]->disk->vd.irq_mode;

    for (;;) {
        if (!control && st.phase == PHASE_DONE)
            return;
        if (!control && st.phase == PHASE_RESET) {
            /* Say "I am out of every ring" and wait: CPU 0 resets a disk meanwhile. */
            __atomic_store_n(&st.parked[cpu], st.reset_gen, __ATOMIC_SEQ_CST);
            cpu_relax();
            continue;
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
