/* virtio_pci.c: virtio 1.x "Virtio Over PCI Bus" (spec section 4.1), modern interface only. */
#include "virtio_pci.h"
#include "cpu.h"
#include "memory.h"
#include "time.h"

#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_ISR 3
#define CFG_DEVICE 4

/* struct virtio_pci_common_cfg offsets */
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_MSIX 0x10
#define COMMON_NUMQ 0x12
#define COMMON_STATUS 0x14
#define COMMON_CFGGEN 0x15
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1a
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_NOFF 0x1e
#define COMMON_Q_DESC 0x20
#define COMMON_Q_DRIVER 0x28
#define COMMON_Q_DEVICE 0x30
#define COMMON_Q_RESET 0x3a /* virtio 1.2, with VIRTIO_F_RING_RESET */

#define RESET_TIMEOUT_MS 1000

static uintptr_t vp_map_cap(struct vp_device *vp, uint8_t cap, uint32_t *len)
{
    struct pci_dev *d = vp->pci;
    uint8_t bar = pci_read8(d, cap + 4);
    uint32_t off = pci_read32(d, cap + 8);
    *len = pci_read32(d, cap + 12);
    if (bar > 5 || !d->bar[bar] || d->bar_io[bar] || (uint64_t)off + *len > d->bar_size[bar])
        return 0;
    uintptr_t a = (uintptr_t)(d->bar[bar] + off);
    return paging_map_mmio(a, *len ? *len : 1) ? a : 0;
}

bool vp_init(struct vp_device *vp, struct pci_dev *pci, const char **why)
{
    memset(vp, 0, sizeof(*vp));
    vp->pci = pci;
    /* "The driver SHOULD use the first instance of each virtio structure type they can
     * support" (4.1.4): keep the first of each kind. */
    for (uint8_t cap = pci_find_cap(pci, PCI_CAP_VENDOR, 0); cap; cap = pci_find_cap(pci, PCI_CAP_VENDOR, cap)) {
        uint8_t type = pci_read8(pci, cap + 3);
        uint32_t len;
        switch (type) {
        case CFG_COMMON:
            if (!vp->common)
                vp->common = vp_map_cap(vp, cap, &len);
            break;
        case CFG_NOTIFY:
            if (!vp->notify_base) {
                vp->notify_base = vp_map_cap(vp, cap, &len);
                vp->notify_mult = pci_read32(pci, cap + 16);
            }
            break;
        case CFG_ISR:
            if (!vp->isr)
                vp->isr = vp_map_cap(vp, cap, &len);
            break;
        case CFG_DEVICE:
            if (!vp->device_cfg) {
                vp->device_cfg = vp_map_cap(vp, cap, &len);
                vp->device_cfg_len = len;
            }
            break;
        }
    }
    if (!vp->common || !vp->notify_base || !vp->device_cfg) {
        *why = "no modern virtio-pci capabilities (common, notify, device config)";
        return false;
    }
    pci_enable(pci);
    return true;
}

uint8_t vp_get_status(struct vp_device *vp)
{
    return mmio_read8(vp->common + COMMON_STATUS);
}

void vp_add_status(struct vp_device *vp, uint8_t bits)
{
    mmio_write8(vp->common + COMMON_STATUS, vp_get_status(vp) | bits);
}

void vp_reset(struct vp_device *vp)
{
    /* "After writing 0 to device_status, the driver MUST wait for a read of device_status to
     * return 0 before reinitializing the device." (4.1.4.3.2) */
    mmio_write8(vp->common + COMMON_STATUS, 0);
    uint64_t deadline = time_ms() + RESET_TIMEOUT_MS;
    while (mmio_read8(vp->common + COMMON_STATUS) != 0 && time_ms() < deadline)
        cpu_relax();
}

uint64_t vp_get_features(struct vp_device *vp)
{
    mmio_write32(vp->common + COMMON_DFSELECT, 0);
    uint64_t lo = mmio_read32(vp->common + COMMON_DF);
    mmio_write32(vp->common + COMMON_DFSELECT, 1);
    uint64_t hi = mmio_read32(vp->common + COMMON_DF);
    vp->device_features = lo | (hi << 32);
    return vp->device_features;
}

bool vp_finalize_features(struct vp_device *vp, uint64_t features)
{
    vp->driver_features = features;
    mmio_write32(vp->common + COMMON_GFSELECT, 0);
    mmio_write32(vp->common + COMMON_GF, (uint32_t)features);
    mmio_write32(vp->common + COMMON_GFSELECT, 1);
    mmio_write32(vp->common + COMMON_GF, (uint32_t)(features >> 32));
    /* 3.1.1 steps 5-6: "Set the FEATURES_OK status bit. The driver MUST NOT accept new feature
     * bits after this step. Re-read device status to ensure the FEATURES_OK bit is still set:
     * otherwise, the device does not support our subset of features". */
    vp_add_status(vp, VIRTIO_STATUS_FEATURES_OK);
    return (vp_get_status(vp) & VIRTIO_STATUS_FEATURES_OK) != 0;
}

