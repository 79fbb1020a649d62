; isr.asm: the 256 interrupt entry stubs. Each pushes a uniform frame (error code or 0, vector,
; then the general registers) and calls interrupt_dispatch(struct int_frame *) in kernel/idt.c.
; Written in nasm because C cannot control the exact entry and iretq sequence.

global isr_stub_table
extern interrupt_dispatch

section .text
bits 64

%macro STUB_NOERR 1
isr_stub_%1:
    push 0
    push %1
    jmp isr_common
%endmacro
%macro STUB_ERR 1
isr_stub_%1:
    push %1
    jmp isr_common
%endmacro

; Vectors where the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30.
%assign v 0
%rep 256
%if v = 8 || (v >= 10 && v <= 14) || v = 17 || v = 21 || v = 29 || v = 30
    STUB_ERR v
%else
    STUB_NOERR v
%endif
%assign v v + 1
%endrep

isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    ; keep the SysV 16-byte stack alignment for the C handler
    mov rbx, rsp
    and rsp, ~15
    cld
    call interrupt_dispatch
    mov rsp, rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                     ; vector and error code
    iretq

section .rodata
align 8
isr_stub_table:
%assign v 0
%rep 256
    dq isr_stub_ %+ v
%assign v v + 1
%endrep
