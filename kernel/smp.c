/* smp.c: AP start-up through the real-mode trampoline, and the APs' idle loop. */
#include "smp.h"
#include "acpi.h"
#include "apic.h"
#include "cpu.h"
#include "idt.h"
#include "memory.h"
#include "percpu.h"
#include "report.h"
#include "time.h"

#define TRAMP_BASE 0x8000
#define AP_STACK_SIZE (64 * 1024)
#define AP_START_TIMEOUT_MS 2000

extern char smp_tramp_start[], smp_tramp_end[], smp_tramp_cr3[], smp_tramp_stack[],
    smp_tramp_arg[], smp_tramp_entry[];
void gdt_load(void);

static uint32_t online_count = 1;

static __attribute__((noreturn)) void ap_entry(struct percpu *pc)
{
    gdt_load();
    percpu_install(pc);
    idt_load();
    apic_enable();
    __atomic_store_n(&pc->online, 1, __ATOMIC_RELEASE);
    for (;;) {
        void (*fn)(void *) = __atomic_load_n(&pc->work, __ATOMIC_ACQUIRE);
        if (fn) {
            pc->work = NULL;
            fn(pc->work_arg);
            continue;
        }
        /* Sleep until smp_run_on's wake-up IPI: an idle vCPU must not burn a host CPU under TCG.
         * A wake-up that comes between the check above and hlt stays pending (interrupts are
         * off) and ends the hlt at once. */
        cpu_idle();
    }
}

static void smp_patch(char *field, uint64_t v)
{
    uint64_t *dst = (uint64_t *)(uintptr_t)(TRAMP_BASE + (field - smp_tramp_start));
    *dst = v;
}

static void smp_report_cpu(struct percpu *pc, bool online, const char *error)
{
    struct msg m;
    msg_begin(&m, WIRE_MSG_CPU);
    msg_u64(&m, "cpu", pc->index);
    msg_u64(&m, "apic_id", pc->apic_id);
    msg_bool(&m, "online", online);
    if (error)
        msg_str(&m, "error", error);
    report_send(&m);
}

/* CPUID.1:ECX bit 31: running under a hypervisor. */
static bool smp_under_hypervisor(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    return c & (1u << 31);
}

static bool smp_start_one(struct percpu *pc)
{
    void *stack = pmm_alloc(AP_STACK_SIZE, PAGE_SIZE);
    if (!stack) {
        smp_report_cpu(pc, false, "out of memory for its stack");
        return false;
    }
    pc->stack_top = (uint64_t)(uintptr_t)stack + AP_STACK_SIZE;
    smp_patch(smp_tramp_stack, pc->stack_top);
    smp_patch(smp_tramp_arg, (uint64_t)(uintptr_t)pc);
    mb();
    /* INIT, then up to two SIPIs: the Intel MP protocol (SDM vol. 3, 10.4.4). Its 10 ms after INIT
     * is for real hardware; a hypervisor handles INIT at once (Linux waits 0 on modern CPUs too),
     * and the wait cost every boot 10 ms per AP. */
    apic_send_init(pc->apic_id);
    if (!smp_under_hypervisor())
        time_delay_us(10000);
    for (int sipi = 0; sipi < 2; sipi++) {
        apic_send_sipi(pc->apic_id, TRAMP_BASE >> 12);
        uint64_t deadline = time_ms() + (sipi == 0 ? 10 : AP_START_TIMEOUT_MS);
        while (time_ms() < deadline) {
            if (__atomic_load_n(&pc->online, __ATOMIC_ACQUIRE))
                return true;
            cpu_relax();
        }
    }
    smp_report_cpu(pc, false, "did not come up within 2 s of INIT-SIPI-SIPI");
    return false;
}

void smp_init(const struct bootinfo *bi)
{
    uint32_t me = apic_id();
    percpu_count = acpi.cpu_count;
    if (percpu_count > MAX_CPUS)
        percpu_count = MAX_CPUS;
    /* CPU 0 is whichever CPU booted; APs get the following indices in MADT order. */
    percpu_area[0].apic_id = me;
    uint32_t next = 1;
    for (uint32_t i = 0; i < acpi.cpu_count && next < MAX_CPUS; i++) {
        if (acpi.apic_ids[i] == me)
            continue;
        percpu_area[next].index = next;
        percpu_area[next].apic_id = acpi.apic_ids[i];
        next++;
    }
    percpu_count = next;
    if (percpu_count == 1)
        return;
    if (!pmm_claim_low_page(TRAMP_BASE, bi)) {
        report_log("error", "SMP: page 0x8000 is not usable RAM; running on the boot CPU only");
        return;
    }
    memcpy((void *)(uintptr_t)TRAMP_BASE, smp_tramp_start, (size_t)(smp_tramp_end - smp_tramp_start));
    smp_patch(smp_tramp_cr3, paging_root());
    smp_patch(smp_tramp_entry, (uint64_t)(uintptr_t)ap_entry);
    for (uint32_t i = 1; i < percpu_count; i++)
        if (smp_start_one(&percpu_area[i]))
            online_count++;
}

uint32_t smp_online_count(void)
{
    return online_count;
}

bool smp_run_on(uint32_t cpu, void (*fn)(void *), void *arg)
{
    struct percpu *pc = &percpu_area[cpu];
    if (cpu == 0 || cpu >= percpu_count || !pc->online)
        return false;
    pc->work_arg = arg;
    __atomic_store_n(&pc->work, fn, __ATOMIC_RELEASE);
    apic_send_ipi(pc->apic_id, IRQ_VECTOR_WAKE);
    return true;
}
