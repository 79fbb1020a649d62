; entry.asm: the common 64-bit entry and the kernel's GDT.
; Both boot paths arrive at kernel_entry64 in long mode, interrupts off, RDI = struct bootinfo *:
; the UEFI loader with the firmware's identity page tables and stack, PVH from boot/pvh_entry.asm.
; We load our own GDT and segments, move to the kernel's boot stack and call kernel_main(bi).

global kernel_entry64
global boot_gdt_ptr32
global gdt_load
extern kernel_main

%define KERNEL_CS 0x08
%define KERNEL_DS 0x10

section .text
bits 64
kernel_entry64:
    cli
    cld
    lgdt [boot_gdt_ptr64]
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, boot_stack_top
    xor ebp, ebp
    ; reload CS with a far return: push the selector and the target
    push KERNEL_CS
    lea rax, [rel .reloaded]
    push rax
    retfq
.reloaded:
    call kernel_main
.halt:
    cli
    hlt
    jmp .halt

; gdt_load(): load the kernel GDT and selectors on an application processor.
gdt_load:
    lgdt [boot_gdt_ptr64]
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    mov ss, ax
    pop rdi                         ; return address
    push KERNEL_CS
    push rdi
    retfq

section .rodata
align 16
boot_gdt:
    dq 0                            ; null
    dq 0x00af9a000000ffff           ; 0x08: 64-bit code, DPL 0
    dq 0x00cf92000000ffff           ; 0x10: data, DPL 0
    dq 0x00cf9a000000ffff           ; 0x18: 32-bit code (the SMP trampoline's protected mode)
boot_gdt_end:

; Pointers for lgdt: the 32-bit form is used by the PVH entry before long mode.
align 16
boot_gdt_ptr32:
    dw boot_gdt_end - boot_gdt - 1
    dd boot_gdt
align 16
boot_gdt_ptr64:
    dw boot_gdt_end - boot_gdt - 1
    dq boot_gdt

section .bss
align 16
boot_stack:
    resb 65536
boot_stack_top:
