/*
 * virtqueue.c: split virtqueue driver side (virtio 1.x, section 2.7). See virtqueue.h.
 *
 * Everything the device writes (used ring, avail_event) is read once with __atomic loads and
 * checked before use: a device that breaks the protocol marks the queue broken, never crashes us.
 * Chains are walked through the private vq_slot shadow, never through ring memory.
 */
#include "virtqueue.h"

/* Loads/stores the other side may race with: __atomic so the compiler re-reads and never tears. */
#define RD16(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define RD32(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define WR16(p, v) __atomic_store_n((p), (uint16_t)(v), __ATOMIC_RELAXED)

static bool size_ok(uint16_t size)
{
    /* Spec 2.7: "Queue Size value is always a power of 2. The maximum Queue Size value is
     * 32768." The power of two also keeps idx % size continuous across the 16-bit idx wrap. */
    return size != 0 && (size & (size - 1)) == 0 && size <= VQ_SIZE_MAX;
}

/* Part offsets from the ring base. Spec 2.7: "The driver MUST ensure that the physical address
 * of the first byte of each virtqueue part is a multiple of the specified alignment value"
 * (descriptor table 16, available ring 2, used ring 4). */
static size_t avail_off(uint16_t size)
{
    return (size_t)16 * size; /* already a multiple of 16, so of 2 */
}

static size_t used_off(uint16_t size)
{
    return ALIGN_UP(avail_off(size) + 6 + (size_t)2 * size, (size_t)4);
}

size_t vq_ring_bytes(uint16_t size)
{
    if (!size_ok(size))
        return 0;
    return used_off(size) + 6 + (size_t)8 * size;
}

size_t vq_state_bytes(uint16_t size)
{
    return size_ok(size) ? sizeof(struct vq_slot) * size : 0;
}

int vq_init(struct virtqueue *vq, const struct vq_config *cfg, void *ring, uint64_t ring_phys,
            void *state)
{
    if (!vq || !cfg || !ring || !state || !size_ok(cfg->size))
        return VQ_ERR_INVAL;
    if (((uintptr_t)ring | ring_phys) & (VQ_RING_ALIGN - 1))
        return VQ_ERR_INVAL;
    if (((uintptr_t)state) & (_Alignof(struct vq_slot) - 1))
        return VQ_ERR_INVAL;
    uint16_t size = cfg->size;
    memset(vq, 0, sizeof(*vq));
    /* Spec 2.7 "Available Buffer Notification Suppression": "The driver MUST initialize flags in
     * the used ring to 0 when allocating the used ring." Zeroing everything also starts avail
     * flags and used_event at 0: used buffer notifications wanted from the first entry. */
    memset(ring, 0, vq_ring_bytes(size));
    memset(state, 0, vq_state_bytes(size));
    vq->desc = ring;
    vq->avail = (struct vq_avail *)((uint8_t *)ring + avail_off(size));
    vq->used = (struct vq_used *)((uint8_t *)ring + used_off(size));
    vq->used_event = &vq->avail->ring[size];
    vq->avail_event = (uint16_t *)&vq->used->ring[size];
    vq->slot = state;
    vq->phys = ring_phys;
    vq->size = size;
    vq->mask = (uint16_t)(size - 1);
    vq->event_idx = cfg->event_idx;
    vq->indirect = cfg->indirect;
    /* Spec 2.7 "Indirect Descriptors": "A driver MUST NOT create a descriptor chain longer than
     * the Queue Size of the device." That caps indirect tables too, however big the caller's. */
    vq->indirect_max = (cfg->indirect_max == 0 || cfg->indirect_max > size) ? size
                                                                            : cfg->indirect_max;
    for (uint16_t i = 0; i + 1 < size; i++)
        vq->slot[i].next = (uint16_t)(i + 1);
    vq->free_head = 0;
    vq->num_free = size;
    vq->cb_enabled = true;
    return 0;
}

uint64_t vq_desc_phys(const struct virtqueue *vq)
{
    return vq->phys;
}

uint64_t vq_avail_phys(const struct virtqueue *vq)
{
    return vq->phys + avail_off(vq->size);
}

uint64_t vq_used_phys(const struct virtqueue *vq)
{
    return vq->phys + used_off(vq->size);
}

