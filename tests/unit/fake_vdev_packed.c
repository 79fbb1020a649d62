/*
 * fake_vdev_packed.c: the device side of a packed virtqueue (spec 2.8) for fake_vdev.h, written
 * from the device's normative rules, independently of drivers/vq_packed.c: it reads what the
 * driver made available through the AVAIL/USED bits and its own wrap counter, checks the driver's
 * rules on every list, writes used descriptors in completion order and decides notifications
 * from the event suppression structures.
 */
#include <stdio.h>

#include "fake_vdev.h"

void fvd_init_packed(struct fake_vdev *dev, void *mem, uint64_t mem_phys, size_t mem_bytes,
                     uint64_t desc_phys, uint64_t driver_phys, uint64_t device_phys, uint16_t size,
                     bool event_idx, bool indirect)
{
    fvd_init_common(dev, mem, mem_phys, mem_bytes, size, event_idx, indirect);
    dev->packed = true;
    /* "a single-bit ring wrap counter initialized to 1" on both sides */
    dev->avail_wrap = dev->used_wrap = dev->published_wrap = dev->notify_check_wrap = true;
    if (desc_phys % 16 || driver_phys % 4 || device_phys % 4)
        fvd_fail(dev, "misaligned packed ring parts");
    dev->pdesc = fvd_ptr(dev, desc_phys, 16ull * size);
    dev->driver_event = fvd_ptr(dev, driver_phys, 4);
    dev->device_event = fvd_ptr(dev, device_phys, 4);
    if (!dev->pdesc || !dev->driver_event || !dev->device_event)
        fvd_fail(dev, "ring parts outside guest memory");
}

/* Available for a device whose wrap counter is wrap: AVAIL matches it, USED does not. */
static bool avail_for(uint16_t flags, bool wrap)
{
    return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

static void step(const struct fake_vdev *dev, uint16_t *pos, bool *wrap)
{
    if (++*pos == dev->size) {
        *pos = 0;
        *wrap = !*wrap;
    }
}

static bool add_pseg(struct fake_vdev *dev, struct fvd_req *r, uint64_t addr, uint32_t len,
                     bool write, int nseg)
{
    if (nseg >= FVD_MAX_SEGS) {
        fvd_fail(dev, "id %u: more than %d segments", r->head, FVD_MAX_SEGS);
        return false;
    }
    if (!write && r->n_in) {
        fvd_fail(dev, "id %u: device-readable descriptor after a device-writable one", r->head);
        return false;
    }
    struct fvd_seg *s = &r->seg[nseg];
    s->addr = addr;
    s->len = len;
    s->write = write;
    s->p = fvd_ptr(dev, addr, len);
    if (!s->p) {
        fvd_fail(dev, "id %u: buffer %#llx+%u outside guest memory", r->head,
                 (unsigned long long)addr, len);
        return false;
    }
    if (write) {
        r->n_in++;
        r->in_total += len;
    } else {
        r->n_out++;
    }
    return true;
}

static bool walk_ptable(struct fake_vdev *dev, struct fvd_req *r, const struct pvirtq_desc *d)
{
    if (!dev->indirect) {
        fvd_fail(dev, "INDIRECT without VIRTIO_F_INDIRECT_DESC");
        return false;
    }
    if (d->flags & VIRTQ_DESC_F_NEXT) {
        fvd_fail(dev, "INDIRECT in a list linked by NEXT");
        return false;
    }
    if (d->len == 0 || d->len % 16 || d->len / 16 > dev->size) {
        fvd_fail(dev, "indirect table len %u", d->len);
        return false;
    }
    const struct pvirtq_desc *t = fvd_ptr(dev, d->addr, d->len);
    if (!t) {
        fvd_fail(dev, "indirect table outside guest memory");
        return false;
    }
    r->indirect = true;
    for (uint32_t i = 0; i < d->len / 16; i++) {
        /* "The driver MUST NOT set any flags except DESC_F_WRITE within an indirect descriptor." */
        if (t[i].flags & ~VIRTQ_DESC_F_WRITE) {
            fvd_fail(dev, "flags %#x inside an indirect table", t[i].flags);
            return false;
        }
        if (!add_pseg(dev, r, t[i].addr, t[i].len, t[i].flags & VIRTQ_DESC_F_WRITE, (int)i))
            return false;
    }
    return true;
}

int fvd_packed_pop(struct fake_vdev *dev, uint16_t *head)
{
    uint16_t pos = dev->last_avail;
    bool wrap = dev->avail_wrap;
    const struct pvirtq_desc *d = &dev->pdesc[pos];
    if (!avail_for(__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE), wrap))
        return 0;
    /* Walk the list: every descriptor available in its own lap, NEXT on all but the last, the
     * buffer id in the last. */
    struct fvd_req tmp;
    memset(&tmp, 0, sizeof(tmp));
    uint16_t n = 0;
    for (;;) {
        d = &dev->pdesc[pos];
        uint16_t f = d->flags;
        if (!avail_for(f, wrap)) {
            fvd_fail(dev, "list at %u: descriptor %u not available (flags %#x)", dev->last_avail, pos, f);
            return -1;
        }
        if (f & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT |
                  VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED)) {
            fvd_fail(dev, "unknown flags %#x", f);
            return -1;
        }
        if (++n > dev->size) {
            fvd_fail(dev, "list at %u longer than the queue", dev->last_avail);
            return -1;
        }
        tmp.head = d->id;
        if (f & VIRTQ_DESC_F_INDIRECT) {
            if (n != 1) {
                fvd_fail(dev, "INDIRECT in a list linked by NEXT");
                return -1;
            }
            if (!walk_ptable(dev, &tmp, d))
                return -1;
        } else if (!add_pseg(dev, &tmp, d->addr, d->len, f & VIRTQ_DESC_F_WRITE, n - 1)) {
            return -1;
        }
        step(dev, &pos, &wrap);
        if (!(f & VIRTQ_DESC_F_NEXT))
            break;
    }
    uint16_t id = tmp.head;
    if (id >= dev->size) {
        fvd_fail(dev, "buffer id %u out of range", id);
        return -1;
    }
    struct fvd_req *r = &dev->req[id];
    if (r->busy) {
        fvd_fail(dev, "buffer id %u made available while the device still owns it", id);
        return -1;
    }
    *r = tmp;
    r->ndesc = n;
    r->busy = true;
    dev->last_avail = pos;
    dev->avail_wrap = wrap;
    *head = id;
    return 1;
}

