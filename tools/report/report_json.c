/* report_json.c: the --json document, for dashboards and scripts that compare runs. */
#include "report.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
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

/*
 * Texts come from QEMU and the system (error messages, paths) and may hold bytes that are not
 * UTF-8, which jansson rejects: one bad byte must not cost the whole report, so it becomes '?'.
 * cap bounds fixed-size fields that might lack their terminator.
 */
static json_t *jstr(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *clean = malloc(n + 1);
    if (!clean)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int len = report_utf8_seq((const unsigned char *)s + i, n - i);
        if (len > 0) {
            memcpy(clean + o, s + i, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
        } else {
            clean[o++] = '?';
            i++;
        }
    }
    j = json_stringn(clean, o);
    free(clean);
    return j;
}

#define JSTR(field) jstr((field), sizeof(field))

/* The HOP_MODE_* bits as an array of names. */
static json_t *modes_names(unsigned bits)
{
    json_t *a = json_array();
    for (unsigned b = 1; a && b < (1u << HOP_MODES); b <<= 1)
        if (bits & b)
            json_array_append_new(a, json_string(hop_mode_name(b)));
    return a;
}

/* What each migration mode asked for did on this hop: the evidence that it was exercised. */
static json_t *modes_json(const struct hop_modes *m)
{
    return json_pack("{s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:i, s:i}", "asked", modes_names(m->asked), "proven",
                     modes_names(m->proven), "unexercised", modes_names(m->asked & ~m->proven), "postcopy_active",
                     m->postcopy_active, "postcopy_requests", ju64(m->postcopy_requests), "multifd_bytes",
                     ju64(m->multifd_bytes), "xbzrle_cache_hits", ju64(m->xbzrle_cache_hits), "xbzrle_pages",
                     ju64(m->xbzrle_pages), "throttle_max", m->throttle_max, "dirtied_pages",
                     (int)m->dirtied_pages);
}

