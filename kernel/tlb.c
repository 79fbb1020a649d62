/* tlb.c: TLB refresh for TCG migrations (see tlb.h) and the hypervisor's name. */
#include "tlb.h"
#include "config.h"
#include "cpu.h"
#include "percpu.h"

static uint32_t mode;         /* config tlb_refresh: CONFIG_AUTO, CONFIG_ON or CONFIG_OFF */
static bool host_on;          /* auto: the host's last `tlb refresh=on|off` */
static char hypervisor[13];

const char *tlb_refresh_init(uint32_t toggle)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (c & (1u << 31)) { /* hypervisor present */
        cpuid(0x40000000, 0, &a, &b, &c, &d);
        memcpy(hypervisor, &b, 4);
        memcpy(hypervisor + 4, &c, 4);
        memcpy(hypervisor + 8, &d, 4);
    }
    if (!hypervisor[0])
        memcpy(hypervisor, "none", 5);
    mode = toggle;
    return hypervisor;
}

void tlb_refresh_set(bool on)
{
    __atomic_store_n(&host_on, on, __ATOMIC_SEQ_CST);
}

bool tlb_refresh_enabled(void)
{
    return mode == CONFIG_ON || (mode == CONFIG_AUTO && __atomic_load_n(&host_on, __ATOMIC_RELAXED));
}

bool tlb_refresh_host_controlled(void)
{
    return mode == CONFIG_AUTO;
}

void tlb_refresh(void)
{
    if (tlb_refresh_enabled())
        write_cr3(read_cr3());
}

void tlb_refresh_retouch(void *p, size_t bytes)
{
    if (!tlb_refresh_enabled())
        return;
    write_cr3(read_cr3());
    volatile uint64_t *w = p;
    for (size_t i = 0; i < bytes / 8; i++)
        w[i] = w[i];
}

void tlb_tick(void)
{
    struct percpu *pc = percpu_this();
    /* tlb_refresh=off means no reload at all: the reproducer of the QEMU bug (tlb.h) needs a
     * TLB that is never flushed. */
    if (mode != CONFIG_OFF && ++pc->ticks % 10 == 0)
        write_cr3(read_cr3());
}
