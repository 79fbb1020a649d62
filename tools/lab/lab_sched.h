/*
 * lab_sched.h: runs a night's cells on this host, in parallel within its capacity: each cell
 * charges lab_cell_cost() CPUs against -j (default: the CPU count). Every cell is a `vqhammer lab
 * cell` worker in its own process group; SIGINT/SIGTERM stop them all (vqhammer reaps its QEMUs
 * on SIGTERM) and the night can go on with --resume.
 */
#ifndef VQH_LAB_SCHED_H
#define VQH_LAB_SCHED_H

#include <stdbool.h>

#include "lab.h"

/*
 * The next cell to start: the first pending one whose cost fits in capacity - used. A cell that
 * costs more than the whole capacity starts only when nothing runs. -1: none fits now.
 */
int lab_sched_pick(const int *cost, const bool *pending, int n, int used, int capacity);

struct lab_sched_opts {
    const char *night;           /* the night's directory (prepared) */
    const char *matrix;          /* the matrix file the workers read */
    const char *known;           /* --known FILE or NULL */
    const char *vqhammer;        /* this binary */
    int jobs;                    /* capacity in CPUs */
    int repeat;                  /* --repeat */
    bool quiet;
};

/*
 * Run every cell of m that is not done yet (no cell.json). Returns 0 when all ran, 2 when
 * interrupted (err says so) or the lab could not start a worker.
 */
int lab_sched_run(const struct lab_matrix *m, const struct lab_sched_opts *o, struct vqh_err *err);

#endif
