/* time.h: monotonic time from the TSC, calibrated at boot against the ACPI PM timer or the PIT. */
#ifndef VQH_TIME_H
#define VQH_TIME_H

#include "base.h"

/* Calibrate; returns the reference used ("acpi-pm" or "pit"). */
const char *time_init(void);
uint64_t time_ns(void);
static inline uint64_t time_ms(void) { return time_ns() / 1000000; }
uint64_t time_tsc_hz(void);
void time_delay_us(uint64_t us);

#endif
