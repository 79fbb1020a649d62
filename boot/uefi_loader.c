/*
 * uefi_loader.c: BOOTX64.EFI, the gnu-efi application that starts the kernel under UEFI firmware.
 *
 * It reads \vqhammer\kernel.elf from the same FAT volume it was loaded from, places the ELF's
 * loadable segments at their physical addresses, collects the ACPI RSDP, its load options and the
 * memory map into one struct bootinfo (kernel/bootinfo.h), exits boot services (fetching the map
 * again when the firmware says the key changed) and jumps to the ELF entry in long mode, which is
 * the same 64-bit entry the PVH path reaches. Errors are printed on the firmware console (which
 * OVMF mirrors on the serial port) and the application returns to the firmware.
 */
#include <efi.h>
#include <efilib.h>

#include "bootinfo.h"

#define KERNEL_PATH L"\\vqhammer\\kernel.elf"
#define EXIT_BS_TRIES 8

/* Just enough of ELF64 to load a static executable. */
struct elf64_ehdr {
    unsigned char ident[16];
    UINT16 type, machine;
    UINT32 version;
    UINT64 entry, phoff, shoff;
    UINT32 flags;
    UINT16 ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
    UINT32 type, flags;
    UINT64 offset, vaddr, paddr, filesz, memsz, align;
};
#define PT_LOAD 1

static EFI_STATUS loader_fail(const CHAR16 *what, EFI_STATUS st)
{
    Print(L"vqhammer loader: %s: %r\n", what, st);
    return st == EFI_SUCCESS ? EFI_LOAD_ERROR : st;
}

static EFI_STATUS loader_read_kernel(EFI_HANDLE image, void **data, UINTN *size)
{
    EFI_LOADED_IMAGE *li;
    EFI_FILE_IO_INTERFACE *fs;
    EFI_FILE_HANDLE root, file;
    EFI_STATUS st;

    st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
    if (EFI_ERROR(st))
        return loader_fail(L"no loaded-image protocol", st);
    st = uefi_call_wrapper(BS->HandleProtocol, 3, li->DeviceHandle, &FileSystemProtocol, (void **)&fs);
    if (EFI_ERROR(st))
        return loader_fail(L"boot volume has no file system", st);
    st = uefi_call_wrapper(fs->OpenVolume, 2, fs, &root);
    if (EFI_ERROR(st))
        return loader_fail(L"cannot open the boot volume", st);
    st = uefi_call_wrapper(root->Open, 5, root, &file, KERNEL_PATH, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(st))
        return loader_fail(L"cannot open \\vqhammer\\kernel.elf", st);
    EFI_FILE_INFO *info = LibFileInfo(file);
    if (!info)
        return loader_fail(L"cannot stat kernel.elf", EFI_LOAD_ERROR);
    *size = info->FileSize;
    FreePool(info);
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, *size, data);
    if (EFI_ERROR(st))
        return loader_fail(L"no memory for kernel.elf", st);
    st = uefi_call_wrapper(file->Read, 3, file, size, *data);
    uefi_call_wrapper(file->Close, 1, file);
    if (EFI_ERROR(st))
        return loader_fail(L"cannot read kernel.elf", st);
    return EFI_SUCCESS;
}

static EFI_STATUS loader_place_segments(const UINT8 *elf, UINTN size, UINT64 *entry)
{
    const struct elf64_ehdr *eh = (const struct elf64_ehdr *)elf;
    if (size < sizeof(*eh) || CompareMem(eh->ident, "\177ELF", 4) || eh->ident[4] != 2 ||
        eh->machine != 62 || eh->phoff + (UINT64)eh->phnum * sizeof(struct elf64_phdr) > size)
        return loader_fail(L"kernel.elf is not an x86_64 ELF", EFI_LOAD_ERROR);
    for (UINTN i = 0; i < eh->phnum; i++) {
        const struct elf64_phdr *ph = (const struct elf64_phdr *)(elf + eh->phoff + i * sizeof(*ph));
        if (ph->type != PT_LOAD || ph->memsz == 0)
            continue;
        if (ph->offset + ph->filesz > size)
            return loader_fail(L"kernel.elf segment outside the file", EFI_LOAD_ERROR);
        EFI_PHYSICAL_ADDRESS base = ph->paddr & ~0xfffull;
        UINTN pages = (ph->paddr + ph->memsz - base + 4095) / 4096;
        EFI_STATUS st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderData, pages, &base);
        if (EFI_ERROR(st)) {
            Print(L"vqhammer loader: physical range 0x%lx (+%d pages) is taken\n", base, pages);
            return loader_fail(L"cannot place the kernel at its link address", st);
        }
        CopyMem((void *)ph->paddr, elf + ph->offset, ph->filesz);
        SetMem((void *)(ph->paddr + ph->filesz), ph->memsz - ph->filesz, 0);
    }
    *entry = eh->entry;
    return EFI_SUCCESS;
}

