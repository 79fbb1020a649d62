/*
 * pcie_slot.h: PCI Express native hot-plug (PCIe Base Specification, 6.7 "PCI Express Hot-Plug
 * Support" and 7.5.3 "PCI Express Capability Structure": Slot Capabilities, Control and Status) of
 * root and downstream ports, by polling: find the hot-plug capable slots, see a card arrive or the
 * attention button pressed, power a slot on (and find and place its function 0) or off. The driver
 * of what sits in the slot (virtio_blk.h) stays out of it.
 */
#ifndef VQH_PCIE_SLOT_H
#define VQH_PCIE_SLOT_H

#include "base.h"
#include "pci.h"

#define PCIE_SLOTS_MAX 8

struct pcie_slot {
    struct pci_dev *port;      /* the root (or downstream) port */
    uint8_t cap;               /* its PCI Express capability */
    uint8_t sec_bus;           /* the bus behind it: the card's function 0 is sec_bus:00.0 */
    uint32_t psn;              /* Physical Slot Number (Slot Capabilities 31:19) */
    uint32_t sltcap;
    bool dllla_reporting;      /* Link Capabilities: Data Link Layer Link Active Reporting Capable */
    struct pci_window mem, pref; /* what the firmware reserved behind the port */
};

/* What a poll saw (Slot Status, then cleared: its event bits are RW1C). */
struct pcie_slot_events {
    bool present;              /* Presence Detect State */
    bool powered;              /* Power Controller Control reads "on" */
    bool button;               /* Attention Button Pressed */
    bool presence_changed;     /* Presence Detect Changed */
    uint16_t status, control;
};

/* Every hot-plug capable slot among the enumerated PCI functions (pci_init first). */
uint32_t pcie_slots_find(struct pcie_slot *slots, uint32_t max);
void pcie_slot_poll(struct pcie_slot *s, struct pcie_slot_events *ev);
/* Power on, wait for the link and the card's function 0, size and place its BARs inside the
 * port's windows; the function, or NULL with *why (the slot is then powered off again). */
struct pci_dev *pcie_slot_power_on(struct pcie_slot *s, const char **why);
/* Power off with the power indicator off: the card may now be removed (QEMU unplugs it on this
 * command). Returns whether a card is still present afterwards. */
bool pcie_slot_power_off(struct pcie_slot *s);
/* "00:10.0" of the port into buf[8]. */
void pcie_slot_name(const struct pcie_slot *s, char buf[8]);

#endif
