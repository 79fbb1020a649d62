/* percpu.h: per-CPU data, reached through the GS base so any code can find its own CPU. */
#ifndef VQH_PERCPU_H
#define VQH_PERCPU_H

#include "base.h"

#define MAX_CPUS 64

struct percpu {
    struct percpu *self;        /* offset 0: read with %gs:0 */
    uint32_t index;             /* 0 = the boot CPU, then in MADT order */
    uint32_t apic_id;
    volatile uint32_t online;   /* set by the CPU itself once it runs C code */
    uint64_t stack_top;
    void (*volatile work)(void *arg); /* what this CPU runs once online (smp_run_on) */
    void *volatile work_arg;
    uint64_t irq_count;
    uint32_t ticks;             /* timer ticks seen (tlb_tick) */
};

extern struct percpu percpu_area[MAX_CPUS];
extern uint32_t percpu_count;   /* CPUs found in the MADT (started or not) */

/* Point GS at this CPU's area; called once by each CPU. */
void percpu_install(struct percpu *pc);

static inline struct percpu *percpu_this(void)
{
    struct percpu *p;
    __asm__ __volatile__("mov %%gs:0, %0" : "=r"(p));
    return p;
}

/* Index of the calling CPU, or 0 before percpu_install ran (GS base 0 reads our own area 0). */
uint32_t percpu_index(void);

#endif
