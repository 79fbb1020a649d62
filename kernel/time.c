/* time.c: TSC calibration and conversion to nanoseconds. */
#include "time.h"
#include "acpi.h"
#include "cpu.h"

#define PM_TIMER_HZ 3579545ull
#define PIT_HZ 1193182ull
/* 5 ms against the PM timer is within 0.02% once each end is a tight (TSC, PM) pair (a PM tick
 * is 0.28 us; the pairs' TSC brackets, a few hundred ns under TCG); longer only delays the first
 * I/O (it was 50 ms, then 10). */
#define CALIBRATE_MS 5
#define PAIR_TRIES 8

static uint64_t tsc_hz;
static uint64_t ns_mult; /* ns = (tsc * ns_mult) >> 32 */
static uint64_t tsc_base;

/* One PM timer reading and the TSC at that moment: the tightest of a few TSC-bracketed reads, so a
 * vCPU descheduled between the two reads (common on a busy host) cannot skew the pair. */
static void time_pm_pair(uint32_t mask, uint32_t *pm, uint64_t *tsc)
{
    uint64_t best = ~0ull;
    for (int i = 0; i < PAIR_TRIES; i++) {
        uint64_t a = rdtsc();
        uint32_t p = inl(acpi.pm_timer_port) & mask;
        uint64_t b = rdtsc();
        if (b - a < best) {
            best = b - a;
            *pm = p;
            *tsc = a + (b - a) / 2;
        }
    }
}

/* ACPI PM timer: a free-running 24- or 32-bit counter at 3.579545 MHz. */
static uint64_t time_calibrate_pm(void)
{
    uint32_t mask = acpi.pm_timer_32bit ? 0xffffffffu : 0xffffffu;
    uint32_t want = (uint32_t)(PM_TIMER_HZ * CALIBRATE_MS / 1000);
    uint32_t start = 0, now = 0;
    uint64_t t0 = 0, t1 = 0;
    time_pm_pair(mask, &start, &t0);
    while (((inl(acpi.pm_timer_port) - start) & mask) < want)
        ;
    time_pm_pair(mask, &now, &t1);
    uint32_t ticks = (now - start) & mask;
    return (t1 - t0) * PM_TIMER_HZ / ticks;
}

/* PIT channel 2 in one-shot mode, gated through port 0x61. */
static uint64_t time_calibrate_pit(void)
{
    uint32_t count = (uint32_t)(PIT_HZ * CALIBRATE_MS / 1000);
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);
    outb(0x43, 0xb0); /* channel 2, lobyte/hibyte, mode 0 */
    outb(0x42, count & 0xff);
    outb(0x42, count >> 8);
    uint64_t t0 = rdtsc();
    while (!(inb(0x61) & 0x20))
        ;
    uint64_t t1 = rdtsc();
    return (t1 - t0) * 1000 / CALIBRATE_MS;
}

const char *time_init(void)
{
    const char *ref;
    if (acpi.pm_timer_port) {
        tsc_hz = time_calibrate_pm();
        ref = "acpi-pm";
    } else {
        tsc_hz = time_calibrate_pit();
        ref = "pit";
    }
    if (tsc_hz < 1000000)
        tsc_hz = 1000000;
    ns_mult = (1000000000ull << 32) / tsc_hz;
    tsc_base = rdtsc();
    return ref;
}

uint64_t time_ns(void)
{
    uint64_t d = rdtsc() - tsc_base;
    return (uint64_t)(((unsigned __int128)d * ns_mult) >> 32);
}

uint64_t time_tsc_hz(void)
{
    return tsc_hz;
}

void time_delay_us(uint64_t us)
{
    uint64_t end = time_ns() + us * 1000;
    while (time_ns() < end)
        cpu_relax();
}
