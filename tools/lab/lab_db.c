/*
 * lab_db.c: the results database, one SQLite file: every night, cell, attempt, hop and figure.
 * Tables: nights(id, name, started, seed, host, dir UNIQUE, vqhammer); cells(id, night, cell,
 * build, verdict, fail_rate, attempts, failures, seed, failure_class, reason, known_issue,
 * reproducer, evidence, qemu_version, qemu_dst_version); hops(cell, attempt, seed, idx, kind, ok,
 * status, start_s, total_ms, downtime_ms, setup_ms, transferred, ops, queue_ops, failure);
 * figures(cell, name, value).
 */
#include "lab_report.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS nights(id INTEGER PRIMARY KEY, name TEXT NOT NULL, started TEXT, seed TEXT,"
    " host TEXT, dir TEXT UNIQUE, vqhammer TEXT);"
    "CREATE TABLE IF NOT EXISTS cells(id INTEGER PRIMARY KEY, night INTEGER NOT NULL REFERENCES nights(id)"
    " ON DELETE CASCADE, cell TEXT NOT NULL, build TEXT, verdict TEXT NOT NULL, fail_rate REAL, attempts INTEGER,"
    " failures INTEGER, seed TEXT, failure_class TEXT, reason TEXT, known_issue TEXT, reproducer TEXT,"
    " evidence TEXT, qemu_version TEXT, qemu_dst_version TEXT, UNIQUE(night, cell));"
    "CREATE TABLE IF NOT EXISTS hops(cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,"
    " attempt INTEGER, seed TEXT, idx INTEGER, kind TEXT, ok INTEGER, status TEXT, start_s REAL,"
    " total_ms INTEGER, downtime_ms INTEGER, setup_ms INTEGER, transferred INTEGER, ops INTEGER,"
    " queue_ops TEXT, failure TEXT);"
    "CREATE TABLE IF NOT EXISTS figures(cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, value REAL, PRIMARY KEY(cell, name));";

void lab_cell_figures(json_t *cell, struct lab_figures *f)
{
    json_t *a = json_array_get(json_object_get(cell, "attempts"), (size_t)json_integer_value(json_object_get(cell, "representative")));
    json_t *r = json_object_get(a, "report"), *s = json_object_get(r, "summary");
    double dur = json_number_value(json_object_get(r, "duration_s"));
    f->ops_per_s = dur > 0 ? (double)json_integer_value(json_object_get(r, "total_ops")) / dur : NAN;
    json_t *dt = json_object_get(json_object_get(s, "downtime_ms"), "avg");
    json_t *tt = json_object_get(json_object_get(s, "total_ms"), "avg");
    f->downtime_avg_ms = json_is_number(dt) ? json_number_value(dt) : NAN;
    f->total_avg_ms = json_is_number(tt) ? json_number_value(tt) : NAN;
    json_t *mpm = json_object_get(r, "migrations_per_minute");
    f->migrations_per_minute = json_is_number(mpm) && json_number_value(mpm) > 0 ? json_number_value(mpm) : NAN;
}

static bool db_fail(sqlite3 *db, const char *path, struct vqh_err *err)
{
    vqh_err_set(err, "results database %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
    return false;
}

static void bind_text(sqlite3_stmt *st, int i, json_t *v)
{
    const char *s = json_string_value(v);
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static bool store_hops(sqlite3 *db, sqlite3_int64 cell_id, json_t *cell)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO hops VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL))
        return false;
    bool ok = true;
    size_t i, j;
    json_t *a, *h;
    json_array_foreach(json_object_get(cell, "attempts"), i, a) {
        json_array_foreach(json_object_get(json_object_get(a, "report"), "hops"), j, h) {
            char *qo = json_dumps(json_object_get(h, "queue_ops"), JSON_COMPACT);
            sqlite3_bind_int64(st, 1, cell_id);
            sqlite3_bind_int64(st, 2, json_integer_value(json_object_get(a, "attempt")));
            bind_text(st, 3, json_object_get(a, "seed"));
            sqlite3_bind_int64(st, 4, json_integer_value(json_object_get(h, "index")));
            bind_text(st, 5, json_object_get(h, "kind"));
            sqlite3_bind_int(st, 6, json_is_true(json_object_get(h, "ok")));
            bind_text(st, 7, json_object_get(h, "status"));
            sqlite3_bind_double(st, 8, json_number_value(json_object_get(h, "start_s")));
            sqlite3_bind_int64(st, 9, json_integer_value(json_object_get(h, "total_ms")));
            sqlite3_bind_int64(st, 10, json_integer_value(json_object_get(h, "downtime_ms")));
            sqlite3_bind_int64(st, 11, json_integer_value(json_object_get(h, "setup_ms")));
            sqlite3_bind_int64(st, 12, json_integer_value(json_object_get(h, "transferred")));
            sqlite3_bind_int64(st, 13, json_integer_value(json_object_get(h, "ops")));
            sqlite3_bind_text(st, 14, qo ? qo : "[]", -1, SQLITE_TRANSIENT);
            bind_text(st, 15, json_object_get(h, "failure"));
            ok &= sqlite3_step(st) == SQLITE_DONE;
            sqlite3_reset(st);
            free(qo);
        }
    }
    sqlite3_finalize(st);
    return ok;
}

