/* percpu.c: per-CPU areas and the GS base that points at them. */
#include "percpu.h"
#include "cpu.h"

#define MSR_GS_BASE 0xc0000101

struct percpu percpu_area[MAX_CPUS];
uint32_t percpu_count;
static volatile bool percpu_ready;

void percpu_install(struct percpu *pc)
{
    pc->self = pc;
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)pc);
    percpu_ready = true;
}

uint32_t percpu_index(void)
{
    /* Early messages (before the boot CPU installed its area) come from CPU 0. */
    if (!percpu_ready)
        return 0;
    return percpu_this()->index;
}
