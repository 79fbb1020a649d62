/* virtio_blk.c: virtio-blk device setup (virtio 1.x 5.2) and synchronous GET_ID. */
#include "virtio_blk.h"
#include "cpu.h"
#include "idt.h"
#include "memory.h"
#include "percpu.h"
#include "config.h"
#include "time.h"

#define GET_ID_TIMEOUT_MS 5000
#define PROBE_QUEUE_SIZE_MAX 256

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
};

bool vblk_has(const struct vblk_disk *d, unsigned feature)
{
    return (d->features >> feature) & 1;
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

static uint64_t vblk_choose_features(uint64_t offered, uint32_t event_idx, uint32_t indirect)
{
    /* Every device feature we can use, taken only when offered; the load adapts to what
     * is missing (no FLUSH: no flushes, no MQ: one queue, ...). */
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_SIZE_MAX) |
                    (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_GEOMETRY) |
                    (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                    (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_TOPOLOGY) |
                    (1ull << VIRTIO_BLK_F_CONFIG_WCE) | (1ull << VIRTIO_BLK_F_MQ) |
                    (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
    if (event_idx != CONFIG_OFF)
        want |= 1ull << VIRTIO_F_EVENT_IDX;
    if (indirect != CONFIG_OFF)
        want |= 1ull << VIRTIO_F_INDIRECT_DESC;
    return offered & want;
}

/* Status handshake up to FEATURES_OK (3.1.1 steps 1-6). */
static bool vblk_handshake(struct vblk_disk *d, uint64_t features, const char **why)
{
    vp_reset(&d->vp);
    if (vp_get_status(&d->vp) != 0) {
        *why = "device did not finish its reset within 1 s";
        return false;
    }
    vp_add_status(&d->vp, VIRTIO_STATUS_ACKNOWLEDGE);
    vp_add_status(&d->vp, VIRTIO_STATUS_DRIVER);
    uint64_t offered = vp_get_features(&d->vp);
    if (!(offered & (1ull << VIRTIO_F_VERSION_1))) {
        *why = "device does not offer VIRTIO_F_VERSION_1 (legacy-only)";
        vp_add_status(&d->vp, VIRTIO_STATUS_FAILED);
        return false;
    }
    if (!features)
        features = offered; /* filled in by the caller's choice below */
    if (!vp_finalize_features(&d->vp, features)) {
        *why = "device cleared FEATURES_OK: it refused our feature subset";
        vp_add_status(&d->vp, VIRTIO_STATUS_FAILED);
        return false;
    }
    return true;
}

/* Read the configuration consistently: "drivers MUST read config_generation before and after
 * reading the configuration; if they differ, read again" (2.5.1 / 4.1.4.3). */
static void vblk_read_config(struct vblk_disk *d)
{
    struct vp_device *vp = &d->vp;
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

static bool vblk_setup_queue(struct vblk_disk *d, uint16_t i, uint16_t msix, const char **why)
{
    struct vblk_queue *q = &d->queue[i];
    uint16_t size = vp_queue_max_size(&d->vp, i);
    if (size == 0) {
        *why = "device reports queue size 0 for a queue it counts in num_queues";
        return false;
    }
    struct vq_config cfg = {
        .size = size,
        .event_idx = d->event_idx,
        .indirect = d->indirect,
        .indirect_max = (uint16_t)MIN(d->seg_max + 2, 1024u),
    };
    void *ring = pmm_alloc(vq_ring_bytes(size), PAGE_SIZE);
    void *state = pmm_alloc(vq_state_bytes(size), 64);
    if (!ring || !state) {
        *why = "out of memory for virtqueue rings";
        return false;
    }
    if (vq_init(&q->vq, &cfg, ring, (uint64_t)(uintptr_t)ring, state) != 0) {
        *why = "queue size the device offers is not a power of two";
        return false;
    }
    q->disk = d;
    q->index = i;
    q->msix_entry = msix;
    q->notify = vp_queue_setup(&d->vp, i, size, vq_desc_phys(&q->vq), vq_avail_phys(&q->vq),
                               vq_used_phys(&q->vq), msix, why);
    d->queue_size = size;
    return q->notify != 0;
}

static void vblk_irq(struct int_frame *f, void *arg)
{
    (void)f;
    struct vblk_queue *q = arg;
    /* The owning CPU polls its rings after every wakeup; the interrupt only ends its hlt. */
    __atomic_fetch_add(&q->irqs, 1, __ATOMIC_RELAXED);
}

void vblk_kick(struct vblk_queue *q)
{
    if (vq_kick_prepare(&q->vq)) {
        vp_notify(q->notify, q->index);
        q->kicks++;
    }
}

bool vblk_get_id_sync(struct vblk_queue *q, char out[VIRTIO_BLK_ID_BYTES + 1])
{
    struct idreq {
        struct vblk_req_hdr hdr;
        uint8_t id[VIRTIO_BLK_ID_BYTES];
        uint8_t status;
    };
    static struct idreq *req;
    if (!req)
        req = pmm_alloc(sizeof(*req), 64);
    if (!req)
        return false;
    req->hdr.type = VIRTIO_BLK_T_GET_ID;
    req->hdr.reserved = 0;
    req->hdr.sector = 0;
    memset(req->id, 0, sizeof(req->id));
    /* Preset to a value no device writes, so "the device wrote nothing" is detectable. */
    req->status = 0xff;
    struct vq_buf bufs[3] = {
        { (uint64_t)(uintptr_t)&req->hdr, sizeof(req->hdr) },
        { (uint64_t)(uintptr_t)req->id, VIRTIO_BLK_ID_BYTES },
        { (uint64_t)(uintptr_t)&req->status, 1 },
    };
    if (vq_add(&q->vq, bufs, 1, 2, req, NULL, 0) < 0)
        return false;
    vp_notify(q->notify, q->index); /* unconditionally: the device may not have set events yet */
    uint64_t deadline = time_ms() + GET_ID_TIMEOUT_MS;
    uint32_t len;
    void *tok;
    while (!(tok = vq_get_used(&q->vq, &len))) {
        if (vq_is_broken(&q->vq) || time_ms() > deadline)
            return false;
        cpu_relax();
    }
    if (tok != req || req->status != VIRTIO_BLK_S_OK)
        return false;
    /* The id is NUL-padded, and not NUL-terminated when all 20 bytes are used. */
    memcpy(out, req->id, VIRTIO_BLK_ID_BYTES);
    out[VIRTIO_BLK_ID_BYTES] = 0;
    return true;
}

bool vblk_probe(struct vblk_disk *d, struct pci_dev *pci, uint32_t event_idx_toggle,
                uint32_t indirect_toggle, const char **why)
{
    pci_name(pci, d->pci_name);
    if (!vp_init(&d->vp, pci, why))
        return false;
    vp_reset(&d->vp);
    vp_add_status(&d->vp, VIRTIO_STATUS_ACKNOWLEDGE);
    vp_add_status(&d->vp, VIRTIO_STATUS_DRIVER);
    uint64_t offered = vp_get_features(&d->vp);
    d->features = vblk_choose_features(offered, event_idx_toggle, indirect_toggle);
    if (event_idx_toggle == CONFIG_ON && !(offered & (1ull << VIRTIO_F_EVENT_IDX))) {
        *why = "event_idx=on but the device does not offer VIRTIO_F_EVENT_IDX";
        return false;
    }
    if (indirect_toggle == CONFIG_ON && !(offered & (1ull << VIRTIO_F_INDIRECT_DESC))) {
        *why = "indirect=on but the device does not offer VIRTIO_F_INDIRECT_DESC";
        return false;
    }
    d->event_idx = vblk_has(d, VIRTIO_F_EVENT_IDX);
    d->indirect = vblk_has(d, VIRTIO_F_INDIRECT_DESC);
    if (!vblk_handshake(d, d->features, why))
        return false;
    vblk_read_config(d);
    /* Identification: one polled queue, DRIVER_OK, GET_ID, then reset to leave the device
     * as we found it. Data disks are set up again by vblk_start. */
    if (!vblk_setup_queue(d, 0, VIRTIO_MSI_NO_VECTOR, why))
        return false;
    vp_add_status(&d->vp, VIRTIO_STATUS_DRIVER_OK);
    bool ok = vblk_get_id_sync(&d->queue[0], d->serial);
    if (!ok && vq_is_broken(&d->queue[0].vq))
        *why = vq_broken_detail(&d->queue[0].vq);
    else if (!ok)
        *why = "GET_ID failed or timed out";
    vp_reset(&d->vp);
    return ok;
}

bool vblk_start(struct vblk_disk *d, uint16_t nq, bool irq_mode, const char **why)
{
    if (!vblk_handshake(d, d->features, why))
        return false;
    if (irq_mode && !pci_msix_setup(d->vp.pci))
        irq_mode = false;
    if (irq_mode && d->vp.pci->msix_count < nq)
        irq_mode = false;
    d->irq_mode = irq_mode;
    for (uint16_t i = 0; i < nq; i++) {
        struct vblk_queue *q = &d->queue[i];
        uint16_t entry = VIRTIO_MSI_NO_VECTOR;
        if (irq_mode) {
            q->vector = idt_alloc_vector(vblk_irq, q);
            if (!q->vector) {
                *why = "out of interrupt vectors";
                return false;
            }
            pci_msix_route(d->vp.pci, i, percpu_area[q->owner_cpu].apic_id, q->vector);
            entry = i;
        }
        if (!vblk_setup_queue(d, i, entry, why))
            return false;
        if (!irq_mode)
            vq_disable_cb(&q->vq);
    }
    if (irq_mode)
        pci_msix_enable(d->vp.pci);
    d->queues_used = nq;
    /* 3.1.1 step 8: "Set the DRIVER_OK status bit. At this point the device is live." */
    vp_add_status(&d->vp, VIRTIO_STATUS_DRIVER_OK);
    if (vp_get_status(&d->vp) & VIRTIO_STATUS_NEEDS_RESET) {
        *why = "device set DEVICE_NEEDS_RESET right after DRIVER_OK";
        return false;
    }
    return true;
}
