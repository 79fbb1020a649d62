/* acpi.c: walks RSDP -> XSDT/RSDT and reads the MADT, MCFG and FADT (all identity-mapped). */
#include "acpi.h"

struct acpi_info acpi;

struct sdt_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));

struct rsdp {
    char signature[8];
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt;
    uint32_t length;
    uint64_t xsdt;
    uint8_t ext_checksum;
    uint8_t reserved[3];
} __attribute__((packed));

static bool acpi_checksum_ok(const void *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ((const uint8_t *)p)[i];
    return sum == 0;
}

static void acpi_parse_madt(const struct sdt_header *h)
{
    const uint8_t *p = (const uint8_t *)h;
    acpi.lapic_base = *(const uint32_t *)(p + 36);
    for (uint32_t off = 44; off + 2 <= h->length;) {
        uint8_t type = p[off], len = p[off + 1];
        if (len < 2)
            break;
        if (type == 0 && len >= 8) {          /* processor local APIC */
            uint32_t flags = *(const uint32_t *)(p + off + 4);
            /* bit 0: enabled; bit 1: online capable (hot-pluggable, not started) */
            if ((flags & 1) && acpi.cpu_count < ACPI_MAX_CPUS)
                acpi.apic_ids[acpi.cpu_count++] = p[off + 3];
        } else if (type == 9 && len >= 16) {  /* processor local x2APIC */
            uint32_t flags = *(const uint32_t *)(p + off + 8);
            if ((flags & 1) && acpi.cpu_count < ACPI_MAX_CPUS)
                acpi.apic_ids[acpi.cpu_count++] = *(const uint32_t *)(p + off + 4);
        } else if (type == 5 && len >= 12) {  /* local APIC address override */
            acpi.lapic_base = *(const uint64_t *)(p + off + 4);
        }
        off += len;
    }
}

static void acpi_parse_mcfg(const struct sdt_header *h)
{
    const uint8_t *p = (const uint8_t *)h;
    for (uint32_t off = 44; off + 16 <= h->length; off += 16) {
        uint16_t segment = *(const uint16_t *)(p + off + 8);
        if (segment != 0)
            continue;
        acpi.ecam_base = *(const uint64_t *)(p + off);
        acpi.ecam_bus_start = p[off + 10];
        acpi.ecam_bus_end = p[off + 11];
        return;
    }
}

static void acpi_parse_fadt(const struct sdt_header *h)
{
    const uint8_t *p = (const uint8_t *)h;
    if (h->length >= 80)
        acpi.pm_timer_port = (uint16_t)*(const uint32_t *)(p + 76);
    if (h->length >= 116)
        acpi.pm_timer_32bit = (*(const uint32_t *)(p + 112) >> 8) & 1; /* TMR_VAL_EXT */
    /* X_PM_TMR_BLK (generic address, offset 208) when it is in I/O space */
    if (h->length >= 220 && p[208] == 1 && *(const uint64_t *)(p + 212))
        acpi.pm_timer_port = (uint16_t)*(const uint64_t *)(p + 212);
}

static void acpi_parse_table(const struct sdt_header *h)
{
    if (!acpi_checksum_ok(h, h->length))
        return;
    if (!memcmp(h->signature, "APIC", 4))
        acpi_parse_madt(h);
    else if (!memcmp(h->signature, "MCFG", 4))
        acpi_parse_mcfg(h);
    else if (!memcmp(h->signature, "FACP", 4))
        acpi_parse_fadt(h);
}

bool acpi_init(uint64_t rsdp_phys, const char **why)
{
    const struct rsdp *r = (const struct rsdp *)(uintptr_t)rsdp_phys;
    acpi.lapic_base = 0xfee00000;
    if (!rsdp_phys || memcmp(r->signature, "RSD PTR ", 8) || !acpi_checksum_ok(r, 20)) {
        *why = "no valid ACPI RSDP from the boot path";
        return false;
    }
    if (r->revision >= 2 && r->xsdt) {
        const struct sdt_header *x = (const struct sdt_header *)(uintptr_t)r->xsdt;
        uint32_t n = (x->length - sizeof(*x)) / 8;
        const uint8_t *entries = (const uint8_t *)(x + 1);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t a;
            memcpy(&a, entries + i * 8, 8);
            acpi_parse_table((const struct sdt_header *)(uintptr_t)a);
        }
    } else {
        const struct sdt_header *t = (const struct sdt_header *)(uintptr_t)r->rsdt;
        uint32_t n = (t->length - sizeof(*t)) / 4;
        const uint32_t *entries = (const uint32_t *)(t + 1);
        for (uint32_t i = 0; i < n; i++)
            acpi_parse_table((const struct sdt_header *)(uintptr_t)entries[i]);
    }
    if (acpi.cpu_count == 0) {
        *why = "ACPI MADT lists no enabled local APIC";
        return false;
    }
    return true;
}
