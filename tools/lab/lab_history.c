/* lab_history.c: a night against the previous ones: trends from the database, drift, the report. */
#include "lab_report.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

bool lab_drift(const double *prev, int n, double now, double *mean, double *spread)
{
    double sum = 0, sq = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(prev[i])) {
            sum += prev[i];
            k++;
        }
    *mean = k ? sum / k : NAN;
    *spread = NAN;
    if (k < 3 || isnan(now))
        return false;
    for (int i = 0; i < n; i++)
        if (!isnan(prev[i]))
            sq += (prev[i] - *mean) * (prev[i] - *mean);
    double sd = sqrt(sq / (k - 1));
    *spread = fmax(3 * sd, 0.10 * fabs(*mean));
    return fabs(now - *mean) > *spread;
}

static json_t *col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_real(sqlite3_column_double(st, i));
}

json_t *lab_db_trends(const char *path, const char *matrix, const char *night_dir, int max_nights, struct vqh_err *err)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        vqh_err_set(err, "results database %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st = NULL;
    json_t *nights = json_array(), *cells = json_object();
    if (sqlite3_prepare_v2(db, "SELECT id, started, dir FROM nights WHERE name = ? ORDER BY started, id", -1, &st, NULL))
        goto sqlfail;
    sqlite3_bind_text(st, 1, matrix, -1, SQLITE_STATIC);
    int upto = -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *dir = (const char *)sqlite3_column_text(st, 2);
        json_array_append_new(nights, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0), "started",
                                                (const char *)sqlite3_column_text(st, 1) ?: "", "dir", dir ?: ""));
        if (night_dir && dir && !strcmp(dir, night_dir))
            upto = (int)json_array_size(nights) - 1;
    }
    sqlite3_finalize(st);
    if (night_dir && upto < 0) {
        vqh_err_set(err, "results database %s has no night stored from %s", path, night_dir);
        goto fail;
    }
    if (!json_array_size(nights)) {
        vqh_err_set(err, "results database %s has no night of matrix '%s'", path, matrix);
        goto fail;
    }
    if (upto < 0)
        upto = (int)json_array_size(nights) - 1;
    while ((int)json_array_size(nights) > upto + 1)
        json_array_remove(nights, json_array_size(nights) - 1);
    while ((int)json_array_size(nights) > max_nights)
        json_array_remove(nights, 0);
    size_t nn = json_array_size(nights);
    if (sqlite3_prepare_v2(db, "SELECT c.cell, c.verdict, "
                           "(SELECT value FROM figures WHERE cell = c.id AND name = 'ops_per_s'),"
                           "(SELECT value FROM figures WHERE cell = c.id AND name = 'downtime_avg_ms'),"
                           "(SELECT value FROM figures WHERE cell = c.id AND name = 'total_avg_ms'),"
                           "c.failure_class, c.known_issue FROM cells c WHERE c.night = ?", -1, &st, NULL))
        goto sqlfail;
    for (size_t k = 0; k < nn; k++) {
        sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(json_array_get(nights, k), "id")));
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(st, 0);
            json_t *row = json_object_get(cells, id);
            if (!row) {
                row = json_array();
                for (size_t j = 0; j < nn; j++)
                    json_array_append_new(row, json_null());
                json_object_set_new(cells, id, row);
            }
            json_array_set_new(row, k, json_pack("{s:I, s:s, s:o, s:o, s:o, s:s, s:s}", "night",
                               json_integer_value(json_object_get(json_array_get(nights, k), "id")), "verdict",
                               (const char *)sqlite3_column_text(st, 1), "ops_per_s", col_real(st, 2),
                               "downtime_avg_ms", col_real(st, 3), "total_avg_ms", col_real(st, 4), "failure_class",
                               (const char *)sqlite3_column_text(st, 5) ?: "", "known_issue",
                               (const char *)sqlite3_column_text(st, 6) ?: ""));
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return json_pack("{s:s, s:o, s:o}", "matrix", matrix, "nights", nights, "cells", cells);
sqlfail:
    vqh_err_set(err, "results database %s: %s", path, sqlite3_errmsg(db));