bool fvd_packed_push(struct fake_vdev *dev, struct fvd_req *r, uint32_t len)
{
    /* One used descriptor per list, at the next used position; then "skips forward according to
     * the number of descriptors in the list". Flags wait for fvd_publish. */
    struct pvirtq_desc *d = &dev->pdesc[dev->used_idx];
    d->id = r->head;
    d->len = len;
    uint16_t f = (uint16_t)(dev->used_wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0);
    if (r->n_in)
        f |= VIRTQ_DESC_F_WRITE;
    dev->pending_pos[dev->npending] = dev->used_idx;
    dev->pending_flags[dev->npending++] = f;
    for (uint16_t i = 0; i < r->ndesc; i++)
        step(dev, &dev->used_idx, &dev->used_wrap);
    return true;
}

static uint32_t lap(const struct fake_vdev *dev, uint16_t pos, bool wrap)
{
    return wrap ? pos : (uint32_t)pos + dev->size;
}

/* Was the descriptor at (off, wrap) among the positions from (old) up to, not including, (new)? */
static bool event_hit(const struct fake_vdev *dev, uint16_t off_wrap, uint32_t old, uint32_t new)
{
    uint32_t cycle = 2u * dev->size;
    uint32_t ev = lap(dev, off_wrap & 0x7fff, off_wrap >> 15);
    return (ev + cycle - old) % cycle < (new + cycle - old) % cycle;
}

bool fvd_packed_publish(struct fake_vdev *dev)
{
    for (unsigned i = 0; i < dev->npending; i++)
        __atomic_store_n(&dev->pdesc[dev->pending_pos[i]].flags, dev->pending_flags[i],
                         __ATOMIC_RELEASE);
    unsigned n = dev->npending;
    dev->npending = 0;
    uint32_t old = lap(dev, dev->used_published, dev->published_wrap);
    uint32_t new = lap(dev, dev->used_idx, dev->used_wrap);
    dev->used_published = dev->used_idx;
    dev->published_wrap = dev->used_wrap;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (n == 0)
        return false;
    uint16_t flags = __atomic_load_n(&dev->driver_event->flags, __ATOMIC_RELAXED);
    bool irq;
    if (flags == RING_EVENT_FLAGS_DISABLE) {
        irq = false;
    } else if (flags == RING_EVENT_FLAGS_ENABLE) {
        irq = true;
    } else if (flags == RING_EVENT_FLAGS_DESC && dev->event_idx) {
        irq = event_hit(dev, __atomic_load_n(&dev->driver_event->desc, __ATOMIC_RELAXED), old, new);
    } else {
        fvd_fail(dev, "driver event flags %u (event_idx %d)", flags, dev->event_idx);
        irq = true;
    }
    dev->irqs += irq;
    return irq;
}

bool fvd_packed_must_notify(struct fake_vdev *dev)
{
    /* What was made available since the last check: scan forward while descriptors are
     * available in their lap. */
    uint16_t pos = dev->notify_check;
    bool wrap = dev->notify_check_wrap;
    uint32_t old = lap(dev, pos, wrap), count = 0;
    while (count < dev->size && avail_for(dev->pdesc[pos].flags, wrap)) {
        step(dev, &pos, &wrap);
        count++;
    }
    dev->notify_check = pos;
    dev->notify_check_wrap = wrap;
    if (count == 0)
        return false;
    uint16_t flags = dev->device_event->flags;
    if (flags == RING_EVENT_FLAGS_DISABLE)
        return false;
    if (flags == RING_EVENT_FLAGS_DESC)
        return event_hit(dev, dev->device_event->desc, old, lap(dev, pos, wrap));
    return true;
}

void fvd_set_avail_event_packed(struct fake_vdev *dev, uint16_t off, bool wrap)
{
    dev->device_event->desc = (uint16_t)(off | (wrap ? 0x8000 : 0));
    dev->device_event->flags = RING_EVENT_FLAGS_DESC;
}

void fvd_inject_used_packed(struct fake_vdev *dev, uint16_t id, uint32_t len, uint16_t flags)
{
    if (id < dev->size)
        dev->req[id].busy = false;
    struct pvirtq_desc *d = &dev->pdesc[dev->used_idx];
    d->id = id;
    d->len = len;
    __atomic_store_n(&d->flags, flags, __ATOMIC_RELEASE);
    step(dev, &dev->used_idx, &dev->used_wrap);
    dev->used_published = dev->used_idx;
    dev->published_wrap = dev->used_wrap;
}
