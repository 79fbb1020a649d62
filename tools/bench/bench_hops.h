/*
 * bench_hops.h: hops per hour of `make run`: `vqhammer migrate` with its default flags (the
 * accelerator probe, the default gaps, sampled verification, the final full verification), run as
 * a child, its whole duration counted: what a user waiting for `make run` gets (but for the
 * accelerator, which is the bench's).
 */
#ifndef VQH_BENCH_HOPS_H
#define VQH_BENCH_HOPS_H

#include <stdbool.h>
#include "err.h"

struct bench_hops {
    const char *boot;       /* "uefi" (the default) or "pvh" */
    int hops;               /* hops asked for; 0: not measured */
    double duration_s;      /* the run's own duration (its --json), start to verdict */
    double first_hop_s;     /* when the first hop started: the boot and the accelerator probe */
    double per_hop_s;       /* from the first hop's start to the last's, per hop */
    char accel[8];
    double hops_per_hour;
};

/* Run `vqhammer migrate --migrations h->hops --boot h->boot --accel accel` (other flags: its
 * defaults, plus --workdir when given); false with err unless it ends with PASS. The bench's
 * accelerator is passed on: a broken KVM can pass the probe and then crawl (seen here). */
bool bench_hops_run(struct bench_hops *h, const char *accel, const char *workdir, struct vqh_err *err);

#endif
