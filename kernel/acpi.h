/* acpi.h: what the kernel needs from the ACPI tables (MADT, MCFG, FADT). */
#ifndef VQH_ACPI_H
#define VQH_ACPI_H

#include "base.h"

#define ACPI_MAX_CPUS 64

struct acpi_info {
    uint32_t cpu_count;
    uint32_t apic_ids[ACPI_MAX_CPUS];  /* enabled local APICs in MADT order */
    uint64_t lapic_base;
    uint64_t ecam_base;                /* PCI segment 0 ECAM, 0 when there is no MCFG */
    uint8_t ecam_bus_start, ecam_bus_end;
    uint16_t pm_timer_port;            /* ACPI PM timer I/O port, 0 when absent */
    bool pm_timer_32bit;
};

extern struct acpi_info acpi;

/* Parse the tables reachable from the RSDP; returns false with a reason when they are unusable. */
bool acpi_init(uint64_t rsdp_phys, const char **why);

#endif
