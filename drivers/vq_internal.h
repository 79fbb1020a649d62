/*
 * vq_internal.h: what the two ring formats share, for drivers/virtqueue.c, vq_split.c and
 * vq_packed.c only. virtqueue.c holds the public entry points and dispatches on vq->packed.
 */
#ifndef VQH_VQ_INTERNAL_H
#define VQH_VQ_INTERNAL_H

#include "virtqueue.h"

/* Loads/stores the other side may race with: __atomic so the compiler re-reads and never tears. */
#define RD16(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define RD32(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define WR16(p, v) __atomic_store_n((p), (uint16_t)(v), __ATOMIC_RELAXED)

/* Builds the broken detail from alternating text and numbers: texts[0] nums[0] ... texts[k]. */
void vq_mark_broken(struct virtqueue *vq, enum vq_broken_code code, const char *const *texts,
                    const uint64_t *nums, int k);
/* The used element must name a buffer the device owns and fit its writable bytes; marks the
 * queue broken otherwise. where: the used index (split) or descriptor position (packed). */
bool vq_check_used(struct virtqueue *vq, uint32_t id, uint32_t used_len, uint16_t where);
/* What vq_add learnt of a chain before the format's add writes it: the arguments are checked,
 * runs included, and the chain fits the table or ring it is meant for (the free descriptors are
 * the add's own check). */
struct vq_chain {
    uint16_t descs;    /* descriptors the chain holds (a run counts its pieces) */
    uint32_t in_total; /* device-writable bytes */
};

size_t vq_split_ring_bytes(uint16_t size);
void vq_split_init(struct virtqueue *vq, void *ring);
int vq_split_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n_out, unsigned n_in,
                 const struct vq_chain *c, void *token, void *indirect_table, uint64_t indirect_phys);
bool vq_split_kick_prepare(struct virtqueue *vq);
void *vq_split_get_used(struct virtqueue *vq, uint32_t *len);
bool vq_split_more_used(struct virtqueue *vq);
void vq_split_disable_cb(struct virtqueue *vq);
void vq_split_enable_cb(struct virtqueue *vq);
uint64_t vq_split_avail_phys(const struct virtqueue *vq);
uint64_t vq_split_used_phys(const struct virtqueue *vq);

size_t vq_packed_ring_bytes(uint16_t size);
void vq_packed_init(struct virtqueue *vq, void *ring);
int vq_packed_add(struct virtqueue *vq, const struct vq_buf *bufs, unsigned n_out, unsigned n_in,
                  const struct vq_chain *c, void *token, void *indirect_table, uint64_t indirect_phys);
bool vq_packed_kick_prepare(struct virtqueue *vq);
void *vq_packed_get_used(struct virtqueue *vq, uint32_t *len);
bool vq_packed_more_used(struct virtqueue *vq);
void vq_packed_disable_cb(struct virtqueue *vq);
void vq_packed_enable_cb(struct virtqueue *vq);
uint64_t vq_packed_driver_phys(const struct virtqueue *vq);
uint64_t vq_packed_device_phys(const struct virtqueue *vq);

#endif
