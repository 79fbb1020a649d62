/* pci.c: configuration space, enumeration, BAR sizing and MSI-X programming. */
#include "pci.h"
#include "acpi.h"
#include "cpu.h"
#include "memory.h"

#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SECONDARY_BUS 0x19 /* type 1 (bridge) header */
#define PCI_SUBORDINATE_BUS 0x1a
#define PCI_CAP_PTR 0x34
#define CMD_MEMORY (1u << 1)
#define CMD_MASTER (1u << 2)
#define CMD_INTX_DISABLE (1u << 10)
#define STATUS_CAP_LIST (1u << 4)
#define MSIX_ENABLE (1u << 15)
#define MSIX_FUNCTION_MASK (1u << 14)

static struct pci_dev devices[PCI_MAX_DEVICES];
static uint32_t device_count;
static uintptr_t ecam;
static uint8_t ecam_bus_end;

static uintptr_t pci_ecam_addr(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return ecam + ((uintptr_t)bus << 20) + ((uintptr_t)dev << 15) + ((uintptr_t)fn << 12) + off;
}

static uint32_t pci_raw_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    if (ecam)
        return mmio_read32(pci_ecam_addr(bus, dev, fn, off));
    outl(0xcf8, 0x80000000u | ((uint32_t)bus << 16) | ((uint32_t)dev << 11) | ((uint32_t)fn << 8) | (off & 0xfc));
    return inl(0xcfc);
}

static void pci_raw_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
    if (ecam) {
        mmio_write32(pci_ecam_addr(bus, dev, fn, off), v);
        return;
    }
    outl(0xcf8, 0x80000000u | ((uint32_t)bus << 16) | ((uint32_t)dev << 11) | ((uint32_t)fn << 8) | (off & 0xfc));
    outl(0xcfc, v);
}

uint32_t pci_read32(const struct pci_dev *d, uint16_t off)
{
    return pci_raw_read32(d->bus, d->dev, d->fn, off);
}

uint16_t pci_read16(const struct pci_dev *d, uint16_t off)
{
    return (uint16_t)(pci_read32(d, off & ~3) >> ((off & 2) * 8));
}

uint8_t pci_read8(const struct pci_dev *d, uint16_t off)
{
    return (uint8_t)(pci_read32(d, off & ~3) >> ((off & 3) * 8));
}

void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v)
{
    pci_raw_write32(d->bus, d->dev, d->fn, off, v);
}

/* Read-modify-write of the containing dword: fine for the registers we touch (no RW1C bits
 * next to them except the status register, which we never write). */
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v)
{
    uint32_t shift = (off & 2) * 8;
    uint32_t old = pci_read32(d, off & ~3);
    if ((off & ~3) == PCI_COMMAND)
        old &= 0x0000ffff; /* never write 1s back into the status register's RW1C bits */
    pci_write32(d, off & ~3, (old & ~(0xffffu << shift)) | ((uint32_t)v << shift));
}

static void pci_size_bars(struct pci_dev *d)
{
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    /* Decoding off while the BARs hold all-ones, so no stray access lands on a random address. */
    pci_write16(d, PCI_COMMAND, cmd & ~(CMD_MEMORY | 1u));
    for (int i = 0; i < 6; i++) {
        uint16_t off = PCI_BAR0 + i * 4;
        uint32_t lo = pci_read32(d, off);
        pci_write32(d, off, 0xffffffff);
        uint32_t szlo = pci_read32(d, off);
        pci_write32(d, off, lo);
        if (szlo == 0)
            continue;
        if (lo & 1) {
            d->bar_io[i] = true;
            d->bar[i] = lo & ~3u;
            d->bar_size[i] = (~(szlo & ~3u) + 1) & 0xffff;
            continue;
        }
        uint64_t base = lo & ~0xfull, mask = szlo & ~0xfull;
        bool is64 = ((lo >> 1) & 3) == 2;
        if (is64 && i < 5) {
            uint32_t hi = pci_read32(d, off + 4);
            pci_write32(d, off + 4, 0xffffffff);
            uint32_t szhi = pci_read32(d, off + 4);
            pci_write32(d, off + 4, hi);
            base |= (uint64_t)hi << 32;
            mask |= (uint64_t)szhi << 32;
            d->bar_64[i] = true;
        } else {
            mask |= 0xffffffff00000000ull;
        }
        d->bar[i] = base;
        d->bar_size[i] = ~mask + 1;
        d->bar_pref[i] = (lo & 8) != 0;
        if (is64)
            i++;
    }
    pci_write16(d, PCI_COMMAND, cmd);
}

