/*
 * idt.c: every CPU exception is reported in full (vector, name, error code, registers, faulting
 * address) and ends the run with the panic verdict; device and timer interrupts go to the
 * handlers registered for their vectors, then the local APIC gets its end-of-interrupt.
 */
#include "idt.h"
#include "tlb.h"
#include "apic.h"
#include "cpu.h"
#include "percpu.h"
#include "report.h"

struct idt_entry {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
static irq_handler_fn handlers[256];
static void *handler_args[256];
static uint8_t next_vector = IRQ_VECTOR_FIRST;
extern const uint64_t isr_stub_table[256];

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS",
    "segment not present", "stack fault", "general protection", "page fault", "reserved",
    "x87 floating point", "alignment check", "machine check", "SIMD floating point",
    "virtualization", "control protection", "reserved", "reserved", "reserved", "reserved",
    "reserved", "reserved", "hypervisor injection", "VMM communication", "security", "reserved",
};

void idt_init(void)
{
    for (int v = 0; v < 256; v++) {
        uint64_t a = isr_stub_table[v];
        idt[v].offset_lo = (uint16_t)a;
        idt[v].selector = 0x08;
        idt[v].ist = 0;
        idt[v].type_attr = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
        idt[v].offset_mid = (uint16_t)(a >> 16);
        idt[v].offset_hi = (uint32_t)(a >> 32);
        idt[v].zero = 0;
    }
    idt_load();
}

void idt_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) ptr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ __volatile__("lidt %0" ::"m"(ptr));
}

void idt_set_handler(uint8_t vector, irq_handler_fn fn, void *arg)
{
    handler_args[vector] = arg;
    __atomic_store_n(&handlers[vector], fn, __ATOMIC_RELEASE);
}

uint8_t idt_alloc_vector(irq_handler_fn fn, void *arg)
{
    uint8_t v = __atomic_fetch_add(&next_vector, 1, __ATOMIC_SEQ_CST);
    if (v < IRQ_VECTOR_FIRST || v >= IRQ_VECTOR_TIMER)
        return 0;
    idt_set_handler(v, fn, arg);
    return v;
}

static __attribute__((noreturn)) void exception_report(struct int_frame *f)
{
    struct msg m;
    const char *name = exception_names[f->vector];
    msg_begin(&m, WIRE_MSG_PANIC);
    msg_u64(&m, "cpu", percpu_index());
    msg_u64(&m, "vector", f->vector);
    msg_str(&m, "name", name);
    msg_hex(&m, "error_code", f->error_code);
    msg_hex(&m, "rip", f->rip);
    msg_hex(&m, "rsp", f->rsp);
    msg_hex(&m, "rflags", f->rflags);
    if (f->vector == 14)
        msg_hex(&m, "cr2", read_cr2());
    msg_hex(&m, "cr3", read_cr3());
    msg_obj_begin(&m, "regs");
    msg_hex(&m, "rax", f->rax); msg_hex(&m, "rbx", f->rbx); msg_hex(&m, "rcx", f->rcx);
    msg_hex(&m, "rdx", f->rdx); msg_hex(&m, "rsi", f->rsi); msg_hex(&m, "rdi", f->rdi);
    msg_hex(&m, "rbp", f->rbp); msg_hex(&m, "r8", f->r8); msg_hex(&m, "r9", f->r9);
    msg_hex(&m, "r10", f->r10); msg_hex(&m, "r11", f->r11); msg_hex(&m, "r12", f->r12);
    msg_hex(&m, "r13", f->r13); msg_hex(&m, "r14", f->r14); msg_hex(&m, "r15", f->r15);
    msg_obj_end(&m);
    /* A frame-pointer walk names the callers; symbolize with addr2line -e build/kernel.elf. */
    msg_arr_begin(&m, "backtrace");
    uint64_t *fp = (uint64_t *)f->rbp;
    for (int i = 0; i < 12 && fp && ((uintptr_t)fp & 7) == 0 && (uintptr_t)fp > 0x1000 &&
                    (uintptr_t)fp < (1ull << 32); i++) {
        msg_hex(&m, NULL, fp[1]);
        fp = (uint64_t *)fp[0];
    }
    msg_arr_end(&m);
    report_send_urgent(&m);
    report_verdict(WIRE_VERDICT_PANIC, name);
}

void interrupt_dispatch(struct int_frame *f)
{
    /* The frame (the CPU's push on entry, then isr_common's) went through whatever TLB entry
     * was warm: under the old-TCG migration bug such a write can go untracked and the
     * destination would iretq through a stale frame (see tlb.h). */
    tlb_refresh_retouch(f, sizeof(*f));
    if (f->vector < 32)
        exception_report(f);
    irq_handler_fn fn = __atomic_load_n(&handlers[f->vector], __ATOMIC_ACQUIRE);
    percpu_this()->irq_count++;
    if (fn)
        fn(f, handler_args[f->vector]);
    if (f->vector != IRQ_VECTOR_SPURIOUS)
        apic_eoi();
}
