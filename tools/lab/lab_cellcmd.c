/* lab_cellcmd.c: what a cell costs, which seed it runs with, and its vqhammer command line. */
#include "lab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64's finalizer: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 48 bits, never 0 (vqhammer's "pick one"): short enough to type back into a reproducer. */
static uint64_t seed_fold(uint64_t z)
{
    z &= 0xffffffffffffull;
    return z ? z : 1;
}

uint64_t lab_seed_cell(uint64_t night_seed, const char *cell_id)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a of the id: the same cell gets the same seed */
    for (const unsigned char *p = (const unsigned char *)cell_id; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return seed_fold(mix64(night_seed ^ mix64(h)));
}

uint64_t lab_seed_derive(uint64_t cell_seed, unsigned k)
{
    return k ? seed_fold(mix64(cell_seed + 0x51ed27f1ull * k)) : cell_seed;
}

/*
 * The guest's vCPUs run on one QEMU at a time: a destination's vCPUs stay paused until the
 * switchover and its source's stop then, so a migrating cell charges smp, like a plain run.
 */
int lab_cell_cost(const struct lab_cell *c)
{
    return c->smp > 0 ? c->smp : 1;
}

static const char *opt_get(const struct lab_optset *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->o[i].key, key))
            return s->o[i].value;
    return NULL;
}

struct argbuf {
    char *buf;
    size_t cap, used;
    char **argv;
    int n, max;
    bool full;
};

static void arg_add(struct argbuf *a, const char *fmt, const char *s1, const char *s2)
{
    int len = snprintf(a->buf + a->used, a->used < a->cap ? a->cap - a->used : 0, fmt, s1, s2);
    if (a->full || len < 0 || a->used + (size_t)len + 1 > a->cap || a->n + 2 > a->max) {
        a->full = true;
        return;
    }
    a->argv[a->n++] = a->buf + a->used;
    a->used += (size_t)len + 1;
}

/* One matrix option as vqhammer arguments, by its kind (lab.h, lab_opt_kind). */
static void opt_args(struct argbuf *a, const struct lab_opt *o, const char *diskdir)
{
    char kind = lab_opt_kind(o->key);
    if (!kind || !strcmp(o->key, "command"))
        return;
    char flag[40];
    snprintf(flag, sizeof(flag), "--%s", o->key);
    for (char *p = flag; *p; p++)
        if (*p == '_')
            *p = '-';
    if (kind == 'm') {
        arg_add(a, "%s=%s", flag, o->value);
    } else if (kind == 'b') {
        if (!strcmp(o->value, "true"))
            arg_add(a, "%s%s", flag, "");
    } else if (kind == 'd') {
        /* The lab's own scratch disks beside the attempt's report; --disk-overwrite lets the
         * reproducer run again on them. */
        int n = atoi(o->value);
        for (int k = 0; k < n; k++) {
            char num[12];
            snprintf(num, sizeof(num), "%d", k);
            arg_add(a, "--disk%s%s", "", "");
            arg_add(a, "%s/disk%s.img", diskdir, num);
        }
        arg_add(a, "--disk-overwrite%s%s", "", "");
    } else if (kind == 'l') {
        /* A repeatable flag: each item its own --flag (the i-th --disk-graph is disk i's). */
        char items[sizeof(o->value)], *save = NULL;
        snprintf(items, sizeof(items), "%s", o->value);
        for (char *it = strtok_r(items, "\n", &save); it; it = strtok_r(NULL, "\n", &save)) {
            arg_add(a, "%s%s", flag, "");
            arg_add(a, "%s%s", it, "");
        }
    } else {
        arg_add(a, "%s%s", flag, "");
        arg_add(a, "%s%s", o->value, "");
    }
}

int lab_opt_argv(const struct lab_opt *o, const char *diskdir, char *buf, size_t cap, char **argv, int max)
{
    struct argbuf a = {buf, cap, 0, argv, 0, max, false};
    opt_args(&a, o, diskdir);
    if (a.full)
        return -1;
    argv[a.n] = NULL;
    return a.n;
}

int lab_cell_argv(const struct lab_matrix *m, const struct lab_cell *c, const char *vqhammer,
                  uint64_t seed, const char *workdir, const char *json, char *buf, size_t cap,
                  char **argv, int max)
{
    struct argbuf a = {buf, cap, 0, argv, 0, max, false};
    const struct lab_build *b = &m->builds[c->build];
    const char *command = opt_get(&c->opts, "command");
    char seedtxt[32];
    snprintf(seedtxt, sizeof(seedtxt), "0x%llx", (unsigned long long)seed);
    arg_add(&a, "%s%s", vqhammer, "");
    arg_add(&a, "%s%s", command ? command : "migrate", "");
    arg_add(&a, "--qemu%s", "", "");
    arg_add(&a, "%s%s", b->qemu, "");
    if (b->qemu_dst[0]) {
        arg_add(&a, "--qemu-dst%s", "", "");
        arg_add(&a, "%s%s", b->qemu_dst, "");
    }
    static const char *const axis_flag[] = {NULL, "--machine", "--boot", "--smp", "--queues", "--iothreads"};
    for (int ax = LAB_AX_MACHINE; ax <= LAB_AX_IOTHREADS; ax++) {
        arg_add(&a, "%s%s", axis_flag[ax], "");
        arg_add(&a, "%s%s", c->axis[ax], "");
    }
    arg_add(&a, "--seed%s", "", "");
    arg_add(&a, "%s%s", seedtxt, "");
    arg_add(&a, "--workdir%s", "", "");
    arg_add(&a, "%s%s", workdir, "");
    arg_add(&a, "--json%s", "", "");
    arg_add(&a, "%s%s", json, "");
    arg_add(&a, "--quiet%s", "", "");
    char diskdir[LAB_PATH_MAX];
    snprintf(diskdir, sizeof(diskdir), "%s", json);
    char *slash = strrchr(diskdir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(diskdir, sizeof(diskdir), ".");
    for (int i = 0; i < c->opts.n; i++)
        opt_args(&a, &c->opts.o[i], diskdir);
    if (a.full)
        return -1;
    argv[a.n] = NULL;
    return a.n;
}
