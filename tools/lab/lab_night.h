/*
 * lab_night.h: a night's directory and one cell's run in it.
 *
 *   NIGHT/night.json            {name, seed, started, host, matrix, vqhammer}
 *   NIGHT/matrix.yaml           the matrix as it was when the night started (--resume reads it)
 *   NIGHT/cells/ID/attempt-K/   vqhammer's --workdir (its run directory stays after a FAIL),
 *                               report.json (--json), output.log
 *   NIGHT/cells/ID/cell.json    the cell's result; written last, atomically: a cell that has one
 *                               is done (--resume and `lab collect` rely on it)
 */
#ifndef VQH_LAB_NIGHT_H
#define VQH_LAB_NIGHT_H

#include <jansson.h>
#include <stdbool.h>

#include "lab.h"
#include "lab_verdict.h"

/* Create NIGHT (0755, for a shared Slurm folder), night.json and matrix.yaml, unless present. */
bool lab_night_prepare(const char *dir, const struct lab_matrix *m, struct vqh_err *err);
/* night.json of dir (new reference) or NULL with err. */
json_t *lab_night_info(const char *dir, struct vqh_err *err);
/* Path of a cell's cell.json; true when it exists (the cell is done). */
bool lab_cell_done(const char *night, const char *cell_id);

/* How a cell is run: repeats (--repeat, bisect) and the known issues. */
struct lab_cell_plan {
    const char *vqhammer;          /* the binary that runs the attempts */
    int repeat;                    /* seeded repeats before any rerun, >= 1 */
    const struct lab_known *known; /* NULL: none */
};

/*
 * Run cell idx of m into night: attempts, reruns of a failure (same seed, fresh seeds), verdict,
 * failure class, known issue; writes cell.json. Returns the verdict, or -1 when interrupted
 * (lab_stop_requested: no cell.json, the cell will run again on --resume) or on a setup error
 * of the lab itself (err set).
 */
int lab_cell_run(const struct lab_matrix *m, int idx, const char *night, const struct lab_cell_plan *plan,
                 struct vqh_err *err);

/* "7.2.22" from `QEMU --version` (cached per binary), "" when it does not answer. */
const char *lab_qemu_version(const char *qemu, const char *scratch_dir);

/* Write a JSON document atomically (temporary file, rename). */
bool lab_json_write(const char *path, json_t *doc, struct vqh_err *err);
/* mkdir -p with mode. */
bool lab_mkdirs(const char *path, int mode, struct vqh_err *err);

#endif
