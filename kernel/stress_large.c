/*
 * stress_large.c: large requests (max_request=device|N): a seeded share of reads and writes as
 * large as the device allows (kernel/reqsize.h: seg_max, size_max, queue size, the driver's
 * tables), each in a buffer of a separate pool allocated before the load starts. Every block of a
 * large write carries the block format and every block a large read returns is verified, exactly
 * as for the other requests; only the size and the segment list differ.
 *
 * A large write spans many blocks, so under a full load some of them are nearly always busy: one
 * that cannot claim its range reserves it (one reservation per disk), new requests keep off it,
 * the ones over it drain and the write gets in. Only PHASE_RUN honours reservations.
 */
#include "stress_internal.h"
#include "memory.h"

#define LARGE_MEM_SHARE 4           /* the pool may take 1/4 of the memory left at probe */
#define LARGE_MEM_MAX (64ull << 20) /* and never more than this in all */
#define LARGE_WRITE_TRIES 4         /* places a large write tries before it reserves one */

static bool stress_large_alloc_queue(struct squeue *q, const struct sdisk *d)
{
    uint32_t n = d->large.blocks;
    q->large = pmm_alloc(sizeof(struct sreq) * STRESS_LARGE_PER_QUEUE, 64);
    if (!q->large)
        return false;
    for (uint32_t i = 0; i < STRESS_LARGE_PER_QUEUE; i++) {
        struct sreq *r = &q->large[i];
        memset(r, 0, sizeof(*r));
        /* 512 bytes into a page, as the small buffers: segments off 4 KiB boundaries */
        uint8_t *buf = pmm_alloc_uninit((size_t)d->large.bytes + 512, PAGE_SIZE); /* as the small */
        r->snap = pmm_alloc(sizeof(struct expect_snap) * n, 8);
        r->gens = pmm_alloc(sizeof(uint32_t) * n, 8);
        if (!buf || !r->snap || !r->gens)
            break;
        r->data = buf + 512;
        r->large = true;
        q->nlarge++;
    }
    return q->nlarge > 0;
}

/* At probe, before hello: plan every data disk's large requests and allocate their pool. */
void stress_large_setup(void)
{
    const struct config *c = st.cfg;
    uint64_t queues = 0;
    for (uint32_t i = 0; i < st.ndisks; i++)
        if (st.disk[i]->vd.data)
            queues += st.disk[i]->nq;
    if (!c->max_request || !queues)
        return;
    uint64_t free_before = pmm_free_bytes();
    uint64_t per_buf = MIN(free_before / LARGE_MEM_SHARE, LARGE_MEM_MAX) / (queues * STRESS_LARGE_PER_QUEUE);
    for (uint32_t i = 0; i < st.ndisks; i++) {
        struct sdisk *d = st.disk[i];
        if (!d->vd.data)
            continue;
        struct reqsize_limits l = {
            .seg_max = d->vd.seg_max,
            .size_max = d->vd.size_max,
            .queue_size = d->vd.queue_size,
            .table_segs = VBLK_SEGS_MAX,
            .blk_size = d->vd.blk_size,
            .want = c->max_request == CONFIG_MAX_REQUEST_DEVICE ? REQSIZE_DEVICE : c->max_request,
            .mem_bytes = per_buf - per_buf / 8, /* the rest: a snapshot and a generation per block */
            .region_blocks = d->region_blocks,
        };
        if (!reqsize_plan(&l, &d->large, &d->large_why))
            continue;
        uint64_t before = pmm_free_bytes();
        for (uint16_t q = 0; q < d->nq; q++)
            d->large_on |= stress_large_alloc_queue(&d->q[q], d);
        d->large_pool_bytes = before - pmm_free_bytes();
        if (!d->large_on)
            d->large_why = "out of memory for the large pool";
    }
}

/* hello: what a large request is on this disk and what bounds it, or why there are none. */
void stress_large_describe(struct msg *m, const struct sdisk *d)
{
    if (!st.cfg->max_request)
        return;
    msg_obj_begin(m, "max_request");
    if (!d->large_on) {
        msg_str(m, "error", d->large_why ? d->large_why : "?");
    } else {
        uint32_t slots = 0;
        for (uint16_t q = 0; q < d->nq; q++)
            slots += d->q[q].nlarge;
        msg_u64(m, "bytes", d->large.bytes);
        msg_u64(m, "blocks", d->large.blocks);
        msg_u64(m, "segs", d->large.segs);
        msg_u64(m, "seg_bytes", d->large.seg_bytes);
        msg_str(m, "segs_bound", d->large.segs_bound);
        msg_str(m, "bytes_bound", d->large.bytes_bound);
        msg_u64(m, "buffers", slots);
        msg_u64(m, "pool_bytes", d->large_pool_bytes);
        msg_u64(m, "share_pct", st.cfg->max_request_share);
    }
    msg_obj_end(m);
}

