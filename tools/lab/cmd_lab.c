/*
 * cmd_lab.c: `vqhammer lab run|cell|cells|submit|collect|history`, the nightly lab mode.
 * Exit status: 0 every cell passed, 1 a cell failed or is flaky, 2 ERROR (a bad matrix, a cell
 * that could not run, an interruption); with --bisect, 125 instead of 2, for `git bisect run`.
 */
#include "lab.h"
#include "lab_night.h"
#include "lab_proc.h"
#include "lab_report.h"
#include "lab_sched.h"
#include "lab_slurm.h"
#include "cmd_lab.h"

#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHARTJS_DEFAULT "/usr/share/javascript/chart.js/chart.min.js"


static void lab_usage(FILE *f)
{
    fprintf(f,
        "usage: vqhammer lab run MATRIX [--out NIGHT | --root DIR] [--db FILE] [-j CPUS] [--seed N]\n"
        "                            [--repeat N] [--bisect] [--known FILE] [--quiet]\n"
        "       vqhammer lab run --resume NIGHT [-j CPUS] [--db FILE]\n"
        "       vqhammer lab cells MATRIX [--out NIGHT] [--seed N]     one self-contained command per cell\n"
        "       vqhammer lab cell MATRIX --out NIGHT (--cell ID | --index I) [--seed N] [--repeat N] [--known FILE]\n"
        "       vqhammer lab submit --slurm MATRIX --out SHARED_NIGHT [--seed N] [--wait] [--sbatch-arg ARG]...\n"
        "       vqhammer lab collect NIGHT [--db FILE]                 database and reports of a night\n"
        "       vqhammer lab history [--db FILE] [--matrix NAME] [--night NIGHT] [--nights K]\n"
        "A night's directory gets report.html, report.json, results.tap and junit.xml; the database is\n"
        "ROOT/lab.sqlite (ROOT: the night's parent; default lab-results). Exit: 0 all pass, 1 a cell\n"
        "failed or is flaky, 2 ERROR; with --bisect 0 good, 1 bad, 125 cannot tell.\n");
}

enum { A_OUT = 256, A_ROOT, A_DB, A_SEED, A_REPEAT, A_BISECT, A_KNOWN, A_QUIET, A_RESUME, A_CELL, A_INDEX,
       A_SLURM, A_WAIT, A_SBATCH_ARG, A_CHARTJS, A_MATRIX, A_NIGHT, A_NIGHTS, A_HELP };

static const struct option lab_opts[] = {
    {"out", required_argument, 0, A_OUT}, {"root", required_argument, 0, A_ROOT}, {"db", required_argument, 0, A_DB},
    {"jobs", required_argument, 0, 'j'}, {"seed", required_argument, 0, A_SEED},
    {"repeat", required_argument, 0, A_REPEAT}, {"bisect", no_argument, 0, A_BISECT},
    {"known", required_argument, 0, A_KNOWN}, {"quiet", no_argument, 0, A_QUIET},
    {"resume", required_argument, 0, A_RESUME}, {"cell", required_argument, 0, A_CELL},
    {"index", required_argument, 0, A_INDEX}, {"slurm", no_argument, 0, A_SLURM}, {"wait", no_argument, 0, A_WAIT},
    {"sbatch-arg", required_argument, 0, A_SBATCH_ARG}, {"chartjs", required_argument, 0, A_CHARTJS},
    {"matrix", required_argument, 0, A_MATRIX}, {"night", required_argument, 0, A_NIGHT},
    {"nights", required_argument, 0, A_NIGHTS}, {"help", no_argument, 0, A_HELP}, {0, 0, 0, 0},
};

static bool num_arg(const char *name, const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 0);
    if (!*s || *end || v < min || v > max) {
        fprintf(stderr, "vqhammer lab: %s: bad value '%s' (expected %lld..%lld)\n", name, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

/* 0 parsed, 1 --help shown, 2 bad flags. */
static int parse_args(struct lab_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof(*a));
    a->jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    a->repeat = 1;
    a->index = -1;
    a->nights = 14;
    a->chartjs = CHARTJS_DEFAULT;
    optind = 1;
    int c;
    long long v;
    while ((c = getopt_long(argc, argv, "j:", lab_opts, NULL)) != -1) {
        switch (c) {
        case A_OUT: a->out = optarg; break;
        case A_ROOT: a->root = optarg; break;
        case A_DB: a->db = optarg; break;
        case 'j': if (!num_arg("-j", optarg, 1, 1024, &v)) return 2; a->jobs = (int)v; break;
        case A_SEED: if (!num_arg("--seed", optarg, 1, 0xffffffffffffLL, &v)) return 2; a->seed = (uint64_t)v; break;
        case A_REPEAT: if (!num_arg("--repeat", optarg, 1, 16, &v)) return 2; a->repeat = (int)v; break;
        case A_BISECT: a->bisect = true; break;
        case A_KNOWN: a->known = optarg; break;
        case A_QUIET: a->quiet = true; break;
        case A_RESUME: a->resume = optarg; break;
        case A_CELL: a->cell = optarg; break;
        case A_INDEX: if (!num_arg("--index", optarg, 0, 1000000, &v)) return 2; a->index = (int)v; break;
        case A_SLURM: a->slurm = true; break;
        case A_WAIT: a->wait = true; break;
        case A_SBATCH_ARG:
            if (a->nextra >= 16) { fprintf(stderr, "vqhammer lab: at most 16 --sbatch-arg\n"); return 2; }
            a->extra[a->nextra++] = optarg;
            break;
        case A_CHARTJS: a->chartjs = optarg; break;
        case A_MATRIX: a->matrix = optarg; break;
        case A_NIGHT: a->night = optarg; break;
        case A_NIGHTS: if (!num_arg("--nights", optarg, 2, 1000, &v)) return 2; a->nights = (int)v; break;
        case A_HELP: lab_usage(stdout); return 1;
        default: lab_usage(stderr); return 2;
        }
    }
    if (optind < argc)
        a->matrix = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "vqhammer lab: unexpected argument '%s' (see vqhammer lab --help)\n", argv[optind]);
        return 2;
    }
    return 0;
}

