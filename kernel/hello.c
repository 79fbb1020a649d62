/* hello.c: who we are, what we run on and the configuration in effect. */
#include "hello.h"
#include "cpu.h"
#include "crc32c.h"
#include "memory.h"
#include "percpu.h"
#include "report.h"
#include "smp.h"
#include "stress.h"
#include "time.h"
#include "tlb.h"

#ifndef VQH_BUILD_ID
#define VQH_BUILD_ID "unknown"
#endif

static uint64_t hello_tsc[HELLO_STAGES];

void hello_mark(enum hello_stage stage)
{
    hello_tsc[stage] = rdtsc();
}

void hello_send(const struct bootinfo *bi, const struct config *cfg, const char *clock, const char *hypervisor)
{
    struct msg m;
    report_begin_big(&m, WIRE_MSG_HELLO);
    msg_str(&m, "boot_path", bi->boot_path == BOOT_PATH_UEFI ? "uefi" : "pvh");
    msg_str(&m, "build", VQH_BUILD_ID);
    msg_u64(&m, "wire", WIRE_VERSION);
    msg_u64(&m, "cpus", smp_online_count());
    msg_u64(&m, "cpus_found", percpu_count);
    msg_u64(&m, "mem_mib", pmm_total_bytes() >> 20);
    msg_u64(&m, "tsc_khz", time_tsc_hz() / 1000);
    msg_str(&m, "clock", clock);
    msg_str(&m, "hypervisor", hypervisor);
    msg_bool(&m, "tlb_refresh", tlb_refresh_enabled());
    msg_str(&m, "crc32c", crc32c_using_hw() ? "sse4.2" : "table"); /* which implementation */
    msg_u64(&m, "boot_ms", time_ms());
    /* Where the boot went, in microseconds (the brief's "profile the guest's start"). */
    static const char *const names[HELLO_STAGES] = { "to_kernel", "paging", "acpi_apic", "clock", "smp", "probe" };
    uint64_t hz = time_tsc_hz();
    msg_obj_begin(&m, "boot_us");
    for (int i = 0; hz && i < HELLO_STAGES; i++)
        msg_u64(&m, names[i], (hello_tsc[i] - (i ? hello_tsc[i - 1] : 0)) * 1000000 / hz);
    msg_obj_end(&m);
    if (bi->cmdline[0])
        msg_str(&m, "cmdline", bi->cmdline);
    config_to_msg(cfg, &m, "config");
    stress_describe_disks(&m);
    report_send(&m);
}
