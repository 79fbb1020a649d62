/*
 * virtqueue.c: the ring interface (virtqueue.h) over its two formats: checks and state shared by
 * both, then a dispatch to drivers/vq_split.c (spec 2.7) or drivers/vq_packed.c (spec 2.8).
 *
 * Everything the device writes is read once with __atomic loads and checked before use: a device
 * that breaks the protocol marks the queue broken, never crashes us. Chains are tracked through
 * the private vq_slot shadow, never through ring memory.
 */
#include "vq_internal.h"

static bool size_ok(uint16_t size, bool packed)
{
    /* Spec 2.7: "Queue Size value is always a power of 2. The maximum Queue Size value is
     * 32768." The power of two also keeps idx % size continuous across the 16-bit idx wrap.
     * Spec 2.8: "Packed virtqueues support up to 2^15 entries each" and "The Queue Size value
     * does not have to be a power of 2". */
    if (packed)
        return size != 0 && size <= VQ_SIZE_MAX;
    return size != 0 && (size & (size - 1)) == 0 && size <= VQ_SIZE_MAX;
}

size_t vq_ring_bytes(uint16_t size, bool packed)
{
    if (!size_ok(size, packed))
        return 0;
    return packed ? vq_packed_ring_bytes(size) : vq_split_ring_bytes(size);
}

size_t vq_state_bytes(uint16_t size, bool packed)
{
    return size_ok(size, packed) ? sizeof(struct vq_slot) * size : 0;
}

int vq_init(struct virtqueue *vq, const struct vq_config *cfg, void *ring, uint64_t ring_phys,
            void *state)
{
    if (!vq || !cfg || !ring || !state || !size_ok(cfg->size, cfg->packed))
        return VQ_ERR_INVAL;
    if (((uintptr_t)ring | ring_phys) & (VQ_RING_ALIGN - 1))
        return VQ_ERR_INVAL;
    if (((uintptr_t)state) & (_Alignof(struct vq_slot) - 1))
        return VQ_ERR_INVAL;
    uint16_t size = cfg->size;
    memset(vq, 0, sizeof(*vq));
    memset(ring, 0, vq_ring_bytes(size, cfg->packed));
    memset(state, 0, vq_state_bytes(size, cfg->packed));
    vq->slot = state;
    vq->phys = ring_phys;
    vq->size = size;
    vq->mask = (uint16_t)(size - 1);
    vq->packed = cfg->packed;
    vq->event_idx = cfg->event_idx;
    vq->indirect = cfg->indirect;
    /* Spec 2.7 "Indirect Descriptors": "A driver MUST NOT create a descriptor chain longer than
     * the Queue Size of the device." 2.8 "Scatter-Gather Support": "A driver MUST NOT create a
     * descriptor list longer than the Queue Size." That caps indirect tables too. */
    vq->indirect_max = (cfg->indirect_max == 0 || cfg->indirect_max > size) ? size
                                                                            : cfg->indirect_max;
    /* Split: a free list of descriptors; packed: a free list of buffer ids. Same links. */
    for (uint16_t i = 0; i + 1 < size; i++)
        vq->slot[i].next = (uint16_t)(i + 1);
    vq->free_head = 0;
    vq->num_free = size;
    vq->cb_enabled = true;
    if (vq->packed)
        vq_packed_init(vq, ring);
    else
        vq_split_init(vq, ring);
    return 0;
}

uint64_t vq_desc_phys(const struct virtqueue *vq)
{
    return vq->phys;
}

uint64_t vq_avail_phys(const struct virtqueue *vq)
{
    return vq->packed ? vq_packed_driver_phys(vq) : vq_split_avail_phys(vq);
}

uint64_t vq_used_phys(const struct virtqueue *vq)
{
    return vq->packed ? vq_packed_device_phys(vq) : vq_split_used_phys(vq);
}

/* A run's pieces must cover its length exactly: every piece but the last seg bytes, the last
 * 1..seg (so none is empty, and none longer than the caller's cut). */
