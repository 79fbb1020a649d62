; pvh_entry.asm: PVH direct boot. QEMU's `-kernel build/kernel.elf` finds the Xen PHYS32_ENTRY note
; below and starts pvh_start32 in 32-bit protected mode, paging off, with EBX = physical address of
; the hvm_start_info structure (Xen's public arch-x86/hvm/start_info.h: magic, version, flags,
; nr_modules, then 64-bit modlist_paddr@16, cmdline_paddr@24, rsdp_paddr@32, memmap_paddr@40,
; memmap_entries@48). We fill the kernel's struct bootinfo (kernel/bootinfo.h) from it,
; build an identity map of the low 4 GiB with 2 MiB pages, enter long mode and jump to the common
; 64-bit entry. C cannot do this part: it runs before there is a stack or long mode.

%include "bootinfo.inc"

%define HVM_START_MAGIC     0x336ec578
%define XEN_ELFNOTE_PHYS32_ENTRY 18

extern kernel_entry64
extern boot_gdt_ptr32
global pvh_start32
global pvh_bootinfo

; QEMU reads the note's descriptor as a 64-bit value for an ELF64 kernel, and places it after the
; name rounded up to the segment's alignment: keep the section 4-aligned and the value 8 bytes.
section .note.Xen note alloc noexec nowrite align=4
    dd 4                            ; namesz: "Xen\0"
    dd 8                            ; descsz
    dd XEN_ELFNOTE_PHYS32_ENTRY
    db "Xen", 0
    dq pvh_start32

section .text.entry32 progbits alloc exec nowrite align=16
bits 32
pvh_start32:
    cli
    cld
    mov esp, pvh_stack_top
    cmp dword [ebx], HVM_START_MAGIC
    jne .hang                       ; not a PVH start: nothing to report to yet

    ; struct bootinfo header
    mov edi, pvh_bootinfo
    mov dword [edi + BI_MAGIC], BOOTINFO_MAGIC_LO
    mov dword [edi + BI_MAGIC + 4], BOOTINFO_MAGIC_HI
    mov dword [edi + BI_VERSION], BOOTINFO_VERSION
    mov dword [edi + BI_BOOT_PATH], BOOT_PATH_PVH
    mov eax, [ebx + 32]             ; start_info.rsdp_paddr
    mov [edi + BI_RSDP], eax
    mov eax, [ebx + 36]
    mov [edi + BI_RSDP + 4], eax

    ; memory map: start_info v1 has memmap_paddr (offset 40) and memmap_entries (offset 48); its
    ; entries have the same 24-byte E820-style layout as ours.
    xor ecx, ecx
    cmp dword [ebx + 4], 1          ; version
    jb .no_map
    mov ecx, [ebx + 48]
    cmp ecx, BOOTINFO_MMAP_MAX
    jbe .map_ok
    mov ecx, BOOTINFO_MMAP_MAX
.map_ok:
    mov [edi + BI_MMAP_COUNT], ecx
    mov esi, [ebx + 40]
    lea edx, [edi + BI_MMAP]
    imul ecx, ecx, 24 / 4
    push edi
    mov edi, edx
    rep movsd
    pop edi
.no_map:

    ; command line (cmdline_paddr, offset 24), NUL-terminated, truncated to fit
    mov esi, [ebx + 24]
    test esi, esi
    jz .no_cmdline
    lea edx, [edi + BI_CMDLINE]
    mov ecx, BOOTINFO_CMDLINE_MAX - 1
.copy_cmdline:
    mov al, [esi]
    test al, al
    jz .cmdline_done
    mov [edx], al
    inc esi
    inc edx
    dec ecx
    jnz .copy_cmdline
.cmdline_done:
    mov byte [edx], 0
.no_cmdline:

    ; Identity map 0..4 GiB: PML4[0] -> PDPT, PDPT[0..3] -> 4 page directories of 2 MiB pages.
    mov edi, pvh_pml4
    mov eax, pvh_pdpt + 3           ; present | writable
    mov [edi], eax
    mov edi, pvh_pdpt
    mov eax, pvh_pd + 3
    mov ecx, 4
.fill_pdpt:
    mov [edi], eax
    add eax, 4096
    add edi, 8
    loop .fill_pdpt
    mov edi, pvh_pd
    mov eax, 0x83                   ; present | writable | 2 MiB page
    xor edx, edx                    ; high 32 bits of the physical address
    mov ecx, 2048
.fill_pd:
    mov [edi], eax
    mov [edi + 4], edx
    add eax, 0x200000
    adc edx, 0
    add edi, 8
    loop .fill_pd

    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax
    mov eax, pvh_pml4
    mov cr3, eax
    mov ecx, 0xc0000080             ; EFER
    rdmsr
    or eax, 1 << 8                  ; LME
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | 1           ; PG | PE
    mov cr0, eax
    lgdt [boot_gdt_ptr32]
    jmp 0x08:.long_mode

bits 64
.long_mode:
    mov edi, pvh_bootinfo
    jmp kernel_entry64

bits 32
.hang:
    hlt
    jmp .hang

section .bss nobits alloc noexec write align=4096
pvh_pml4:   resb 4096
pvh_pdpt:   resb 4096
pvh_pd:     resb 4096 * 4
pvh_stack:  resb 4096
pvh_stack_top:
alignb 16
pvh_bootinfo: resb BOOTINFO_SIZE
