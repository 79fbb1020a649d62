/* modes.c: migration modes asked for, and the evidence they were exercised (see modes.h). */
#include "modes.h"

#include <stdio.h>
#include <string.h>

#define MODES_HOLD_DOWNTIME_MS 1
/* After the first pass, a slow stream: each pass then lasts long enough for the guest to dirty
 * more than 1 ms of it, so precopy cannot converge (and auto-converge sees a high dirty rate). */
#define MODES_HOLD_BANDWIDTH (8ll << 20)
#define MODES_NEED_PASSES (HOP_MODE_POSTCOPY | HOP_MODE_XBZRLE | HOP_MODE_AUTO_CONVERGE)
/* The first pass at most at QEMU's default rate: a faster stream (vqhammer's unlimited default)
 * leaves so little dirty after it that even 1 ms of downtime covers the rest, and precopy ends
 * before any mode had a second pass to act in. */
#define MODES_HOLD_FIRST_BANDWIDTH (128ll << 20)
/* Postcopy's first pass slower still. QEMU decides at the dirty-bitmap sync that ends a pass, in
 * the migration thread, whether what is dirty fits bandwidth x downtime-limit; if it does, the hop
 * completes in precopy there and then, before any migrate-start-postcopy could land (a CI run saw
 * it at 128 MiB/s). At 32 MiB/s the first pass lasts about a second, the guest's I/O alone (its
 * read buffers, written by the device and logged as dirty whatever the TCG TLB does) dirties
 * hundreds of pages in it, and 1 ms of a 32 MiB/s stream is 8 pages. */
#define MODES_HOLD_FIRST_BANDWIDTH_POSTCOPY (32ll << 20)

static bool modes_set(struct session *s, struct vm *v, const char *param, json_int_t value, struct vqh_err *err)
{
    json_t *r = qmp_cmd(v->qmp, "migrate-set-parameters", json_pack("{s:I}", param, value),
                        s->o->qmp_timeout_ms, err);
    json_decref(r);
    return r != NULL;
}

static unsigned modes_asked(const struct vqh_opts *o, const struct hop_record *h)
{
    if (h->kind != HOP_MIGRATE) /* a break-off hop is about the break-off */
        return 0;
    return (o->postcopy ? HOP_MODE_POSTCOPY : 0) | (o->multifd ? HOP_MODE_MULTIFD : 0) |
           (o->xbzrle ? HOP_MODE_XBZRLE : 0) | (o->auto_converge ? HOP_MODE_AUTO_CONVERGE : 0);
}

bool modes_dirtier_on(struct session *s, struct vm *src, struct hop_record *h, struct vqh_err *err)
{
    if (!(modes_asked(s->o, h) & MODES_NEED_PASSES))
        return true;
    char line[48];
    json_t *reply = NULL;
    snprintf(line, sizeof(line), "dirty pages=%d\n", MODES_DIRTY_PAGES);
    if (!chan_command(s->chan, src, line, "dirty", MODES_DIRTY_TIMEOUT_MS, &reply, err))
        return false;
    h->modes.dirtied_pages = (uint32_t)json_integer_value(json_object_get(reply, "pages"));
    if (!json_is_true(json_object_get(reply, "ok")))
        status_event(&s->status, "hop %d: the guest could spare no memory to keep dirty (%s)", h->index,
                     json_string_value(json_object_get(reply, "error")) ?: "a guest older than this vqhammer?");
    json_decref(reply);
    return true;
}

const char *modes_dirtier_off_line(const struct hop_record *h)
{
    return h->modes.dirtied_pages ? "dirty pages=0\n" : "";
}

bool modes_begin(struct session *s, struct vm *src, struct hop_record *h, struct modes_hold *m, struct vqh_err *err)
{
    const struct vqh_opts *o = s->o;
    memset(m, 0, sizeof(*m));
    h->modes.asked = modes_asked(o, h);
    if (!(h->modes.asked & MODES_NEED_PASSES))
        return true;
    json_t *r = qmp_cmd(src->qmp, "query-migrate-parameters", NULL, o->qmp_timeout_ms, err);
    if (!r)
        return false;
    m->saved_downtime = json_integer_value(json_object_get(r, "downtime-limit"));
    m->saved_bandwidth = json_integer_value(json_object_get(r, "max-bandwidth"));
    json_decref(r);
    if (!modes_set(s, src, "downtime-limit", MODES_HOLD_DOWNTIME_MS, err))
        return false;
    json_int_t first = (h->modes.asked & HOP_MODE_POSTCOPY) ? MODES_HOLD_FIRST_BANDWIDTH_POSTCOPY
                                                            : MODES_HOLD_FIRST_BANDWIDTH;
    m->capped = m->saved_bandwidth > first;
    if (m->capped && !modes_set(s, src, "max-bandwidth", first, err))
        return false;
    m->holding = true;
    m->since_ms = clock_now_ms();
    return true;
}

static uint64_t modes_max(uint64_t a, const json_t *v)
{
    uint64_t b = (uint64_t)json_integer_value(v);
    return b > a ? b : a;
}

