/*
 * virtio_pci.h: the modern (virtio 1.x) PCI transport: capabilities, status handshake, feature
 * negotiation, queue setup and notification. Device-type logic lives in virtio_blk.c; ring logic
 * in virtqueue.c, which knows nothing of PCI.
 */
#ifndef VQH_VIRTIO_PCI_H
#define VQH_VIRTIO_PCI_H

#include "base.h"
#include "pci.h"

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128
#define VIRTIO_MSI_NO_VECTOR 0xffff

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_F_RING_RESET 40

struct vp_device {
    struct pci_dev *pci;
    uintptr_t common;        /* struct virtio_pci_common_cfg */
    uintptr_t notify_base;
    uint32_t notify_mult;    /* notify_off_multiplier */
    uintptr_t isr;
    uintptr_t device_cfg;
    uint32_t device_cfg_len;
    uint64_t device_features;
    uint64_t driver_features;
};

/* Find and map the four structures; false with *why when the device is not modern virtio-pci. */
bool vp_init(struct vp_device *vp, struct pci_dev *pci, const char **why);
void vp_reset(struct vp_device *vp);
uint8_t vp_get_status(struct vp_device *vp);
void vp_add_status(struct vp_device *vp, uint8_t bits);
uint64_t vp_get_features(struct vp_device *vp);
/* Write the driver features, set FEATURES_OK and read it back (the spec's step 5 and 6). */
bool vp_finalize_features(struct vp_device *vp, uint64_t features);
uint16_t vp_num_queues(struct vp_device *vp);
uint8_t vp_config_generation(struct vp_device *vp);
uint8_t vp_config_read8(struct vp_device *vp, uint32_t off);
uint16_t vp_config_read16(struct vp_device *vp, uint32_t off);
uint32_t vp_config_read32(struct vp_device *vp, uint32_t off);
uint64_t vp_config_read64(struct vp_device *vp, uint32_t off);

/* Queue setup: size the device allows (0 = queue unavailable). */
uint16_t vp_queue_max_size(struct vp_device *vp, uint16_t q);
/*
 * Program queue q with `size` entries at the given ring addresses and MSI-X entry (or
 * VIRTIO_MSI_NO_VECTOR), then enable it. Returns the notify address, 0 on failure (*why set).
 */
uintptr_t vp_queue_setup(struct vp_device *vp, uint16_t q, uint16_t size, uint64_t desc,
                         uint64_t driver, uint64_t device, uint16_t msix, const char **why);
void vp_notify(uintptr_t notify_addr, uint16_t q);
/* Reset queue q alone (VIRTIO_F_RING_RESET negotiated); vp_queue_setup brings it back. */
enum { VP_QRESET_DONE, VP_QRESET_DONE_READS_0, VP_QRESET_TIMEOUT };
int vp_queue_reset(struct vp_device *vp, uint16_t q);

#endif
