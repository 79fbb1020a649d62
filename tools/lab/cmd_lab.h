/* cmd_lab.h: what the `vqhammer lab` subcommands (cmd_lab.c, cmd_lab_report.c) share. */
#ifndef VQH_CMD_LAB_H
#define VQH_CMD_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct lab_args {
    const char *matrix, *out, *root, *db, *known, *resume, *cell, *chartjs, *night;
    uint64_t seed;
    int jobs, repeat, index, nights;
    bool bisect, quiet, slurm, wait;
    int nextra;
    const char *extra[16];
};

/* Print "vqhammer lab: MSG"; returns 2 (125 with --bisect). */
int lab_cmd_fail(const char *msg, bool bisect);
/* ROOT/lab.sqlite for a night ROOT/NAME. */
void lab_cmd_default_db(const char *night, char *out, size_t cap);
/* Database, trends and the four reports of a night; its status (0/1/2), -1 with err. */
int lab_cmd_collect_night(const char *night_dir, const char *db_arg, const char *chartjs, bool quiet, struct vqh_err *err);
int lab_cmd_collect(struct lab_args *a);
int lab_cmd_history(struct lab_args *a);

#endif