static void fill_desc(struct vq_desc *d, const struct vq_buf *b, bool writable, bool more,
                      uint16_t next)
{
    /* Spec 2.7 "Placing Buffers Into The Descriptor Table": "If b is device-writable, set
     * d.flags to VIRTQ_DESC_F_WRITE, otherwise 0. If there is a buffer element after this: Set
     * d.next to the index of the next free descriptor element. Set the VIRTQ_DESC_F_NEXT bit". */
    d->addr = b->addr;
    d->len = b->len;
    d->flags = (uint16_t)((writable ? VIRTQ_DESC_F_WRITE : 0) | (more ? VIRTQ_DESC_F_NEXT : 0));
    d->next = more ? next : 0;
}

static void publish_head(struct virtqueue *vq, uint16_t head)
{
    /* Spec 2.7 "Updating The Available Ring": "avail->ring[(avail->idx + added++) % qsz]". */
    WR16(&vq->avail->ring[vq->avail_idx & vq->mask], head);
    /* Spec 2.7 "Updating idx": "The driver MUST perform a suitable memory barrier before the idx
     * update, to ensure the device sees the most up-to-date copy." The descriptors, any indirect
     * table and the ring entry must be visible before the idx that exposes them. */
    vq_wmb();
    vq->avail_idx++;
    /* Spec 2.7 "Updating idx": "idx always increments, and wraps naturally at 65536". */
    WR16(&vq->avail->idx, vq->avail_idx);
    vq->inflight++;
    vq->added_since_kick++;
}

int vq_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n_out, unsigned n_in,
           void *token, struct vq_desc *indirect_table, uint64_t indirect_phys)
{
    if (vq->broken)
        return VQ_ERR_BROKEN;
    uint64_t n = (uint64_t)n_out + n_in;
    if (n == 0)
        return VQ_ERR_EMPTY;
    if (!bufs || !token)
        return VQ_ERR_INVAL;
    bool use_indirect = indirect_table && vq->indirect;
    if (n > (use_indirect ? vq->indirect_max : vq->size))
        return VQ_ERR_TOO_MANY;
    /* Spec 2.7 "The Virtqueue Descriptor Table": "Drivers MUST NOT add a descriptor chain longer
     * than 2^32 bytes in total". Kept below 2^32 so an le32 used len can state any total. */
    uint64_t total = 0, in_total = 0;
    for (uint64_t i = 0; i < n; i++) {
        total += bufs[i].len;
        if (i >= n_out)
            in_total += bufs[i].len;
    }
    if (total > UINT32_MAX)
        return VQ_ERR_TOO_BIG;
    uint16_t need = use_indirect ? 1 : (uint16_t)n;
    if (need > vq->num_free)
        return VQ_ERR_NOSPC;

    uint16_t head = vq->free_head, id = head;
    if (use_indirect) {
        /* Spec 2.7 "Indirect Descriptors": "The first indirect descriptor is located at start of
         * the indirect descriptor table (index 0), additional indirect descriptors are chained by
         * next". */
        for (uint16_t i = 0; i < n; i++)
            fill_desc(&indirect_table[i], &bufs[i], i >= n_out, i + 1u < n, (uint16_t)(i + 1));
        /* Spec 2.7 "Indirect Descriptors": "A driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and
         * VIRTQ_DESC_F_NEXT in flags." The table holds the whole chain: one ring descriptor. */
        struct vq_desc *d = &vq->desc[id];
        d->addr = indirect_phys;
        d->len = (uint32_t)(n * sizeof(struct vq_desc));
        d->flags = VIRTQ_DESC_F_INDIRECT;
        d->next = 0;
    } else {
        /* Spec 2.7 "Message Framing": "The driver MUST place any device-writable descriptor
         * elements after any device-readable descriptor elements." bufs is readable-first by
         * contract (and so is the indirect table above). The free-list links already name the
         * next free ids, so they double as the chain links. */
        for (uint16_t i = 0; i < n; i++) {
            bool more = i + 1u < n;
            fill_desc(&vq->desc[id], &bufs[i], i >= n_out, more, vq->slot[id].next);
            if (more)
                id = vq->slot[id].next;
        }
    }
    vq->free_head = vq->slot[id].next; /* id: the chain's last descriptor */
    vq->num_free = (uint16_t)(vq->num_free - need);

    struct vq_slot *s = &vq->slot[head];
    s->token = token;
    s->in_len = (uint32_t)in_total;
    s->ndesc = need;
    s->head = true;
    publish_head(vq, head);
    return head;
}