static json_t *hop_json(const struct hop_record *h)
{
    int nq = h->nqueues < 0 ? 0 : h->nqueues > HOP_MAX_QUEUES ? HOP_MAX_QUEUES : h->nqueues;
    json_t *q = json_array();
    for (int i = 0; q && i < nq; i++)
        json_array_append_new(q, ju64(h->queue_ops[i]));
    json_t *o = json_object();
    if (!o) {
        json_decref(q);
        return NULL;
    }
    int bad = 0;
    bad |= json_object_set_new(o, "index", json_integer(h->index));
    bad |= json_object_set_new(o, "kind", json_string(hop_kind_name(h->kind)));
    bad |= json_object_set_new(o, "src", JSTR(h->src));
    bad |= json_object_set_new(o, "dst", JSTR(h->dst));
    bad |= json_object_set_new(o, "ok", json_boolean(h->ok));
    bad |= json_object_set_new(o, "status", JSTR(h->status));
    bad |= json_object_set_new(o, "start_s", jreal(h->start_s));
    bad |= json_object_set_new(o, "total_ms", json_integer(h->total_ms));
    bad |= json_object_set_new(o, "downtime_ms", json_integer(h->downtime_ms));
    bad |= json_object_set_new(o, "setup_ms", json_integer(h->setup_ms));
    bad |= json_object_set_new(o, "transferred", ju64(h->transferred));
    bad |= json_object_set_new(o, "ram_total", ju64(h->ram_total));
    bad |= json_object_set_new(o, "dirty_sync_count", ju64(h->dirty_sync_count));
    bad |= json_object_set_new(o, "mbps", jreal(h->mbps));
    bad |= json_object_set_new(o, "ops", ju64(h->ops));
    bad |= json_object_set_new(o, "queue_ops", q);
    bad |= json_object_set_new(o, "inflight_at_start", ju64(h->inflight_at_start));
    bad |= json_object_set_new(o, "verify_checked", ju64(h->verify_checked));
    bad |= json_object_set_new(o, "verify_errors", ju64(h->verify_errors));
    bad |= json_object_set_new(o, "modes", modes_json(&h->modes));
    bad |= json_object_set_new(o, "tcg_dirty_exposed", json_boolean(h->tcg_dirty_exposed));
    bad |= json_object_set_new(o, "tlb_refresh", json_boolean(h->tlb_refresh));
    if (h->ram_checked)
        bad |= json_object_set_new(o, "ram_diff_pages", ju64(h->ram_diff_pages));
    bad |= json_object_set_new(o, "nbd_outages", json_integer(h->nbd_outages));
    if (h->action_name[0]) { /* --hop-actions */
        bad |= json_object_set_new(o, "action", JSTR(h->action_name));
        bad |= json_object_set_new(o, "legs", json_integer(h->legs));
        bad |= json_object_set_new(o, "jobs", JSTR(h->jobs));
    }
    if (h->hotplug[0]) /* --hotplug-every */
        bad |= json_object_set_new(o, "hotplug", json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I}", "action",
                                                           h->hotplug, "serial", h->hotplug_serial, "slot", h->hotplug_slot,
                                                           "ms", (json_int_t)h->hotplug_ms, "ops", (json_int_t)h->hotplug_ops,
                                                           "inflight", (json_int_t)h->hotplug_inflight, "completed",
                                                           (json_int_t)(h->hotplug_inflight - h->hotplug_abandoned),
                                                           "abandoned", (json_int_t)h->hotplug_abandoned));
    if (h->failure[0])
        bad |= json_object_set_new(o, "failure", JSTR(h->failure));
    /* A member that could not be built (out of memory) would be missing: refuse the record. */
    if (bad) {
        json_decref(o);
        return NULL;
    }
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
    json_t *doc = json_object();
    json_t *hops = json_array();
    if (!doc || !hops)
        goto fail;
    for (int i = 0; i < r->nhops; i++)
        if (json_array_append_new(hops, hop_json(&r->hops[i])))
            goto fail;
    int bad = 0;
    bad |= json_object_set_new(doc, "vqhammer", json_pack("{s:s}", "version", report_build_id()));
    bad |= json_object_set(doc, "config", config ? config : json_null()); /* borrowed: a new reference */
    bad |= json_object_set_new(doc, "verdict", json_string(verdict_name(r->verdict)));
    bad |= json_object_set_new(doc, "reason", JSTR(r->reason));
    bad |= json_object_set_new(doc, "accel", JSTR(r->accel));
    bad |= json_object_set_new(doc, "duration_s", jreal(r->duration_s));
    bad |= json_object_set_new(doc, "total_ops", ju64(r->total_ops));
    bad |= json_object_set_new(doc, "guest_errors", ju64(r->guest_errors));
    if (r->large_ops)
        bad |= json_object_set_new(doc, "large_requests",
                                   json_pack("{s:o, s:o, s:o, s:o}", "ops", ju64(r->large_ops), "writes",
                                             ju64(r->large_writes), "max_bytes", ju64(r->large_max_bytes),
                                             "max_segs", ju64(r->large_max_segs)));
    bad |= json_object_set_new(doc, "migrations_per_minute", jreal(st.per_minute));
    if (r->rundir[0])
        bad |= json_object_set_new(doc, "rundir", JSTR(r->rundir));
    bad |= json_object_set_new(doc, "reproducer", JSTR(r->reproducer));
    if (r->evidence[0])
        bad |= json_object_set_new(doc, "evidence", JSTR(r->evidence));
    if (r->fault[0])
        bad |= json_object_set_new(doc, "fault", JSTR(r->fault));
    if (r->known_bug[0])
        bad |= json_object_set_new(doc, "known_bug", JSTR(r->known_bug));
    bad |= json_object_set_new(doc, "unexercised_hops", json_integer(r->unexercised_hops));
    bad |= json_object_set_new(doc, "hops", hops);
    hops = NULL;
    bad |= json_object_set_new(doc, "summary",
                                 json_pack("{s:i, s:o, s:o}", "migrations", st.migrations, "downtime_ms",
                                           minmax_json(&st.downtime_ms, st.migrations), "total_ms",
                                           minmax_json(&st.total_ms, st.migrations)));
    if (bad)
        goto fail;
    return doc;
fail:
    json_decref(hops);
    json_decref(doc);
    return NULL;
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
        vqh_err_set(err, "cannot write %s: out of memory", path ? path : "the JSON report");
        return false;
    }
    bool ok = report_write_atomic(path, json_fill, doc, err);
    json_decref(doc);
    return ok;
}
