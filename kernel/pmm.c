/* pmm.c: physical memory for DMA and state tables: a bump allocator over the usable map. */
#include "memory.h"
#include "spinlock.h"

#define PMM_REGIONS_MAX 64
#define LOW_LIMIT (1ull << 20) /* below 1 MiB: firmware leftovers and the SMP trampoline */

extern char __kernel_start[], __kernel_end[];

struct pmm_region {
    uint64_t next, end;
};

static struct pmm_region regions[PMM_REGIONS_MAX];
static uint32_t region_count;
static uint64_t total_bytes;
static struct spinlock pmm_lock;

static void pmm_add(uint64_t start, uint64_t end)
{
    start = ALIGN_UP(start, PAGE_SIZE);
    end &= ~(PAGE_SIZE - 1);
    if (end <= start || region_count >= PMM_REGIONS_MAX)
        return;
    regions[region_count].next = start;
    regions[region_count].end = end;
    region_count++;
    total_bytes += end - start;
}

void pmm_init(const struct bootinfo *bi)
{
    uint64_t ks = (uint64_t)(uintptr_t)__kernel_start, ke = (uint64_t)(uintptr_t)__kernel_end;
    for (uint32_t i = 0; i < bi->mmap_count; i++) {
        const struct bootinfo_mem *r = &bi->mmap[i];
        if (r->type != BOOTINFO_MEM_USABLE)
            continue;
        uint64_t s = MAX(r->base, LOW_LIMIT), e = r->base + r->length;
        if (e <= s)
            continue;
        /* carve the kernel image out of the region */
        if (s < ke && e > ks) {
            pmm_add(s, ks);
            pmm_add(ke, e);
        } else {
            pmm_add(s, e);
        }
    }
}

void *pmm_alloc(size_t bytes, size_t align)
{
    void *p = pmm_alloc_uninit(bytes, align);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void *pmm_alloc_uninit(size_t bytes, size_t align)
{
    if (align < 8)
        align = 8;
    spin_lock(&pmm_lock);
    for (uint32_t i = 0; i < region_count; i++) {
        uint64_t a = ALIGN_UP(regions[i].next, (uint64_t)align);
        if (a + bytes <= regions[i].end && a + bytes > a) {
            regions[i].next = a + bytes;
            spin_unlock(&pmm_lock);
            return (void *)(uintptr_t)a;
        }
    }
    spin_unlock(&pmm_lock);
    return NULL;
}

bool pmm_claim_low_page(uint64_t phys, const struct bootinfo *bi)
{
    for (uint32_t i = 0; i < bi->mmap_count; i++) {
        const struct bootinfo_mem *r = &bi->mmap[i];
        if (r->type == BOOTINFO_MEM_USABLE && r->base <= phys && r->base + r->length >= phys + PAGE_SIZE)
            return true; /* below LOW_LIMIT, so pmm_alloc never hands it out */
    }
    return false;
}

uint64_t pmm_total_bytes(void)
{
    return total_bytes;
}

uint64_t pmm_free_bytes(void)
{
    uint64_t f = 0;
    for (uint32_t i = 0; i < region_count; i++)
        f += regions[i].end - regions[i].next;
    return f;
}