/* After the queue exists: the driver's request slots (header, status, an indirect table long
 * enough for the plan's segments). */
bool squeue_large_alloc(struct squeue *q, const char **why)
{
    struct sdisk *d = q->disk;
    for (uint32_t i = 0; i < q->nlarge; i++) {
        q->large[i].vr = vblk_req_alloc(q->vq, d->large.segs);
        if (!q->large[i].vr) {
            if (i == 0) {
                *why = "out of memory for the large requests' driver slots";
                return false;
            }
            q->nlarge = i;
            break;
        }
    }
    q->nlarge_free = 0;
    for (uint32_t i = 0; i < q->nlarge; i++)
        q->large_free[q->nlarge_free++] = (uint16_t)i;
    return true;
}

bool stress_reserved_by_other(const struct sdisk *d, const struct squeue *q, const struct sreq *r)
{
    if (!d->resv_n || st.phase != PHASE_RUN)
        return false;
    if (r->large && d->resv_q == q->index && q->large_pending == r)
        return false;
    return r->lba < d->resv_lba + d->resv_n && d->resv_lba < r->lba + r->nblocks;
}

static void squeue_large_unfree(struct squeue *q, struct sreq *r)
{
    for (uint32_t i = 0; i < q->nlarge_free; i++) {
        if (&q->large[q->large_free[i]] == r) {
            q->large_free[i] = q->large_free[--q->nlarge_free];
            return;
        }
    }
}

static void squeue_large_place(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    r->lba = d->region_start + prng_below(&q->rng, d->region_blocks - r->nblocks + 1);
}

/* The large write r waits for its range: reserve it, unless another queue holds the disk's
 * reservation (then r is given up for now). */
static void squeue_large_reserve(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    spin_lock(&d->lock);
    if (!d->resv_n) {
        d->resv_lba = r->lba;
        d->resv_n = r->nblocks;
        d->resv_q = q->index;
        q->large_pending = r;
    }
    spin_unlock(&d->lock);
    if (q->large_pending == r)
        squeue_large_unfree(q, r);
}

static struct sreq *squeue_large_claimed(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    if (q->large_pending == r) {
        spin_lock(&d->lock);
        d->resv_n = 0;
        spin_unlock(&d->lock);
        q->large_pending = NULL;
    } else {
        squeue_large_unfree(q, r);
    }
    return r;
}

struct sreq *squeue_take_large(struct squeue *q, uint32_t phase)
{
    struct sdisk *d = q->disk;
    if (phase != PHASE_RUN || !q->nlarge || !vblk_can_submit(q->vq, d->large.segs))
        return NULL;
    struct sreq *r = q->large_pending;
    if (!r) {
        uint32_t wr = st.weights[OP_READ], ww = st.weights[OP_WRITE];
        if (!q->nlarge_free || (!wr && !ww) || prng_below(&q->rng, 100) >= st.cfg->max_request_share)
            return NULL;
        r = &q->large[q->large_free[q->nlarge_free - 1]];
        r->op = prng_below(&q->rng, wr + ww) < wr ? OP_READ : OP_WRITE;
        r->nblocks = d->large.blocks;
        r->zero_data = false;
        r->burst = false;
        squeue_large_place(q, r);
    }
    r->seq = q->next_seq; /* the claim records it as the writer's tag */
    r->epoch = st.epoch;
    if (squeue_claim(q, r))
        return squeue_large_claimed(q, r);
    if (r->op != OP_WRITE || q->large_pending == r)
        return NULL; /* a read kept off a reservation, or the reserved write still waits */
    for (int i = 0; i < LARGE_WRITE_TRIES; i++) {
        squeue_large_place(q, r);
        if (squeue_claim(q, r))
            return squeue_large_claimed(q, r);
    }
    squeue_large_reserve(q, r);
    return NULL;
}

void squeue_large_segments(struct squeue *q, struct vblk_io *io)
{
    const struct reqsize_plan *p = &q->disk->large;
    io->seg_bytes = p->seg_bytes;
    io->nsegs = (uint16_t)p->segs; /* the plan keeps within VBLK_SEGS_MAX (its table_segs) */
}

void squeue_large_done(struct squeue *q, struct sreq *r)
{
    uint32_t bytes = r->nblocks * q->disk->vd.blk_size;
    uint32_t segs = r->segs > 2 ? r->segs - 2u : 0; /* descriptors less header and status */
    q->large_ops++;
    q->large_writes += r->op == OP_WRITE;
    if (bytes > q->large_max_bytes)
        q->large_max_bytes = bytes;
    if (segs > q->large_max_segs)
        q->large_max_segs = segs;
    q->large_free[q->nlarge_free++] = (uint16_t)(r - q->large);
}