uint16_t vp_num_queues(struct vp_device *vp)
{
    return mmio_read16(vp->common + COMMON_NUMQ);
}

uint8_t vp_config_generation(struct vp_device *vp)
{
    return mmio_read8(vp->common + COMMON_CFGGEN);
}

uint8_t vp_config_read8(struct vp_device *vp, uint32_t off)
{
    return off < vp->device_cfg_len ? mmio_read8(vp->device_cfg + off) : 0;
}

uint16_t vp_config_read16(struct vp_device *vp, uint32_t off)
{
    return off + 2 <= vp->device_cfg_len ? mmio_read16(vp->device_cfg + off) : 0;
}

uint32_t vp_config_read32(struct vp_device *vp, uint32_t off)
{
    return off + 4 <= vp->device_cfg_len ? mmio_read32(vp->device_cfg + off) : 0;
}

uint64_t vp_config_read64(struct vp_device *vp, uint32_t off)
{
    /* 64-bit fields are read as two 32-bit halves; callers loop on config_generation. */
    return (uint64_t)vp_config_read32(vp, off) | ((uint64_t)vp_config_read32(vp, off + 4) << 32);
}

static void vp_write64(uintptr_t a, uint64_t v)
{
    mmio_write32(a, (uint32_t)v);
    mmio_write32(a + 4, (uint32_t)(v >> 32));
}

uint16_t vp_queue_max_size(struct vp_device *vp, uint16_t q)
{
    mmio_write16(vp->common + COMMON_Q_SELECT, q);
    return mmio_read16(vp->common + COMMON_Q_SIZE);
}

uintptr_t vp_queue_setup(struct vp_device *vp, uint16_t q, uint16_t size, uint64_t desc,
                         uint64_t driver, uint64_t device, uint16_t msix, const char **why)
{
    uintptr_t c = vp->common;
    mmio_write16(c + COMMON_Q_SELECT, q);
    mmio_write16(c + COMMON_Q_SIZE, size);
    /* 64-bit fields as two 32-bit halves: "the driver MAY access each of the high and low
     * 32-bit parts of the field independently" (4.1.3.1), and every device accepts that. */
    vp_write64(c + COMMON_Q_DESC, desc);
    vp_write64(c + COMMON_Q_DRIVER, driver);
    vp_write64(c + COMMON_Q_DEVICE, device);
    if (msix != VIRTIO_MSI_NO_VECTOR) {
        /* "The device MUST return vector mapped to a given event... or NO_VECTOR if unable to
         * allocate" (4.1.5.1.2): read it back. */
        mmio_write16(c + COMMON_Q_MSIX, msix);
        if (mmio_read16(c + COMMON_Q_MSIX) != msix) {
            *why = "device refused the queue's MSI-X vector";
            return 0;
        }
    }
    uint16_t noff = mmio_read16(c + COMMON_Q_NOFF);
    mmio_write16(c + COMMON_Q_ENABLE, 1);
    return vp->notify_base + (uintptr_t)noff * vp->notify_mult;
}

void vp_notify(uintptr_t notify_addr, uint16_t q)
{
    /* Without VIRTIO_F_NOTIFICATION_DATA the driver writes the queue index (4.1.5.2). */
    mmio_write16(notify_addr, q);
}

int vp_queue_reset(struct vp_device *vp, uint16_t q)
{
    uintptr_t c = vp->common;
    mmio_write16(c + COMMON_Q_SELECT, q);
    /* 2.6.1 "Virtqueue Reset": the driver writes 1 to queue_reset; "The device MUST reset the
     * queue when 1 is written to queue_reset, and present a 1 in queue_reset after the queue has
     * been reset, until the driver re-enables the queue via queue_enable". */
    mmio_write16(c + COMMON_Q_RESET, 1);
    uint64_t deadline = time_ms() + RESET_TIMEOUT_MS;
    for (;;) {
        if (mmio_read16(c + COMMON_Q_RESET) == 1)
            return VP_QRESET_DONE;
        /* QEMU (7.2 to 10.0) resets the queue inside the write and reads queue_reset back as 0
         * ever after; the queue is then disabled. Accepted, and reported as a deviation. */
        if (mmio_read16(c + COMMON_Q_ENABLE) == 0)
            return VP_QRESET_DONE_READS_0;
        if (time_ms() > deadline)
            return VP_QRESET_TIMEOUT;
        cpu_relax();
    }
}
