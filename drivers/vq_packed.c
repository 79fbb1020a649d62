/*
 * vq_packed.c: packed virtqueue driver side (virtio 1.1+, section 2.8 "Packed Virtqueues", feature
 * VIRTIO_F_RING_PACKED), behind virtqueue.h. virtqueue.c has already checked the arguments and
 * that the queue is not broken.
 *
 * One descriptor ring both sides write: the driver makes descriptors available in ring order, the
 * device overwrites them with used descriptors naming a buffer id, in completion order. Each side
 * keeps a one-bit wrap counter, so "available" and "used" are told apart by the AVAIL and USED
 * flag bits alone. State per buffer id (token, writable bytes, descriptors the list took) lives
 * in vq->slot; free ids form a list through slot[].next.
 */
#include "vq_internal.h"

/* Spec 2.8 "Structure Size and Alignment": Descriptor Ring 16-aligned, 16 * Queue Size bytes;
 * Device and Driver Event Suppression 4-aligned, 4 bytes each. */
static size_t driver_off(uint16_t size)
{
    return (size_t)16 * size;
}

static size_t device_off(uint16_t size)
{
    return driver_off(size) + sizeof(struct pvirtq_event_suppress);
}

size_t vq_packed_ring_bytes(uint16_t size)
{
    return device_off(size) + sizeof(struct pvirtq_event_suppress);
}

void vq_packed_init(struct virtqueue *vq, void *ring)
{
    /* Spec 2.8: "The descriptor ring is zero-initialized" (vq_init zeroed it), and 2.8.1: "Each
     * of the driver and the device are expected to maintain, internally, a single-bit ring wrap
     * counter initialized to 1." A zeroed descriptor has AVAIL = USED = 0: with the counters at 1
     * it is neither available nor used. Zeroed event structures are RING_EVENT_FLAGS_ENABLE. */
    vq->pdesc = ring;
    vq->driver_event = (struct pvirtq_event_suppress *)((uint8_t *)ring + driver_off(vq->size));
    vq->device_event = (struct pvirtq_event_suppress *)((uint8_t *)ring + device_off(vq->size));
    vq->avail_wrap = true;
    vq->used_wrap = true;
    vq->kicked_wrap = true;
}

uint64_t vq_packed_driver_phys(const struct virtqueue *vq)
{
    return vq->phys + driver_off(vq->size);
}

uint64_t vq_packed_device_phys(const struct virtqueue *vq)
{
    return vq->phys + device_off(vq->size);
}

/* Spec 2.8.1: "To mark a descriptor as available, the driver sets the VIRTQ_DESC_F_AVAIL bit in
 * Flags to match the internal Driver Ring Wrap Counter. It also sets the VIRTQ_DESC_F_USED bit to
 * match the inverse value". */
