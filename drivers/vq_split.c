/*
 * vq_split.c: split virtqueue driver side (virtio 1.x, section 2.7), behind virtqueue.h.
 * virtqueue.c has already checked the arguments and that the queue is not broken.
 */
#include "vq_internal.h"

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

size_t vq_split_ring_bytes(uint16_t size)
{
    return used_off(size) + 6 + (size_t)8 * size;
}

void vq_split_init(struct virtqueue *vq, void *ring)
{
    /* Spec 2.7 "Available Buffer Notification Suppression": "The driver MUST initialize flags in
     * the used ring to 0 when allocating the used ring." vq_init zeroed everything, which also
     * starts avail flags and used_event at 0: used buffer notifications wanted from entry 0. */
    uint16_t size = vq->size;
    vq->desc = ring;
    vq->avail = (struct vq_avail *)((uint8_t *)ring + avail_off(size));
    vq->used = (struct vq_used *)((uint8_t *)ring + used_off(size));
    vq->used_event = &vq->avail->ring[size];
    vq->avail_event = (uint16_t *)&vq->used->ring[size];
}

uint64_t vq_split_avail_phys(const struct virtqueue *vq)
{
    return vq->phys + avail_off(vq->size);
}

uint64_t vq_split_used_phys(const struct virtqueue *vq)
{
    return vq->phys + used_off(vq->size);
}

static void fill_desc(struct vq_desc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    d->addr = addr;
    d->len = len;
    d->flags = flags;
    d->next = next;
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

/*
 * Writes the chain of bufs (runs cut into their pieces) into table t: direct, into the ring's
 * free descriptors along the free list from vq->free_head, whose links already name the next
 * free ids and so double as the chain links; or into an indirect table, at 0, 1, 2... (spec 2.7
 * "Indirect Descriptors": "The first indirect descriptor is located at start of the indirect
 * descriptor table (index 0), additional indirect descriptors are chained by next").
 * Spec 2.7 "Placing Buffers Into The Descriptor Table": "If b is device-writable, set d.flags to
 * VIRTQ_DESC_F_WRITE, otherwise 0. If there is a buffer element after this: Set d.next to the
 * index of the next free descriptor element. Set the VIRTQ_DESC_F_NEXT bit": every descriptor is
 * written with NEXT, the last one is then closed. Returns the last descriptor's id. Inlined into
 * its two callers, so each loop is specialised.
 */
static inline __attribute__((always_inline)) uint16_t
fill_chain(struct virtqueue *vq, struct vq_desc *t, bool direct, const struct vq_buf *bufs,
           unsigned n_out, unsigned n)
{
    uint16_t id = direct ? vq->free_head : 0, last = id;
    for (unsigned e = 0; e < n; e++) {
        const struct vq_buf *b = &bufs[e];
        uint16_t flags = e >= n_out ? VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT : VIRTQ_DESC_F_NEXT;
        uint64_t addr = b->addr, end = addr + b->len;
        for (uint32_t p = 1; p < b->pieces; p++) {
            uint16_t next = direct ? vq->slot[id].next : (uint16_t)(id + 1);
            fill_desc(&t[id], addr, b->seg, flags, next);
            addr += b->seg;
            id = next;
        }
        uint16_t next = direct ? vq->slot[id].next : (uint16_t)(id + 1);
        fill_desc(&t[id], addr, (uint32_t)(end - addr), flags, next);
        last = id;
        id = next;
    }
    t[last].flags &= (uint16_t)~VIRTQ_DESC_F_NEXT;
    t[last].next = 0;
    return last;
}

int vq_split_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n_out, unsigned n_in,
                 const struct vq_chain *c, void *token, void *indirect_table_v, uint64_t indirect_phys)
{
    struct vq_desc *indirect_table = indirect_table_v;
    unsigned n = n_out + n_in;
    uint16_t need = indirect_table ? 1 : c->descs;
    if (need > vq->num_free)
        return VQ_ERR_NOSPC;

    uint16_t head = vq->free_head, last = head;
    if (indirect_table) {
        fill_chain(vq, indirect_table, false, bufs, n_out, n);
        /* Spec 2.7 "Indirect Descriptors": "A driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and
         * VIRTQ_DESC_F_NEXT in flags." The table holds the whole chain: one ring descriptor. */
        fill_desc(&vq->desc[head], indirect_phys, (uint32_t)(c->descs * sizeof(struct vq_desc)),
                  VIRTQ_DESC_F_INDIRECT, 0);
    } else {
        /* Spec 2.7 "Message Framing": "The driver MUST place any device-writable descriptor
         * elements after any device-readable descriptor elements." bufs is readable-first by
         * contract (and so is the indirect table above). */
        last = fill_chain(vq, vq->desc, true, bufs, n_out, n);
    }
    vq->free_head = vq->slot[last].next;
    vq->num_free = (uint16_t)(vq->num_free - need);

    struct vq_slot *s = &vq->slot[head];
    s->token = token;
    s->in_len = c->in_total;
    s->ndesc = need;
    s->head = true;
    publish_head(vq, head);
    return head;
}

bool vq_split_kick_prepare(struct virtqueue *vq)
{
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

/* ---- completions ----------------------------------------------------------------------------- */

/* New used entries, after checking the device did not publish more than it holds. */
static uint16_t pending_used(struct virtqueue *vq, uint16_t *idx_seen)
{
    uint16_t used_idx = RD16(&vq->used->idx);
    *idx_seen = used_idx;
    uint16_t pending = (uint16_t)(used_idx - vq->last_used);
    /* The device can only return chains it owns, so used idx never runs further ahead of
     * last_used than the chains in flight (and never more than Queue Size). */
    if (pending > vq->inflight) {
        static const char *const t[] = {"used idx ", " is ", " past last_used ", " with ",
                                        " in flight (queue size ", ")"};
        uint64_t v[] = {used_idx, pending, vq->last_used, vq->inflight, vq->size};
        vq_mark_broken(vq, VQ_BROKEN_IDX_JUMP, t, v, 5);
        return 0;
    }
    return pending;
}

bool vq_split_more_used(struct virtqueue *vq)
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

void *vq_split_get_used(struct virtqueue *vq, uint32_t *len)
{
    uint16_t used_idx;
    if (pending_used(vq, &used_idx) == 0)
        return NULL;
    /* Pairs with the device rule of spec 2.7 "The Virtqueue Used Ring": "The device MUST set len
     * prior to updating the used idx." Having seen the idx, no entry or buffer read may pass it. */
    vq_rmb();
    const struct vq_used_elem *e = &vq->used->ring[vq->last_used & vq->mask];
    uint32_t id = RD32(&e->id), used_len = RD32(&e->len);
    if (!vq_check_used(vq, id, used_len, used_idx))
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

void vq_split_disable_cb(struct virtqueue *vq)
{
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

void vq_split_enable_cb(struct virtqueue *vq)
{
    if (vq->event_idx) {
        /* Spec 2.7 "Used Buffer Notification Suppression": used_event advises "notifications are
         * unnecessary until the device writes an entry with an index specified by used_event":
         * ask for the very next entry, last_used. */
        WR16(vq->used_event, vq->last_used);
    } else {
        WR16(&vq->avail->flags, 0);
    }
}
