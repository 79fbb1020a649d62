/* apic.c: local APIC in xAPIC mode through its MMIO page. */
#include "apic.h"
#include "cpu.h"
#include "idt.h"
#include "memory.h"
#include "percpu.h"
#include "time.h"
#include "tlb.h"

#define APIC_ID 0x020
#define APIC_EOI 0x0b0
#define APIC_SVR 0x0f0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3e0
#define ICR_PENDING (1u << 12)
#define MSR_APIC_BASE 0x1b
#define APIC_CAL_MS 2 /* timer calibration window */

static uintptr_t apic_base = 0xfee00000;
static uint32_t timer_count_per_tick;

static inline uint32_t apic_read(uint32_t reg) { return mmio_read32(apic_base + reg); }
static inline void apic_write(uint32_t reg, uint32_t v) { mmio_write32(apic_base + reg, v); }

void apic_init_bsp(uint64_t base)
{
    apic_base = (uintptr_t)base;
    paging_map_mmio(base, PAGE_SIZE);
    /* The 8259 PICs stay masked: every interrupt we use is MSI-X or local. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    apic_enable();
}

void apic_enable(void)
{
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1u << 11)); /* global enable, xAPIC mode */
    apic_write(APIC_SVR, 0x100 | IRQ_VECTOR_SPURIOUS);
}

uint32_t apic_id(void)
{
    return apic_read(APIC_ID) >> 24;
}

void apic_eoi(void)
{
    apic_write(APIC_EOI, 0);
}

static void apic_icr(uint32_t dest, uint32_t lo)
{
    apic_write(APIC_ICR_HI, dest << 24);
    apic_write(APIC_ICR_LO, lo);
}

void apic_send_init(uint32_t id)
{
    apic_icr(id, 0x00004500); /* INIT, level assert */
}

void apic_send_sipi(uint32_t id, uint8_t page)
{
    apic_icr(id, 0x00004600 | page); /* start-up, vector = trampoline page number */
}

bool apic_ipi_idle(void)
{
    return !(apic_read(APIC_ICR_LO) & ICR_PENDING);
}

void apic_send_ipi(uint32_t id, uint8_t vector)
{
    apic_icr(id, vector);
}

static void apic_timer_tick(struct int_frame *f, void *arg)
{
    (void)f;
    (void)arg;
    /* The tick wakes an idle CPU so it re-checks its queues and clocks. */
    tlb_tick();
}

void apic_timer_start(uint32_t hz)
{
    if (!timer_count_per_tick) {
        /* Calibrate once: count down from the maximum for 2 ms of TSC time (it runs between
         * hello and the first request; at the bus clocks hypervisors give the APIC, 2 ms is
         * over 10^5 counts, and the tick only has to wake an idle CPU now and then). */
        apic_write(APIC_TIMER_DIV, 0x3); /* divide by 16 */
        apic_write(APIC_LVT_TIMER, 1u << 16); /* masked */
        apic_write(APIC_TIMER_INIT, 0xffffffff);
        uint64_t end = time_ns() + APIC_CAL_MS * 1000000ull;
        while (time_ns() < end)
            cpu_relax();
        uint32_t elapsed = 0xffffffff - apic_read(APIC_TIMER_CUR);
        apic_write(APIC_TIMER_INIT, 0);
        timer_count_per_tick = MAX((uint32_t)((uint64_t)elapsed * 1000 / (APIC_CAL_MS * hz)), 1u);
        idt_set_handler(IRQ_VECTOR_TIMER, apic_timer_tick, NULL);
    }
    apic_write(APIC_TIMER_DIV, 0x3);
    apic_write(APIC_LVT_TIMER, IRQ_VECTOR_TIMER | (1u << 17)); /* periodic */
    apic_write(APIC_TIMER_INIT, timer_count_per_tick);
}
