/*
 * fake_vdev.c: see fake_vdev.h. Written from the device's side of spec 2.7, independently of the
 * driver: notification decisions test "was the entry at the event index among those written",
 * not the driver's vq_need_event formula.
 */
#include <stdarg.h>
#include <stdio.h>

#include "fake_vdev.h"

void fvd_fail(struct fake_vdev *dev, const char *fmt, ...)
{
    if (dev->err[0])
        return; /* keep the first: later ones are usually consequences */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dev->err, sizeof(dev->err), fmt, ap);
    va_end(ap);
}

void *fvd_ptr(struct fake_vdev *dev, uint64_t addr, uint64_t len)
{
    if (addr < dev->mem_phys || addr - dev->mem_phys > dev->mem_bytes ||
        len > dev->mem_bytes - (addr - dev->mem_phys))
        return NULL;
    return dev->mem + (addr - dev->mem_phys);
}

void fvd_init_common(struct fake_vdev *dev, void *mem, uint64_t mem_phys, size_t mem_bytes, uint16_t size,
                     bool event_idx, bool indirect)
{
    memset(dev, 0, sizeof(*dev));
    dev->mem = mem;
    dev->mem_phys = mem_phys;
    dev->mem_bytes = mem_bytes;
    dev->size = size;
    dev->event_idx = event_idx;
    dev->indirect = indirect;
    if (size > FVD_MAX_QSIZE)
        fvd_fail(dev, "queue size %u too big for the fake device", size);
}

void fvd_init(struct fake_vdev *dev, void *mem, uint64_t mem_phys, size_t mem_bytes,
              uint64_t desc_phys, uint64_t avail_phys, uint64_t used_phys, uint16_t size,
              bool event_idx, bool indirect)
{
    fvd_init_common(dev, mem, mem_phys, mem_bytes, size, event_idx, indirect);
    dev->auto_avail_event = true;
    if (desc_phys % 16 || avail_phys % 2 || used_phys % 4)
        fvd_fail(dev, "misaligned ring parts %#llx %#llx %#llx", (unsigned long long)desc_phys,
                 (unsigned long long)avail_phys, (unsigned long long)used_phys);
    dev->desc = fvd_ptr(dev, desc_phys, 16ull * size);
    dev->avail = fvd_ptr(dev, avail_phys, 6 + 2ull * size);
    dev->used = fvd_ptr(dev, used_phys, 6 + 8ull * size);
    if (!dev->desc || !dev->avail || !dev->used)
        fvd_fail(dev, "ring parts outside guest memory");
}

static uint16_t *used_event(struct fake_vdev *dev)
{
    return &dev->avail->ring[dev->size];
}

static uint16_t *avail_event(struct fake_vdev *dev)
{
    return (uint16_t *)&dev->used->ring[dev->size];
}

/* Appends one buffer descriptor to req; false (and err) on a driver violation. */
static bool add_seg(struct fake_vdev *dev, struct fvd_req *r, const struct vq_desc *d, int nseg)
{
    bool write = d->flags & VIRTQ_DESC_F_WRITE;
    if (nseg >= FVD_MAX_SEGS) {
        fvd_fail(dev, "head %u: more than %d segments", r->head, FVD_MAX_SEGS);
        return false;
    }
    if (!write && r->n_in) {
        fvd_fail(dev, "head %u: device-readable descriptor after a device-writable one", r->head);
        return false;
    }
    struct fvd_seg *s = &r->seg[nseg];
    s->addr = d->addr;
    s->len = d->len;
    s->write = write;
    s->p = fvd_ptr(dev, d->addr, d->len);
    if (!s->p) {
        fvd_fail(dev, "head %u: buffer %#llx+%u outside guest memory", r->head,
                 (unsigned long long)d->addr, d->len);
        return false;
    }
    if (write) {
        r->n_in++;
        r->in_total += d->len;
    } else {
        r->n_out++;
    }
    return true;
}

