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
#include "report.h"

#define PTE_PRESENT (1ull << 0)
#define PTE_WRITE (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_LARGE (1ull << 7)
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define HUGE_2M (2ull << 20)
#define SMALL_PAGE_LIMIT (2ull << 30)
/*
 * The tables are built in two steps. paging_init maps everything with 2 MiB pages from a small
 * static pool (directories for 70 GiB of addresses, past --mem's 64 GiB) before the PMM exists,
 * leaving the firmware's tables at once (UEFI's live in memory the PMM will hand out).
 * paging_split_ram then turns RAM into 4 KiB pages with tables from the PMM, as many as this RAM
 * needs. A static pool for the largest RAM would sit in .bss, which QEMU's ELF loader writes
 * zeroes over at reset, so every guest would carry all of it in QEMU's resident memory (4.4 MiB
 * for 2 GiB of 4 KiB mappings).
 */
#define BOOT_POOL_PAGES 72

static uint64_t boot_pool[BOOT_POOL_PAGES][512] __attribute__((aligned(4096)));
static uint32_t boot_used;
static bool pmm_ready;
static uint64_t *pml4;

static uint64_t *paging_new_table(void)
{
    if (boot_used < BOOT_POOL_PAGES)
        return boot_pool[boot_used++]; /* .bss: already zero */
    return pmm_ready ? pmm_alloc(4096, 4096) : NULL; /* zeroed */
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

/* One 2 MiB page of RAM, mapped by paging_init, as 512 4 KiB pages of the same addresses: the
 * translation never changes, so the directory entry is swapped in place. */
static bool paging_map_4k_run(uint64_t phys)
{
    uint64_t *pdpt = paging_next(&pml4[(phys >> 39) & 511]);
    uint64_t *pd = pdpt ? paging_next(&pdpt[(phys >> 30) & 511]) : NULL;
    uint64_t *pt = pd ? paging_new_table() : NULL;
    if (!pt)
        return false;
    for (int i = 0; i < 512; i++)
        pt[i] = (phys + (uint64_t)i * 4096) | PTE_PRESENT | PTE_WRITE;
    __atomic_store_n(&pd[(phys >> 21) & 511], (uint64_t)(uintptr_t)pt | PTE_PRESENT | PTE_WRITE, __ATOMIC_SEQ_CST);
    return true;
}

static uint64_t paging_top(const struct bootinfo *bi)
{
    uint64_t top = 4ull << 30;
    for (uint32_t i = 0; i < bi->mmap_count; i++) {
        const struct bootinfo_mem *r = &bi->mmap[i];
        if (r->type != BOOTINFO_MEM_RESERVED && r->base + r->length > top)
            top = r->base + r->length;
    }
    return top;
}

void paging_init(const struct bootinfo *bi)
{
    pml4 = paging_new_table();
    for (uint64_t a = 0; a < ALIGN_UP(paging_top(bi), HUGE_2M); a += HUGE_2M) {
        bool ram = paging_is_ram(bi, a, a + HUGE_2M);
        if (a >= (4ull << 30) && !ram)
            continue;
        if (!paging_map_2m(a, ram ? 0 : (PTE_PCD | PTE_PWT)))
            panic("the boot page-table pool is too small for this memory map");
    }
    write_cr3((uint64_t)(uintptr_t)pml4);
}

void paging_split_ram(const struct bootinfo *bi)
{
    pmm_ready = true;
    for (uint64_t a = 0; a < ALIGN_UP(paging_top(bi), HUGE_2M) && a < SMALL_PAGE_LIMIT; a += HUGE_2M)
        if (paging_is_ram(bi, a, a + HUGE_2M) && !paging_map_4k_run(a))
            panic("out of memory for 4 KiB page tables");
    write_cr3((uint64_t)(uintptr_t)pml4); /* drop every 2 MiB TLB entry of RAM */
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
