/* lab_slurm.h: `vqhammer lab submit --slurm`: the night as a Slurm job array. */
#ifndef VQH_LAB_SLURM_H
#define VQH_LAB_SLURM_H

#include <stdbool.h>

#include "lab.h"

struct lab_slurm_opts {
    const char *night;        /* shared night directory (prepared) */
    const char *matrix;       /* matrix path the tasks read (shared) */
    const char *vqhammer;     /* binary path on the nodes */
    const char *known;        /* --known or NULL */
    const char *sbatch;       /* NULL: "sbatch" */
    int repeat;
    bool wait;                /* sbatch --wait: return when every task ended */
    int nextra;
    const char *extra[16];    /* --sbatch-arg values, passed to sbatch as they are */
    char *job_id;             /* out: the job id sbatch printed */
    int job_id_cap;
};

/* Write the batch script (#SBATCH --array=0-(cells-1), cpus-per-task = the largest cell cost). */
bool lab_slurm_script(const char *path, const struct lab_matrix *m, const struct lab_slurm_opts *o, struct vqh_err *err);
/* Write NIGHT/slurm.sh and sbatch it; 0 with o->job_id set, 2 with err. */
int lab_slurm_submit(const struct lab_matrix *m, const struct lab_slurm_opts *o, struct vqh_err *err);

#endif
