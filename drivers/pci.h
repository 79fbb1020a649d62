/* pci.h: PCI configuration access (ECAM, or ports 0xcf8/0xcfc), enumeration, BARs, MSI-X. */
#ifndef VQH_PCI_H
#define VQH_PCI_H

#include "base.h"

#define PCI_MAX_DEVICES 64
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint8_t class_code, subclass;
    uint64_t bar[6];       /* physical base, 0 when unimplemented or unassigned */
    uint64_t bar_size[6];
    bool bar_io[6];
    bool bar_64[6];        /* memory BAR taking two slots (i and i+1) */
    bool bar_pref[6];      /* prefetchable memory BAR */
    uint8_t msix_cap;      /* config offset of the MSI-X capability, 0 if none */
    uint16_t msix_count;   /* table entries */
    uintptr_t msix_table;  /* mapped table address */
};

/* Enumerate every function on every bus (ECAM from ACPI MCFG, ports as fallback). */
void pci_init(void);
uint32_t pci_count(void);
struct pci_dev *pci_get(uint32_t i);
/* "00:03.0" style name into buf[8]. */
void pci_name(const struct pci_dev *d, char buf[8]);

uint8_t pci_read8(const struct pci_dev *d, uint16_t off);
uint16_t pci_read16(const struct pci_dev *d, uint16_t off);
uint32_t pci_read32(const struct pci_dev *d, uint16_t off);
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v);
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v);

/* Exactly 16 bits at off (ECAM: a 16-bit access; ports: the word at 0xcfc + 2): for registers
 * that share a dword with RW1C bits (a PCIe port's Slot Control beside its Slot Status). */
void pci_write16_exact(const struct pci_dev *d, uint16_t off, uint16_t v);
/* Vendor and device ID of bus:dev.fn as it answers now (0xffffffff: nothing there). */
uint32_t pci_probe_id(uint8_t bus, uint8_t dev, uint8_t fn);
/* A hot-added function: the entry that had this address before (refreshed), or a new one,
 * with its BARs sized; NULL when nothing answers there or the table is full. */
struct pci_dev *pci_attach(uint8_t bus, uint8_t dev, uint8_t fn);

/* Bus addresses a bridge forwards downstream: [base, limit]; next is the first free one. */
struct pci_window {
    uint64_t base, limit, next;
};
/* Give every memory BAR of d an address inside the bridge's windows (prefetchable BARs in pref
 * when it has one, the rest in mem), naturally aligned; false with *why when one does not fit. */
bool pci_assign_bars(struct pci_dev *d, struct pci_window *mem, struct pci_window *pref, const char **why);
/* Memory decoding, bus mastering and MSI-X off: the function no longer touches memory. */
void pci_disable(struct pci_dev *d);

/* Capability list walk: the next capability with this id after `after` (0 = from the start). */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t after);
/* Enable memory decoding and bus mastering, disable INTx. */
void pci_enable(struct pci_dev *d);
/* Map the MSI-X table; program entry to deliver `vector` to the local APIC `apic_id`. */
bool pci_msix_setup(struct pci_dev *d);
void pci_msix_route(struct pci_dev *d, uint16_t entry, uint32_t apic_id, uint8_t vector);
void pci_msix_enable(struct pci_dev *d);

#endif
