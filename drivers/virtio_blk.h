/*
 * virtio_blk.h: the virtio-blk device (virtio 1.x section 5.2) on the modern PCI transport:
 * feature negotiation, configuration, one virtqueue per vblk_queue, request framing.
 * What to send and how to check it is the stress engine's business (kernel/stress*.c).
 */
#ifndef VQH_VIRTIO_BLK_H
#define VQH_VIRTIO_BLK_H

#include "base.h"
#include "virtio_pci.h"
#include "virtqueue.h"

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

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VBLK_MAX_QUEUES 64
#define VBLK_SECTOR 512

/* The request header: device-readable, first descriptor of every request (5.2.6). */
struct vblk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector; /* always in 512-byte units, whatever blk_size is */
};

/* The DISCARD / WRITE_ZEROES payload segment (5.2.6). */
struct vblk_dwz {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags; /* bit 0: unmap (WRITE_ZEROES only) */
};

struct vblk_disk;

struct vblk_queue {
    struct vblk_disk *disk;
    uint16_t index;
    struct virtqueue vq;
    uintptr_t notify;
    uint16_t msix_entry;    /* VIRTIO_MSI_NO_VECTOR in polling mode */
    uint8_t vector;
    uint32_t owner_cpu;
    volatile uint32_t irqs; /* interrupts taken for this queue */
    uint64_t kicks;
};

struct vblk_disk {
    struct vp_device vp;
    char pci_name[8];
    char serial[VIRTIO_BLK_ID_BYTES + 1];
    uint32_t index;         /* among virtio-blk devices found */
    bool data;              /* hammered (serial matches); otherwise left untouched */
    const char *ignore_reason;
    uint64_t features;      /* negotiated */
    uint64_t capacity;      /* 512-byte sectors */
    uint32_t blk_size;      /* logical block size in bytes */
    uint32_t seg_max;       /* data segments per request (1 if not offered... see .c) */
    uint32_t size_max;      /* bytes per segment, 0 = no limit */
    uint32_t max_discard_sectors, max_discard_seg, discard_align;
    uint32_t max_wz_sectors, max_wz_seg;
    uint8_t phys_block_exp, writeback;
    uint16_t num_queues;    /* queues the device offers */
    uint16_t queues_used;
    uint16_t queue_size;
    bool event_idx, indirect, irq_mode;
    struct vblk_queue queue[VBLK_MAX_QUEUES];
};

/*
 * Reset, negotiate and read the configuration of a virtio-blk PCI function; ask GET_ID on queue 0
 * (polling). Does not start the queues for the load. Returns false with *why if the device cannot
 * be driven (it is then listed but ignored).
 */
bool vblk_probe(struct vblk_disk *d, struct pci_dev *pci, uint32_t event_idx_toggle,
                uint32_t indirect_toggle, const char **why);
/* Set up `nq` queues of the device (queue 0.. nq-1), interrupt or polling mode, then DRIVER_OK. */
bool vblk_start(struct vblk_disk *d, uint16_t nq, bool irq_mode, const char **why);
bool vblk_has(const struct vblk_disk *d, unsigned feature);
/* Kick the device if the ring says so. */
void vblk_kick(struct vblk_queue *q);
/* Read GET_ID again on queue q, synchronously (polling, timeout); false on error. */
bool vblk_get_id_sync(struct vblk_queue *q, char out[VIRTIO_BLK_ID_BYTES + 1]);
/* Short names of the negotiated features, for hello ("mq seg_max ..."). */
void vblk_feature_names(const struct vblk_disk *d, char *buf, size_t cap);

#endif
