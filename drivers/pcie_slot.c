/* pcie_slot.c: PCIe native hot-plug slots (see pcie_slot.h), polled, one command at a time. */
#include "pcie_slot.h"
#include "cpu.h"
#include "time.h"

#define PCI_CAP_EXP 0x10
#define PCI_CLASS_BRIDGE 0x06
#define PCI_SUBCLASS_PCI_BRIDGE 0x04
#define PCI_COMMAND 0x04
#define CMD_MEMORY (1u << 1)
#define CMD_MASTER (1u << 2)

/* Registers of the PCI Express Capability (7.5.3), relative to it. */
#define EXP_FLAGS 0x02
#define EXP_FLAGS_SLOT (1u << 8)       /* Slot Implemented */
#define EXP_LNKCAP 0x0c
#define EXP_LNKCAP_DLLLARC (1u << 20)
#define EXP_LNKSTA 0x12
#define EXP_LNKSTA_DLLLA (1u << 13)
#define EXP_SLTCAP 0x14
#define SLTCAP_PCP (1u << 1)           /* Power Controller Present */
#define SLTCAP_HPC (1u << 6)           /* Hot-Plug Capable */
#define SLTCAP_NCCS (1u << 18)         /* No Command Completed Support */
#define EXP_SLTCTL 0x18
#define SLTCTL_AIC_OFF (3u << 6)
#define SLTCTL_PIC_MASK (3u << 8)
#define SLTCTL_PIC_ON (1u << 8)
#define SLTCTL_PIC_OFF (3u << 8)
#define SLTCTL_PCC (1u << 10)          /* Power Controller Control: 1 = off */
#define EXP_SLTSTA 0x1a
#define SLTSTA_ABP (1u << 0)
#define SLTSTA_PDC (1u << 3)
#define SLTSTA_CC (1u << 4)
#define SLTSTA_PDS (1u << 6)
#define SLTSTA_DLLSC (1u << 8)
#define SLTSTA_EVENTS (SLTSTA_ABP | (1u << 1) | (1u << 2) | SLTSTA_PDC | SLTSTA_CC | SLTSTA_DLLSC)

#define CMD_TIMEOUT_MS 1000
#define LINK_TIMEOUT_MS 1000
#define ID_TIMEOUT_MS 1000

void pcie_slot_name(const struct pcie_slot *s, char buf[8])
{
    pci_name(s->port, buf);
}

static void pcie_slot_windows(struct pcie_slot *s)
{
    struct pci_dev *p = s->port;
    uint32_t m = pci_read32(p, 0x20);
    s->mem.base = (uint64_t)(m & 0xfff0) << 16;
    s->mem.limit = ((uint64_t)(m >> 16 & 0xfff0) << 16) | 0xfffff;
    s->mem.next = s->mem.base;
    uint32_t pf = pci_read32(p, 0x24);
    uint64_t hi_base = 0, hi_limit = 0;
    if ((pf & 0xf) == 1) { /* 64-bit prefetchable window: the upper halves in 0x28 and 0x2c */
        hi_base = pci_read32(p, 0x28);
        hi_limit = pci_read32(p, 0x2c);
    }
    s->pref.base = ((uint64_t)(pf & 0xfff0) << 16) | (hi_base << 32);
    s->pref.limit = ((uint64_t)(pf >> 16 & 0xfff0) << 16) | 0xfffff | (hi_limit << 32);
    s->pref.next = s->pref.base;
}

uint32_t pcie_slots_find(struct pcie_slot *slots, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < pci_count() && n < max; i++) {
        struct pci_dev *p = pci_get(i);
        if (p->class_code != PCI_CLASS_BRIDGE || p->subclass != PCI_SUBCLASS_PCI_BRIDGE)
            continue;
        uint8_t cap = pci_find_cap(p, PCI_CAP_EXP, 0);
        if (!cap || !(pci_read16(p, cap + EXP_FLAGS) & EXP_FLAGS_SLOT))
            continue;
        uint32_t sltcap = pci_read32(p, cap + EXP_SLTCAP);
        if (!(sltcap & SLTCAP_HPC))
            continue; /* no native hot-plug here (QEMU: ACPI hot-plug owns the slot) */
        struct pcie_slot *s = &slots[n++];
        memset(s, 0, sizeof(*s));
        s->port = p;
        s->cap = cap;
        s->sltcap = sltcap;
        s->psn = sltcap >> 19;
        s->sec_bus = pci_read8(p, 0x19);
        s->dllla_reporting = (pci_read32(p, cap + EXP_LNKCAP) & EXP_LNKCAP_DLLLARC) != 0;
        pcie_slot_windows(s);
        /* The port forwards memory and the card's DMA only with its own decoding and bus
         * mastering on (a bridge's Command register gates both directions). */
        uint16_t cmd = pci_read16(p, PCI_COMMAND);
        pci_write16(p, PCI_COMMAND, cmd | CMD_MEMORY | CMD_MASTER);
        /* Polled: no hot-plug interrupts (HPIE, and every event enable, stay 0). */
    }
    return n;
}

