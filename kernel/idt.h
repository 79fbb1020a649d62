/* idt.h: interrupt descriptor table, exception reports and interrupt handler registration. */
#ifndef VQH_IDT_H
#define VQH_IDT_H

#include "base.h"

struct int_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*irq_handler_fn)(struct int_frame *f, void *arg);

#define IRQ_VECTOR_FIRST 0x30   /* device vectors handed out by idt_alloc_vector */
#define IRQ_VECTOR_TIMER 0xf0
#define IRQ_VECTOR_WAKE 0xf1     /* IPI: an AP has work (smp_run_on); no handler needed */
#define IRQ_VECTOR_SPURIOUS 0xff

/* Build the IDT (boot CPU) and load it (every CPU). */
void idt_init(void);
void idt_load(void);
/* Allocate a free vector and attach a handler; returns 0 when none is left. */
uint8_t idt_alloc_vector(irq_handler_fn fn, void *arg);
void idt_set_handler(uint8_t vector, irq_handler_fn fn, void *arg);

#endif