static void pci_fill(struct pci_dev *d, uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id)
{
    memset(d, 0, sizeof(*d));
    d->bus = bus;
    d->dev = dev;
    d->fn = fn;
    d->vendor = (uint16_t)id;
    d->device = (uint16_t)(id >> 16);
    uint32_t cls = pci_read32(d, 0x08);
    d->class_code = (uint8_t)(cls >> 24);
    d->subclass = (uint8_t)(cls >> 16);
    if ((pci_read8(d, PCI_HEADER_TYPE) & 0x7f) == 0)
        pci_size_bars(d);
}

static void pci_add(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id)
{
    if (device_count >= PCI_MAX_DEVICES)
        return;
    pci_fill(&devices[device_count++], bus, dev, fn, id);
}

uint32_t pci_probe_id(uint8_t bus, uint8_t dev, uint8_t fn)
{
    return pci_raw_read32(bus, dev, fn, 0);
}

struct pci_dev *pci_attach(uint8_t bus, uint8_t dev, uint8_t fn)
{
    uint32_t id = pci_probe_id(bus, dev, fn);
    if ((id & 0xffff) == 0xffff)
        return NULL;
    for (uint32_t i = 0; i < device_count; i++) {
        struct pci_dev *d = &devices[i];
        if (d->bus == bus && d->dev == dev && d->fn == fn) {
            pci_fill(d, bus, dev, fn, id);
            return d;
        }
    }
    if (device_count >= PCI_MAX_DEVICES)
        return NULL;
    pci_add(bus, dev, fn, id);
    return &devices[device_count - 1];
}

void pci_write16_exact(const struct pci_dev *d, uint16_t off, uint16_t v)
{
    if (ecam) {
        mmio_write16(pci_ecam_addr(d->bus, d->dev, d->fn, off), v);
        return;
    }
    outl(0xcf8, 0x80000000u | ((uint32_t)d->bus << 16) | ((uint32_t)d->dev << 11) | ((uint32_t)d->fn << 8) | (off & 0xfc));
    outw((uint16_t)(0xcfc + (off & 2)), v);
}

/* The lowest address in w aligned to size that leaves room for size bytes, or 0. */
static uint64_t pci_window_take(struct pci_window *w, uint64_t size)
{
    if (!w || w->base > w->limit)
        return 0;
    uint64_t a = ALIGN_UP(MAX(w->next, w->base), size);
    if (a < w->base || a + size - 1 > w->limit || a + size - 1 < a)
        return 0;
    w->next = a + size;
    return a;
}

bool pci_assign_bars(struct pci_dev *d, struct pci_window *mem, struct pci_window *pref, const char **why)
{
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd & ~(CMD_MEMORY | 1u));
    for (int i = 0; i < 6; i++) {
        if (!d->bar_size[i] || d->bar_io[i])
            continue; /* I/O BARs stay unassigned: nothing here needs port I/O */
        uint64_t a = 0;
        /* A prefetchable BAR may sit in the prefetchable window (64-bit ones above 4 GiB too);
         * any BAR may sit in the non-prefetchable window, which lies below 4 GiB. */
        if (d->bar_pref[i] && pref && pref->base <= pref->limit && (d->bar_64[i] || pref->limit < (1ull << 32)))
            a = pci_window_take(pref, d->bar_size[i]);
        if (!a)
            a = pci_window_take(mem, d->bar_size[i]);
        if (!a) {
            *why = "a BAR does not fit in the port's memory windows (the firmware reserved too little)";
            return false;
        }
        uint16_t off = PCI_BAR0 + i * 4;
        uint32_t lo = pci_read32(d, off) & 0xf;
        pci_write32(d, off, (uint32_t)a | lo);
        if (d->bar_64[i])
            pci_write32(d, off + 4, (uint32_t)(a >> 32));
        d->bar[i] = a;
        if (d->bar_64[i])
            i++;
    }
    pci_write16(d, PCI_COMMAND, cmd);
    return true;
}

void pci_disable(struct pci_dev *d)
{
    if (d->msix_cap) {
        uint16_t ctrl = pci_read16(d, d->msix_cap + 2);
        pci_write16(d, d->msix_cap + 2, ctrl & ~MSIX_ENABLE);
    }
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd & ~(CMD_MEMORY | CMD_MASTER));
}

static void pci_scan_bus(uint8_t bus)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        uint32_t id = pci_raw_read32(bus, dev, 0, 0);
        if ((id & 0xffff) == 0xffff)
            continue;
        bool multi = (pci_raw_read32(bus, dev, 0, PCI_HEADER_TYPE & ~3) >> 16) & 0x80;
        pci_add(bus, dev, 0, id);
        for (uint8_t fn = 1; multi && fn < 8; fn++) {
            id = pci_raw_read32(bus, dev, fn, 0);
            if ((id & 0xffff) != 0xffff)
                pci_add(bus, dev, fn, id);
        }
    }
}

/* A host bridge on bus 0 besides 00:00.0 (QEMU's pxb, pxb-pcie): it roots buses of its own that
 * no PCI-to-PCI bridge names. */
