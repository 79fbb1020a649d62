/* stress.c: placeholder until the virtio-blk driver lands: no disks, wait, verdict. */
#include "stress.h"
#include "console.h"
#include "cpu.h"
#include "report.h"
#include "time.h"

void stress_probe(const struct config *cfg)
{
    (void)cfg;
}

void stress_describe_disks(struct msg *m)
{
    msg_arr_begin(m, "disks");
    msg_arr_end(m);
}

void stress_run(const struct config *cfg)
{
    if (cfg->min_disks > 0)
        report_verdict(WIRE_VERDICT_FAIL, "fewer data disks than min_disks");
    uint64_t end = time_ms() + (uint64_t)cfg->duration * 1000;
    char line[256];
    while (cfg->duration == 0 || time_ms() < end) {
        if (console_poll_line(line, sizeof(line)) && !strcmp(line, "finish"))
            break;
        cpu_relax();
    }
    report_verdict(WIRE_VERDICT_PASS, "no data disks to hammer");
}
