/*
 * paging.c: 4-level identity page tables from a static pool.
 *
 * RAM is mapped with 4 KiB pages by default (the first SMALL_PAGE_LIMIT of it; above that, and for
 * MMIO, 2 MiB pages). Why not 2 MiB everywhere: under QEMU 7.2 TCG, guest stores through 2 MiB
 * mappings are not reliably caught by migration's dirty-page tracking, and the destination resumes
 * with stale pages (stacks, rings, state tables), which crashes or corrupts the guest. vqhammer
 * found this itself: with huge_pages=on, comparing the two QEMUs' RAM after migration (`pmemsave`
 * with the destination started under -S) shows differing pages within a few migrations, with 4 KiB
 * pages none. huge_pages=on keeps the 2 MiB layout, to reproduce it.
 */
#include "memory.h"
#include "cpu.h"

#define PTE_PRESENT (1ull << 0)
#define PTE_WRITE (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_LARGE (1ull << 7)
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define HUGE_2M (2ull << 20)
#define SMALL_PAGE_LIMIT (2ull << 30)
/* 4 KiB tables for SMALL_PAGE_LIMIT of RAM (1024), plus directories and MMIO */
#define POOL_PAGES 1120

static uint64_t table_pool[POOL_PAGES][512] __attribute__((aligned(4096)));
static uint32_t pool_used;
static uint64_t *pml4;

static uint64_t *paging_new_table(void)
{
    if (pool_used >= POOL_PAGES)
        return NULL;
    return table_pool[pool_used++]; /* .bss: already zero */
}

/* The next-level table under entry *e, created when absent. */
static uint64_t *paging_next(uint64_t *e)
{
    if (!(*e & PTE_PRESENT)) {
        uint64_t *t = paging_new_table();
        if (!t)
            return NULL;
        *e = (uint64_t)(uintptr_t)t | PTE_PRESENT | PTE_WRITE;
    }
    return (uint64_t *)(uintptr_t)(*e & PTE_ADDR_MASK);
}

static bool paging_map_2m(uint64_t phys, uint64_t flags)
{
    uint64_t *pdpt = paging_next(&pml4[(phys >> 39) & 511]);
    if (!pdpt)
        return false;
    uint64_t *pd = paging_next(&pdpt[(phys >> 30) & 511]);
    if (!pd)
        return false;
    uint64_t *e = &pd[(phys >> 21) & 511];
    uint64_t want = phys | PTE_PRESENT | PTE_WRITE | PTE_LARGE | flags;
    /* RAM stays write-back if a later MMIO request overlaps a page already mapped as RAM. */
    if (!(*e & PTE_PRESENT))
        *e = want;
    return true;
}

static bool paging_is_ram(const struct bootinfo *bi, uint64_t start, uint64_t end)
{
    for (uint32_t i = 0; i < bi->mmap_count; i++) {
        const struct bootinfo_mem *r = &bi->mmap[i];
        if (r->type == BOOTINFO_MEM_RESERVED || r->type == BOOTINFO_MEM_BAD)
            continue;
        if (r->base < end && r->base + r->length > start)
            return true;
    }
    return false;
}

/* One 2 MiB stretch of RAM as 512 4 KiB pages. */
static bool paging_map_4k_run(uint64_t phys)
{
    uint64_t *pdpt = paging_next(&pml4[(phys >> 39) & 511]);
    uint64_t *pd = pdpt ? paging_next(&pdpt[(phys >> 30) & 511]) : NULL;
    uint64_t *pt = pd ? paging_next(&pd[(phys >> 21) & 511]) : NULL;
    if (!pt)
        return false;
    for (int i = 0; i < 512; i++)
        pt[i] = (phys + (uint64_t)i * 4096) | PTE_PRESENT | PTE_WRITE;
    return true;
}

void paging_init(const struct bootinfo *bi, bool huge)
{
    pml4 = paging_new_table();
    uint64_t top = 4ull << 30;
    for (uint32_t i = 0; i < bi->mmap_count; i++) {
        const struct bootinfo_mem *r = &bi->mmap[i];
        if (r->type != BOOTINFO_MEM_RESERVED && r->base + r->length > top)
            top = r->base + r->length;
    }
    for (uint64_t a = 0; a < ALIGN_UP(top, HUGE_2M); a += HUGE_2M) {
        bool ram = paging_is_ram(bi, a, a + HUGE_2M);
        if (a >= (4ull << 30) && !ram)
            continue;
        if (ram && !huge && a < SMALL_PAGE_LIMIT && paging_map_4k_run(a))
            continue;
        paging_map_2m(a, ram ? 0 : (PTE_PCD | PTE_PWT));
    }
    write_cr3((uint64_t)(uintptr_t)pml4);
}

bool paging_map_mmio(uint64_t phys, uint64_t size)
{
    uint64_t end = phys + size;
    for (uint64_t a = phys & ~(HUGE_2M - 1); a < end; a += HUGE_2M) {
        if (!paging_map_2m(a, PTE_PCD | PTE_PWT))
            return false;
        __asm__ __volatile__("invlpg (%0)" ::"r"(a) : "memory");
    }
    return true;
}

uint64_t paging_root(void)
{
    return (uint64_t)(uintptr_t)pml4;
}
