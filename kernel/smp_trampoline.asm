; smp_trampoline.asm: where an application processor starts after INIT-SIPI-SIPI: 16-bit real
; mode at physical TRAMP_BASE. kernel/smp.c copies [smp_tramp_start, smp_tramp_end) there and fills
; the four data words at the end; the code walks real -> protected -> long mode, loads the stack
; and jumps to the C entry with RDI = the CPU's struct percpu. Only nasm can write this.

%define TRAMP_BASE 0x8000
%define REL(x) (TRAMP_BASE + (x) - smp_tramp_start)

global smp_tramp_start
global smp_tramp_end
global smp_tramp_cr3
global smp_tramp_stack
global smp_tramp_arg
global smp_tramp_entry

section .rodata
bits 16
smp_tramp_start:
    cli
    cld
    xor ax, ax
    mov ds, ax
    lgdt [REL(tramp_gdtr)]
    mov eax, cr0
    or eax, 1                       ; PE
    mov cr0, eax
    jmp dword 0x18:REL(tramp_pm32)

bits 32
tramp_pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax
    mov eax, [REL(smp_tramp_cr3)]
    mov cr3, eax
    mov ecx, 0xc0000080             ; EFER.LME
    rdmsr
    or eax, 1 << 8
    wrmsr
    mov eax, cr0
    or eax, 1 << 31                 ; PG
    mov cr0, eax
    jmp 0x08:REL(tramp_lm64)

bits 64
tramp_lm64:
    mov rsp, [REL(smp_tramp_stack)]
    mov rdi, [REL(smp_tramp_arg)]
    mov rax, [REL(smp_tramp_entry)]
    xor ebp, ebp
    call rax
.halt:
    cli
    hlt
    jmp .halt

align 16
tramp_gdt:
    dq 0
    dq 0x00af9a000000ffff           ; 0x08: 64-bit code
    dq 0x00cf92000000ffff           ; 0x10: data
    dq 0x00cf9a000000ffff           ; 0x18: 32-bit code
tramp_gdtr:
    dw 4 * 8 - 1
    dd REL(tramp_gdt)
align 8
smp_tramp_cr3:   dq 0
smp_tramp_stack: dq 0
smp_tramp_arg:   dq 0
smp_tramp_entry: dq 0
smp_tramp_end:
