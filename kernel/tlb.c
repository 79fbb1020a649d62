/* tlb.c: TLB refresh for TCG (see tlb.h) and the hypervisor's name. */
#include "tlb.h"
#include "config.h"
#include "cpu.h"

static bool refresh;
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
    bool tcg = !memcmp(hypervisor, "TCGTCGTCGTCG", 12);
    refresh = toggle == CONFIG_ON || (toggle == CONFIG_AUTO && tcg);
    return hypervisor;
}

bool tlb_refresh_enabled(void)
{
    return refresh;
}

void tlb_refresh(void)
{
    if (refresh)
        write_cr3(read_cr3());
}