static bool run_ok(const struct vq_buf *b)
{
    uint64_t full = (uint64_t)b->seg * (b->pieces - 1);
    return b->seg != 0 && full < b->len && b->len - full <= b->seg;
}

/* Spec 2.7 "The Virtqueue Descriptor Table": "Drivers MUST NOT add a descriptor chain longer
 * than 2^32 bytes in total". Kept below 2^32 so an le32 used len can state any total. */
#define VQ_CHAIN_BYTES_MAX UINT32_MAX

/* One pass over bufs before anything is written: the descriptors they take (more than max:
 * VQ_ERR_TOO_MANY), their total and device-writable bytes. VQ_ERR_INVAL for a malformed run,
 * VQ_ERR_TOO_BIG for a chain longer than VQ_CHAIN_BYTES_MAX. */
static int chain_totals(const struct vq_buf *bufs, unsigned n_out, unsigned n, uint16_t max,
                        struct vq_chain *c)
{
    uint64_t descs = 0, total = 0, in = 0; /* at most n * 2^32 each: no overflow */
    for (unsigned i = 0; i < n; i++) {
        const struct vq_buf *b = &bufs[i];
        if (b->pieces <= 1) {
            descs++;
        } else {
            if (!run_ok(b))
                return VQ_ERR_INVAL;
            descs += b->pieces;
        }
        total += b->len;
        in += i >= n_out ? b->len : 0;
    }
    if (descs > max)
        return VQ_ERR_TOO_MANY;
    if (total > VQ_CHAIN_BYTES_MAX)
        return VQ_ERR_TOO_BIG;
    c->descs = (uint16_t)descs;
    c->in_total = (uint32_t)in;
    return 0;
}

int vq_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n_out, unsigned n_in,
           void *token, void *indirect_table, uint64_t indirect_phys)
{
    if (vq->broken)
        return VQ_ERR_BROKEN;
    uint64_t n = (uint64_t)n_out + n_in;
    if (n == 0)
        return VQ_ERR_EMPTY;
    if (!bufs || !token)
        return VQ_ERR_INVAL;
    bool use_indirect = indirect_table && vq->indirect;
    uint16_t max = use_indirect ? vq->indirect_max : vq->size;
    if (n > max) /* each element is one descriptor at least */
        return VQ_ERR_TOO_MANY;
    struct vq_chain c;
    int rc = chain_totals(bufs, n_out, (unsigned)n, max, &c);
    if (rc < 0)
        return rc;
    if (vq->packed)
        return vq_packed_add(vq, bufs, n_out, n_in, &c, token,
                             use_indirect ? indirect_table : NULL, indirect_phys);
    return vq_split_add(vq, bufs, n_out, n_in, &c, token,
                        use_indirect ? indirect_table : NULL, indirect_phys);
}

bool vq_kick_prepare(struct virtqueue *vq)
{
    if (vq->broken)
        return false;
    return vq->packed ? vq_packed_kick_prepare(vq) : vq_split_kick_prepare(vq);
}

void *vq_get_used(struct virtqueue *vq, uint32_t *len)
{
    if (vq->broken)
        return NULL;
    return vq->packed ? vq_packed_get_used(vq, len) : vq_split_get_used(vq, len);
}

bool vq_more_used(struct virtqueue *vq)
{
    if (vq->broken)
        return false;
    return vq->packed ? vq_packed_more_used(vq) : vq_split_more_used(vq);
}

void vq_disable_cb(struct virtqueue *vq)
{
    vq->cb_enabled = false;
    if (vq->packed)
        vq_packed_disable_cb(vq);
    else
        vq_split_disable_cb(vq);
}

bool vq_enable_cb(struct virtqueue *vq)
{
    vq->cb_enabled = true;
    if (vq->packed)
        vq_packed_enable_cb(vq);
    else
        vq_split_enable_cb(vq);
    /* Spec 2.7 and 2.8 "Receiving Used Buffers From The Device": "beware the problem of missing
     * notifications between emptying the ring and reenabling notifications", handled by
     * "re-checking for more used buffers after notifications are re-enabled", with a full
     * barrier between: the store above must not pass the ring load below. */
    vq_mb();
    if (vq->broken)
        return true;
    return !vq_more_used(vq);
}