static uint16_t avail_bits(bool wrap)
{
    return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

/* Spec 2.8 "Placing Available Buffers Into The Descriptor Ring": "If d is the last descriptor in
 * the ring, toggle the Driver Ring Wrap Counter. Otherwise, increment d". */
static void advance_avail(struct virtqueue *vq)
{
    if (++vq->avail_idx == vq->size) {
        vq->avail_idx = 0;
        vq->avail_wrap = !vq->avail_wrap;
    }
}

/* One descriptor of an available list; the flags are stored by the caller. */
static void fill_pdesc(struct pvirtq_desc *d, uint64_t addr, uint32_t len, uint16_t id)
{
    d->addr = addr;
    d->len = len;
    d->id = id;
}

int vq_packed_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n_out, unsigned n_in,
                  const struct vq_chain *c, void *token, void *indirect_table, uint64_t indirect_phys)
{
    unsigned n = n_out + n_in;
    uint16_t ndesc = c->descs;
    /* Spec 2.8 "Scatter-Gather Support": "A driver MUST make sure there's enough space in the
     * ring for the whole list before making the first descriptor in the list available". */
    uint16_t need = indirect_table ? 1 : ndesc;
    if (need > vq->num_free)
        return VQ_ERR_NOSPC;
    /* Every in-flight buffer holds at least one descriptor, so a free descriptor means a free
     * id: "Get the next free buffer id value". */
    uint16_t id = vq->free_head;
    vq->free_head = vq->slot[id].next;

    uint16_t head = vq->avail_idx, head_flags = 0, k = 0;
    if (indirect_table) {
        /* Spec 2.8 "Indirect Flag": "The first descriptor is located at the start of the indirect
         * descriptor table, additional indirect descriptors come immediately afterwards", and
         * "The driver MUST NOT set any flags except DESC_F_WRITE within an indirect descriptor";
         * their buffer ids are reserved (left 0). Readable elements come first by contract. */
        struct pvirtq_desc *t = indirect_table;
        for (unsigned e = 0; e < n; e++) {
            const struct vq_buf *b = &bufs[e];
            uint16_t f = e >= n_out ? VIRTQ_DESC_F_WRITE : 0;
            uint64_t addr = b->addr, end = addr + b->len;
            for (uint32_t p = 1; p < b->pieces; p++, k++, addr += b->seg) {
                fill_pdesc(&t[k], addr, b->seg, 0);
                t[k].flags = f;
            }
            fill_pdesc(&t[k], addr, (uint32_t)(end - addr), 0);
            t[k++].flags = f;
        }
        struct pvirtq_desc *d = &vq->pdesc[head];
        fill_pdesc(d, indirect_phys, (uint32_t)(ndesc * sizeof(struct pvirtq_desc)), id);
        /* "In descriptors with VIRTQ_DESC_F_INDIRECT set VIRTQ_DESC_F_WRITE is reserved", and
         * "A driver MUST NOT write direct descriptors with DESC_F_INDIRECT set in a
         * scatter-gather list linked by VIRTQ_DESC_F_NEXT": one descriptor, no NEXT. */
        head_flags = (uint16_t)(VIRTQ_DESC_F_INDIRECT | avail_bits(vq->avail_wrap));
        advance_avail(vq);
    } else {
        /* Spec 2.8 "Next Flag": "setting the VIRTQ_DESC_F_NEXT bit in Flags for all but the last
         * available descriptor", "Buffer ID is included in the last descriptor in the list"
         * (written in all of them: the device reads it from the last), and "all flags ... must be
         * set/cleared correctly in all descriptors in the list, not just the first one": a list
         * that wraps takes the flipped counter from the first descriptor after the wrap. */
        for (unsigned e = 0; e < n; e++) {
            const struct vq_buf *b = &bufs[e];
            uint16_t w = e >= n_out ? VIRTQ_DESC_F_WRITE : 0;
            uint64_t addr = b->addr, end = addr + b->len;
            uint32_t pieces = b->pieces > 1 ? b->pieces : 1;
            for (uint32_t p = 1; p <= pieces; p++, k++) {
                struct pvirtq_desc *d = &vq->pdesc[vq->avail_idx];
                uint32_t len = p < pieces ? b->seg : (uint32_t)(end - addr);
                uint16_t f = (uint16_t)(w | (k + 1u < ndesc ? VIRTQ_DESC_F_NEXT : 0) |
                                        avail_bits(vq->avail_wrap));
                fill_pdesc(d, addr, len, id);
                addr += len;
                if (k == 0)
                    head_flags = f; /* "Don't mark the 1st descriptor available until all of them
                                       are ready" */
                else
                    WR16(&d->flags, f);
                advance_avail(vq);
            }
        }
    }
    struct vq_slot *s = &vq->slot[id];
    s->token = token;
    s->in_len = c->in_total;
    s->ndesc = need;
    s->head = true;
    vq->num_free = (uint16_t)(vq->num_free - need);
    /* Spec 2.8 "Updating flags": "The driver MUST perform a suitable memory barrier before the
     * flags update, to ensure the device sees the most up-to-date copy." The head's flags expose
     * the whole list, any indirect table and the buffers. */
    vq_wmb();
    WR16(&vq->pdesc[head].flags, head_flags);
    vq->inflight++;
    vq->added_since_kick++;
    vq->desc_since_kick += need;
    return id;
}

/* A position in the ring with its wrap counter, as one number modulo 2 * size that grows as the
 * driver moves forward: the first lap (counter 1) is 0..size-1, the next size..2*size-1. */
static uint32_t lap_pos(const struct virtqueue *vq, uint16_t pos, bool wrap)
{
    return wrap ? pos : (uint32_t)pos + vq->size;
}

bool vq_packed_kick_prepare(struct virtqueue *vq)
{
    /* Spec 2.8 "Sending Available Buffer Notifications": "The driver MUST perform a suitable
     * memory barrier before reading the Event Suppression structure occupying the Device Area."
     * The head flags store must not pass the load below. */
    vq_mb();
    uint32_t added = vq->desc_since_kick;
    vq->kicked_idx = vq->avail_idx;
    vq->kicked_wrap = vq->avail_wrap;
    vq->desc_since_kick = 0;
    vq->added_since_kick = 0;
    if (added == 0)
        return false;
    uint16_t flags = RD16(&vq->device_event->flags) & 3;
    /* Spec 2.8 "Driver and Device Event Suppression": RING_EVENT_FLAGS_DISABLE disables
     * available buffer notifications. */
    if (flags == RING_EVENT_FLAGS_DISABLE)
        return false;
    /* RING_EVENT_FLAGS_DESC: "Event will only trigger when this descriptor is made available"
     * with the matching wrap counter; "Only valid if VIRTIO_F_RING_EVENT_IDX has been
     * negotiated". Anything else (ENABLE, or a value we cannot honour) notifies. */
    if (flags != RING_EVENT_FLAGS_DESC || !vq->event_idx || added > vq->size)
        return true;
    uint16_t off_wrap = RD16(&vq->device_event->desc);
    uint16_t off = off_wrap & 0x7fff;
    if (off >= vq->size)
        return true; /* out of the ring: notify rather than risk a hang */
    /* Notify when the event descriptor is among the `added` just made available, i.e. it lies
     * 1..added positions behind the next one to fill. */
    uint32_t cycle = 2u * vq->size;
    uint32_t cur = lap_pos(vq, vq->avail_idx, vq->avail_wrap);
    uint32_t ev = lap_pos(vq, off, off_wrap >> RING_EVENT_WRAP_SHIFT);
    uint32_t dist = (cur + cycle - ev) % cycle;
    return dist >= 1 && dist <= added;
}