int lab_cmd_fail(const char *msg, bool bisect)
{
    fprintf(stderr, "vqhammer lab: %s\n", msg);
    return bisect ? 125 : 2;
}

static bool load_known(const struct lab_args *a, const struct lab_matrix *m, struct lab_known *k, struct vqh_err *err)
{
    const char *path = a->known ? a->known : m->known_issues[0] ? m->known_issues : NULL;
    if (!path) {
        k->n = 0;
        return true;
    }
    return lab_known_load(k, path, err);
}

static int lab_run(struct lab_args *a)
{
    struct vqh_err err = {0};
    char night[LAB_PATH_MAX], matrix[LAB_PATH_MAX];
    uint64_t seed = a->seed;
    if (a->resume) {
        json_t *info = lab_night_info(a->resume, &err);
        if (!info)
            return lab_cmd_fail(err.msg, a->bisect);
        snprintf(night, sizeof(night), "%s", a->resume);
        snprintf(matrix, sizeof(matrix), "%s", json_string_value(json_object_get(info, "matrix")));
        seed = strtoull(json_string_value(json_object_get(info, "seed")), NULL, 0);
        json_decref(info);
    } else if (!a->matrix) {
        return lab_cmd_fail("lab run: which matrix? (vqhammer lab run MATRIX; see vqhammer lab --help)", a->bisect);
    } else {
        snprintf(matrix, sizeof(matrix), "%s", a->matrix);
    }
    struct lab_matrix m;
    if (!lab_matrix_load(&m, matrix, seed, &err))
        return lab_cmd_fail(err.msg, a->bisect);
    if (!a->resume) {
        if (a->out) {
            snprintf(night, sizeof(night), "%s", a->out);
        } else {
            char stamp[32];
            time_t now = time(NULL);
            strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", gmtime(&now));
            snprintf(night, sizeof(night), "%s/%s-%s", a->root ? a->root : "lab-results", m.name, stamp);
        }
    }
    struct lab_known *known = calloc(1, sizeof(*known));
    int rc = 2;
    if (!known || !load_known(a, &m, known, &err) || !lab_night_prepare(night, &m, &err))
        goto out;
    char abs_matrix[PATH_MAX];
    struct lab_sched_opts so = {night, realpath(matrix, abs_matrix) ? abs_matrix : matrix, a->known, lab_self_exe(),
                                a->jobs, a->repeat, a->quiet};
    lab_signals_install();
    if (!a->quiet)
        fprintf(stderr, "lab %s: %d cells, night seed 0x%llx, %d CPUs, night directory %s\n", m.name, m.ncells,
                (unsigned long long)m.seed, a->jobs, night);
    if (lab_sched_run(&m, &so, &err))
        goto out;
    rc = lab_cmd_collect_night(night, a->db, a->chartjs, a->quiet, &err);
out:
    free(known);
    lab_matrix_free(&m);
    if (rc < 0 || err.msg[0]) {
        if (err.msg[0])
            fprintf(stderr, "vqhammer lab: %s\n", err.msg);
        rc = 2;
    }
    if (a->bisect)
        return rc == 2 ? 125 : rc;
    return rc;
}