static bool store_cell(sqlite3 *db, sqlite3_int64 night_id, json_t *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO cells(night, cell, build, verdict, fail_rate, attempts, failures, seed,"
                           " failure_class, reason, known_issue, reproducer, evidence, qemu_version, qemu_dst_version)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL))
        return false;
    sqlite3_bind_int64(st, 1, night_id);
    bind_text(st, 2, json_object_get(c, "id"));
    bind_text(st, 3, json_object_get(c, "build"));
    bind_text(st, 4, json_object_get(c, "verdict"));
    sqlite3_bind_double(st, 5, json_number_value(json_object_get(c, "fail_rate")));
    sqlite3_bind_int64(st, 6, json_integer_value(json_object_get(c, "attempts_run")));
    sqlite3_bind_int64(st, 7, json_integer_value(json_object_get(c, "failures")));
    bind_text(st, 8, json_object_get(c, "seed"));
    bind_text(st, 9, json_object_get(c, "failure_class"));
    bind_text(st, 10, json_object_get(c, "reason"));
    bind_text(st, 11, json_object_get(json_object_get(c, "known_issue"), "id"));
    bind_text(st, 12, json_object_get(c, "reproducer"));
    bind_text(st, 13, json_object_get(c, "evidence"));
    bind_text(st, 14, json_object_get(c, "qemu_version"));
    bind_text(st, 15, json_object_get(c, "qemu_dst_version"));
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    sqlite3_int64 cell_id = sqlite3_last_insert_rowid(db);
    struct lab_figures f;
    lab_cell_figures(c, &f);
    const struct {
        const char *name;
        double v;
    } figs[] = {{"ops_per_s", f.ops_per_s}, {"downtime_avg_ms", f.downtime_avg_ms}, {"total_avg_ms", f.total_avg_ms},
                {"migrations_per_minute", f.migrations_per_minute}};
    if (ok && !sqlite3_prepare_v2(db, "INSERT INTO figures VALUES(?,?,?)", -1, &st, NULL)) {
        for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++) {
            if (isnan(figs[i].v))
                continue;
            sqlite3_bind_int64(st, 1, cell_id);
            sqlite3_bind_text(st, 2, figs[i].name, -1, SQLITE_STATIC);
            sqlite3_bind_double(st, 3, figs[i].v);
            ok &= sqlite3_step(st) == SQLITE_DONE;
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
    }
    return ok && store_hops(db, cell_id, c);
}

bool lab_db_store(const char *path, json_t *night, struct vqh_err *err)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        db_fail(db, path, err);
        sqlite3_close(db);
        return false;
    }
    sqlite3_busy_timeout(db, 10000);   /* a `lab history` reading at the same time */
    json_t *n = json_object_get(night, "night");
    sqlite3_stmt *st = NULL;
    bool ok = !sqlite3_exec(db, schema, NULL, NULL, NULL) && !sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    ok = ok && !sqlite3_prepare_v2(db, "DELETE FROM nights WHERE dir = ?", -1, &st, NULL);
    if (ok) {
        bind_text(st, 1, json_object_get(n, "dir"));
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
    }
    ok = ok && !sqlite3_prepare_v2(db, "INSERT INTO nights(name, started, seed, host, dir, vqhammer) VALUES(?,?,?,?,?,?)",
                                   -1, &st, NULL);
    if (ok) {
        const char *keys[] = {"name", "started", "seed", "host", "dir", "vqhammer"};
        for (int i = 0; i < 6; i++)
            bind_text(st, i + 1, json_object_get(n, keys[i]));
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
    }
    sqlite3_int64 night_id = sqlite3_last_insert_rowid(db);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(night, "cells"), i, c) {
        if (ok)
            ok = store_cell(db, night_id, c);
    }
    if (ok)
        ok = !sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (!ok) {
        db_fail(db, path, err);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return ok;
}
