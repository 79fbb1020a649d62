/*
 * lab.h: the nightly lab mode. A matrix file (YAML) names QEMU builds and the axes of a night;
 * every combination that survives the exclude/only rules is a cell, run as one `vqhammer
 * migrate|run` child with its own seed. Results go to a night directory (one cell.json per
 * cell), then to the SQLite database and the reports (JUnit, TAP, JSON, HTML).
 *
 *     struct lab_matrix m;
 *     lab_matrix_load(&m, "tests/lab/smoke.yaml", 0, &err);   // 0: the matrix's own seed
 *     for (int i = 0; i < m.ncells; i++) ... m.cells[i].id, m.cells[i].seed, lab_cell_argv(...)
 *     lab_matrix_free(&m);
 */
#ifndef VQH_LAB_H
#define VQH_LAB_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define LAB_NAME_MAX 64
#define LAB_PATH_MAX 1024
#define LAB_ID_MAX 256
#define LAB_MAX_OPTS 48
#define LAB_MAX_BUILDS 16

/* The axes, in the order they make a cell's id ("qemu-7.2+pc-q35-7.2+pvh+smp2+q4+io1+..."). */
enum lab_axis {
    LAB_AX_BUILD, LAB_AX_MACHINE, LAB_AX_BOOT, LAB_AX_SMP, LAB_AX_QUEUES, LAB_AX_IOTHREADS,
    LAB_AX_STORAGE, LAB_AX_HOPS, LAB_AX_CAPS, LAB_NAXES
};
const char *lab_axis_name(enum lab_axis a);   /* "build", "machine", ... "caps" */

/* One vqhammer option set by a scenario or the defaults: `--key value`, `--key` or `--key=value`. */
struct lab_opt {
    char key[32];          /* the option's name as in the matrix: run_seconds, postcopy, ... */
    char value[256];
};

struct lab_optset {
    int n;
    struct lab_opt o[LAB_MAX_OPTS];
};

struct lab_build {
    char name[LAB_NAME_MAX];
    char qemu[LAB_PATH_MAX], qemu_dst[LAB_PATH_MAX];   /* qemu_dst empty: same as qemu */
};

struct lab_cell {
    char id[LAB_ID_MAX];
    char axis[LAB_NAXES][LAB_NAME_MAX];   /* the value of each axis, as text */
    int build;                            /* index into lab_matrix.builds */
    int smp;
    uint64_t seed;                        /* derived from the night's seed and the id */
    struct lab_optset opts;               /* defaults, then storage, hops, caps (later wins) */
};

struct lab_matrix {
    char path[LAB_PATH_MAX];
    char name[LAB_NAME_MAX];
    uint64_t seed;                        /* the night's seed */
    int cell_timeout_s;                   /* a cell attempt running longer is killed: ERROR */
    int rerun_same, rerun_fresh;          /* reruns of a failing cell: same seed, fresh seeds */
    char known_issues[LAB_PATH_MAX];      /* resolved against the matrix's folder; "" none */
    int nbuilds;
    struct lab_build builds[LAB_MAX_BUILDS];
    int ncells;
    struct lab_cell *cells;
};

/*
 * Parse and expand a matrix. seed != 0 overrides the matrix's seed. On a bad matrix, returns
 * false with err = "FILE:LINE: key 'K': what is wrong (the fix)".
 */
bool lab_matrix_load(struct lab_matrix *m, const char *path, uint64_t seed, struct vqh_err *err);
void lab_matrix_free(struct lab_matrix *m);
/* The cell with this id, or -1. */
int lab_matrix_find(const struct lab_matrix *m, const char *id);

/* Seeds: a cell's from the night's seed; a rerun's or repeat's from the cell's (k >= 1). */
uint64_t lab_seed_cell(uint64_t night_seed, const char *cell_id);
uint64_t lab_seed_derive(uint64_t cell_seed, unsigned k);

/* CPUs a cell charges against the capacity (-j): its guest's vCPUs, at least 1. */
int lab_cell_cost(const struct lab_cell *c);

/*
 * The child's argument vector: VQHAMMER migrate|run --qemu ... --seed SEED --workdir DIR
 * --json JSON --quiet [options]. Strings live in buf (cap bytes); argv has room for max entries
 * including the NULL. Returns the argument count, or -1 when it does not fit.
 */
int lab_cell_argv(const struct lab_matrix *m, const struct lab_cell *c, const char *vqhammer,
                  uint64_t seed, const char *workdir, const char *json, char *buf, size_t cap,
                  char **argv, int max);

/*
 * How a matrix option becomes vqhammer arguments (lab_matrix_opts.c): 'i' number and 's' text
 * (`--key value`), 'b' flag (`--key` when true), 'm' `--key=N`, 'e' one of its choices, 'l' a
 * list given as the flag once per item (`--disk-graph A --disk-graph B`; items joined by '\n' in
 * the value), 'c' a comma list (`--hop-actions a,b`), 'd' the lab's N scratch disks (`--disk
 * DIR/disk0.img ... --disk-overwrite`, DIR the folder of the cell's --json). 0 for a key no cell
 * may set.
 */
char lab_opt_kind(const char *key);
/* The arguments of one option alone (as lab_cell_argv writes them, scratch disks in diskdir);
 * -1 when they do not fit. */
int lab_opt_argv(const struct lab_opt *o, const char *diskdir, char *buf, size_t cap, char **argv, int max);

#endif