static bool walk_indirect(struct fake_vdev *dev, struct fvd_req *r, const struct vq_desc *d,
                          int *nseg)
{
    if (!dev->indirect) {
        fvd_fail(dev, "head %u: INDIRECT without VIRTIO_F_INDIRECT_DESC", r->head);
        return false;
    }
    if (d->flags & VIRTQ_DESC_F_NEXT) {
        fvd_fail(dev, "head %u: INDIRECT and NEXT both set", r->head);
        return false;
    }
    if (d->len == 0 || d->len % 16) {
        fvd_fail(dev, "head %u: indirect table len %u not a multiple of 16", r->head, d->len);
        return false;
    }
    uint32_t n = d->len / 16;
    const struct vq_desc *t = fvd_ptr(dev, d->addr, d->len);
    if (!t) {
        fvd_fail(dev, "head %u: indirect table outside guest memory", r->head);
        return false;
    }
    r->indirect = true;
    uint32_t i = 0;
    for (uint32_t count = 0;; count++) {
        if (count >= n || count >= dev->size) {
            fvd_fail(dev, "head %u: indirect chain loops or is longer than its table", r->head);
            return false;
        }
        if (t[i].flags & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT)) {
            fvd_fail(dev, "head %u: unknown flags %#x", r->head, t[i].flags);
            return false;
        }
        if (t[i].flags & VIRTQ_DESC_F_INDIRECT) {
            fvd_fail(dev, "head %u: INDIRECT inside an indirect table", r->head);
            return false;
        }
        if (!add_seg(dev, r, &t[i], (*nseg)++))
            return false;
        if (!(t[i].flags & VIRTQ_DESC_F_NEXT))
            return true;
        i = t[i].next;
        if (i >= n) {
            fvd_fail(dev, "head %u: indirect next %u beyond table of %u", r->head, i, n);
            return false;
        }
    }
}

static bool walk_chain(struct fake_vdev *dev, struct fvd_req *r, uint16_t head)
{
    int nseg = 0;
    uint16_t i = head;
    for (unsigned count = 0;; count++) {
        if (count >= dev->size) {
            fvd_fail(dev, "head %u: chain loops or is longer than the queue", head);
            return false;
        }
        const struct vq_desc *d = &dev->desc[i];
        if (d->flags & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT)) {
            fvd_fail(dev, "head %u: unknown flags %#x", head, d->flags);
            return false;
        }
        if (d->flags & VIRTQ_DESC_F_INDIRECT)
            return walk_indirect(dev, r, d, &nseg);
        if (!add_seg(dev, r, d, nseg++))
            return false;
        if (!(d->flags & VIRTQ_DESC_F_NEXT))
            break;
        i = d->next;
        if (i >= dev->size) {
            fvd_fail(dev, "head %u: next %u out of range", head, i);
            return false;
        }
    }
    uint64_t total = 0;
    for (int k = 0; k < nseg; k++)
        total += r->seg[k].len;
    if (total > UINT32_MAX) {
        fvd_fail(dev, "head %u: chain of %llu bytes", head, (unsigned long long)total);
        return false;
    }
    return true;
}

int fvd_pop(struct fake_vdev *dev, uint16_t *head)
{
    if (dev->err[0])
        return -1;
    if (dev->packed)
        return fvd_packed_pop(dev, head);
    uint16_t flags = __atomic_load_n(&dev->avail->flags, __ATOMIC_RELAXED);
    if (dev->event_idx ? flags != 0 : flags > 1) {
        fvd_fail(dev, "avail flags %u (event_idx %d)", flags, dev->event_idx);
        return -1;
    }
    uint16_t idx = __atomic_load_n(&dev->avail->idx, __ATOMIC_RELAXED);
    uint16_t pending = (uint16_t)(idx - dev->last_avail);
    if (pending > dev->size) {
        fvd_fail(dev, "avail idx %u is %u past the device's %u", idx, pending, dev->last_avail);
        return -1;
    }
    if (pending == 0)
        return 0;
    uint16_t h = dev->avail->ring[dev->last_avail % dev->size];
    if (h >= dev->size) {
        fvd_fail(dev, "avail ring head %u out of range", h);
        return -1;
    }
    struct fvd_req *r = &dev->req[h];
    if (r->busy) {
        fvd_fail(dev, "head %u made available while the device still owns it", h);
        return -1;
    }
    memset(r, 0, sizeof(*r));
    r->head = h;
    if (!walk_chain(dev, r, h))
        return -1;
    r->busy = true;
    dev->last_avail++;
    if (dev->event_idx && dev->auto_avail_event)
        __atomic_store_n(avail_event(dev), dev->last_avail, __ATOMIC_RELAXED);
    *head = h;
    return 1;
}

int fvd_pop_all(struct fake_vdev *dev, uint16_t *heads, int max)
{
    int n = 0, rc;
    uint16_t h;
    while (n < max && (rc = fvd_pop(dev, &h)) == 1)
        heads[n++] = h;
    return dev->err[0] ? -1 : n;
}

struct fvd_req *fvd_req(struct fake_vdev *dev, uint16_t head)
{
    return head < dev->size && dev->req[head].busy ? &dev->req[head] : NULL;
}

