/*
 * stress_choose.c: what a queue's next request will be: the operation from the configured mix,
 * its range (random, adjacent to the previous one, a merge burst or the verification pass) and
 * its claim on the expected-state table. Runs only on the queue's owning CPU.
 */
#include "stress_internal.h"

#define GET_ID_EVERY 512        /* one GET_ID among this many operations */
#define WRITE_RETRIES 4         /* other LBAs tried when a write range is busy */
#define BURST_ODDS 32           /* a merge burst starts at one request in this many */
#define RECENT_ODDS 8           /* one read in this many reads back the queue's latest write */
_Static_assert(!(GET_ID_EVERY & (GET_ID_EVERY - 1)) && !(BURST_ODDS & (BURST_ODDS - 1)) &&
               !(RECENT_ODDS & (RECENT_ODDS - 1)), "odds drawn with prng_below_pow2");

static uint8_t squeue_pick_op(struct squeue *q)
{
    if (prng_below_pow2(&q->rng, GET_ID_EVERY) == 0)
        return OP_GET_ID;
    if (st.only_op != OP_COUNT)
        return st.only_op; /* nothing to draw */
    uint32_t x = (uint32_t)prng_below(&q->rng, st.weight_total);
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
    if (align <= 1 && q->burst_next && q->burst_next + *n <= end && prng_below_pow2(&q->rng, 4) == 0) {
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

/* Reserve the range in the expected-state table; false when it is busy. */
bool squeue_claim(struct squeue *q, struct sreq *r)
{
    struct sdisk *d = q->disk;
    struct expect_tag tag = { q->index, r->seq };
    bool ok;
    spin_lock(&d->lock);
    if (r->nblocks && stress_reserved_by_other(d, q, r)) {
        spin_unlock(&d->lock);
        return false; /* a large write waits for these blocks */
    }
    switch (r->op) {
    case OP_READ:
    case OP_VERIFY:
    {
        int32_t judged = expect_begin_read(d->exp, r->lba, r->nblocks, r->snap);
        ok = judged >= 0;
        r->judged = judged > 0 ? (uint32_t)judged : 0;
        break;
    }
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
        if ((!can_read && !can_write) || prng_below_pow2(&q->rng, BURST_ODDS) != 0)
            return false;
        q->burst_left = st.cfg->burst;
        q->burst_op = can_write && (!can_read || prng_below_pow2(&q->rng, 2)) ? OP_WRITE : OP_READ;
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
bool squeue_prepare(struct squeue *q, struct sreq *r, uint32_t phase)
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
            /* Now and then a read of what this queue wrote last, the moment it completed: data
             * read back through the device's and the host's freshest state, and the first
             * verified read comes one request after the first write, not once random reads
             * happen to land on the few blocks written so far (until then, every read does). */
            if (r->op == OP_READ && q->recent_n && (!st.first_verified || prng_below_pow2(&q->rng, RECENT_ODDS) == 0)) {
                /* A large write (max_request) is read back in part: this slot's buffer, its
                 * snapshot and generation arrays hold max_blocks blocks. */
                r->lba = q->recent_lba;
                r->nblocks = MIN(q->recent_n, d->max_blocks);
                q->recent_n = 0;
                break;
            }
            squeue_pick_range(q, 1, d->max_blocks, &r->lba, &r->nblocks);
            r->zero_data = r->op == OP_WRITE && prng_below_pow2(&q->rng, 16) == 0;
            break;
        }
        if (r->nblocks && squeue_claim(q, r))
            return true;
    }
    return false;
}
