/*
 * virtio_blk.c: virtio-blk device discovery, setup and reset (virtio 1.x 5.2 and the device
 * initialization of 3.1.1). Requests are framed in virtio_blk_io.c.
 */
#include "virtio_blk.h"
#include "virtio_blk_internal.h"
#include "config.h"
#include "idt.h"
#include "memory.h"
#include "pci.h"
#include "percpu.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_BLK_MODERN 0x1042     /* 0x1040 + device id 2 (4.1.2.1) */
#define VIRTIO_BLK_TRANSITIONAL 0x1001

/* struct virtio_blk_config offsets (5.2.4) */
#define CFG_CAPACITY 0
#define CFG_SIZE_MAX 8
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_PHYS_EXP 24
#define CFG_WRITEBACK 32
#define CFG_NUM_QUEUES 34
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGN 44
#define CFG_MAX_WZ_SECTORS 48
#define CFG_MAX_WZ_SEG 52

static const struct {
    unsigned bit;
    const char *name;
} feature_names[] = {
    { VIRTIO_BLK_F_SIZE_MAX, "size_max" }, { VIRTIO_BLK_F_SEG_MAX, "seg_max" },
    { VIRTIO_BLK_F_GEOMETRY, "geometry" }, { VIRTIO_BLK_F_RO, "ro" },
    { VIRTIO_BLK_F_BLK_SIZE, "blk_size" }, { VIRTIO_BLK_F_FLUSH, "flush" },
    { VIRTIO_BLK_F_TOPOLOGY, "topology" }, { VIRTIO_BLK_F_CONFIG_WCE, "config_wce" },
    { VIRTIO_BLK_F_MQ, "mq" }, { VIRTIO_BLK_F_DISCARD, "discard" },
    { VIRTIO_BLK_F_WRITE_ZEROES, "write_zeroes" }, { VIRTIO_F_INDIRECT_DESC, "indirect_desc" },
    { VIRTIO_F_EVENT_IDX, "event_idx" }, { VIRTIO_F_VERSION_1, "version_1" },
    { VIRTIO_F_RING_PACKED, "ring_packed" }, { VIRTIO_F_RING_RESET, "ring_reset" },
};

bool vblk_has(const struct vblk_disk *d, unsigned feature)
{
    return (d->features >> feature) & 1;
}

uint8_t vblk_status(const struct vblk_disk *d)
{
    return vp_get_status(d->vp);
}

void vblk_give_up(struct vblk_disk *d)
{
    /* 3.1.1: "If any of these steps go irrecoverably wrong, the driver SHOULD set the FAILED
     * status bit to indicate that it has given up on the device". */
    vp_add_status(d->vp, VIRTIO_STATUS_FAILED);
}