static UINT64 loader_find_rsdp(void)
{
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
    UINT64 v1 = 0;
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];
        if (!CompareGuid(&t->VendorGuid, &acpi20))
            return (UINT64)t->VendorTable;
        if (!CompareGuid(&t->VendorGuid, &acpi10))
            v1 = (UINT64)t->VendorTable;
    }
    return v1;
}

static void loader_cmdline(EFI_HANDLE image, struct bootinfo *bi)
{
    EFI_LOADED_IMAGE *li;
    if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li)))
        return;
    const CHAR16 *opt = li->LoadOptions;
    UINTN n = li->LoadOptionsSize / sizeof(CHAR16), j = 0;
    for (UINTN i = 0; opt && i < n && opt[i] && j < BOOTINFO_CMDLINE_MAX - 1; i++)
        bi->cmdline[j++] = opt[i] < 0x80 ? (char)opt[i] : '?';
    bi->cmdline[j] = 0;
}

static UINT32 loader_mem_type(UINT32 efi_type)
{
    switch (efi_type) {
    case EfiLoaderCode: case EfiLoaderData: case EfiBootServicesCode: case EfiBootServicesData:
    case EfiConventionalMemory:
        return BOOTINFO_MEM_USABLE; /* all ours once boot services are gone */
    case EfiACPIReclaimMemory:
        return BOOTINFO_MEM_ACPI_RECLAIM;
    case EfiACPIMemoryNVS:
        return BOOTINFO_MEM_ACPI_NVS;
    case EfiUnusableMemory:
        return BOOTINFO_MEM_BAD;
    default:
        return BOOTINFO_MEM_RESERVED;
    }
}

/* Convert the UEFI map, merging neighbours of the same kind so it fits BOOTINFO_MMAP_MAX. */
static void loader_convert_map(struct bootinfo *bi, UINT8 *map, UINTN map_size, UINTN desc_size)
{
    bi->mmap_count = 0;
    for (UINTN off = 0; off + desc_size <= map_size; off += desc_size) {
        EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)(map + off);
        UINT32 type = loader_mem_type(d->Type);
        UINT64 base = d->PhysicalStart, len = d->NumberOfPages * 4096;
        struct bootinfo_mem *last = bi->mmap_count ? &bi->mmap[bi->mmap_count - 1] : NULL;
        if (last && last->type == type && last->base + last->length == base) {
            last->length += len;
            continue;
        }
        if (bi->mmap_count == BOOTINFO_MMAP_MAX)
            continue; /* the rest is lost, the kernel uses less RAM: safe */
        bi->mmap[bi->mmap_count].base = base;
        bi->mmap[bi->mmap_count].length = len;
        bi->mmap[bi->mmap_count].type = type;
        bi->mmap[bi->mmap_count].reserved = 0;
        bi->mmap_count++;
    }
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    void *elf;
    UINTN elf_size, map_size = 0, map_key, desc_size;
    UINT32 desc_version;
    UINT64 entry;
    struct bootinfo *bi;
    EFI_STATUS st;

    InitializeLib(image, systab);
    st = loader_read_kernel(image, &elf, &elf_size);
    if (EFI_ERROR(st))
        return st;
    st = loader_place_segments(elf, elf_size, &entry);
    if (EFI_ERROR(st))
        return st;
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, sizeof(*bi), (void **)&bi);
    if (EFI_ERROR(st))
        return loader_fail(L"no memory for the boot info", st);
    SetMem(bi, sizeof(*bi), 0);
    bi->magic = BOOTINFO_MAGIC;
    bi->version = BOOTINFO_VERSION;
    bi->boot_path = BOOT_PATH_UEFI;
    bi->rsdp = loader_find_rsdp();
    loader_cmdline(image, bi);

    /* Room for the map plus the entries our own allocation of it may add. */
    uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, NULL, &map_key, &desc_size, &desc_version);
    UINTN cap = map_size + 16 * 64;
    UINT8 *map;
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, cap, (void **)&map);
    if (EFI_ERROR(st))
        return loader_fail(L"no memory for the memory map", st);

    /* ExitBootServices fails with EFI_INVALID_PARAMETER when the map changed since we read it
     * (UEFI spec 7.4): read it again, without allocating, and retry. */
    for (int tries = 0;; tries++) {
        map_size = cap;
        st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, (EFI_MEMORY_DESCRIPTOR *)map, &map_key,
                               &desc_size, &desc_version);
        if (EFI_ERROR(st))
            return loader_fail(L"GetMemoryMap", st);
        st = uefi_call_wrapper(BS->ExitBootServices, 2, image, map_key);
        if (!EFI_ERROR(st))
            break;
        if (tries == EXIT_BS_TRIES)
            return loader_fail(L"ExitBootServices kept failing", st);
    }
    loader_convert_map(bi, map, map_size, desc_size);
    __asm__ __volatile__("cli");
    ((void (*)(struct bootinfo *))entry)(bi);
    for (;;)
        __asm__ __volatile__("hlt");
}
