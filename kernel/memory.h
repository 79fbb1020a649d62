/*
 * memory.h: the kernel's identity-mapped address space and its physical page allocator.
 *
 * Virtual address == physical address everywhere, so a pointer is also the DMA address a device
 * is given. Page tables come from a static pool inside the kernel image (never from memory the
 * firmware might still be using while we build them). Physical memory is handed out by a bump
 * allocator: the kernel allocates rings, request buffers and state tables once at start and keeps
 * them for the whole boot, so nothing is ever freed.
 */
#ifndef VQH_MEMORY_H
#define VQH_MEMORY_H

#include "base.h"
#include "bootinfo.h"

#define PAGE_SIZE 4096ull

/* Build and load the kernel page tables: all RAM from the map (write-back), the low 4 GiB, all
 * with 2 MiB pages (see paging.c). */
void paging_init(const struct bootinfo *bi);
/* After pmm_init: map RAM with 4 KiB pages (tables from the PMM), as the guest runs unless
 * huge_pages=on keeps the 2 MiB layout (see paging.c). */
void paging_split_ram(const struct bootinfo *bi);
/* Identity-map [phys, phys+size) uncached (MMIO); returns false when the table pool is empty. */
bool paging_map_mmio(uint64_t phys, uint64_t size);
/* Physical address of the kernel's top-level page table (for the SMP trampoline). */
uint64_t paging_root(void);

void pmm_init(const struct bootinfo *bi);
/* Zeroed, contiguous, aligned memory (align: power of two >= 8); NULL when exhausted. */
void *pmm_alloc(size_t bytes, size_t align);
/* The same, not cleared: for memory its user writes before it reads it (request data buffers,
 * a table its init clears). Under TCG a clear costs about a millisecond per MiB, at boot. */
void *pmm_alloc_uninit(size_t bytes, size_t align);
/* Reserve one page below 1 MiB at the given address (SMP trampoline); false if not usable RAM. */
bool pmm_claim_low_page(uint64_t phys, const struct bootinfo *bi);
uint64_t pmm_total_bytes(void);   /* usable RAM in the map */
uint64_t pmm_free_bytes(void);    /* what pmm_alloc can still hand out */

#endif
