/* cmd_lab_report.c: `vqhammer lab collect` and `lab history`, and the reports after `lab run`. */
#include "cmd_lab.h"
#include "lab.h"
#include "lab_night.h"
#include "lab_report.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lab_cmd_default_db(const char *night, char *out, size_t cap)
{
    char tmp[LAB_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", night);
    snprintf(out, cap, "%s/lab.sqlite", dirname(tmp));
}

/* Database, trends and the four reports of a night; returns the night's status (0/1/2). */
int lab_cmd_collect_night(const char *night_dir, const char *db_arg, const char *chartjs, bool quiet, struct vqh_err *err)
{
    char db[LAB_PATH_MAX + 16], p[LAB_PATH_MAX + 32], abs[PATH_MAX];
    if (db_arg)
        snprintf(db, sizeof(db), "%s", db_arg);
    else
        lab_cmd_default_db(night_dir, db, sizeof(db));
    json_t *night = lab_night_collect(night_dir, err);
    if (!night)
        return -1;
    int rc = -1;
    if (!lab_db_store(db, night, err))
        goto out;
    const char *name = json_string_value(json_object_get(json_object_get(night, "night"), "name"));
    json_t *trends = lab_db_trends(db, name, realpath(night_dir, abs) ? abs : night_dir, 30, err);
    if (!trends)
        goto out;
    bool ok = true;
    snprintf(p, sizeof(p), "%s/junit.xml", night_dir);
    ok = ok && lab_report_junit(p, night, err);
    snprintf(p, sizeof(p), "%s/results.tap", night_dir);
    ok = ok && lab_report_tap(p, night, err);
    snprintf(p, sizeof(p), "%s/report.json", night_dir);
    ok = ok && lab_report_json(p, night, err);
    snprintf(p, sizeof(p), "%s/report.html", night_dir);
    ok = ok && lab_report_html(p, night, trends, chartjs, err);
    if (ok) {
        json_t *s = json_object_get(night, "summary");
        if (!quiet) {
            printf("lab %s: %lld cells: pass %lld, flaky %lld, fail %lld (known issues %lld), error %lld\n", name,
                   (long long)json_integer_value(json_object_get(s, "cells")), (long long)json_integer_value(json_object_get(s, "pass")),
                   (long long)json_integer_value(json_object_get(s, "flaky")), (long long)json_integer_value(json_object_get(s, "fail")),
                   (long long)json_integer_value(json_object_get(s, "known")), (long long)json_integer_value(json_object_get(s, "error")));
            size_t i;
            json_t *c;
            json_array_foreach(json_object_get(night, "cells"), i, c) {
                const char *v = json_string_value(json_object_get(c, "verdict"));
                if (v && strcmp(v, "pass"))
                    printf("  %-5s %s: %s%s\n", v, json_string_value(json_object_get(c, "id")),
                           json_string_value(json_object_get(c, "reason")) ?: "",
                           json_is_object(json_object_get(c, "known_issue")) ? " [known issue]" : "");
            }
            lab_history_print(stdout, trends, NULL);
            printf("reports: %s/{report.html,report.json,results.tap,junit.xml}\ndatabase: %s\n", night_dir, db);
        }
        rc = lab_night_status(night);
    }
    json_decref(trends);
out:
    json_decref(night);
    return rc;
}

int lab_cmd_collect(struct lab_args *a)
{
    struct vqh_err err = {0};
    const char *night = a->matrix ? a->matrix : a->night;
    if (!night)
        return lab_cmd_fail("lab collect: which night directory?", false);
    int rc = lab_cmd_collect_night(night, a->db, a->chartjs, a->quiet, &err);
    if (rc < 0)
        return lab_cmd_fail(err.msg, false);
    return rc;
}

int lab_cmd_history(struct lab_args *a)
{
    struct vqh_err err = {0};
    char db[LAB_PATH_MAX + 16], abs[PATH_MAX], name[LAB_NAME_MAX] = "";
    const char *night = a->night ? (realpath(a->night, abs) ? abs : a->night) : NULL;
    if (a->db)
        snprintf(db, sizeof(db), "%s", a->db);
    else if (a->night)
        lab_cmd_default_db(a->night, db, sizeof(db));
    else
        snprintf(db, sizeof(db), "lab-results/lab.sqlite");
    if (a->matrix) {
        snprintf(name, sizeof(name), "%s", a->matrix);
    } else if (a->night) {
        json_t *info = lab_night_info(a->night, &err);
        if (!info)
            return lab_cmd_fail(err.msg, false);
        snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(info, "name")));
        json_decref(info);
    } else {
        return lab_cmd_fail("lab history: name the matrix (--matrix NAME) or the night (--night DIR)", false);
    }
    json_t *trends = lab_db_trends(db, name, night, a->nights, &err);
    if (!trends)
        return lab_cmd_fail(err.msg, false);
    int rc = lab_history_print(stdout, trends, NULL);
    json_decref(trends);
    return rc;
}
