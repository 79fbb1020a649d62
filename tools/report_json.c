/* report_json.c: the --json document, for dashboards and scripts that compare runs. */
#include "report.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Counters are unsigned but JSON integers here are signed 64-bit: saturate rather than wrap. */
static json_t *ju64(uint64_t v)
{
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* jansson refuses NaN and infinities; null says "no value" without making the document invalid. */
static json_t *jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *hop_json(const struct hop_record *h)
{
    int nq = h->nqueues < 0 ? 0 : h->nqueues > HOP_MAX_QUEUES ? HOP_MAX_QUEUES : h->nqueues;
    json_t *q = json_array();
    for (int i = 0; q && i < nq; i++)
        json_array_append_new(q, ju64(h->queue_ops[i]));
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:b, s:s, s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o,"
                          " s:o, s:o, s:o}",
                          "index", h->index, "kind", hop_kind_name(h->kind), "src", h->src, "dst", h->dst,
                          "ok", h->ok, "status", h->status, "start_s", jreal(h->start_s),
                          "total_ms", (json_int_t)h->total_ms, "downtime_ms", (json_int_t)h->downtime_ms,
                          "setup_ms", (json_int_t)h->setup_ms, "transferred", ju64(h->transferred),
                          "ram_total", ju64(h->ram_total), "dirty_sync_count", ju64(h->dirty_sync_count),
                          "mbps", jreal(h->mbps), "ops", ju64(h->ops), "queue_ops", q,
                          "inflight_at_start", ju64(h->inflight_at_start), "verify_checked",
                          ju64(h->verify_checked), "verify_errors", ju64(h->verify_errors));
    if (o && h->failure[0])
        json_object_set_new(o, "failure", json_string(h->failure));
    return o;
}

static json_t *minmax_json(const struct report_minmax *m, int n)
{
    if (!n)
        return json_pack("{s:n, s:n, s:n}", "min", "avg", "max");
    return json_pack("{s:I, s:o, s:I}", "min", (json_int_t)m->min, "avg", jreal(m->avg), "max",
                     (json_int_t)m->max);
}

json_t *report_json_build(json_t *config, const struct run_result *r)
{
    struct report_stats st;

    report_stats_compute(r, &st);
    json_t *hops = json_array();
    for (int i = 0; hops && i < r->nhops; i++) {
        json_t *h = hop_json(&r->hops[i]);
        if (!h || json_array_append_new(hops, h)) {
            json_decref(hops);
            return NULL;
        }
    }
    json_t *summary = json_pack("{s:i, s:o, s:o}", "migrations", st.migrations, "downtime_ms",
                                minmax_json(&st.downtime_ms, st.migrations), "total_ms",
                                minmax_json(&st.total_ms, st.migrations));
    /* "O" takes a new reference: config stays the caller's. */
    json_t *doc = json_pack("{s:{s:s}, s:O, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o}",
                            "vqhammer", "version", VQH_BUILD_ID, "config", config ? config : json_null(),
                            "verdict", verdict_name(r->verdict), "reason", r->reason, "accel", r->accel,
                            "duration_s", jreal(r->duration_s), "total_ops", ju64(r->total_ops),
                            "guest_errors", ju64(r->guest_errors), "migrations_per_minute",
                            jreal(st.per_minute), "reproducer", r->reproducer, "hops", hops, "summary",
                            summary);
    if (!doc)
        return NULL;
    if (r->rundir[0])
        json_object_set_new(doc, "rundir", json_string(r->rundir));
    if (r->evidence[0])
        json_object_set_new(doc, "evidence", json_string(r->evidence));
    return doc;
}

static bool json_fill(FILE *f, void *ctx)
{
    if (json_dumpf(ctx, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)))
        return false;
    return fputc('\n', f) != EOF;
}

bool report_json_write(const char *path, json_t *config, const struct run_result *r, struct vqh_err *err)
{
    json_t *doc = report_json_build(config, r);
    if (!doc) {
        vqh_err_set(err, "cannot write %s: out of memory (or a report string is not valid UTF-8)", path);
        return false;
    }
    bool ok = report_write_atomic(path, json_fill, doc, err);
    json_decref(doc);
    return ok;
}
