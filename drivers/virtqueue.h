/*
 * virtqueue.h: the driver side of a virtio 1.x virtqueue, ring logic only: split rings (spec
 * section 2.7, drivers/vq_split.c) and packed rings (virtio 1.1+ section 2.8, VIRTIO_F_RING_PACKED,
 * drivers/vq_packed.c) behind one interface; vq_config.packed picks the format.
 *
 * Knows nothing of PCI or of any device type: the transport programs the three ring addresses
 * (vq_desc_phys/vq_avail_phys/vq_used_phys: descriptor area, driver area, device area) and rings
 * the doorbell when vq_kick_prepare() says so.
 * No allocation: the caller hands in ring memory (vq_ring_bytes, VQ_RING_ALIGN) and private
 * per-descriptor state (vq_state_bytes). Device addresses are "phys"; the guest is identity-mapped
 * but the ring keeps its own phys base so a non-identity caller (the host tests) works too.
 *
 * Not thread-safe: one owner per queue (the caller serializes vq_add and vq_get_used). Pure module:
 * compiles into the kernel and into host unit tests. x86 only (little-endian, TSO barriers below).
 */
#ifndef VQH_VIRTQUEUE_H
#define VQH_VIRTQUEUE_H

#include "base.h"

/* Ring layout, spec 2.7. x86 is little-endian, so the spec's le16/le32/le64 are native here. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct vq_desc {
    uint64_t addr; /* device (guest-physical) address */
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[]; /* [size], then le16 used_event (EVENT_IDX) */
};

struct vq_used_elem {
    uint32_t id;  /* head of the used chain */
    uint32_t len; /* bytes the device wrote */
};

struct vq_used {
    uint16_t flags;
    uint16_t idx;
    struct vq_used_elem ring[]; /* [size], then le16 avail_event (EVENT_IDX) */
};

/* Packed ring layout, spec 2.8 "The Virtqueue Descriptor Format" and "Event Suppression
 * Structure Format". An indirect table holds pvirtq descriptors too (2.8 "Indirect Flag"). */
#define VIRTQ_DESC_F_AVAIL (1u << 7)
#define VIRTQ_DESC_F_USED (1u << 15)
#define RING_EVENT_FLAGS_ENABLE 0x0
#define RING_EVENT_FLAGS_DISABLE 0x1
#define RING_EVENT_FLAGS_DESC 0x2 /* only with VIRTIO_F_RING_EVENT_IDX */
#define RING_EVENT_WRAP_SHIFT 15

struct pvirtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t id;
    uint16_t flags;
};

struct pvirtq_event_suppress {
    uint16_t desc;  /* desc_event_off : 15, desc_event_wrap : 1 */
    uint16_t flags; /* desc_event_flags : 2, reserved : 14 */
};

/* Every indirect table entry is 16 bytes in both formats: callers size tables with this. */
#define VQ_INDIRECT_ENTRY_BYTES 16

/*
 * CPU barriers between ring accesses. Ring memory is ordinary write-back RAM shared with the
 * device (a QEMU thread). x86-TSO never reorders a store with an older store nor a load with an
 * older load, so wmb and rmb only have to stop the compiler. The one reordering x86 does, a later
 * load passing an earlier store still in the store buffer, is what vq_mb() forbids: it sits
 * between publishing an index and reading the other side's suppression field. GCC emits mfence
 * or, as GCC 12 does, `lock or $0,(%rsp)`: both are full barriers for write-back memory.
 */
#if !defined(__x86_64__) && !defined(__i386__)
#error "virtqueue barriers are written for x86-TSO only"
#endif
#define vq_wmb() barrier()
#define vq_rmb() barrier()
#define vq_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#define VQ_SIZE_MAX 32768 /* spec: "The maximum Queue Size value is 32768" */
#define VQ_RING_ALIGN 16  /* ring base: the descriptor table needs 16, avail 2, used 4 */
#define VQ_DETAIL_MAX 160