/* The proof of each mode from what was seen so far. */
static unsigned modes_proven(const struct hop_modes *e)
{
    return (e->postcopy_active ? HOP_MODE_POSTCOPY : 0) | (e->multifd_bytes ? HOP_MODE_MULTIFD : 0) |
           (e->xbzrle_cache_hits || e->xbzrle_pages ? HOP_MODE_XBZRLE : 0) | (e->throttle_max > 0 ? HOP_MODE_AUTO_CONVERGE : 0);
}

bool modes_poll(struct session *s, struct vm *src, struct hop_record *h, struct modes_hold *m, const json_t *q,
                struct vqh_err *err)
{
    struct hop_modes *e = &h->modes;
    const json_t *ram = json_object_get(q, "ram"), *xb = json_object_get(q, "xbzrle-cache");
    const char *st = json_string_value(json_object_get(q, "status")) ?: "";
    json_t *ev;
    struct vqh_err none;
    /* A short postcopy phase can fall between two polls: the MIGRATION events say it too. */
    while ((ev = qmp_next_event(src->qmp, 0, &none))) {
        const json_t *d = json_object_get(ev, "data");
        if (!strcmp(json_string_value(json_object_get(ev, "event")) ?: "", "MIGRATION") &&
            !strcmp(json_string_value(json_object_get(d, "status")) ?: "", "postcopy-active"))
            e->postcopy_active = true;
        json_decref(ev);
    }
    if (!strcmp(st, "postcopy-active"))
        e->postcopy_active = true;
    e->postcopy_requests = modes_max(e->postcopy_requests, json_object_get(ram, "postcopy-requests"));
    e->multifd_bytes = modes_max(e->multifd_bytes, json_object_get(ram, "multifd-bytes"));
    e->xbzrle_cache_hits = modes_max(e->xbzrle_cache_hits, json_object_get(xb, "cache-hit"));
    e->xbzrle_pages = modes_max(e->xbzrle_pages, json_object_get(xb, "pages"));
    int thr = (int)json_integer_value(json_object_get(q, "cpu-throttle-percentage"));
    if (thr > e->throttle_max)
        e->throttle_max = thr;
    if (strcmp(st, "active"))
        return true;
    if (m->holding && !m->slowed && h->dirty_sync_count >= 2) {
        m->slowed = true;
        if (!modes_set(s, src, "max-bandwidth", MODES_HOLD_BANDWIDTH, err))
            return false;
    }
    unsigned waiting = e->asked & MODES_NEED_PASSES & ~HOP_MODE_POSTCOPY & ~modes_proven(e);
    bool timeout = clock_now_ms() - m->since_ms > MODES_HOLD_MS;
    /* Postcopy once the first pass is done, after the other modes had their chance. */
    if ((e->asked & HOP_MODE_POSTCOPY) && !m->postcopy_sent && h->dirty_sync_count >= 2 && (!waiting || timeout)) {
        m->postcopy_sent = true;
        json_t *r = qmp_cmd(src->qmp, "migrate-start-postcopy", NULL, s->o->qmp_timeout_ms, err);
        json_decref(r);
        if (!r)
            return false;
    }
    /* Postcopy that does not start is seen at the end (not proven); precopy may finish the hop. */
    bool postcopy_late = m->postcopy_sent && clock_now_ms() - m->since_ms > 2 * MODES_HOLD_MS;
    if (m->holding && (!(e->asked & HOP_MODE_POSTCOPY) || postcopy_late) && (!waiting || timeout)) {
        m->holding = false;
        return modes_set(s, src, "downtime-limit", m->saved_downtime, err) &&
               (!(m->slowed || m->capped) || modes_set(s, src, "max-bandwidth", m->saved_bandwidth, err));
    }
    return true;
}

static void modes_names(unsigned bits, char *buf, size_t cap)
{
    buf[0] = 0;
    for (unsigned b = 1; b < (1u << HOP_MODES); b <<= 1)
        if (bits & b)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? ", " : "", hop_mode_name(b));
}

void modes_end(struct session *s, struct hop_record *h)
{
    struct hop_modes *e = &h->modes;
    e->proven = modes_proven(e) & e->asked;
    unsigned missing = e->asked & ~e->proven;
    if (!missing)
        return;
    char names[96];
    modes_names(missing, names, sizeof(names));
    s->result.unexercised_hops++;
    status_event(&s->status, "hop %d did not exercise %s (see the hop's \"modes\" in --json)", h->index, names);
}

void modes_run_verdict(struct session *s)
{
    unsigned asked = 0, proven = 0;
    for (int i = 0; i < s->result.nhops; i++) {
        asked |= s->result.hops[i].modes.asked;
        proven |= s->result.hops[i].modes.proven;
    }
    if (s->result.verdict != VERDICT_PASS || !asked)
        return;
    char names[96];
    if (asked & ~proven) {
        modes_names(asked & ~proven, names, sizeof(names));
        s->result.verdict = VERDICT_ERROR;
        s->failed = true;
        snprintf(s->result.reason, sizeof(s->result.reason), "no hop exercised %s though it was asked for: this "
                 "run did not test it (see each hop's \"modes\" in --json)", names);
        return;
    }
    if (s->result.unexercised_hops) {
        size_t len = strlen(s->result.reason);
        snprintf(s->result.reason + len, sizeof(s->result.reason) - len,
                 "; %d hop(s) did not exercise every mode asked for", s->result.unexercised_hops);
    }
}
