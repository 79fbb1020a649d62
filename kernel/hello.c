/* hello.c: who we are, what we run on and the configuration in effect. */
#include "hello.h"
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

static void hello_config(struct msg *m, const struct config *c)
{
    msg_obj_begin(m, "config");
    msg_hex(m, "seed", c->seed); /* hex: JSON readers choke on integers above 2^63 */
    msg_u64(m, "duration", c->duration);
    msg_u64(m, "min_disks", c->min_disks);
    msg_str(m, "serial_prefix", c->serial_prefix);
    msg_u64(m, "queues", c->queues);
    msg_u64(m, "depth", c->depth);
    msg_u64(m, "mix_read", c->mix_read);
    msg_u64(m, "mix_write", c->mix_write);
    msg_u64(m, "mix_flush", c->mix_flush);
    msg_u64(m, "mix_discard", c->mix_discard);
    msg_u64(m, "mix_write_zeroes", c->mix_write_zeroes);
    msg_u64(m, "min_blocks", c->min_blocks);
    msg_u64(m, "max_blocks", c->max_blocks);
    msg_u64(m, "region_start", c->region_start);
    msg_u64(m, "region_blocks", c->region_blocks);
    msg_u64(m, "rate", c->rate);
    msg_str(m, "mode", config_mode_name(c->mode));
    msg_str(m, "indirect", config_toggle_name(c->indirect));
    msg_str(m, "event_idx", config_toggle_name(c->event_idx));
    msg_u64(m, "report_ms", c->report_ms);
    msg_u64(m, "watchdog_ms", c->watchdog_ms);
    msg_str(m, "inject", config_inject_name(c->inject));
    msg_str(m, "huge_pages", c->huge_pages ? "on" : "off");
    msg_str(m, "tlb_refresh", config_toggle_name(c->tlb_refresh));
    msg_str(m, "final_state", c->final_state ? "on" : "off");
    msg_obj_end(m);
}

void hello_send(const struct bootinfo *bi, const struct config *cfg, const char *clock, const char *hypervisor)
{
    struct msg m;
    msg_begin(&m, WIRE_MSG_HELLO);
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
    msg_u64(&m, "boot_ms", time_ms());
    if (bi->cmdline[0])
        msg_str(&m, "cmdline", bi->cmdline);
    hello_config(&m, cfg);
    stress_describe_disks(&m);
    report_send(&m);
}