/* vq_init() options: the transport maps the negotiated feature bits onto these. */
struct vq_config {
    uint16_t size;         /* Queue Size: split: a power of two, 1..32768; packed: 1..32768 */
    bool event_idx;        /* VIRTIO_F_EVENT_IDX (bit 29) negotiated */
    bool indirect;         /* VIRTIO_F_INDIRECT_DESC (bit 28) negotiated */
    uint16_t indirect_max; /* entries each caller indirect table holds; 0 or > size means size */
    bool packed;           /* VIRTIO_F_RING_PACKED (bit 34) negotiated */
};

/*
 * One buffer element of a request: device address and length, one descriptor. Or, with pieces
 * >= 2, a run: one contiguous buffer the ring cuts into `pieces` descriptors of `seg` bytes each
 * but the last, which holds the rest (1..seg bytes): a request's data cut to a device's segment
 * limits is described in one element and its descriptors are written straight from it, with no
 * scatter list built first (each guest instruction counts under TCG).
 */
struct vq_buf {
    uint64_t addr;
    uint32_t len;    /* bytes of the whole element */
    uint32_t seg;    /* a run: bytes of every piece but the last */
    uint32_t pieces; /* descriptors the element takes; 0 and 1 both mean one */
};

/* Errors (negative), returned by vq_init and vq_add. */
enum {
    VQ_ERR_NOSPC = -1,   /* not enough free descriptors now; retry after completions */
    VQ_ERR_TOO_MANY = -2, /* more segments than the indirect table / Queue Size allows */
    VQ_ERR_EMPTY = -3,   /* zero buffers */
    VQ_ERR_INVAL = -4,   /* NULL token/bufs, a run whose pieces do not cover its length, bad
                            size or alignment (vq_init) */
    VQ_ERR_TOO_BIG = -5, /* chain longer than 2^32 - 1 bytes in total */
    VQ_ERR_BROKEN = -6,  /* the device broke the protocol earlier; the queue is dead */
};

/* Why a queue is broken (vq_broken_reason() names it; vq_broken_detail() has the numbers). */
enum vq_broken_code {
    VQ_BROKEN_NONE = 0,
    VQ_BROKEN_ID_RANGE,        /* used id >= Queue Size */
    VQ_BROKEN_ID_NOT_INFLIGHT, /* used id heads no in-flight chain (e.g. a double completion) */
    VQ_BROKEN_LEN,             /* used len > the chain's device-writable total */
    VQ_BROKEN_IDX_JUMP,        /* used idx ran further ahead of last_used than chains in flight */
};

/* Driver-private state of one descriptor: out of the device's reach, so never re-read from it. */
struct vq_slot {
    void *token;     /* head of an in-flight chain: the caller's cookie */
    uint32_t in_len; /* head: sum of the device-writable lengths */
    uint16_t next;   /* chain link shadow while in use; free-list link while free */
    uint16_t ndesc;  /* head: ring descriptors the chain holds (1 for an indirect table) */
    bool head;       /* true while this id heads an in-flight chain (packed: buffer id in use) */
};

struct virtqueue {
    /* split */
    struct vq_desc *desc;   /* descriptor table: driver-written */
    struct vq_avail *avail; /* available ring ("driver area"): driver-written */
    struct vq_used *used;   /* used ring ("device area"): device-written, never trusted */
    uint16_t *used_event;   /* &avail->ring[size] */
    uint16_t *avail_event;  /* &used->ring[size] */
    /* packed: one ring both sides write, and the two event suppression structures */
    struct pvirtq_desc *pdesc;
    struct pvirtq_event_suppress *driver_event; /* driver area: driver-written */
    struct pvirtq_event_suppress *device_event; /* device area: device-written, never trusted */
    bool avail_wrap;        /* Driver Ring Wrap Counter: flips after the last descriptor */
    bool used_wrap;         /* the device's wrap counter as the driver tracks it */
    bool kicked_wrap;       /* avail_wrap when vq_kick_prepare last ran */
    uint32_t desc_since_kick; /* descriptors made available since then */
    /* both */
    struct vq_slot *slot;   /* split: per descriptor; packed: per buffer id; [size] */
    uint64_t phys;          /* device address of the descriptor area (the ring base) */
    uint16_t size, mask;
    uint16_t free_head;     /* split: first free descriptor; packed: first free buffer id */
    uint16_t num_free;      /* free ring descriptors */
    uint16_t inflight;      /* chains published and not yet returned by vq_get_used */
    uint16_t avail_idx;     /* split: shadow of avail->idx; packed: next descriptor to fill */
    uint16_t kicked_idx;    /* avail idx when vq_kick_prepare last ran */
    uint32_t added_since_kick;
    uint16_t last_used;     /* split: next used entry; packed: next used descriptor position */
    uint16_t indirect_max;
    bool packed, event_idx, indirect;
    bool cb_enabled;        /* used buffer notifications wanted */
    bool broken;
    enum vq_broken_code broken_code;
    char broken_detail[VQ_DETAIL_MAX];
};