void pcie_slot_poll(struct pcie_slot *s, struct pcie_slot_events *ev)
{
    uint16_t sta = pci_read16(s->port, s->cap + EXP_SLTSTA);
    uint16_t ctl = pci_read16(s->port, s->cap + EXP_SLTCTL);
    memset(ev, 0, sizeof(*ev));
    ev->status = sta;
    ev->control = ctl;
    ev->present = (sta & SLTSTA_PDS) != 0;
    ev->powered = !(s->sltcap & SLTCAP_PCP) || !(ctl & SLTCTL_PCC);
    ev->button = (sta & SLTSTA_ABP) != 0;
    ev->presence_changed = (sta & SLTSTA_PDC) != 0;
    /* Slot Status event bits are RW1C: write back exactly the ones seen, so an event that
     * arrives between the read and the write stays set for the next poll. */
    if (sta & (SLTSTA_ABP | SLTSTA_PDC | SLTSTA_DLLSC))
        pci_write16_exact(s->port, s->cap + EXP_SLTSTA, sta & (SLTSTA_ABP | SLTSTA_PDC | SLTSTA_DLLSC));
}

/*
 * One Slot Control command. 6.7.3.2: "If the Port supports Command Completed events, software
 * must wait for a command to complete before issuing the next command" (or 1 s, after which it
 * may go on): so wait for Command Completed, then clear it.
 */
static void pcie_slot_command(struct pcie_slot *s, uint16_t ctl)
{
    pci_write16_exact(s->port, s->cap + EXP_SLTCTL, ctl);
    if (s->sltcap & SLTCAP_NCCS)
        return;
    uint64_t deadline = time_ms() + CMD_TIMEOUT_MS;
    while (!(pci_read16(s->port, s->cap + EXP_SLTSTA) & SLTSTA_CC) && time_ms() < deadline)
        cpu_relax();
    pci_write16_exact(s->port, s->cap + EXP_SLTSTA, SLTSTA_CC);
}

static uint16_t pcie_slot_control(struct pcie_slot *s)
{
    return pci_read16(s->port, s->cap + EXP_SLTCTL);
}

static void pcie_sleep_ms(uint64_t ms)
{
    uint64_t end = time_ms() + ms;
    while (time_ms() < end)
        cpu_relax();
}

struct pci_dev *pcie_slot_power_on(struct pcie_slot *s, const char **why)
{
    uint16_t ctl = pcie_slot_control(s);
    /* Power Controller Control 0b = power on, Power Indicator Control 01b = on (7.5.3.10). */
    ctl &= (uint16_t)~(SLTCTL_PCC | SLTCTL_PIC_MASK);
    pcie_slot_command(s, ctl | SLTCTL_PIC_ON | SLTCTL_AIC_OFF);
    /* 6.7.3.3 / 6.6.1: with Data Link Layer Link Active reporting, wait for the link, then "100 ms
     * after the Data Link Layer Link Active bit reads 1b" before the first Configuration Request;
     * without it, 1 s. */
    uint64_t settle = 1000;
    if (s->dllla_reporting) {
        uint64_t deadline = time_ms() + LINK_TIMEOUT_MS;
        while (!(pci_read16(s->port, s->cap + EXP_LNKSTA) & EXP_LNKSTA_DLLLA)) {
            if (time_ms() > deadline) {
                *why = "the link did not come up within 1 s of power on (Data Link Layer Link Active)";
                pcie_slot_power_off(s);
                return NULL;
            }
            cpu_relax();
        }
        settle = 100;
    }
    pcie_sleep_ms(settle);
    /* A function still initialising answers Configuration Request Retry Status, which reads as
     * an invalid vendor ID here: retry for up to 1 s (6.6.1 "Conventional Reset"). */
    uint64_t deadline = time_ms() + ID_TIMEOUT_MS;
    while ((pci_probe_id(s->sec_bus, 0, 0) & 0xffff) == 0xffff) {
        if (time_ms() > deadline) {
            *why = "no function 0 answered behind the port after power on";
            pcie_slot_power_off(s);
            return NULL;
        }
        cpu_relax();
    }
    struct pci_dev *d = pci_attach(s->sec_bus, 0, 0);
    if (!d) {
        *why = "the PCI function table is full";
        pcie_slot_power_off(s);
        return NULL;
    }
    /* One card per slot: its windows start afresh at every insertion. */
    s->mem.next = s->mem.base;
    s->pref.next = s->pref.base;
    if (!pci_assign_bars(d, &s->mem, &s->pref, why)) {
        pcie_slot_power_off(s);
        return NULL;
    }
    return d;
}

bool pcie_slot_power_off(struct pcie_slot *s)
{
    /* Power Controller Control 1b = off, Power Indicator 11b = off (7.5.3.10): the slot is safe
     * to remove the card from (QEMU takes the device away on exactly this command). */
    uint16_t ctl = pcie_slot_control(s) & (uint16_t)~SLTCTL_PIC_MASK;
    pcie_slot_command(s, ctl | SLTCTL_PCC | SLTCTL_PIC_OFF | SLTCTL_AIC_OFF);
    return (pci_read16(s->port, s->cap + EXP_SLTSTA) & SLTSTA_PDS) != 0;
}
