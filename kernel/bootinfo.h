/*
 * bootinfo.h: the one structure both boot paths hand the kernel.
 *
 * The UEFI loader (boot/uefi_loader.c) and the PVH entry (boot/pvh_entry.asm) each fill one
 * struct bootinfo and enter kernel_main(bi) in 64-bit long mode with interrupts off. The kernel
 * copies it before touching any memory the map calls usable. Layout is fixed (the nasm entry
 * writes it by offset): change it only together with BOOTINFO_VERSION and both boot paths.
 */
#ifndef VQH_BOOTINFO_H
#define VQH_BOOTINFO_H

#include <stdint.h>

#define BOOTINFO_MAGIC 0x314f464e49485156ull /* "VQHINFO1" little-endian */
#define BOOTINFO_VERSION 1
#define BOOTINFO_MMAP_MAX 128
#define BOOTINFO_CMDLINE_MAX 256

enum boot_path {
    BOOT_PATH_UEFI = 1,
    BOOT_PATH_PVH = 2,
};

/* Memory types, E820 numbering so the PVH map passes through unchanged. */
enum bootinfo_mem_type {
    BOOTINFO_MEM_USABLE = 1,
    BOOTINFO_MEM_RESERVED = 2,
    BOOTINFO_MEM_ACPI_RECLAIM = 3,
    BOOTINFO_MEM_ACPI_NVS = 4,
    BOOTINFO_MEM_BAD = 5,
};

struct bootinfo_mem {
    uint64_t base;
    uint64_t length;
    uint32_t type;      /* enum bootinfo_mem_type */
    uint32_t reserved;
};

struct bootinfo {
    uint64_t magic;          /* offset 0: BOOTINFO_MAGIC */
    uint32_t version;        /* offset 8: BOOTINFO_VERSION */
    uint32_t boot_path;      /* offset 12: enum boot_path */
    uint64_t rsdp;           /* offset 16: physical address of the ACPI RSDP, 0 if unknown */
    uint32_t mmap_count;     /* offset 24 */
    uint32_t reserved;       /* offset 28 */
    struct bootinfo_mem mmap[BOOTINFO_MMAP_MAX]; /* offset 32 */
    char cmdline[BOOTINFO_CMDLINE_MAX];          /* NUL-terminated: UEFI load options or PVH cmdline */
};

_Static_assert(__builtin_offsetof(struct bootinfo, mmap) == 32, "nasm writes mmap at offset 32");
_Static_assert(sizeof(struct bootinfo_mem) == 24, "nasm writes 24-byte map entries");

void kernel_main(struct bootinfo *bi);

#endif