/* ---- protocol violations --------------------------------------------------------------------- */

static void put_str(char *buf, size_t *pos, const char *s)
{
    while (*s && *pos + 1 < VQ_DETAIL_MAX)
        buf[(*pos)++] = *s++;
    buf[*pos] = 0;
}

void vq_mark_broken(struct virtqueue *vq, enum vq_broken_code code, const char *const *texts,
                    const uint64_t *nums, int k)
{
    size_t pos = 0;
    char dec[U64_DEC_MAX];
    vq->broken = true;
    vq->broken_code = code;
    vq->broken_detail[0] = 0;
    for (int i = 0; i < k; i++) {
        put_str(vq->broken_detail, &pos, texts[i]);
        u64_to_dec(dec, nums[i]);
        put_str(vq->broken_detail, &pos, dec);
    }
    put_str(vq->broken_detail, &pos, texts[k]);
}

bool vq_check_used(struct virtqueue *vq, uint32_t id, uint32_t used_len, uint16_t where)
{
    if (id >= vq->size) {
        static const char *const t[] = {"used id ", " >= queue size ", " (len ", ", used idx ",
                                        ", last_used ", ")"};
        uint64_t v[] = {id, vq->size, used_len, where, vq->last_used};
        vq_mark_broken(vq, VQ_BROKEN_ID_RANGE, t, v, 5);
        return false;
    }
    struct vq_slot *s = &vq->slot[id];
    if (!s->head) {
        static const char *const t[] = {"used id ", " is not the head of an in-flight chain (len ",
                                        ", used idx ", ", last_used ", ", ", " in flight)"};
        uint64_t v[] = {id, used_len, where, vq->last_used, vq->inflight};
        vq_mark_broken(vq, VQ_BROKEN_ID_NOT_INFLIGHT, t, v, 5);
        return false;
    }
    /* Spec 2.7 "The Virtqueue Used Ring": len is "the total of bytes written into the buffer";
     * 2.8 "Element Address and Length": "Element Length specifies the length of the buffer that
     * has been initialized (written to) by the device". More than the chain's device-writable
     * bytes is a device writing outside them, or lying. */
    if (used_len > s->in_len) {
        static const char *const t[] = {"used len ", " > device-writable total ", " of id ",
                                        " (used idx ", ", last_used ", ")"};
        uint64_t v[] = {used_len, s->in_len, id, where, vq->last_used};
        vq_mark_broken(vq, VQ_BROKEN_LEN, t, v, 5);
        return false;
    }
    return true;
}

bool vq_is_broken(const struct virtqueue *vq)
{
    return vq->broken;
}

const char *vq_broken_reason(const struct virtqueue *vq)
{
    switch (vq->broken_code) {
    case VQ_BROKEN_ID_RANGE:
        return "used_id_out_of_range";
    case VQ_BROKEN_ID_NOT_INFLIGHT:
        return "used_id_not_inflight";
    case VQ_BROKEN_LEN:
        return "used_len_too_big";
    case VQ_BROKEN_IDX_JUMP:
        return "used_idx_jump";
    case VQ_BROKEN_NONE:
        break;
    }
    return "none";
}

const char *vq_broken_detail(const struct virtqueue *vq)
{
    return vq->broken_detail;
}

/* ---- accessors ------------------------------------------------------------------------------- */

uint16_t vq_size(const struct virtqueue *vq)
{
    return vq->size;
}

uint16_t vq_avail_idx(const struct virtqueue *vq)
{
    return vq->avail_idx;
}

uint16_t vq_last_used(const struct virtqueue *vq)
{
    return vq->last_used;
}

uint16_t vq_num_free(const struct virtqueue *vq)
{
    return vq->num_free;
}

uint16_t vq_inflight(const struct virtqueue *vq)
{
    return vq->inflight;
}

bool vq_is_packed(const struct virtqueue *vq)
{
    return vq->packed;
}
