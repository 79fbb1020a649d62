/* smp.h: starting every vCPU the MADT lists and giving each its own work loop. */
#ifndef VQH_SMP_H
#define VQH_SMP_H

#include "base.h"
#include "bootinfo.h"

/* Start all APs (INIT-SIPI-SIPI); a CPU that does not come up is reported, not waited on. */
void smp_init(const struct bootinfo *bi);
uint32_t smp_online_count(void);
/* Hand fn(arg) to CPU index cpu (an online AP) to run once; returns false if it is not online. */
bool smp_run_on(uint32_t cpu, void (*fn)(void *), void *arg);

#endif
