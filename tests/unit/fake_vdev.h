/*
 * fake_vdev.h: a device side of a split or packed virtqueue for host unit tests (the packed half
 * is in fake_vdev_packed.c).
 *
 * Works on the very ring memory the driver (drivers/virtqueue.c) uses, through device addresses
 * only: everything lives in one arena with a fake physical base, and every address the driver hands
 * out is translated and bounds-checked. It pops available chains (direct and indirect) and checks
 * the driver-side spec rules while walking them; the first rule broken is kept in `err`. It
 * completes requests in whatever order and with whatever len a test asks, maintains avail_event
 * and its NO_NOTIFY flag, and says whether it would send a used buffer notification. The inject
 * calls write used entries and indices with no checks, to break the protocol on purpose.
 */
#ifndef VQH_FAKE_VDEV_H
#define VQH_FAKE_VDEV_H

#include "virtqueue.h"

#define FVD_MAX_SEGS 64
#define FVD_MAX_QSIZE 1024 /* largest queue the fake pops from */

struct fvd_seg {
    uint8_t *p;    /* host view of the buffer */
    uint64_t addr; /* device address the driver wrote */
    uint32_t len;
    bool write;    /* device-writable */
};

struct fvd_req {
    bool busy;     /* popped and not yet completed */
    bool indirect; /* the head referred to an indirect table */
    uint16_t head; /* split: head descriptor; packed: buffer id */
    uint16_t ndesc; /* packed: ring descriptors the list took */
    uint16_t n_out, n_in;
    uint32_t in_total;
    struct fvd_seg seg[FVD_MAX_SEGS];
};

struct fake_vdev {
    uint8_t *mem; /* arena holding every ring, table and buffer */
    uint64_t mem_phys;
    size_t mem_bytes;
    struct vq_desc *desc;
    struct vq_avail *avail;
    struct vq_used *used;
    uint16_t size;
    bool packed, event_idx, indirect;
    bool auto_avail_event;  /* like QEMU: avail_event = next avail to pop, after each pop */
    uint16_t last_avail;    /* next available entry to consume (packed: position) */
    uint16_t used_idx;      /* next used entry to write (packed: position) */
    uint16_t used_published;/* used->idx as last published (packed: position) */
    uint16_t notify_check;  /* avail idx / position when fvd_driver_must_notify last ran */
    /* packed */
    struct pvirtq_desc *pdesc;
    struct pvirtq_event_suppress *driver_event, *device_event;
    bool avail_wrap, used_wrap, published_wrap, notify_check_wrap; /* device wrap counters */
    uint16_t pending_pos[FVD_MAX_QSIZE];   /* used descriptors written, flags not yet */
    uint16_t pending_flags[FVD_MAX_QSIZE];
    unsigned npending;
    unsigned notifies;      /* available buffer notifications the driver sent */
    unsigned irqs;          /* used buffer notifications the device sent */
    struct fvd_req req[FVD_MAX_QSIZE]; /* by head id */
    char err[256];          /* first driver-side spec violation seen, "" when none */
};

/* Arena: the test's memory, seen by the "device" at mem_phys. */
/* What both ring formats set up: the arena, the size and the features (fvd_init*). */
void fvd_init_common(struct fake_vdev *dev, void *mem, uint64_t mem_phys, size_t mem_bytes, uint16_t size,
                     bool event_idx, bool indirect);
void fvd_init(struct fake_vdev *dev, void *mem, uint64_t mem_phys, size_t mem_bytes,
              uint64_t desc_phys, uint64_t avail_phys, uint64_t used_phys, uint16_t size,
              bool event_idx, bool indirect);
/* The same for a packed ring: desc_phys, driver area, device area. */
void fvd_init_packed(struct fake_vdev *dev, void *mem, uint64_t mem_phys, size_t mem_bytes,
                     uint64_t desc_phys, uint64_t driver_phys, uint64_t device_phys, uint16_t size,
                     bool event_idx, bool indirect);
void *fvd_ptr(struct fake_vdev *dev, uint64_t addr, uint64_t len); /* NULL when out of the arena */

/* Pops one available chain: 1 (head in *head), 0 when none, -1 on a driver violation (err). */
int fvd_pop(struct fake_vdev *dev, uint16_t *head);
/* Pops everything available into heads[] (up to max); returns the count, -1 on a violation. */
int fvd_pop_all(struct fake_vdev *dev, uint16_t *heads, int max);
struct fvd_req *fvd_req(struct fake_vdev *dev, uint16_t head);

/* Gathers the readable bytes of a popped request into out (up to max); returns the count. */
size_t fvd_read(struct fake_vdev *dev, uint16_t head, void *out, size_t max);
/* Scatters n bytes into the writable buffers; returns bytes written. */
size_t fvd_write(struct fake_vdev *dev, uint16_t head, const void *src, size_t n);

/* Writes the used entry of a busy request (no publication yet); false if head is not busy. */
bool fvd_push(struct fake_vdev *dev, uint16_t head, uint32_t len);
/* Publishes pushed entries in used->idx; returns whether the device sends an interrupt. */
bool fvd_publish(struct fake_vdev *dev);
/* fvd_push + fvd_publish. */
bool fvd_complete(struct fake_vdev *dev, uint16_t head, uint32_t len);

/* Available buffer notification suppression, device side. */
void fvd_set_avail_event(struct fake_vdev *dev, uint16_t idx);
/* Packed: RING_EVENT_FLAGS_DESC at descriptor off of the lap with wrap counter wrap. */
void fvd_set_avail_event_packed(struct fake_vdev *dev, uint16_t off, bool wrap);
void fvd_set_no_notify(struct fake_vdev *dev, bool on);
/* What the spec obliges the driver to do for what it made available since the previous call
 * (the device's own reading of the ring: split avail idx, packed AVAIL/USED flags). */
bool fvd_driver_must_notify(struct fake_vdev *dev);
/* The driver notified the device (the doorbell write). */
void fvd_notify(struct fake_vdev *dev);

/* Protocol violations, written without any check. */
void fvd_inject_used(struct fake_vdev *dev, uint32_t id, uint32_t len); /* entry + publish */
void fvd_inject_used_idx(struct fake_vdev *dev, uint16_t idx);
/* Packed: a used descriptor with exactly these fields at the next used position. */
void fvd_inject_used_packed(struct fake_vdev *dev, uint16_t id, uint32_t len, uint16_t flags);

/* fake_vdev_packed.c, called by the format-neutral entry points above. */
int fvd_packed_pop(struct fake_vdev *dev, uint16_t *head);
bool fvd_packed_push(struct fake_vdev *dev, struct fvd_req *r, uint32_t len);
bool fvd_packed_publish(struct fake_vdev *dev);
bool fvd_packed_must_notify(struct fake_vdev *dev);
void fvd_fail(struct fake_vdev *dev, const char *fmt, ...);

#endif
