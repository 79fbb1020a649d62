/* bench_hops.c: `make run`'s hops per hour (see bench_hops.h). */
#include "bench_hops.h"
#include "proc.h"
#include "rundir.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HOPS_TIMEOUT_MS (20 * 60 * 1000) /* 20 hops take about a minute on 2 TCG cores */

static bool bench_hops_read(struct bench_hops *h, const char *path, const char *log, struct vqh_err *err)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        vqh_err_set(err, "cannot read the migrate run's --json %s: %s (its output: %s)", path, je.text, log);
        return false;
    }
    const char *verdict = json_string_value(json_object_get(doc, "verdict"));
    json_t *hops = json_object_get(doc, "hops");
    size_t n = json_array_size(hops);
    bool ok = verdict && !strcmp(verdict, "PASS") && n == (size_t)h->hops;
    if (!ok) {
        vqh_err_set(err, "the %s migrate run ended %s with %zu of %d hops: %s (its output: %s)", h->boot,
                    verdict ? verdict : "without a verdict", n, h->hops,
                    json_string_value(json_object_get(doc, "reason")) ?: "?", log);
    } else {
        h->duration_s = json_real_value(json_object_get(doc, "duration_s"));
        h->first_hop_s = json_number_value(json_object_get(json_array_get(hops, 0), "start_s"));
        double last = json_number_value(json_object_get(json_array_get(hops, n - 1), "start_s"));
        h->per_hop_s = n > 1 ? (last - h->first_hop_s) / (double)(n - 1) : 0;
        snprintf(h->accel, sizeof(h->accel), "%s", json_string_value(json_object_get(doc, "accel")) ?: "?");
        h->hops_per_hour = h->duration_s > 0 ? (double)n * 3600.0 / h->duration_s : 0;
    }
    json_decref(doc);
    return ok;
}

bool bench_hops_run(struct bench_hops *h, const char *accel, const char *workdir, struct vqh_err *err)
{
    char exe[PATH_MAX], hops[16], json[PATH_MAX], log[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        vqh_err_set(err, "cannot find our own executable (/proc/self/exe) to run `migrate`");
        return false;
    }
    exe[n] = 0;
    struct rundir *rd = rundir_create(workdir && workdir[0] ? workdir : NULL, err);
    if (!rd)
        return false;
    snprintf(hops, sizeof(hops), "%d", h->hops);
    snprintf(json, sizeof(json), "%s", rundir_path(rd, "migrate.json"));
    snprintf(log, sizeof(log), "%s", rundir_path(rd, "migrate.log"));
    const char *argv[16] = { exe, "migrate", "--migrations", hops, "--boot", h->boot, "--quiet", "--json", json,
                             "--accel", accel };
    int argc = 11;
    if (workdir && workdir[0]) {
        argv[argc++] = "--workdir";
        argv[argc++] = workdir;
    }
    argv[argc] = NULL;
    proc_set_child_dir(rundir_base(rd)); /* the sessions before us left theirs (now removed) */
    struct proc *p = proc_spawn(argv, "migrate", log, log, err);
    bool ok = false;
    if (p && !proc_wait(p, HOPS_TIMEOUT_MS)) {
        vqh_err_set(err, "the %s migrate run did not end within %d s (its output: %s)", h->boot,
                    HOPS_TIMEOUT_MS / 1000, log);
    } else if (p) {
        ok = bench_hops_read(h, json, log, err);
    }
    proc_free(p);
    proc_set_child_dir(NULL);
    if (ok)
        rundir_remove(rd, err); /* kept after a failure: its log names the migrate run's own directory */
    rundir_free(rd);
    return ok;
}
