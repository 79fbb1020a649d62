/*
 * reqsize.h: how large a "large request" (max_request=device|N) may be on one disk, and how it is
 * cut into segments: the device's seg_max and size_max, the queue size, the driver's table room,
 * the memory the load may spend on it and the hammered region. Pure logic: builds into the kernel
 * and into host unit tests.
 */
#ifndef VQH_REQSIZE_H
#define VQH_REQSIZE_H

#include "base.h"

#define REQSIZE_DEVICE UINT32_MAX       /* want: as large as the device allows */
#define REQSIZE_NO_SIZE_MAX_CAP (4u << 20) /* bytes a request gets when the device sets no
                                              size_max and the configuration names no size */

struct reqsize_limits {
    uint32_t seg_max;       /* VIRTIO_BLK_F_SEG_MAX's seg_max; 1 when not offered */
    uint32_t size_max;      /* VIRTIO_BLK_F_SIZE_MAX's size_max; 0 when not offered */
    uint32_t queue_size;    /* descriptors in the queue */
    uint32_t table_segs;    /* data segments the driver's indirect tables hold */
    uint32_t blk_size;      /* logical block size, a power of two 512..4096 */
    uint32_t want;          /* bytes asked for (a multiple of 4096), or REQSIZE_DEVICE */
    uint64_t mem_bytes;     /* memory one large buffer may take */
    uint64_t region_blocks; /* blocks of the hammered region */
};

struct reqsize_plan {
    uint32_t segs;          /* data segments of a large request */
    uint32_t seg_bytes;     /* bytes of every segment but the last (a multiple of 512) */
    uint32_t bytes;         /* the whole request: whole blocks */
    uint32_t blocks;
    const char *segs_bound; /* what set segs: "seg_max", "queue_size", "driver", "bytes" */
    const char *bytes_bound; /* what set bytes: "seg_max*size_max", "max_request", "memory",
                                "region", "default cap" */
};

/* Plan a large request; false (with *why) when none fits the limits at all. */
bool reqsize_plan(const struct reqsize_limits *l, struct reqsize_plan *p, const char **why);

/* Segment i of a planned request: its offset and length in the buffer. */
uint32_t reqsize_seg_len(const struct reqsize_plan *p, uint32_t i);

#endif
