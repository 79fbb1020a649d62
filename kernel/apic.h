/* apic.h: the local APIC (xAPIC, MMIO): enable, EOI, IPIs, its timer. */
#ifndef VQH_APIC_H
#define VQH_APIC_H

#include "base.h"

void apic_init_bsp(uint64_t base);   /* map the registers, mask the legacy PICs, enable */
void apic_enable(void);              /* every CPU: software-enable with the spurious vector */
uint32_t apic_id(void);
void apic_eoi(void);
void apic_send_init(uint32_t apic_id);
void apic_send_sipi(uint32_t apic_id, uint8_t page);
bool apic_ipi_idle(void);            /* the last IPI was accepted (delivery status idle) */
void apic_send_ipi(uint32_t apic_id, uint8_t vector);
/* Periodic timer at hz, calibrated against the TSC (time_init must have run). */
void apic_timer_start(uint32_t hz);

#endif
