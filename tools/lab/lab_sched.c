/* lab_sched.c: the local scheduler: workers within the CPU capacity, one live status line. */
#include "lab_sched.h"
#include "lab_night.h"
#include "lab_proc.h"

#include "clock.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int lab_sched_pick(const int *cost, const bool *pending, int n, int used, int capacity)
{
    for (int i = 0; i < n; i++) {
        if (!pending[i])
            continue;
        if (used + cost[i] <= capacity || (used == 0 && cost[i] > capacity))
            return i;
    }
    return -1;
}

struct worker {
    pid_t pid;
    int cell;
    int64_t started_ms;
};

struct tally {
    int done, total, by[4];
    int64_t start_ms, last_print_ms;
};

static void status_print(const struct lab_matrix *m, const struct lab_sched_opts *o, struct tally *t,
                         const struct worker *w, int nw, int used, bool force)
{
    if (o->quiet)
        return;
    bool tty = isatty(2);
    int64_t now = clock_now_ms();
    if (!tty && !force && now - t->last_print_ms < 30000)
        return;
    t->last_print_ms = now;
    int64_t s = (now - t->start_ms) / 1000;
    char running[512] = "";
    size_t off = 0;
    for (int i = 0; i < nw && off < sizeof(running); i++)
        off += (size_t)snprintf(running + off, sizeof(running) - off, "%s%s", i ? ", " : "", m->cells[w[i].cell].id);
    char line[1024];
    snprintf(line, sizeof(line), "lab %s: %d/%d cells, %d running (%d/%d CPUs), pass %d flaky %d fail %d error %d, "
             "%lldm%02llds%s%s", m->name, t->done, t->total, nw, used, o->jobs, t->by[LAB_PASS], t->by[LAB_FLAKY],
             t->by[LAB_FAIL], t->by[LAB_ERROR], (long long)s / 60, (long long)s % 60, nw ? " | " : "", running);
    if (tty) {
        int cols = 160;
        line[cols - 1 < (int)sizeof(line) ? cols - 1 : (int)sizeof(line) - 1] = '\0';
        fprintf(stderr, "\r\033[K%s", line);
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static void status_event(const struct lab_sched_opts *o, const char *fmt, const char *a, const char *b)
{
    if (o->quiet)
        return;
    if (isatty(2))
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* A worker that died without its cell.json (crash, kill) still leaves a verdict: ERROR. */
static int collect_worker(const struct lab_matrix *m, const struct lab_sched_opts *o, int cell, int status)
{
    char path[LAB_PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/cells/%s/cell.json", o->night, m->cells[cell].id);
    json_t *doc = json_load_file(path, 0, NULL);
    enum lab_verdict v = LAB_ERROR;
    if (doc && lab_verdict_parse(json_string_value(json_object_get(doc, "verdict")), &v)) {
        json_decref(doc);
        return (int)v;
    }
    json_decref(doc);
    char why[LAB_PATH_MAX * 2 + 64];
    snprintf(why, sizeof(why), "the lab worker exited with status %d without a result: see %s/cells/%s/worker.log",
             lab_proc_exit_code(status), o->night, m->cells[cell].id);
    json_t *c = json_pack("{s:s, s:i, s:s, s:s, s:s, s:f, s:s, s:s, s:[]}", "id", m->cells[cell].id, "index", cell,
                          "matrix", m->name, "build", m->builds[m->cells[cell].build].name, "verdict", "error",
                          "fail_rate", 0.0, "failure_class", "setup", "reason", why, "attempts");
    json_t *axes = json_object();
    for (int a = 0; a < LAB_NAXES; a++)
        json_object_set_new(axes, lab_axis_name((enum lab_axis)a), json_string(m->cells[cell].axis[a]));
    json_object_set_new(c, "axes", axes);
    lab_json_write(path, c, NULL);
    json_decref(c);
    return LAB_ERROR;
}

static pid_t start_worker(const struct lab_matrix *m, const struct lab_sched_opts *o, int cell)
{
    char seed[32], repeat[16], log[LAB_PATH_MAX * 2], dir[LAB_PATH_MAX * 2];
    snprintf(seed, sizeof(seed), "0x%llx", (unsigned long long)m->seed);
    snprintf(repeat, sizeof(repeat), "%d", o->repeat);
    snprintf(dir, sizeof(dir), "%s/cells/%s", o->night, m->cells[cell].id);
    snprintf(log, sizeof(log), "%s/worker.log", dir);
    if (!lab_mkdirs(dir, 0755, NULL))
        return -1;
    const char *argv[20] = {o->vqhammer, "lab", "cell", o->matrix, "--seed", seed, "--out", o->night,
                            "--cell", m->cells[cell].id, "--repeat", repeat};
    int n = 12;
    if (o->known) {
        argv[n++] = "--known";
        argv[n++] = o->known;
    }
    argv[n] = NULL;
    return lab_proc_spawn((char *const *)argv, log, true);
}

static void stop_all(struct worker *w, int nw)
{
    for (int i = 0; i < nw; i++)
        kill(-w[i].pid, SIGTERM);
    for (int i = 0; i < nw; i++)
        lab_proc_stop(w[i].pid, true, 25000);
}

int lab_sched_run(const struct lab_matrix *m, const struct lab_sched_opts *o, struct vqh_err *err)
{
    int n = m->ncells;
    int *cost = calloc((size_t)n, sizeof(int));
    bool *pending = calloc((size_t)n, sizeof(bool));
    struct worker *w = calloc((size_t)n, sizeof(*w));
    if (!cost || !pending || !w) {
        free(cost), free(pending), free(w);
        vqh_err_set(err, "out of memory");
        return 2;
    }
    struct tally t = {.total = n, .start_ms = clock_now_ms()};
    int npending = 0, nw = 0, used = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        cost[i] = lab_cell_cost(&m->cells[i]);
        pending[i] = !lab_cell_done(o->night, m->cells[i].id);
        npending += pending[i];
        t.done += !pending[i];
    }
    if (t.done && !o->quiet)
        fprintf(stderr, "lab %s: %d of %d cells already done (resume)\n", m->name, t.done, n);
    while ((npending || nw) && !lab_stop_requested) {
        int i;
        while (!lab_stop_requested && (i = lab_sched_pick(cost, pending, n, used, o->jobs)) >= 0) {
            pid_t pid = start_worker(m, o, i);
            if (pid < 0) {
                vqh_err_set(err, "cannot start the worker of cell %s: %m", m->cells[i].id);
                rc = 2;
                goto stop;
            }
            pending[i] = false;
            npending--;
            w[nw++] = (struct worker){pid, i, clock_now_ms()};
            used += cost[i];
            status_print(m, o, &t, w, nw, used, true);
        }
        for (int k = 0; k < nw; k++) {
            int status;
            if (!lab_proc_poll(w[k].pid, &status))
                continue;
            kill(-w[k].pid, SIGKILL);   /* nothing of a finished cell may linger */
            int v = collect_worker(m, o, w[k].cell, status);
            t.by[v]++;
            t.done++;
            used -= cost[w[k].cell];
            char took[64];
            snprintf(took, sizeof(took), "%s (%llds)", lab_verdict_name((enum lab_verdict)v),
                     (long long)(clock_now_ms() - w[k].started_ms) / 1000);
            status_event(o, "cell %s: %s", m->cells[w[k].cell].id, took);
            w[k--] = w[--nw];
        }
        status_print(m, o, &t, w, nw, used, false);
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
stop:
    if (lab_stop_requested || rc) {
        if (!o->quiet)
            fprintf(stderr, "\nlab %s: stopping %d running cell(s)...\n", m->name, nw);
        stop_all(w, nw);
        if (!rc)
            vqh_err_set(err, "interrupted: %d of %d cells done; go on with `vqhammer lab run --resume %s`", t.done, n,
                        o->night);
        rc = 2;
    } else if (!o->quiet && isatty(2)) {
        fputc('\n', stderr);
    }
    free(cost), free(pending), free(w);
    return rc;
}
