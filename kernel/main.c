/*
 * main.c: the boot sequence both boot paths share, from struct bootinfo to the verdict.
 */
#include "acpi.h"
#include "apic.h"
#include "bootinfo.h"
#include "config.h"
#include "console.h"
#include "cpu.h"
#include "fwcfg.h"
#include "hello.h"
#include "idt.h"
#include "memory.h"
#include "percpu.h"
#include "report.h"
#include "smp.h"
#include "stress.h"
#include "time.h"
#include "tlb.h"

/* The boot path's structure may sit in memory the map calls usable: keep our own copy. */
static struct bootinfo boot_info;
static char config_text[4096];
static struct config cfg;

static void config_load(void)
{
    struct config_error err;
    bool truncated;
    config_defaults(&cfg);
    int64_t n = fwcfg_read_file(WIRE_FWCFG_CONFIG, config_text, sizeof(config_text), &truncated);
    if (n < 0)
        return; /* no configuration file: the defaults apply */
    memset(&err, 0, sizeof(err));
    if (truncated) {
        memcpy(err.message, "configuration longer than 4095 bytes", 37);
    } else if (config_parse(&cfg, config_text, (size_t)n, &err) && config_validate(&cfg, &err)) {
        return;
    }
    struct msg m;
    msg_begin(&m, WIRE_MSG_CONFIG_ERROR);
    msg_str(&m, "key", err.key);
    msg_str(&m, "value", err.value);
    msg_u64(&m, "line", err.line);
    msg_str(&m, "error", err.message);
    report_send(&m);
    report_verdict(WIRE_VERDICT_FAIL, "bad configuration");
}

/* inject=...: raise an exception on purpose so tests can prove the panic path. */
static void inject_exception(uint32_t kind)
{
    switch (kind) {
    case CONFIG_INJECT_UD:
        __asm__ __volatile__("ud2");
        break;
    case CONFIG_INJECT_GP:
        *(volatile uint64_t *)0x8000000000000000ull = 1; /* non-canonical */
        break;
    case CONFIG_INJECT_PF:
        *(volatile uint64_t *)0x7f0000000000ull = 1; /* canonical, never mapped */
        break;
    case CONFIG_INJECT_DE:
        /* in asm: the compiler may turn a C division by a variable into a comparison */
        __asm__ __volatile__("xor %%ecx, %%ecx; mov $1, %%eax; xor %%edx, %%edx; div %%ecx" ::: "eax", "ecx", "edx");
        break;
    default:
        return;
    }
    panic("injected exception did not fire");
}

void kernel_main(struct bootinfo *bi)
{
    if (bi->magic != BOOTINFO_MAGIC || bi->version != BOOTINFO_VERSION)
        for (;;)
            __asm__ __volatile__("cli; hlt"); /* no console yet: nothing sane to say */
    hello_mark(HELLO_ENTRY);
    memcpy(&boot_info, bi, sizeof(boot_info));
    bi = &boot_info;

    console_init();
    percpu_install(&percpu_area[0]);
    idt_init();
    /* The configuration decides the page size, so it comes first (fw_cfg needs only ports). */
    config_load();
    paging_init(bi);
    pmm_init(bi);
    if (!cfg.huge_pages)
        paging_split_ram(bi);
    hello_mark(HELLO_PAGING);

    const char *why;
    if (!acpi_init(bi->rsdp, &why))
        panic(why);
    apic_init_bsp(acpi.lapic_base);
    hello_mark(HELLO_ACPI);
    const char *clock = time_init();
    hello_mark(HELLO_CLOCK);

    const char *hypervisor = tlb_refresh_init(cfg.tlb_refresh);
    smp_init(bi);
    hello_mark(HELLO_SMP);
    stress_probe(&cfg);
    hello_mark(HELLO_PROBE);
    hello_send(bi, &cfg, clock, hypervisor);
    inject_exception(cfg.inject);
    stress_run(&cfg);
}