size_t fvd_read(struct fake_vdev *dev, uint16_t head, void *out, size_t max)
{
    struct fvd_req *r = fvd_req(dev, head);
    size_t n = 0;
    for (int i = 0; r && i < r->n_out; i++) {
        size_t k = MIN((size_t)r->seg[i].len, max - n);
        memcpy((uint8_t *)out + n, r->seg[i].p, k);
        n += k;
    }
    return n;
}

size_t fvd_write(struct fake_vdev *dev, uint16_t head, const void *src, size_t n)
{
    struct fvd_req *r = fvd_req(dev, head);
    size_t done = 0;
    for (int i = 0; r && i < r->n_in && done < n; i++) {
        struct fvd_seg *s = &r->seg[r->n_out + i];
        size_t k = MIN((size_t)s->len, n - done);
        memcpy(s->p, (const uint8_t *)src + done, k);
        done += k;
    }
    return done;
}

static void write_used(struct fake_vdev *dev, uint32_t id, uint32_t len)
{
    struct vq_used_elem *e = &dev->used->ring[dev->used_idx % dev->size];
    __atomic_store_n(&e->id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
    dev->used_idx++;
}

bool fvd_push(struct fake_vdev *dev, uint16_t head, uint32_t len)
{
    struct fvd_req *r = fvd_req(dev, head);
    if (!r)
        return false;
    r->busy = false;
    if (dev->packed)
        return fvd_packed_push(dev, r, len);
    write_used(dev, head, len);
    return true;
}

/* Device rule, spec 2.7 "Used Buffer Notification Suppression": notify when one of the entries
 * just written sat at index used_event, i.e. used_event lies in [old, new) modulo 2^16. */
static bool entry_hit(uint16_t event, uint16_t old_idx, uint16_t new_idx)
{
    return (uint16_t)(event - old_idx) < (uint16_t)(new_idx - old_idx);
}

bool fvd_publish(struct fake_vdev *dev)
{
    if (dev->packed)
        return fvd_packed_publish(dev);
    uint16_t old = dev->used_published, new = dev->used_idx;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&dev->used->idx, new, __ATOMIC_RELAXED);
    dev->used_published = new;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (old == new)
        return false;
    bool irq;
    if (dev->event_idx)
        irq = entry_hit(__atomic_load_n(used_event(dev), __ATOMIC_RELAXED), old, new);
    else
        irq = !(__atomic_load_n(&dev->avail->flags, __ATOMIC_RELAXED) &
                VIRTQ_AVAIL_F_NO_INTERRUPT);
    if (dev->event_idx && dev->avail->flags != 0)
        fvd_fail(dev, "avail flags %u with event_idx", dev->avail->flags);
    dev->irqs += irq;
    return irq;
}

bool fvd_complete(struct fake_vdev *dev, uint16_t head, uint32_t len)
{
    if (!fvd_push(dev, head, len)) {
        fvd_fail(dev, "test bug: completing head %u that the device does not own", head);
        return false;
    }
    return fvd_publish(dev);
}

void fvd_set_avail_event(struct fake_vdev *dev, uint16_t idx)
{
    dev->auto_avail_event = false;
    __atomic_store_n(avail_event(dev), idx, __ATOMIC_RELAXED);
}

void fvd_set_no_notify(struct fake_vdev *dev, bool on)
{
    if (dev->packed) {
        dev->device_event->flags = on ? RING_EVENT_FLAGS_DISABLE : RING_EVENT_FLAGS_ENABLE;
        return;
    }
    __atomic_store_n(&dev->used->flags, on ? VIRTQ_USED_F_NO_NOTIFY : 0, __ATOMIC_RELAXED);
}

bool fvd_driver_must_notify(struct fake_vdev *dev)
{
    if (dev->packed)
        return fvd_packed_must_notify(dev);
    uint16_t old_idx = dev->notify_check, new_idx = dev->avail->idx;
    dev->notify_check = new_idx;
    if (dev->event_idx)
        return entry_hit(*avail_event(dev), old_idx, new_idx);
    return old_idx != new_idx && !(dev->used->flags & VIRTQ_USED_F_NO_NOTIFY);
}

void fvd_notify(struct fake_vdev *dev)
{
    dev->notifies++;
}

void fvd_inject_used(struct fake_vdev *dev, uint32_t id, uint32_t len)
{
    if (id < dev->size)
        dev->req[id].busy = false;
    write_used(dev, id, len);
    fvd_publish(dev);
}

void fvd_inject_used_idx(struct fake_vdev *dev, uint16_t idx)
{
    dev->used_idx = idx;
    fvd_publish(dev);
}
