/*
 * bench_compare.h: vqhammer's figures beside the Linux + fio baseline (../shared/linux-fio, run in
 * the same `make bench`) and the host's own ceiling (qemu-img bench), each with its goal (the
 * goals of issue 11 live here, never in a timed test). One row list feeds both the printed table
 * and bench.json.
 */
#ifndef VQH_BENCH_COMPARE_H
#define VQH_BENCH_COMPARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include "bench_hops.h"
#include "err.h"

struct bench_figures {
    double iops_raw;          /* verified I/Os per second, raw image, 2 reads per write */
    double iops_null;         /* completed reads per second on null-co */
    double pvh_first_s;       /* QEMU start to the first verified read */
    double uefi_first_s;
    double uefi_firmware_s;   /* QEMU start to OVMF starting our EFI application; < 0: not seen */
    double rss_mib;           /* QEMU peak RSS (VmHWM), PVH on the raw image */
    const struct bench_hops *hops_uefi, *hops_pvh;
};

/* The Linux + fio baseline's result.json (../shared/linux-fio/run.sh). */
struct bench_baseline {
    bool have;
    char path[1024];
    double iops;              /* fio read + write IOPS, every write verified */
    double first_io_s;        /* QEMU start to fio's first I/O (QMP blockstats) */
    double rss_mib;           /* QEMU max RSS over its life (time -v) */
};

/* qemu-img bench figures (written by tools/bench/bench.sh): 4 KiB, queue depth 64. */
struct bench_ceiling {
    bool have;
    double raw_read, raw_write, null_read; /* IOPS */
};

bool bench_baseline_load(const char *path, struct bench_baseline *b, struct vqh_err *err);
bool bench_ceiling_load(const char *path, struct bench_ceiling *c, struct vqh_err *err);
/* The rows: [{figure, unit, vqhammer, linux_fio, ceiling, vs_linux_fio, vs_ceiling, goal, met}];
 * absent figures are null, "met" is null when the goal needs a figure that is absent. */
json_t *bench_compare_rows(const struct bench_figures *f, const struct bench_baseline *b, const struct bench_ceiling *c);
void bench_compare_print(FILE *out, const json_t *rows, const struct bench_baseline *b);

#endif
