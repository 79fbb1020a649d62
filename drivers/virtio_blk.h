/*
 * virtio_blk.h: the virtio-blk driver (virtio 1.x section 5.2) on the modern PCI transport, and the
 * whole of what the stress engine sees of the device: find the disks, start their queues, submit a
 * request (operation, sector, data buffers, token), collect completions, reset. The driver frames
 * every request (header, data, status byte) and places it in the ring (direct or indirect); the
 * ring (drivers/virtqueue.h), the transport (virtio_pci.h) and PCI stay behind this file.
 */
#ifndef VQH_VIRTIO_BLK_H
#define VQH_VIRTIO_BLK_H

#include "base.h"

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VBLK_STATUS_NONE 0xff /* preset status byte: the device wrote none */

#define VIRTIO_BLK_ID_BYTES 20
#define VBLK_MAX_QUEUES 64
#define VBLK_SECTOR 512
#define VBLK_SEGS_MAX 256 /* data segments one request may carry, at most (seg_room) */

/* What a request does (the driver maps these onto VIRTIO_BLK_T_*). */
enum vblk_op { VBLK_READ, VBLK_WRITE, VBLK_FLUSH, VBLK_DISCARD, VBLK_WRITE_ZEROES, VBLK_GET_ID };

/* A request as the engine states it. */
struct vblk_io {
    uint8_t op;                  /* enum vblk_op */
    uint64_t sector;             /* first 512-byte sector (READ, WRITE, DISCARD, WRITE_ZEROES) */
    uint32_t num_sectors;        /* DISCARD, WRITE_ZEROES */
    void *data;                  /* READ, WRITE: one contiguous buffer of `bytes` bytes, */
    uint32_t bytes;
    uint32_t seg_bytes;          /* cut into nsegs segments of seg_bytes, the last one the rest */
    uint16_t nsegs;              /* (1..seg_bytes bytes); 0: no data */
    bool indirect;               /* the load's wish for an indirect table: honoured when
                                    negotiated, and taken anyway when a direct chain cannot fit */
};

struct vblk_req_dma;
struct virtqueue;
struct vp_device;
struct pci_dev;

/* One reusable request slot: the device-visible frame (header, discard range, id, status) and
 * indirect table belong to the driver; the engine gets it from vblk_req_alloc. */
struct vblk_req {
    struct vblk_req_dma *dma;
    void *indirect;      /* indirect table: seg_room + 2 entries */
    void *token;
    uint16_t head;       /* id it went out as (ring head or packed buffer id), for reports */
    uint16_t descs;      /* elements: header, data segments, status */
    bool indirect_used;
};

struct vblk_disk;

struct vblk_queue {
    struct vblk_disk *disk;
    uint16_t index;
    struct virtqueue *vq;   /* ring state, drivers only */
    void *ring, *ring_state; /* ring memory, kept for re-initialisation after a reset */
    uintptr_t notify;
    uint16_t msix_entry;    /* VIRTIO_MSI_NO_VECTOR in polling mode */
    uint8_t vector;
    uint32_t owner_cpu;     /* set by the engine before vblk_start: where its interrupt goes */
    volatile uint32_t irqs; /* interrupts taken for this queue */
    uint64_t kicks;
    uint32_t seg_room;      /* data segments one request may carry */
};

struct vblk_disk {
    struct vp_device *vp;
    char pci_name[8];
    char serial[VIRTIO_BLK_ID_BYTES + 1];
    uint32_t index;         /* among virtio-blk devices found */
    bool data;              /* serial matches the prefix and the device is writable */
    const char *ignore_reason; /* why not data (the engine may add its own) */
    uint64_t features;      /* negotiated */
    uint64_t capacity;      /* 512-byte sectors */
    uint32_t blk_size;      /* logical block size in bytes */
    uint32_t seg_max;       /* data segments per request: 1 when the device does not say */
    uint32_t size_max;      /* bytes per segment, 0 = no limit */
    uint32_t max_discard_sectors, max_discard_seg, discard_align;
    uint32_t max_wz_sectors, max_wz_seg;
    uint8_t phys_block_exp, writeback;
    uint16_t num_queues;    /* queues the device offers */
    uint16_t queues_used;
    uint16_t queue_size;
    bool event_idx, indirect, packed, irq_mode;
    const char *irq_fallback; /* irq asked for but polling used: why (NULL otherwise) */
    uint32_t resets;        /* device resets since start */
    uint32_t queue_resets;  /* single-queue resets (VIRTIO_F_RING_RESET) since start */
    bool queue_reset_reads_0; /* the device's queue_reset read 0, not 1, after a reset (QEMU) */
    struct vblk_queue queue[VBLK_MAX_QUEUES];
};

