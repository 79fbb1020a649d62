/* lab_cell.c: one cell of a night: its attempts, reruns, verdict, failure class, known issue. */
#include "lab_night.h"
#include "lab_proc.h"

#include "opts.h"
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool lab_mkdirs(const char *path, int mode, struct vqh_err *err)
{
    char tmp[LAB_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, (mode_t)mode) && errno != EEXIST) {
                vqh_err_set(err, "cannot create %s: %s", tmp, strerror(errno));
                return false;
            }
            *p = c;
            if (!c)
                return true;
        }
    }
}

static bool json_fill(FILE *f, void *ctx)
{
    return !json_dumpf(ctx, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) && fputc('\n', f) != EOF;
}

bool lab_json_write(const char *path, json_t *doc, struct vqh_err *err)
{
    return report_write_atomic(path, json_fill, doc, err);
}

bool lab_cell_done(const char *night, const char *cell_id)
{
    char p[LAB_PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/cells/%s/cell.json", night, cell_id);
    return access(p, F_OK) == 0;
}

const char *lab_qemu_version(const char *qemu, const char *scratch_dir)
{
    static char cache_bin[8][LAB_PATH_MAX], cache_ver[8][32];
    static int ncache;
    for (int i = 0; i < ncache; i++)
        if (!strcmp(cache_bin[i], qemu))
            return cache_ver[i];
    char log[LAB_PATH_MAX + 32], ver[32] = "";
    snprintf(log, sizeof(log), "%s/qemu-version.%d.txt", scratch_dir, (int)getpid());
    unlink(log);
    char *argv[] = {(char *)qemu, "--version", NULL};
    pid_t pid = lab_proc_spawn(argv, log, true);
    bool to, intr;
    if (pid > 0 && lab_proc_exit_code(lab_proc_wait(pid, true, 20000, &to, &intr)) == 0) {
        FILE *f = fopen(log, "r");
        char line[256];
        if (f && fgets(line, sizeof(line), f)) {
            const char *v = strstr(line, "version ");
            if (v)
                sscanf(v + 8, "%31[0-9.]", ver);
        }
        if (f)
            fclose(f);
    }
    unlink(log);
    if (ncache < 8) {
        snprintf(cache_bin[ncache], LAB_PATH_MAX, "%s", qemu);
        snprintf(cache_ver[ncache], 32, "%s", ver);
        return cache_ver[ncache++];
    }
    return "";
}

static char *slurp(const char *path, size_t max)
{
    FILE *f = path && *path ? fopen(path, "rb") : NULL;
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/*
 * Unix socket paths hold at most 107 bytes and a night's directories are deep: vqhammer gets a
 * short symbolic link to the attempt's directory as its --workdir ($TMPDIR/vqhl-XXXXXX).
 */
static bool short_link(const char *dir, char *link, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(link, cap, "%s/vqhl-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    char abs[PATH_MAX];
    if (!realpath(dir, abs) || !mkdtemp(link) || rmdir(link))   /* a relative target would resolve in /tmp */
        return false;
    return symlink(abs, link) == 0;
}

/* A path the report names under the link, named again under the real directory. */
static void unlink_path(json_t *rep, const char *key, const char *link, const char *dir)
{
    const char *s = json_string_value(json_object_get(rep, key));
    size_t n = strlen(link);
    if (!s || strncmp(s, link, n) || (s[n] && s[n] != '/'))
        return;
    char *fixed = NULL;
    if (asprintf(&fixed, "%s%s", dir, s + n) > 0)
        json_object_set_new(rep, key, json_string(fixed));
    free(fixed);
}

/* The matrix's `disks` (lab_cellcmd.c): kept after a FAIL with vqhammer's run directory, as
 * evidence (`vqhammer verify-image`); dropped after a PASS, as vqhammer drops its scratch disk. */
static void drop_disks(const char *dir)
{
    for (int k = 0; k < OPTS_MAX_DISKS; k++) {
        char path[LAB_PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/disk%d.img", dir, k);
        unlink(path);
    }
}

/* One attempt: the vqhammer child, its report (or an ERROR record when it wrote none). */
static json_t *run_attempt(const struct lab_matrix *m, const struct lab_cell *c, const char *celldir, int k,
                           uint64_t seed, const struct lab_cell_plan *plan, bool *interrupted)
{
    char dir[LAB_PATH_MAX + 32], json[LAB_PATH_MAX + 64], log[LAB_PATH_MAX + 64], buf[16384];
    char *argv[160];
    snprintf(dir, sizeof(dir), "%s/attempt-%d", celldir, k);
    snprintf(json, sizeof(json), "%s/report.json", dir);
    snprintf(log, sizeof(log), "%s/output.log", dir);
    char seedtxt[32];
    snprintf(seedtxt, sizeof(seedtxt), "0x%llx", (unsigned long long)seed);
    json_t *a = json_pack("{s:i, s:s}", "attempt", k, "seed", seedtxt);
    struct vqh_err e = {0};
    char link[64] = "";
    if (lab_mkdirs(dir, 0755, &e) && !short_link(dir, link, sizeof(link)))
        vqh_err_set(&e, "cannot make a short link to %s in /tmp: %s", dir, strerror(errno));
    if (e.msg[0] || lab_cell_argv(m, c, plan->vqhammer, seed, link, json, buf, sizeof(buf), argv, 160) < 0) {
        if (link[0])
            unlink(link);
        json_object_set_new(a, "verdict", json_string("ERROR"));
        json_object_set_new(a, "reason", json_string(e.msg[0] ? e.msg : "the command line is too long"));
        return a;
    }
    unlink(json);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = lab_proc_spawn(argv, log, false);
    bool timed_out = false;
    int status = 0;
    if (pid > 0)
        status = lab_proc_wait(pid, false, (int64_t)m->cell_timeout_s * 1000, &timed_out, interrupted);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    unlink(link);
    int code = pid > 0 ? lab_proc_exit_code(status) : 127;
    json_object_set_new(a, "exit", json_integer(code));
    json_object_set_new(a, "seconds", json_real((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
    json_object_set_new(a, "log", json_string(log));
    json_error_t jerr;
    json_t *rep = timed_out || *interrupted ? NULL : json_load_file(json, 0, &jerr);
    const char *v = rep ? json_string_value(json_object_get(rep, "verdict")) : NULL;
    if (v && (!strcmp(v, "PASS") || !strcmp(v, "FAIL") || !strcmp(v, "ERROR"))) {
        json_object_set_new(a, "verdict", json_string(v));
        json_object_set(a, "reason", json_object_get(rep, "reason"));
        unlink_path(rep, "rundir", link, dir);
        unlink_path(rep, "evidence", link, dir);
        json_object_set_new(a, "report", rep);
        if (!strcmp(v, "PASS"))
            drop_disks(dir);
        return a;
    }
    json_decref(rep);
    char why[LAB_PATH_MAX + 128];
    if (timed_out)
        snprintf(why, sizeof(why), "the cell ran longer than cell_timeout (%d s) and was stopped: see %s",
                 m->cell_timeout_s, log);
    else
        snprintf(why, sizeof(why), "vqhammer exited with status %d and wrote no report: see %s", code, log);
    json_object_set_new(a, "verdict", json_string("ERROR"));
    json_object_set_new(a, "reason", json_string(why));
    return a;
}

static int vqh_verdict(json_t *a)
{
    const char *v = json_string_value(json_object_get(a, "verdict"));
    return v && !strcmp(v, "PASS") ? 0 : v && !strcmp(v, "FAIL") ? 1 : 2;
}

/* Everything the signatures read, from the representative (failing) attempt. */
static void finish_cell(json_t *cell, json_t *rep_attempt, const struct lab_cell_plan *plan, const char *v_src,
                        const char *v_dst)
{
    json_t *rep = json_object_get(rep_attempt, "report");
    int vv = vqh_verdict(rep_attempt);
    char text[8192];
    size_t off = (size_t)snprintf(text, sizeof(text), "%s", json_string_value(json_object_get(rep_attempt, "reason")) ?: "");
    bool after_hop = false;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(rep, "hops"), i, h) {
        after_hop |= vv == 1;
        const char *f = json_string_value(json_object_get(h, "failure"));
        if (f && off < sizeof(text))
            off += (size_t)snprintf(text + off, sizeof(text) - off, "\n%s", f);
    }
    const char *klass = lab_failure_class(text, vv);
    const char *evpath = json_string_value(json_object_get(rep, "evidence"));
    char *evidence = slurp(evpath, 1 << 20);
    struct lab_failure f = {klass, json_string_value(json_object_get(rep, "accel")), text, evidence ? evidence : "",
                            {v_src, v_dst}, after_hop};
    const struct lab_known_issue *ki = vv == 1 ? lab_known_match(plan->known, &f) : NULL;
    json_object_set_new(cell, "failure_class", json_string(klass));
    json_object_set_new(cell, "reason", json_string(text));
    json_object_set_new(cell, "known_issue", ki ? json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", ki->id, "title",
                                                            ki->title, "fixed_in", ki->fixed_in, "upstream_fix",
                                                            ki->upstream_fix, "url", ki->url)
                                                : json_null());
    json_object_set(cell, "reproducer", json_object_get(rep, "reproducer") ?: json_string(""));
    json_object_set(cell, "evidence", json_object_get(rep, "evidence") ?: json_string(""));
    if (evidence && strlen(evidence) > 16384)
        evidence[16384] = '\0';   /* the page shows the head; the file keeps the rest */
    json_object_set_new(cell, "evidence_text", json_string(evidence ? evidence : ""));
    if (!json_object_get(cell, "evidence_text"))
        json_object_set_new(cell, "evidence_text", json_string("(evidence is not UTF-8: see the file)"));
    free(evidence);
}

int lab_cell_run(const struct lab_matrix *m, int idx, const char *night, const struct lab_cell_plan *plan,
                 struct vqh_err *err)
{
    const struct lab_cell *c = &m->cells[idx];
    const struct lab_build *b = &m->builds[c->build];
    char celldir[LAB_PATH_MAX + LAB_ID_MAX + 16];
    snprintf(celldir, sizeof(celldir), "%s/cells/%s", night, c->id);
    if (!lab_mkdirs(celldir, 0755, err))
        return -1;
    const char *v_src = lab_qemu_version(b->qemu, celldir);
    const char *v_dst = lab_qemu_version(b->qemu_dst[0] ? b->qemu_dst : b->qemu, celldir);
    json_t *attempts = json_array();
    int codes[64], n = 0;
    bool intr = false;
    /* Seeded repeats first (--repeat), then, if one failed, the same seed again and fresh seeds. */
    int repeat = plan->repeat < 1 ? 1 : plan->repeat > 16 ? 16 : plan->repeat;
    uint64_t fail_seed = 0;
    for (int r = 0; r < repeat && !intr; r++) {
        uint64_t s = r ? lab_seed_derive(c->seed, 100u + (unsigned)r) : c->seed;
        json_t *a = run_attempt(m, c, celldir, n, s, plan, &intr);
        json_object_set_new(a, "why", json_string(r ? "repeat" : "first"));
        codes[n++] = vqh_verdict(a);
        if (codes[n - 1] == 1 && !fail_seed)
            fail_seed = s;
        json_array_append_new(attempts, a);
    }
    for (int r = 0; fail_seed && r < m->rerun_same + m->rerun_fresh && !intr && n < 64; r++) {
        bool same = r < m->rerun_same;
        uint64_t s = same ? fail_seed : lab_seed_derive(c->seed, (unsigned)(r - m->rerun_same + 1));
        json_t *a = run_attempt(m, c, celldir, n, s, plan, &intr);
        json_object_set_new(a, "why", json_string(same ? "rerun, same seed" : "rerun, fresh seed"));
        codes[n++] = vqh_verdict(a);
        json_array_append_new(attempts, a);
    }
    if (intr || lab_stop_requested) {
        json_decref(attempts);
        vqh_err_set(err, "cell %s interrupted: it runs again with --resume", c->id);
        return -1;
    }
    double rate;
    enum lab_verdict v = lab_verdict_of(codes, n, &rate);
    json_t *axes = json_object();
    for (int a = 0; a < LAB_NAXES; a++)
        json_object_set_new(axes, lab_axis_name((enum lab_axis)a), json_string(c->axis[a]));
    char seedtxt[32], nseed[32];
    snprintf(seedtxt, sizeof(seedtxt), "0x%llx", (unsigned long long)c->seed);
    snprintf(nseed, sizeof(nseed), "0x%llx", (unsigned long long)m->seed);
    json_t *cell = json_pack("{s:s, s:i, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:i, s:s, s:f, s:i}",
                             "id", c->id, "index", idx, "matrix", m->name, "night_seed", nseed, "axes", axes,
                             "build", b->name, "qemu", b->qemu, "qemu_dst", b->qemu_dst[0] ? b->qemu_dst : b->qemu,
                             "seed", seedtxt, "cost", lab_cell_cost(c), "verdict", lab_verdict_name(v),
                             "fail_rate", rate, "attempts_run", n);
    /* The attempt the cell is shown by: the first failure, else the first error, else the first. */
    int fails = 0, rep_i = -1, err_i = -1;
    for (int i = 0; i < n; i++) {
        fails += codes[i] == 1;
        if (codes[i] == 1 && rep_i < 0)
            rep_i = i;
        if (codes[i] == 2 && err_i < 0)
            err_i = i;
    }
    rep_i = rep_i >= 0 ? rep_i : err_i >= 0 ? err_i : 0;
    json_object_set_new(cell, "failures", json_integer(fails));
    json_object_set_new(cell, "qemu_version", json_string(v_src));
    json_object_set_new(cell, "qemu_dst_version", json_string(v_dst));
    json_object_set_new(cell, "representative", json_integer(rep_i));
    finish_cell(cell, json_array_get(attempts, (size_t)rep_i), plan, v_src, v_dst);
    json_object_set_new(cell, "attempts", attempts);
    char path[sizeof(celldir) + 16];
    snprintf(path, sizeof(path), "%s/cell.json", celldir);
    bool ok = cell && lab_json_write(path, cell, err);
    json_decref(cell);
    return ok ? (int)v : -1;
}
