/*
 * lab_slurm.c: a night as a Slurm job array: one array task per cell, each a `vqhammer lab cell
 * ... --index $SLURM_ARRAY_TASK_ID` writing into the shared night directory; `vqhammer lab
 * collect` merges the results afterwards.
 */
#include "lab_slurm.h"
#include "lab_night.h"
#include "lab_proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void sh_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

bool lab_slurm_script(const char *path, const struct lab_matrix *m, const struct lab_slurm_opts *o, struct vqh_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        vqh_err_set(err, "cannot write %s: %s", path, strerror(errno));
        return false;
    }
    int cpus = 1;
    for (int i = 0; i < m->ncells; i++)
        if (lab_cell_cost(&m->cells[i]) > cpus)
            cpus = lab_cell_cost(&m->cells[i]);
    int attempts = 1 + m->rerun_same + m->rerun_fresh + (o->repeat > 1 ? o->repeat - 1 : 0);
    int minutes = (m->cell_timeout_s * attempts + 59) / 60 + 5;
    fprintf(f, "#!/bin/sh\n# vqhammer lab night '%s': one array task per cell (written by vqhammer lab submit)\n", m->name);
    fprintf(f, "#SBATCH --job-name=vqh-lab-%s\n#SBATCH --array=0-%d\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=%d\n",
            m->name, m->ncells - 1, cpus);
    fprintf(f, "#SBATCH --time=%d\n#SBATCH --output=%s/slurm-%%A_%%a.out\n", minutes, o->night);
    fprintf(f, "exec ");
    sh_quote(f, o->vqhammer);
    fprintf(f, " lab cell ");
    sh_quote(f, o->matrix);
    fprintf(f, " --seed 0x%llx --out ", (unsigned long long)m->seed);
    sh_quote(f, o->night);
    fprintf(f, " --index \"$SLURM_ARRAY_TASK_ID\" --repeat %d", o->repeat < 1 ? 1 : o->repeat);
    if (o->known) {
        fprintf(f, " --known ");
        sh_quote(f, o->known);
    }
    fprintf(f, "\n");
    bool ok = !ferror(f);
    if (fclose(f) || !ok) {
        vqh_err_set(err, "cannot write %s", path);
        return false;
    }
    chmod(path, 0755);
    return true;
}

int lab_slurm_submit(const struct lab_matrix *m, const struct lab_slurm_opts *o, struct vqh_err *err)
{
    char script[LAB_PATH_MAX + 32], out[LAB_PATH_MAX + 32];
    snprintf(script, sizeof(script), "%s/slurm.sh", o->night);
    snprintf(out, sizeof(out), "%s/sbatch.out", o->night);
    if (!lab_slurm_script(script, m, o, err))
        return 2;
    const char *argv[64];
    int n = 0;
    argv[n++] = o->sbatch ? o->sbatch : "sbatch";
    argv[n++] = "--parsable";
    if (o->wait)
        argv[n++] = "--wait";
    for (int i = 0; i < o->nextra && n < 60; i++)
        argv[n++] = o->extra[i];
    argv[n++] = script;
    argv[n] = NULL;
    unlink(out);
    pid_t pid = lab_proc_spawn((char *const *)argv, out, true);
    if (pid < 0) {
        vqh_err_set(err, "cannot run %s: %s (install Debian's slurm-client)", argv[0], strerror(errno));
        return 2;
    }
    /* --wait lasts as long as the job: bounded by every cell's every attempt run one after another. */
    int attempts = 1 + m->rerun_same + m->rerun_fresh + (o->repeat > 1 ? o->repeat - 1 : 0);
    int64_t limit_ms = o->wait ? ((int64_t)m->cell_timeout_s * attempts * m->ncells + 600) * 1000 : 60000;
    bool to, intr;
    int code = lab_proc_exit_code(lab_proc_wait(pid, true, limit_ms, &to, &intr));
    FILE *f = fopen(out, "r");
    char line[256] = "";
    if (f) {
        if (!fgets(line, sizeof(line), f))
            line[0] = '\0';
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    if (intr || to) {
        vqh_err_set(err, "%s while sbatch waited (the job may go on: scancel %s)", intr ? "interrupted" : "timed out",
                    line[0] ? line : "JOB");
        return 2;
    }
    /* With --wait, sbatch's status is the job's worst: a failing cell is not a submission error. */
    if ((code && !o->wait) || !line[0] || (line[0] < '0' || line[0] > '9')) {
        vqh_err_set(err, "sbatch failed (exit %d): %s (see %s)", code, line[0] ? line : "no output", out);
        return 2;
    }
    if (o->job_id && o->job_id_cap > 0)
        snprintf(o->job_id, (size_t)o->job_id_cap, "%s", line);
    return 0;
}