static int lab_cell_cmd(struct lab_args *a)
{
    struct vqh_err err = {0};
    if (!a->matrix || !a->out || (!a->cell && a->index < 0))
        return lab_cmd_fail("lab cell: needs MATRIX, --out NIGHT and --cell ID or --index I", a->bisect);
    struct lab_matrix m;
    if (!lab_matrix_load(&m, a->matrix, a->seed, &err))
        return lab_cmd_fail(err.msg, a->bisect);
    int idx = a->cell ? lab_matrix_find(&m, a->cell) : a->index;
    struct lab_known *known = calloc(1, sizeof(*known));
    int rc = 2;
    if (idx < 0 || idx >= m.ncells) {
        vqh_err_set(&err, "no cell %s%s in %s (%d cells; `vqhammer lab cells` lists them)", a->cell ? a->cell : "#",
                    a->cell ? "" : "index", a->matrix, m.ncells);
    } else if (known && load_known(a, &m, known, &err) && lab_night_prepare(a->out, &m, &err)) {
        lab_signals_install();
        /* VQH_LAB_VQHAMMER: a stand-in for the attempts (the tests' seed-dependent fake). */
        const char *runner = getenv("VQH_LAB_VQHAMMER");
        struct lab_cell_plan plan = {runner && *runner ? runner : lab_self_exe(), a->repeat, known};
        int v = lab_cell_run(&m, idx, a->out, &plan, &err);
        rc = v < 0 ? 2 : v == LAB_PASS ? 0 : v == LAB_ERROR ? 2 : 1;
        if (v >= 0 && !a->quiet)
            printf("cell %s: %s\n", m.cells[idx].id, lab_verdict_name((enum lab_verdict)v));
    }
    if (err.msg[0])
        fprintf(stderr, "vqhammer lab: %s\n", err.msg);
    free(known);
    lab_matrix_free(&m);
    return a->bisect && rc == 2 ? 125 : rc;
}

static void print_quoted(const char *s)
{
    bool plain = *s != '\0';
    for (const char *p = s; *p; p++)
        plain &= !!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+=:,@", *p);
    if (plain) {
        fputs(s, stdout);
        return;
    }
    putchar('\'');
    for (; *s; s++)
        *s == '\'' ? fputs("'\\''", stdout) : putchar(*s);
    putchar('\'');
}

static int lab_cells_cmd(struct lab_args *a)
{
    struct vqh_err err = {0};
    if (!a->matrix)
        return lab_cmd_fail("lab cells: which matrix?", false);
    struct lab_matrix m;
    if (!lab_matrix_load(&m, a->matrix, a->seed, &err))
        return lab_cmd_fail(err.msg, false);
    char abs[PATH_MAX], seed[32];
    snprintf(seed, sizeof(seed), "0x%llx", (unsigned long long)m.seed);
    const char *night = a->out ? a->out : "lab-results/NIGHT";
    for (int i = 0; i < m.ncells; i++) {
        const char *args[] = {lab_self_exe(), "lab", "cell", realpath(a->matrix, abs) ? abs : a->matrix, "--seed", seed,
                              "--out", night, "--cell", m.cells[i].id};
        for (size_t k = 0; k < sizeof(args) / sizeof(args[0]); k++) {
            if (k)
                putchar(' ');
            print_quoted(args[k]);
        }
        putchar('\n');
    }
    lab_matrix_free(&m);
    return 0;
}

static int lab_submit_cmd(struct lab_args *a)
{
    struct vqh_err err = {0};
    if (!a->slurm)
        return lab_cmd_fail("lab submit: name the engine: --slurm (for others, `vqhammer lab cells` prints one command per cell)", false);
    if (!a->matrix || !a->out)
        return lab_cmd_fail("lab submit: needs MATRIX and --out SHARED_NIGHT (a directory every node sees)", false);
    struct lab_matrix m;
    if (!lab_matrix_load(&m, a->matrix, a->seed, &err))
        return lab_cmd_fail(err.msg, false);
    char abs[PATH_MAX], job[64] = "";
    struct lab_slurm_opts so = {a->out, realpath(a->matrix, abs) ? abs : a->matrix, lab_self_exe(), a->known, getenv("VQH_SBATCH"),
                                a->repeat, a->wait, a->nextra, {0}, job, sizeof(job)};
    for (int i = 0; i < a->nextra; i++)
        so.extra[i] = a->extra[i];
    int rc = 2;
    if (lab_night_prepare(a->out, &m, &err)) {
        lab_signals_install();
        rc = lab_slurm_submit(&m, &so, &err);
    }
    if (rc)
        fprintf(stderr, "vqhammer lab: %s\n", err.msg);
    else
        printf("submitted Slurm job %s: %d array tasks into %s%s\n", job, m.ncells, a->out,
               a->wait ? " (all ended)" : "; when it ends: vqhammer lab collect NIGHT");
    lab_matrix_free(&m);
    return rc;
}


int cmd_lab(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        lab_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    struct lab_args a;
    int p = parse_args(&a, argc - 1, argv + 1);
    if (p)
        return p == 1 ? 0 : (a.bisect ? 125 : 2);
    if (!strcmp(sub, "run"))
        return lab_run(&a);
    if (!strcmp(sub, "cell"))
        return lab_cell_cmd(&a);
    if (!strcmp(sub, "cells"))
        return lab_cells_cmd(&a);
    if (!strcmp(sub, "submit"))
        return lab_submit_cmd(&a);
    if (!strcmp(sub, "collect"))
        return lab_cmd_collect(&a);
    if (!strcmp(sub, "history"))
        return lab_cmd_history(&a);
    fprintf(stderr, "vqhammer lab: unknown subcommand '%s' (run, cells, cell, submit, collect, history)\n", sub);
    return 2;
}
