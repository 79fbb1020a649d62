/* virtio_blk_internal.h: what virtio_blk.c and virtio_blk_io.c share; drivers/ only. */
#ifndef VQH_VIRTIO_BLK_INTERNAL_H
#define VQH_VIRTIO_BLK_INTERNAL_H

#include "virtio_blk.h"
#include "virtio_pci.h"
#include "virtqueue.h"

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

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

/* The device-visible frame of one request. */
struct vblk_req_dma {
    struct vblk_req_hdr hdr;
    struct vblk_dwz dwz;
    uint8_t id[VIRTIO_BLK_ID_BYTES];
    uint8_t status;
};

/* GET_ID on queue q, synchronously (polling, timeout); false on error. */
bool vblk_get_id_sync(struct vblk_queue *q, char out[VIRTIO_BLK_ID_BYTES + 1]);

#endif