static bool pci_other_root(void)
{
    for (uint32_t i = 0; i < device_count; i++)
        if (devices[i].bus == 0 && (devices[i].dev || devices[i].fn) && devices[i].class_code == 0x06 &&
            devices[i].subclass == 0x00)
            return true;
    return false;
}

void pci_init(void)
{
    uint32_t last_bus = 0;
    static bool scanned[256];
    if (acpi.ecam_base) {
        ecam = (uintptr_t)acpi.ecam_base;
        ecam_bus_end = acpi.ecam_bus_end;
        paging_map_mmio(acpi.ecam_base, ((uint64_t)ecam_bus_end + 1) << 20);
        last_bus = ecam_bus_end;
    } else {
        last_bus = 255;
    }
    /* Bus 0, then only the buses a bridge forwards to (its secondary..subordinate range, as the
     * firmware numbered them): a bus no bridge reaches holds nothing, and probing all 256 of them
     * costs 8192 configuration reads, 90 ms of boot under TCG. With a second root (pxb), every
     * bus is probed as before. */
    pci_scan_bus(0);
    scanned[0] = true;
    bool all = pci_other_root();
    for (uint32_t bus = 1; all && bus <= last_bus; bus++)
        pci_scan_bus((uint8_t)bus);
    for (uint32_t i = 0; !all && i < device_count; i++) { /* device_count grows as buses are found */
        struct pci_dev *d = &devices[i];
        if ((pci_read8(d, PCI_HEADER_TYPE) & 0x7f) != 1)
            continue;
        uint32_t sec = pci_read8(d, PCI_SECONDARY_BUS), sub = pci_read8(d, PCI_SUBORDINATE_BUS);
        for (uint32_t bus = sec; bus && bus <= sub && bus <= last_bus; bus++)
            if (!scanned[bus]) {
                scanned[bus] = true;
                pci_scan_bus((uint8_t)bus);
            }
    }
}

uint32_t pci_count(void)
{
    return device_count;
}

struct pci_dev *pci_get(uint32_t i)
{
    return i < device_count ? &devices[i] : NULL;
}

void pci_name(const struct pci_dev *d, char buf[8])
{
    static const char hex[] = "0123456789abcdef";
    buf[0] = hex[d->bus >> 4];
    buf[1] = hex[d->bus & 15];
    buf[2] = ':';
    buf[3] = hex[d->dev >> 4];
    buf[4] = hex[d->dev & 15];
    buf[5] = '.';
    buf[6] = hex[d->fn & 7];
    buf[7] = 0;
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t after)
{
    if (!(pci_read16(d, PCI_STATUS) & STATUS_CAP_LIST))
        return 0;
    uint8_t off = after ? pci_read8(d, after + 1) : pci_read8(d, PCI_CAP_PTR);
    /* 48 = the most capabilities that fit in 256 bytes: a looping list cannot hang us */
    for (int n = 0; off >= 0x40 && n < 48; n++) {
        off &= ~3;
        if (pci_read8(d, off) == id)
            return off;
        off = pci_read8(d, off + 1);
    }
    return 0;
}

void pci_enable(struct pci_dev *d)
{
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd | CMD_MEMORY | CMD_MASTER | CMD_INTX_DISABLE);
}

bool pci_msix_setup(struct pci_dev *d)
{
    d->msix_cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
    if (!d->msix_cap)
        return false;
    uint16_t ctrl = pci_read16(d, d->msix_cap + 2);
    uint32_t table = pci_read32(d, d->msix_cap + 4);
    uint8_t bir = table & 7;
    if (bir > 5 || !d->bar[bir])
        return false;
    d->msix_count = (ctrl & 0x7ff) + 1;
    d->msix_table = (uintptr_t)(d->bar[bir] + (table & ~7u));
    paging_map_mmio(d->msix_table, (uint64_t)d->msix_count * 16);
    /* Every entry masked until routed. */
    for (uint16_t i = 0; i < d->msix_count; i++)
        mmio_write32(d->msix_table + i * 16 + 12, 1);
    return true;
}

void pci_msix_route(struct pci_dev *d, uint16_t entry, uint32_t apic_id, uint8_t vector)
{
    uintptr_t e = d->msix_table + (uintptr_t)entry * 16;
    mmio_write32(e + 0, 0xfee00000u | (apic_id << 12)); /* fixed delivery, physical destination */
    mmio_write32(e + 4, 0);
    mmio_write32(e + 8, vector);                        /* edge-triggered */
    mmio_write32(e + 12, 0);                            /* unmask */
}

void pci_msix_enable(struct pci_dev *d)
{
    uint16_t ctrl = pci_read16(d, d->msix_cap + 2);
    pci_write16(d, d->msix_cap + 2, (ctrl | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK);
}