/* Memory the caller provides: 0 when size is not valid for the format (split: a power of two
 * in 1..32768; packed: 1..32768). */
size_t vq_ring_bytes(uint16_t size, bool packed);
size_t vq_state_bytes(uint16_t size, bool packed);

/* Zeroes and lays out the ring at ring/ring_phys (both VQ_RING_ALIGN-aligned); 0 or
 * VQ_ERR_INVAL. The caller keeps ring and state alive and untouched while the device runs. */
int vq_init(struct virtqueue *vq, const struct vq_config *cfg, void *ring, uint64_t ring_phys,
            void *state);

/* Addresses the transport programs into the device (queue_desc, queue_driver, queue_device). */
uint64_t vq_desc_phys(const struct virtqueue *vq);
uint64_t vq_avail_phys(const struct virtqueue *vq);
uint64_t vq_used_phys(const struct virtqueue *vq);

/*
 * Posts one request and publishes it: bufs[0..n_out) device-readable, then
 * bufs[n_out..n_out+n_in) device-writable, each element one descriptor or a run of them (struct
 * vq_buf); the limits below count descriptors. With indirect_table non-NULL (indirect_max entries of
 * VQ_INDIRECT_ENTRY_BYTES) and indirect descriptors negotiated, the chain is written to that table
 * (device address indirect_phys, it must stay untouched until the request completes) and takes
 * one ring descriptor; otherwise the chain is direct. token (non-NULL) comes back from
 * vq_get_used. Returns the head id (packed: the buffer id) or a VQ_ERR_*.
 */
int vq_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n_out, unsigned n_in,
           void *token, void *indirect_table, uint64_t indirect_phys);

/* True when the device must be notified of what was added since the previous call. */
bool vq_kick_prepare(struct virtqueue *vq);

/* Token of the next used chain (its written length in *len), or NULL: none yet, or broken. */
void *vq_get_used(struct virtqueue *vq, uint32_t *len);
bool vq_more_used(struct virtqueue *vq);

/* Used buffer notifications. vq_enable_cb returns false when used entries are already waiting:
 * the caller must poll again (a broken queue returns true: there is nothing more to get). */
void vq_disable_cb(struct virtqueue *vq);
bool vq_enable_cb(struct virtqueue *vq);

/* Device-protocol violation report. */
bool vq_is_broken(const struct virtqueue *vq);
const char *vq_broken_reason(const struct virtqueue *vq); /* "none", "used_id_out_of_range", ... */
const char *vq_broken_detail(const struct virtqueue *vq); /* with id, len and index values */

/* State for the device layer and the quiesce report. Packed rings have no indices: these are
 * descriptor positions (0..size-1), as QEMU's last_avail_idx and used_idx are for them. */
uint16_t vq_size(const struct virtqueue *vq);
uint16_t vq_avail_idx(const struct virtqueue *vq); /* next avail idx the driver will publish */
uint16_t vq_last_used(const struct virtqueue *vq); /* next used idx the driver will consume */
bool vq_is_packed(const struct virtqueue *vq);
uint16_t vq_num_free(const struct virtqueue *vq);  /* free ring descriptors */
uint16_t vq_inflight(const struct virtqueue *vq);  /* chains the device still owns */

/*
 * Spec 2.7 notification suppression with EVENT_IDX: true when the entry at index event_idx was
 * among those published since old_idx (indices old_idx..new_idx-1), in wrapping 16-bit arithmetic.
 */
static inline bool vq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

#endif
