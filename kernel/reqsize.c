/*
 * reqsize.c: the size and segment count of a large request (reqsize.h). Segments come first: a
 * large request carries as many as every limit allows, then each segment is as long as the
 * byte limits leave room for.
 */
#include "reqsize.h"

#define REQSIZE_HARD_CAP (1u << 30) /* a used length is 32 bits: stay far below */

static void reqsize_cap(uint64_t *cap, const char **bound, uint64_t v, const char *name)
{
    if (v < *cap) {
        *cap = v;
        *bound = name;
    }
}

bool reqsize_plan(const struct reqsize_limits *l, struct reqsize_plan *p, const char **why)
{
    memset(p, 0, sizeof(*p));
    if (l->blk_size < 512 || (l->blk_size & (l->blk_size - 1))) {
        *why = "block size is not a power of two of at least 512";
        return false;
    }
    /* Virtio 1.x 5.2.3: VIRTIO_BLK_F_SEG_MAX: "Maximum number of segments in a request is in
     * seg_max." Without the feature the driver knows of no room beyond one segment. */
    uint32_t segs = MAX(l->seg_max, 1u);
    p->segs_bound = "seg_max";
    if (l->table_segs < segs) {
        segs = l->table_segs;
        p->segs_bound = "driver";
    }
    /* Spec 2.7 "Indirect Descriptors": "A driver MUST NOT create a descriptor chain longer than
     * the Queue Size of the device" (an indirect table is such a chain: its length is bounded
     * by the queue size too); 2.8 "Scatter-Gather Support": "A driver MUST NOT create a
     * descriptor list longer than the Queue Size." Header and status take two descriptors.
     * QEMU's virtio-blk says as much from its side: seg_max = queue-size - 2 (seg-max-adjust). */
    if (l->queue_size < 3) {
        *why = "queue size below 3: header, a data segment and the status byte do not fit a chain";
        return false;
    }
    if (l->queue_size - 2 < segs) {
        segs = l->queue_size - 2;
        p->segs_bound = "queue_size";
    }
    if (segs == 0) {
        *why = "the driver's tables hold no data segment";
        return false;
    }
    /* 5.2.3: VIRTIO_BLK_F_SIZE_MAX: "Maximum size of any single segment is in size_max." Our
     * segments are whole sectors. */
    uint64_t seg_cap = REQSIZE_HARD_CAP;
    if (l->size_max) {
        if (l->size_max < 512) {
            *why = "size_max is below one 512-byte sector";
            return false;
        }
        seg_cap = l->size_max & ~511u;
    }
    uint64_t cap = (uint64_t)segs * seg_cap;
    const char *bound = "seg_max*size_max";
    if (!l->size_max && l->want == REQSIZE_DEVICE) {
        cap = REQSIZE_NO_SIZE_MAX_CAP; /* no device limit per segment: ours */
        bound = "default cap";
    }
    if (l->want != REQSIZE_DEVICE)
        reqsize_cap(&cap, &bound, l->want, "max_request");
    reqsize_cap(&cap, &bound, l->mem_bytes, "memory");
    /* A quarter of the region at most, so other requests still find room beside it. */
    reqsize_cap(&cap, &bound, l->region_blocks * l->blk_size / 4, "region");
    reqsize_cap(&cap, &bound, REQSIZE_HARD_CAP, "hard cap");
    uint64_t seg = MIN(seg_cap, MAX((cap / segs) & ~(uint64_t)511, (uint64_t)512));
    uint64_t bytes = MIN(cap, (uint64_t)segs * seg);
    bytes -= bytes % l->blk_size;
    if (bytes == 0) {
        *why = "not one block fits the memory and region bounds";
        return false;
    }
    p->seg_bytes = (uint32_t)seg;
    p->bytes = (uint32_t)bytes;
    p->blocks = (uint32_t)(bytes / l->blk_size);
    p->segs = (uint32_t)((bytes + seg - 1) / seg);
    if (p->segs < segs)
        p->segs_bound = "bytes";
    p->bytes_bound = bound;
    return true;
}

uint32_t reqsize_seg_len(const struct reqsize_plan *p, uint32_t i)
{
    uint64_t off = (uint64_t)i * p->seg_bytes;
    if (i >= p->segs || off >= p->bytes)
        return 0;
    return (uint32_t)MIN((uint64_t)p->seg_bytes, p->bytes - off);
}