bool vblk_status_live(uint8_t status)
{
    return (status & VIRTIO_STATUS_DRIVER_OK) &&
           !(status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

void vblk_feature_names(const struct vblk_disk *d, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(feature_names); i++) {
        if (!vblk_has(d, feature_names[i].bit))
            continue;
        size_t l = strlen(feature_names[i].name);
        if (n + l + 2 > cap)
            break;
        if (n)
            buf[n++] = ' ';
        memcpy(buf + n, feature_names[i].name, l);
        n += l;
    }
    buf[n] = 0;
}

static uint64_t vblk_choose_features(uint64_t offered, const struct vblk_find_opts *o)
{
    /* Every device feature we can use, taken only when offered; the load adapts to what
     * is missing (no FLUSH: no flushes, no MQ: one queue, ...). */
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_SIZE_MAX) |
                    (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_GEOMETRY) |
                    (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                    (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_TOPOLOGY) |
                    (1ull << VIRTIO_BLK_F_CONFIG_WCE) | (1ull << VIRTIO_BLK_F_MQ) |
                    (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |
                    (1ull << VIRTIO_F_RING_RESET);
    if (o->event_idx != CONFIG_OFF)
        want |= 1ull << VIRTIO_F_EVENT_IDX;
    if (o->indirect != CONFIG_OFF)
        want |= 1ull << VIRTIO_F_INDIRECT_DESC;
    if (o->packed != CONFIG_OFF)
        want |= 1ull << VIRTIO_F_RING_PACKED;
    return offered & want;
}

/* Status handshake up to FEATURES_OK (3.1.1 steps 1-6). */
static bool vblk_handshake(struct vblk_disk *d, const char **why)
{
    /* Step 1: "Reset the device." */
    vp_reset(d->vp);
    if (vp_get_status(d->vp) != 0) {
        *why = "device did not finish its reset within 1 s";
        return false;
    }
    /* Steps 2-3: "Set the ACKNOWLEDGE status bit", "Set the DRIVER status bit." */
    vp_add_status(d->vp, VIRTIO_STATUS_ACKNOWLEDGE);
    vp_add_status(d->vp, VIRTIO_STATUS_DRIVER);
    uint64_t offered = vp_get_features(d->vp);
    if (!(offered & (1ull << VIRTIO_F_VERSION_1))) {
        *why = "device does not offer VIRTIO_F_VERSION_1 (legacy-only)";
        vp_add_status(d->vp, VIRTIO_STATUS_FAILED);
        return false;
    }
    if ((d->features & offered) != d->features) {
        *why = "device no longer offers a feature negotiated before";
        vp_add_status(d->vp, VIRTIO_STATUS_FAILED);
        return false;
    }
    if (!vp_finalize_features(d->vp, d->features)) {
        *why = "device cleared FEATURES_OK: it refused our feature subset";
        vp_add_status(d->vp, VIRTIO_STATUS_FAILED);
        return false;
    }
    return true;
}

/* Read the configuration consistently: "drivers MUST read config_generation before and after
 * reading the configuration; if they differ, read again" (2.5.1 / 4.1.4.3). Done after
 * FEATURES_OK: what the fields mean depends on the features. */
static void vblk_read_config(struct vblk_disk *d)
{
    struct vp_device *vp = d->vp;
    uint8_t gen;
    do {
        gen = vp_config_generation(vp);
        d->capacity = vp_config_read64(vp, CFG_CAPACITY);
        d->size_max = vblk_has(d, VIRTIO_BLK_F_SIZE_MAX) ? vp_config_read32(vp, CFG_SIZE_MAX) : 0;
        d->seg_max = vblk_has(d, VIRTIO_BLK_F_SEG_MAX) ? vp_config_read32(vp, CFG_SEG_MAX) : 1;
        d->blk_size = vblk_has(d, VIRTIO_BLK_F_BLK_SIZE) ? vp_config_read32(vp, CFG_BLK_SIZE) : 512;
        d->phys_block_exp = vblk_has(d, VIRTIO_BLK_F_TOPOLOGY) ? vp_config_read8(vp, CFG_PHYS_EXP) : 0;
        d->writeback = vblk_has(d, VIRTIO_BLK_F_CONFIG_WCE) ? vp_config_read8(vp, CFG_WRITEBACK) : 0;
        d->num_queues = vblk_has(d, VIRTIO_BLK_F_MQ) ? vp_config_read16(vp, CFG_NUM_QUEUES) : 1;
        if (vblk_has(d, VIRTIO_BLK_F_DISCARD)) {
            d->max_discard_sectors = vp_config_read32(vp, CFG_MAX_DISCARD_SECTORS);
            d->max_discard_seg = vp_config_read32(vp, CFG_MAX_DISCARD_SEG);
            d->discard_align = vp_config_read32(vp, CFG_DISCARD_ALIGN);
        }
        if (vblk_has(d, VIRTIO_BLK_F_WRITE_ZEROES)) {
            d->max_wz_sectors = vp_config_read32(vp, CFG_MAX_WZ_SECTORS);
            d->max_wz_seg = vp_config_read32(vp, CFG_MAX_WZ_SEG);
        }
    } while (gen != vp_config_generation(vp));
    if (d->num_queues == 0)
        d->num_queues = 1;
    if (d->num_queues > VBLK_MAX_QUEUES)
        d->num_queues = VBLK_MAX_QUEUES;
    if (d->seg_max == 0)
        d->seg_max = 1;
    if (d->blk_size < 512 || (d->blk_size & (d->blk_size - 1)) || d->blk_size > 4096)
        d->blk_size = 512; /* out of what our block format supports: use sectors */
}

/* Lay out (or, after a reset, lay out again) queue i's ring and program it into the device. */
static bool vblk_setup_queue(struct vblk_disk *d, uint16_t i, uint16_t msix, const char **why)
{
    struct vblk_queue *q = &d->queue[i];
    uint16_t size = vp_queue_max_size(d->vp, i);
    if (size == 0) {
        *why = "device reports queue size 0 for a queue it counts in num_queues";
        return false;
    }
    /* Indirect tables as long as a request gets (header, seg_max data segments, status), within
     * what one table of a request slot holds. */
    q->seg_room = MIN(d->seg_max, (uint32_t)VBLK_SEGS_MAX);
    struct vq_config cfg = {
        .size = size,
        .event_idx = d->event_idx,
        .indirect = d->indirect,
        .indirect_max = (uint16_t)(q->seg_room + 2),
        .packed = d->packed,
    };
    if (!q->vq) {
        q->vq = pmm_alloc(sizeof(*q->vq), 64);
        q->ring = pmm_alloc(vq_ring_bytes(size, d->packed), PAGE_SIZE);
        q->ring_state = pmm_alloc(vq_state_bytes(size, d->packed), 64);
        if (!q->vq || !q->ring || !q->ring_state) {
            *why = "out of memory for virtqueue rings";
            return false;
        }
    } else if (size != vq_size(q->vq)) {
        *why = "device changed its queue size across a reset";
        return false;
    }
    if (vq_init(q->vq, &cfg, q->ring, (uint64_t)(uintptr_t)q->ring, q->ring_state) != 0) {
        *why = "queue size the device offers is not a power of two (split ring)";
        return false;
    }
    q->disk = d;
    q->index = i;
    q->msix_entry = msix;
    q->notify = vp_queue_setup(d->vp, i, size, vq_desc_phys(q->vq), vq_avail_phys(q->vq),
                               vq_used_phys(q->vq), msix, why);
    d->queue_size = size;
    return q->notify != 0;
}

static bool vblk_is_virtio_blk(const struct pci_dev *p)
{
    return p->vendor == VIRTIO_VENDOR &&
           (p->device == VIRTIO_BLK_MODERN || p->device == VIRTIO_BLK_TRANSITIONAL);
}

/* Reset, negotiate and read the configuration; ask GET_ID on queue 0 (polling). */
static bool vblk_probe(struct vblk_disk *d, struct pci_dev *pci, const struct vblk_find_opts *o,
                       const char **why)
{
    pci_name(pci, d->pci_name);
    if (!d->vp)
        d->vp = pmm_alloc(sizeof(*d->vp), 64);
    if (!d->vp) {
        *why = "out of memory for the transport";
        return false;
    }
    if (!vp_init(d->vp, pci, why))
        return false;
    vp_reset(d->vp);
    vp_add_status(d->vp, VIRTIO_STATUS_ACKNOWLEDGE);
    vp_add_status(d->vp, VIRTIO_STATUS_DRIVER);
    uint64_t offered = vp_get_features(d->vp);
    d->features = vblk_choose_features(offered, o);
    if (o->event_idx == CONFIG_ON && !(offered & (1ull << VIRTIO_F_EVENT_IDX))) {
        *why = "event_idx=on but the device does not offer VIRTIO_F_EVENT_IDX";
        return false;
    }
    if (o->indirect == CONFIG_ON && !(offered & (1ull << VIRTIO_F_INDIRECT_DESC))) {
        *why = "indirect=on but the device does not offer VIRTIO_F_INDIRECT_DESC";
        return false;
    }
    if (o->packed == CONFIG_ON && !(offered & (1ull << VIRTIO_F_RING_PACKED))) {
        *why = "packed=on but the device does not offer VIRTIO_F_RING_PACKED (QEMU: packed=on)";
        return false;
    }
    d->event_idx = vblk_has(d, VIRTIO_F_EVENT_IDX);
    d->indirect = vblk_has(d, VIRTIO_F_INDIRECT_DESC);
    d->packed = vblk_has(d, VIRTIO_F_RING_PACKED);
    if (!vblk_handshake(d, why))
        return false;
    vblk_read_config(d);
    /* Identification: one polled queue, DRIVER_OK, GET_ID, then reset to leave the device
     * as we found it. Data disks are set up again by vblk_start. */
    if (!vblk_setup_queue(d, 0, VIRTIO_MSI_NO_VECTOR, why))
        return false;
    vp_add_status(d->vp, VIRTIO_STATUS_DRIVER_OK);
    bool ok = vblk_get_id_sync(&d->queue[0], d->serial);
    if (!ok && vq_is_broken(d->queue[0].vq))
        *why = vq_broken_detail(d->queue[0].vq);
    else if (!ok)
        *why = "GET_ID failed or timed out";
    vp_reset(d->vp);
    return ok;
}

bool vblk_attach(struct vblk_disk *d, struct pci_dev *p, uint32_t index, const struct vblk_find_opts *o)
{
    const char *why = NULL;
    d->index = index;
    if (!vblk_probe(d, p, o, &why))
        d->ignore_reason = why;
    else if (strncmp(d->serial, o->serial_prefix, strlen(o->serial_prefix)))
        d->ignore_reason = "serial does not start with serial_prefix";
    else if (vblk_has(d, VIRTIO_BLK_F_RO))
        d->ignore_reason = "device is read-only";
    else
        d->data = true;
    return d->data;
}

bool vblk_is_disk(const struct pci_dev *p)
{
    return vblk_is_virtio_blk(p);
}

uint32_t vblk_find(struct vblk_disk *const *disks, uint32_t max, const struct vblk_find_opts *o)
{
    uint32_t n = 0;
    pci_init();
    for (uint32_t i = 0; i < pci_count() && n < max; i++) {
        struct pci_dev *p = pci_get(i);
        if (!vblk_is_virtio_blk(p))
            continue;
        vblk_attach(disks[n], p, n, o);
        n++;
    }
    return n;
}

bool vblk_on_bus(const struct vblk_disk *d, uint8_t bus)
{
    return d->vp && d->vp->pci && d->vp->common && d->vp->pci->bus == bus;
}

void vblk_detach(struct vblk_disk *d)
{
    if (!d->vp || !d->vp->common)
        return; /* never got as far as mapping the device */
    /* 3.3.1 Device Cleanup: "A driver MUST ensure a virtqueue isn't live (by device reset) before
     * removing exposed buffers." The reset also returns every vector to NO_VECTOR; then the
     * function stops decoding and mastering, so nothing of it reaches memory any more. */
    vp_reset(d->vp);
    pci_disable(d->vp->pci);
    d->data = false;
}

void vblk_forget(struct vblk_disk *d)
{
    /* Ring memory, the transport struct and interrupt vectors stay: a card of the same make in
     * the same slot reuses them (the kernel never frees memory). */
    d->serial[0] = 0;
    d->data = false;
    d->ignore_reason = NULL;
    d->features = 0;
    d->irq_fallback = NULL;
    d->irq_mode = false;
    d->resets = d->queue_resets = 0;
    d->queue_reset_reads_0 = false;
    d->queues_used = 0;
    for (uint16_t i = 0; i < VBLK_MAX_QUEUES; i++) {
        d->queue[i].irqs = 0;
        d->queue[i].kicks = 0;
    }
}

static void vblk_irq(struct int_frame *f, void *arg)
{
    (void)f;
    struct vblk_queue *q = arg;
    /* The owning CPU polls its rings after every wakeup; the interrupt only ends its hlt. */
    __atomic_fetch_add(&q->irqs, 1, __ATOMIC_RELAXED);
}

/* Queues 0..nq-1 laid out and programmed, then DRIVER_OK (3.1.1 steps 7-8). */
static bool vblk_bring_up(struct vblk_disk *d, uint16_t nq, const char **why)
{
    for (uint16_t i = 0; i < nq; i++) {
        struct vblk_queue *q = &d->queue[i];
        if (!vblk_setup_queue(d, i, d->irq_mode ? i : VIRTIO_MSI_NO_VECTOR, why))
            return false;
        if (!d->irq_mode)
            vq_disable_cb(q->vq);
    }
    /* 3.1.1 step 8: "Set the DRIVER_OK status bit. At this point the device is live." */
    vp_add_status(d->vp, VIRTIO_STATUS_DRIVER_OK);
    if (vp_get_status(d->vp) & VIRTIO_STATUS_NEEDS_RESET) {
        *why = "device set DEVICE_NEEDS_RESET right after DRIVER_OK";
        return false;
    }
    return true;
}

const char *vblk_irq_unavailable(struct vblk_disk *d, uint16_t nq)
{
    if (!pci_msix_setup(d->vp->pci))
        return "device has no MSI-X capability";
    if (d->vp->pci->msix_count < nq)
        return "fewer MSI-X table entries than queues";
    return NULL;
}

bool vblk_start(struct vblk_disk *d, uint16_t nq, bool irq_mode, const char **why)
{
    if (!vblk_handshake(d, why))
        return false;
    d->irq_fallback = irq_mode ? vblk_irq_unavailable(d, nq) : NULL;
    d->irq_mode = irq_mode && !d->irq_fallback;
    for (uint16_t i = 0; d->irq_mode && i < nq; i++) {
        struct vblk_queue *q = &d->queue[i];
        if (!q->vector) /* a re-plugged card keeps the vectors of its slot's disk */
            q->vector = idt_alloc_vector(vblk_irq, q);
        if (!q->vector) {
            *why = "out of interrupt vectors";
            return false;
        }
        pci_msix_route(d->vp->pci, i, percpu_area[q->owner_cpu].apic_id, q->vector);
    }
    if (!vblk_bring_up(d, nq, why))
        return false;
    if (d->irq_mode)
        pci_msix_enable(d->vp->pci);
    d->queues_used = nq;
    return true;
}

bool vblk_reset(struct vblk_disk *d, const char **why)
{
    for (uint16_t i = 0; i < d->queues_used; i++) {
        if (vq_inflight(d->queue[i].vq)) {
            *why = "reset asked while requests are in flight";
            return false;
        }
    }
    /* 3.1.1 from step 1 again with the features negotiated before ("device no longer offers"
     * them is a finding). MSI-X routes live in the PCI function and survive a virtio reset; the
     * queues' vectors do not (4.1.4.3: a reset puts them back to NO_VECTOR): set up again. */
    if (!vblk_handshake(d, why))
        return false;
    vblk_read_config(d);
    if (!vblk_bring_up(d, d->queues_used, why))
        return false;
    d->resets++;
    return true;
}

bool vblk_queue_reset(struct vblk_disk *d, uint16_t qi, const char **why)
{
    if (!vblk_has(d, VIRTIO_F_RING_RESET)) {
        *why = "device does not offer VIRTIO_F_RING_RESET";
        return false;
    }
    if (qi >= d->queues_used) {
        *why = "no such queue";
        return false;
    }
    if (vq_inflight(d->queue[qi].vq)) {
        *why = "queue reset asked while requests are in flight";
        return false;
    }
    int rc = vp_queue_reset(d->vp, qi);
    if (rc == VP_QRESET_TIMEOUT) {
        *why = "device neither presented 1 in queue_reset nor disabled the queue within 1 s";
        return false;
    }
    if (rc == VP_QRESET_DONE_READS_0)
        d->queue_reset_reads_0 = true;
    /* 2.6.1: "The device MUST present consistent default values after queue reset": program the
     * queue as at start (size, addresses, vector) and enable it again. */
    if (!vblk_setup_queue(d, qi, d->irq_mode ? qi : VIRTIO_MSI_NO_VECTOR, why))
        return false;
    if (!d->irq_mode)
        vq_disable_cb(d->queue[qi].vq);
    d->queue_resets++;
    return true;
}

bool vblk_can_reset_queue(const struct vblk_disk *d)
{
    return vblk_has(d, VIRTIO_F_RING_RESET);
}
