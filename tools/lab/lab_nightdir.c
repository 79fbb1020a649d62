/* lab_nightdir.c: a night's directory: night.json, the matrix copy, and gathering the cells. */
#include "lab_night.h"
#include "lab_report.h"

#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool copy_file(const char *from, const char *to, struct vqh_err *err)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[8192];
    size_t n;
    bool ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out && fclose(out))
        ok = false;
    if (!ok)
        vqh_err_set(err, "cannot copy %s to %s: %s", from, to, strerror(errno));
    return ok;
}

bool lab_night_prepare(const char *dir, const struct lab_matrix *m, struct vqh_err *err)
{
    char p[LAB_PATH_MAX + 32];
    if (!lab_mkdirs(dir, 0755, err))
        return false;
    snprintf(p, sizeof(p), "%s/cells", dir);
    if (!lab_mkdirs(p, 0755, err))
        return false;
    snprintf(p, sizeof(p), "%s/night.json", dir);
    if (access(p, F_OK) == 0)
        return true;
    char started[32], host[256] = "", seed[32], abs[PATH_MAX];
    time_t now = time(NULL);
    strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    gethostname(host, sizeof(host) - 1);
    snprintf(seed, sizeof(seed), "0x%llx", (unsigned long long)m->seed);
    if (!realpath(m->path, abs))
        snprintf(abs, sizeof(abs), "%s", m->path);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "name", m->name, "seed", seed, "started", started,
                            "host", host, "matrix", abs, "vqhammer", report_build_id(), "cells", m->ncells);
    bool ok = doc && lab_json_write(p, doc, err);
    json_decref(doc);
    snprintf(p, sizeof(p), "%s/matrix.yaml", dir);
    return ok && copy_file(m->path, p, err);
}

json_t *lab_night_info(const char *dir, struct vqh_err *err)
{
    char p[LAB_PATH_MAX + 32];
    json_error_t je;
    snprintf(p, sizeof(p), "%s/night.json", dir);
    json_t *doc = json_load_file(p, 0, &je);
    if (!doc || !json_is_string(json_object_get(doc, "name")) || !json_is_string(json_object_get(doc, "seed"))) {
        vqh_err_set(err, "%s is not a night's directory: %s%s", dir, p, doc ? " lacks name or seed" : ": cannot read it");
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static int by_index(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "index"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "index"));
    return x < y ? -1 : x > y;
}

json_t *lab_night_collect(const char *dir, struct vqh_err *err)
{
    json_t *info = lab_night_info(dir, err);
    if (!info)
        return NULL;
    char p[LAB_PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/cells", dir);
    DIR *d = opendir(p);
    if (!d) {
        vqh_err_set(err, "cannot read %s: %s", p, strerror(errno));
        json_decref(info);
        return NULL;
    }
    json_t **cells = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char cp[LAB_PATH_MAX * 2];
        snprintf(cp, sizeof(cp), "%s/%s/cell.json", p, e->d_name);
        json_t *c = json_load_file(cp, 0, NULL);
        if (!c)
            continue;   /* not run yet, or interrupted: not part of the night's results */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            json_t **nc = realloc(cells, cap * sizeof(*cells));
            if (!nc) {
                json_decref(c);
                break;
            }
            cells = nc;
        }
        cells[n++] = c;
    }
    closedir(d);
    qsort(cells, n, sizeof(*cells), by_index);
    json_t *arr = json_array();
    int by[4] = {0}, known = 0;
    for (size_t i = 0; i < n; i++) {
        enum lab_verdict v = LAB_ERROR;
        lab_verdict_parse(json_string_value(json_object_get(cells[i], "verdict")), &v);
        by[v]++;
        known += json_is_object(json_object_get(cells[i], "known_issue"));
        json_array_append_new(arr, cells[i]);
    }
    free(cells);
    char abs[PATH_MAX];
    json_object_set_new(info, "dir", json_string(realpath(dir, abs) ? abs : dir));
    json_t *doc = json_pack("{s:{s:s}, s:o, s:o, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}}", "lab", "version",
                            report_build_id(), "night", info, "cells", arr, "summary", "cells", (int)n, "pass",
                            by[LAB_PASS], "flaky", by[LAB_FLAKY], "fail", by[LAB_FAIL], "error", by[LAB_ERROR],
                            "known", known, "expected", (int)json_integer_value(json_object_get(info, "cells")));
    if (!doc)
        vqh_err_set(err, "out of memory gathering %s", dir);
    return doc;
}