bool vq_kick_prepare(struct virtqueue *vq)
{
    if (vq->broken)
        return false;
    /* Spec 2.7 "Notifying The Device": "The driver MUST perform a suitable memory barrier before
     * reading flags or avail_event, to avoid missing a notification." A store (avail->idx) then a
     * load: the one order x86 does not keep by itself. */
    vq_mb();
    uint16_t old = vq->kicked_idx, new = vq->avail_idx;
    uint32_t added = vq->added_since_kick;
    vq->kicked_idx = new;
    vq->added_since_kick = 0;
    if (added == 0)
        return false;
    if (added >= 65536) /* the 16-bit window cannot tell: notify rather than risk a hang */
        return true;
    if (vq->event_idx) {
        /* Spec 2.7 "Available Buffer Notification Suppression", with EVENT_IDX: "If the idx field
         * in the available ring (which determined where that descriptor index was placed) was
         * equal to avail_event, the driver MUST send a notification." Checked for every entry
         * published since the last call; "The driver MUST ignore the lower bit of flags." */
        return vq_need_event(RD16(vq->avail_event), new, old);
    }
    /* Same section, without EVENT_IDX: "If flags is 1, the driver SHOULD NOT send a
     * notification. If flags is 0, the driver MUST send a notification." */
    return !(RD16(&vq->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
}

/* ---- protocol violations --------------------------------------------------------------------- */

static void put_str(char *buf, size_t *pos, const char *s)
{
    while (*s && *pos + 1 < VQ_DETAIL_MAX)
        buf[(*pos)++] = *s++;
    buf[*pos] = 0;
}

static void put_u(char *buf, size_t *pos, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0 && *pos + 1 < VQ_DETAIL_MAX)
        buf[(*pos)++] = tmp[--n];
    buf[*pos] = 0;
}

/* Builds the detail from alternating text and numbers: texts[0] nums[0] texts[1] ... texts[k]. */
static void mark_broken(struct virtqueue *vq, enum vq_broken_code code, const char *const *texts,
                        const uint64_t *nums, int k)
{
    size_t pos = 0;
    vq->broken = true;
    vq->broken_code = code;
    vq->broken_detail[0] = 0;
    for (int i = 0; i < k; i++) {
        put_str(vq->broken_detail, &pos, texts[i]);
        put_u(vq->broken_detail, &pos, nums[i]);
    }
    put_str(vq->broken_detail, &pos, texts[k]);
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

/* ---- completions ----------------------------------------------------------------------------- */

/* New used entries, after checking the device did not publish more than it holds. */
static uint16_t pending_used(struct virtqueue *vq, uint16_t *idx_seen)
{
    if (vq->broken)
        return 0;
    uint16_t used_idx = RD16(&vq->used->idx);
    *idx_seen = used_idx;
    uint16_t pending = (uint16_t)(used_idx - vq->last_used);
    /* The device can only return chains it owns, so used idx never runs further ahead of
     * last_used than the chains in flight (and never more than Queue Size). */
    if (pending > vq->inflight) {
        static const char *const t[] = {"used idx ", " is ", " past last_used ", " with ",
                                        " in flight (queue size ", ")"};
        uint64_t v[] = {used_idx, pending, vq->last_used, vq->inflight, vq->size};
        mark_broken(vq, VQ_BROKEN_IDX_JUMP, t, v, 5);
        return 0;
    }
    return pending;
}

bool vq_more_used(struct virtqueue *vq)
{
    uint16_t used_idx;
    return pending_used(vq, &used_idx) != 0;
}

static void free_chain(struct virtqueue *vq, uint16_t head)
{
    struct vq_slot *s = &vq->slot[head];
    uint16_t last = head;
    for (uint16_t i = 1; i < s->ndesc; i++)
        last = vq->slot[last].next;
    vq->slot[last].next = vq->free_head;
    vq->free_head = head;
    vq->num_free = (uint16_t)(vq->num_free + s->ndesc);
    s->token = NULL;
    s->head = false;
}

/* The entry must name the head of a chain the device owns and fit its writable bytes. */
static bool check_used(struct virtqueue *vq, uint32_t id, uint32_t used_len, uint16_t used_idx)
{
    if (id >= vq->size) {
        static const char *const t[] = {"used id ", " >= queue size ", " (len ", ", used idx ",
                                        ", last_used ", ")"};
        uint64_t v[] = {id, vq->size, used_len, used_idx, vq->last_used};
        mark_broken(vq, VQ_BROKEN_ID_RANGE, t, v, 5);
        return false;
    }
    struct vq_slot *s = &vq->slot[id];
    if (!s->head) {
        static const char *const t[] = {"used id ", " is not the head of an in-flight chain (len ",
                                        ", used idx ", ", last_used ", ", ", " in flight)"};
        uint64_t v[] = {id, used_len, used_idx, vq->last_used, vq->inflight};
        mark_broken(vq, VQ_BROKEN_ID_NOT_INFLIGHT, t, v, 5);
        return false;
    }
    /* Spec 2.7 "The Virtqueue Used Ring": len is "the total of bytes written into the buffer";
     * more than the chain's device-writable bytes is a device writing outside them, or lying. */
    if (used_len > s->in_len) {
        static const char *const t[] = {"used len ", " > device-writable total ", " of id ",
                                        " (used idx ", ", last_used ", ")"};
        uint64_t v[] = {used_len, s->in_len, id, used_idx, vq->last_used};
        mark_broken(vq, VQ_BROKEN_LEN, t, v, 5);
        return false;
    }
    return true;
}

void *vq_get_used(struct virtqueue *vq, uint32_t *len)
{
    uint16_t used_idx;
    if (pending_used(vq, &used_idx) == 0)
        return NULL;
    /* Pairs with the device rule of spec 2.7 "The Virtqueue Used Ring": "The device MUST set len
     * prior to updating the used idx." Having seen the idx, no entry or buffer read may pass it. */
    vq_rmb();
    const struct vq_used_elem *e = &vq->used->ring[vq->last_used & vq->mask];
    uint32_t id = RD32(&e->id), used_len = RD32(&e->len);
    if (!check_used(vq, id, used_len, used_idx))
        return NULL;
    struct vq_slot *s = &vq->slot[id];
    void *token = s->token;
    free_chain(vq, (uint16_t)id);
    vq->inflight--;
    vq->last_used++;
    if (len)
        *len = used_len;
    if (vq->event_idx && vq->cb_enabled) {
        /* Keep asking for a notification at the next entry, as vq_enable_cb would. The store must
         * be visible before the caller's next used->idx load, or an entry written meanwhile could
         * be neither seen nor notified. */
        WR16(vq->used_event, vq->last_used);
        vq_mb();
    }
    return token;
}

/* ---- used buffer notification suppression --------------------------------------------------- */

void vq_disable_cb(struct virtqueue *vq)
{
    vq->cb_enabled = false;
    if (vq->event_idx) {
        /* Spec 2.7 "Used Buffer Notification Suppression", with EVENT_IDX: "The driver MUST set
         * flags to 0." Suppress by putting used_event just behind last_used: the device is at
         * most Queue Size (<= 32768) entries ahead, so it cannot reach last_used + 65535. */
        WR16(vq->used_event, (uint16_t)(vq->last_used - 1));
    } else {
        /* Same section, without EVENT_IDX: "The driver MAY set flags to 1 to advise the device
         * that notifications are not needed." */
        WR16(&vq->avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
}

bool vq_enable_cb(struct virtqueue *vq)
{
    vq->cb_enabled = true;
    if (vq->event_idx) {
        /* Spec 2.7 "Used Buffer Notification Suppression": used_event advises "notifications are
         * unnecessary until the device writes an entry with an index specified by used_event":
         * ask for the very next entry, last_used. */
        WR16(vq->used_event, vq->last_used);
    } else {
        WR16(&vq->avail->flags, 0);
    }
    /* Spec 2.7 "Receiving Used Buffers From The Device": "beware the problem of missing
     * notifications between emptying the ring and reenabling notifications", handled by
     * "re-checking for more used buffers after notifications are re-enabled", with mb() between:
     * the store above must not pass the used->idx load below. */
    vq_mb();
    if (vq->broken)
        return true;
    return !vq_more_used(vq);
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