/* ---- completions ----------------------------------------------------------------------------- */

/* Spec 2.8.1: "Thus VIRTQ_DESC_F_AVAIL and VIRTQ_DESC_F_USED bits are different for an available
 * descriptor and equal for a used descriptor", and a used descriptor of this lap has USED equal to
 * the device's wrap counter, which the driver tracks in used_wrap. Both tests count: the slot
 * after the last used one may still hold a list's second descriptor from the previous lap (the
 * device skips those), whose USED bit alone already matches the new lap's counter. */
static bool is_used(const struct virtqueue *vq, uint16_t flags)
{
    bool avail = flags & VIRTQ_DESC_F_AVAIL, used = flags & VIRTQ_DESC_F_USED;
    return avail == used && used == vq->used_wrap;
}

bool vq_packed_more_used(struct virtqueue *vq)
{
    return is_used(vq, RD16(&vq->pdesc[vq->last_used].flags));
}

void *vq_packed_get_used(struct virtqueue *vq, uint32_t *len)
{
    const struct pvirtq_desc *d = &vq->pdesc[vq->last_used];
    uint16_t flags = RD16(&d->flags);
    if (!is_used(vq, flags))
        return NULL;
    /* Having seen the flags, no read of id, len or the buffers may pass them ("read_memory_barrier"
     * in the spec's example of 2.8 "Receiving Used Buffers From The Device"). */
    vq_rmb();
    uint32_t id = RD16(&d->id), used_len = RD32(&d->len);
    /* Spec 2.8 "Element Address and Length": "Element Length is reserved for used descriptors
     * without the VIRTQ_DESC_F_WRITE flag, and is ignored by drivers", and 2.8 "Write Flag": in a
     * used descriptor the bit says "whether any data has been written by the device". QEMU (7.2
     * and 10.0, virtqueue_packed_fill_desc) never sets it, yet writes len; so does every driver we
     * know of take len as it is. We do the same, and still bound it by the writable bytes. */
    if (!vq_check_used(vq, id, used_len, vq->last_used))
        return NULL;
    struct vq_slot *s = &vq->slot[id];
    void *token = s->token;
    /* Spec 2.8 "Next Flag": "The device only writes out a single used descriptor for the whole
     * list. It then skips forward according to the number of descriptors in the list. The driver
     * needs to keep track of the size of the list corresponding to each buffer ID". */
    uint32_t next = (uint32_t)vq->last_used + s->ndesc;
    if (next >= vq->size) {
        next -= vq->size;
        vq->used_wrap = !vq->used_wrap;
    }
    vq->last_used = (uint16_t)next;
    vq->num_free = (uint16_t)(vq->num_free + s->ndesc);
    s->token = NULL;
    s->head = false;
    s->next = vq->free_head;
    vq->free_head = (uint16_t)id;
    vq->inflight--;
    if (len)
        *len = used_len;
    if (vq->event_idx && vq->cb_enabled) {
        /* Keep asking for a notification at the next used descriptor, as enable_cb would; visible
         * before the caller's next flags load. */
        WR16(&vq->driver_event->desc,
             vq->last_used | ((uint16_t)vq->used_wrap << RING_EVENT_WRAP_SHIFT));
        vq_mb();
    }
    return token;
}

/* ---- used buffer notification suppression --------------------------------------------------- */

void vq_packed_disable_cb(struct virtqueue *vq)
{
    /* Spec 2.8 "Receiving Used Buffers From The Device": "vq->driver_event.flags =
     * RING_EVENT_FLAGS_DISABLE". */
    WR16(&vq->driver_event->flags, RING_EVENT_FLAGS_DISABLE);
}

void vq_packed_enable_cb(struct virtqueue *vq)
{
    if (vq->event_idx) {
        /* RING_EVENT_FLAGS_DESC: "Event will only trigger when this descriptor is made ... used":
         * the next used descriptor is written at last_used, in the device's current lap. The
         * offset must be in place before the flags that make the device read it. */
        WR16(&vq->driver_event->desc,
             vq->last_used | ((uint16_t)vq->used_wrap << RING_EVENT_WRAP_SHIFT));
        vq_wmb();
        WR16(&vq->driver_event->flags, RING_EVENT_FLAGS_DESC);
    } else {
        WR16(&vq->driver_event->flags, RING_EVENT_FLAGS_ENABLE);
    }
}