/* How to look for disks. */
struct vblk_find_opts {
    const char *serial_prefix; /* data disks' GET_ID serial starts with this */
    uint32_t event_idx, indirect, packed; /* enum config_toggle: negotiate the feature or not */
};

/*
 * Enumerate PCI, probe every virtio-blk function into disks[0..max) (reset, negotiate, read the
 * configuration, GET_ID, reset again) and mark data disks. Returns how many were found; a device
 * that cannot be driven is listed with data false and its ignore_reason.
 */
uint32_t vblk_find(struct vblk_disk *const *disks, uint32_t max, const struct vblk_find_opts *o);
/* Probe one virtio-blk function into d (as vblk_find does for each): whether it is a data disk. */
bool vblk_attach(struct vblk_disk *d, struct pci_dev *p, uint32_t index, const struct vblk_find_opts *o);
bool vblk_is_disk(const struct pci_dev *p);
/* Whether d is a probed device on PCI bus `bus`. */
bool vblk_on_bus(const struct vblk_disk *d, uint8_t bus);
/* Let a device go (it is about to be removed): reset it, stop its DMA and interrupts. */
void vblk_detach(struct vblk_disk *d);
/* Clear what a probe learnt, keeping the memory for the next device probed into d. */
void vblk_forget(struct vblk_disk *d);
/* Why nq queues of d cannot take interrupts (no MSI-X, too few entries), or NULL: they can. */
const char *vblk_irq_unavailable(struct vblk_disk *d, uint16_t nq);
/* Set up queues 0..nq-1 (interrupts to each queue's owner_cpu in irq mode), then DRIVER_OK. */
bool vblk_start(struct vblk_disk *d, uint16_t nq, bool irq_mode, const char **why);
/*
 * Reset the device and bring it back exactly as vblk_start left it: same features, same queues,
 * interrupts and ring memory, fresh ring state (spec 3.1.1 again). Every queue must be drained.
 */
bool vblk_reset(struct vblk_disk *d, const char **why);
/* Reset queue qi alone (spec 2.6.1, VIRTIO_F_RING_RESET) and set it up again; it must be drained. */
bool vblk_queue_reset(struct vblk_disk *d, uint16_t qi, const char **why);
bool vblk_can_reset_queue(const struct vblk_disk *d);
/* Set FAILED: the driver has given up on the device (3.1.1); only a reset clears it. */
void vblk_give_up(struct vblk_disk *d);
/* Device status register (VIRTIO_STATUS_* bits), for reports. */
uint8_t vblk_status(const struct vblk_disk *d);
/* A status of a live device: DRIVER_OK, and neither DEVICE_NEEDS_RESET nor FAILED. */
bool vblk_status_live(uint8_t status);
bool vblk_has(const struct vblk_disk *d, unsigned feature);
/* Short names of the negotiated features, for hello ("mq seg_max ..."). */
void vblk_feature_names(const struct vblk_disk *d, char *buf, size_t cap);

/* A request slot able to carry up to max_segs data segments (capped at q->seg_room). */
struct vblk_req *vblk_req_alloc(struct vblk_queue *q, uint32_t max_segs);
uint8_t vblk_req_status(const struct vblk_req *r);
const uint8_t *vblk_req_id(const struct vblk_req *r); /* GET_ID answer, VIRTIO_BLK_ID_BYTES */

/* True when a request of nsegs data segments fits in the ring now, however it is placed. */
bool vblk_can_submit(const struct vblk_queue *q, uint32_t nsegs);
/* Frame and publish io on q; token comes back from vblk_collect. 0, or negative: the queue is
 * broken, full or the request malformed (no notification is sent: see vblk_kick). */
int vblk_submit(struct vblk_queue *q, struct vblk_req *r, const struct vblk_io *io, void *token);
/* Notify the device of what was submitted, when its suppression settings ask for it. */
void vblk_kick(struct vblk_queue *q);
/* Token of the next completed request (bytes the device wrote in *len), or NULL. */
void *vblk_collect(struct vblk_queue *q, uint32_t *len);
/* Interrupts: arm returns false when completions are already waiting (collect again first). */
bool vblk_irq_arm(struct vblk_queue *q);
void vblk_irq_mute(struct vblk_queue *q);

bool vblk_queue_broken(const struct vblk_queue *q);
const char *vblk_queue_broken_reason(const struct vblk_queue *q);
const char *vblk_queue_broken_detail(const struct vblk_queue *q);
uint16_t vblk_queue_size(const struct vblk_queue *q);
uint16_t vblk_queue_inflight(const struct vblk_queue *q);
/* Ring positions for the quiesce report (split: indices; packed: descriptor positions). */
uint16_t vblk_queue_avail_idx(const struct vblk_queue *q);
uint16_t vblk_queue_used_idx(const struct vblk_queue *q);

#endif