fail:
    json_decref(nights);
    json_decref(cells);
    sqlite3_close(db);
    return NULL;
}

static bool is_bad(json_t *e)
{
    const char *v = json_string_value(json_object_get(e, "verdict"));
    return v && (!strcmp(v, "fail") || !strcmp(v, "flaky"));
}

static bool is_pass(json_t *e)
{
    const char *v = json_string_value(json_object_get(e, "verdict"));
    return v && !strcmp(v, "pass");
}

int lab_history_print(FILE *f, json_t *trends, int *new_failures)
{
    json_t *nights = json_object_get(trends, "nights"), *cells = json_object_get(trends, "cells");
    size_t nn = json_array_size(nights), last = nn - 1;
    static const char *const figs[] = {"ops_per_s", "downtime_avg_ms", "total_avg_ms"};
    int counts[4] = {0};
    static const char *const titles[] = {"new failures", "fixed", "still failing", "drifted figures"};
    fprintf(f, "lab history of '%s': night %s (%s) against %zu earlier night(s)\n",
            json_string_value(json_object_get(trends, "matrix")),
            json_string_value(json_object_get(json_array_get(nights, last), "started")),
            json_string_value(json_object_get(json_array_get(nights, last), "dir")), last);
    for (int sec = 0; sec < 4; sec++) {
        fprintf(f, "%s:\n", titles[sec]);
        const char *id;
        json_t *row;
        json_object_foreach(cells, id, row) {
            json_t *now = json_array_get(row, last), *prev = json_null();
            for (size_t k = last; k-- > 0;)
                if (!json_is_null(json_array_get(row, k))) {
                    prev = json_array_get(row, k);
                    break;
                }
            if (json_is_null(now))
                continue;
            const char *known = json_string_value(json_object_get(now, "known_issue"));
            const char *v = json_string_value(json_object_get(now, "verdict"));
            const char *cls = json_string_value(json_object_get(now, "failure_class"));
            if (sec == 0 && is_bad(now) && !is_bad(prev)) {
                fprintf(f, "  %s: %s (%s)%s%s%s\n", id, v, cls, known && *known ? " known issue " : "",
                        known && *known ? known : "", json_is_null(prev) ? ", first night of this cell" : "");
                counts[0]++;
            } else if (sec == 1 && is_bad(prev) && is_pass(now)) {
                fprintf(f, "  %s: pass (was %s)\n", id, json_string_value(json_object_get(prev, "verdict")));
                counts[1]++;
            } else if (sec == 2 && is_bad(prev) && is_bad(now)) {
                fprintf(f, "  %s: %s (%s)%s%s\n", id, v, cls, known && *known ? " known issue " : "", known ? known : "");
                counts[2]++;
            } else if (sec == 3 && is_pass(now)) {
                for (int g = 0; g < 3; g++) {
                    double hist[64];
                    int n = 0;
                    for (size_t k = 0; k < last && n < 64; k++) {
                        json_t *e = json_array_get(row, k), *x = json_object_get(e, figs[g]);
                        if (is_pass(e) && json_is_number(x))
                            hist[n++] = json_number_value(x);
                    }
                    json_t *x = json_object_get(now, figs[g]);
                    double mean, spread, val = json_is_number(x) ? json_number_value(x) : NAN;
                    if (lab_drift(hist, n, val, &mean, &spread)) {
                        fprintf(f, "  %s: %s %.1f, usually %.1f +- %.1f over %d night(s)\n", id, figs[g], val, mean,
                                spread, n);
                        counts[3]++;
                    }
                }
            }
        }
        if (!counts[sec])
            fprintf(f, "  none\n");
    }
    if (new_failures)
        *new_failures = counts[0];
    return counts[0] ? 1 : 0;
}
