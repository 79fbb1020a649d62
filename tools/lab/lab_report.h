/*
 * lab_report.h: a night as one JSON document (lab_night_collect), and what is made of it: the
 * SQLite database, the history comparison, JUnit, TAP, JSON and the offline HTML page.
 *
 * The night document: {"lab": {version}, "night": {night.json + "dir"}, "cells": [cell.json...],
 * "summary": {cells, pass, flaky, fail, error, known, expected}}. A cell.json: {id, index, matrix,
 * axes{...}, build, qemu, qemu_dst, qemu_version, qemu_dst_version, seed, cost, verdict, fail_rate,
 * failures, attempts_run, representative, failure_class, reason, known_issue{id,title,fixed_in,
 * upstream_fix,url}|null, reproducer, evidence, evidence_text, attempts: [{attempt, seed, why,
 * verdict, reason, exit, seconds, log, report: vqhammer's --json document}]}.
 */
#ifndef VQH_LAB_REPORT_H
#define VQH_LAB_REPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

json_t *lab_night_collect(const char *dir, struct vqh_err *err);
/* The night's exit status: 1 when a cell failed or is flaky, else 2 when one is an error, else 0. */
int lab_night_status(json_t *night);

bool lab_report_junit(const char *path, json_t *night, struct vqh_err *err);
bool lab_report_tap(const char *path, json_t *night, struct vqh_err *err);
bool lab_report_json(const char *path, json_t *night, struct vqh_err *err);
/* trends: lab_db_trends() or NULL; chartjs: the Chart.js file to inline. */
bool lab_report_html(const char *path, json_t *night, json_t *trends, const char *chartjs, struct vqh_err *err);

/* The figures a cell's representative attempt gives (NAN when it has none). */
struct lab_figures {
    double ops_per_s, downtime_avg_ms, total_avg_ms, migrations_per_minute;
};
void lab_cell_figures(json_t *cell, struct lab_figures *f);

/* Store the night (replacing an earlier store of the same directory). */
bool lab_db_store(const char *db, json_t *night, struct vqh_err *err);
/*
 * Trends of the last max_nights nights of this matrix (oldest first), up to and including the
 * night stored from night_dir (NULL: the latest): {"nights": [{id, started, dir}], "cells":
 * {ID: [{night, verdict, ops_per_s, downtime_avg_ms, total_avg_ms}|null per night]}}.
 */
json_t *lab_db_trends(const char *db, const char *matrix, const char *night_dir, int max_nights, struct vqh_err *err);

/*
 * A figure drifted when it lies outside the previous nights' mean +- max(3 standard deviations,
 * 10% of the mean); at least 3 previous values are needed to know a spread.
 */
bool lab_drift(const double *prev, int n, double now, double *mean, double *spread);

/* The history report (`lab history`): new failures, fixed, still failing, drifted figures. */
int lab_history_print(FILE *f, json_t *trends, int *new_failures);

#endif
