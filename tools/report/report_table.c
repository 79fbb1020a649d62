/* report_table.c: the summary a person reads at the end of a run. */
#include "report.h"

#include <inttypes.h>

static void put_queue_range(FILE *f, const struct hop_record *h)
{
    int nq = h->nqueues > HOP_MAX_QUEUES ? HOP_MAX_QUEUES : h->nqueues;
    if (nq <= 0) {
        fprintf(f, " %8s %8s", "-", "-");
        return;
    }
    uint64_t lo = h->queue_ops[0], hi = h->queue_ops[0];
    for (int i = 1; i < nq; i++) {
        lo = h->queue_ops[i] < lo ? h->queue_ops[i] : lo;
        hi = h->queue_ops[i] > hi ? h->queue_ops[i] : hi;
    }
    /* A queue that starved over a hop shows up as a min far below the max. */
    fprintf(f, " %8" PRIu64 " %8" PRIu64, lo, hi);
}

static void put_row(FILE *f, const struct hop_record *h)
{
    char path[40];

    snprintf(path, sizeof(path), "%.16s->%.16s", h->src, h->dst);
    fprintf(f, "%4d %-8s %-10s %-10.32s %9" PRId64 " %9" PRId64 " %8" PRId64 " %9.1f %10" PRIu64, h->index,
            h->action_name[0] ? h->action_name : hop_kind_name(h->kind), path, h->status[0] ? h->status : "-", h->total_ms, h->downtime_ms,
            h->setup_ms, (double)h->transferred / (1024.0 * 1024.0), h->ops);
    put_queue_range(f, h);
    fprintf(f, " %10" PRIu64 " %7" PRIu64 "  %s\n", h->verify_checked, h->verify_errors, h->ok ? "OK" : "FAIL");
}

static void put_minmax(FILE *f, const char *what, const struct report_minmax *m, int n)
{
    if (n)
        fprintf(f, "%s: min %" PRId64 " ms, avg %.1f ms, max %" PRId64 " ms\n", what, m->min, m->avg, m->max);
    else
        fprintf(f, "%s: - (no completed migration)\n", what);
}

void report_table_print(FILE *f, const struct run_result *r)
{
    struct report_stats st;

    report_stats_compute(r, &st);
    if (r->nhops) {
        fprintf(f, "%4s %-8s %-10s %-10s %9s %9s %8s %9s %10s %8s %8s %10s %7s  %s\n", "hop", "kind",
                "src->dst", "status", "total ms", "down ms", "setup ms", "MiB", "guest ops", "q min",
                "q max", "verified", "errors", "result");
        for (int i = 0; i < r->nhops; i++)
            put_row(f, &r->hops[i]);
        for (int i = 0; i < r->nhops; i++)
            if (!r->hops[i].ok && r->hops[i].failure[0])
                fprintf(f, "hop %d failed: %.*s\n", r->hops[i].index, (int)sizeof(r->hops[i].failure),
                        r->hops[i].failure);
        fputc('\n', f);
    }
    fprintf(f, "migrations: %d completed of %d hop%s, %.2f per minute over %.1f s\n", st.migrations, r->nhops,
            r->nhops == 1 ? "" : "s", st.per_minute, r->duration_s);
    put_minmax(f, "downtime", &st.downtime_ms, st.migrations);
    put_minmax(f, "migration time", &st.total_ms, st.migrations);
    fprintf(f, "guest: %" PRIu64 " operations, %" PRIu64 " errors\n", r->total_ops, r->guest_errors);
    if (r->large_ops)
        fprintf(f, "large requests (max_request): %" PRIu64 " (%" PRIu64 " writes), the largest %" PRIu64
                   " bytes in %" PRIu64 " segments\n",
                r->large_ops, r->large_writes, r->large_max_bytes, r->large_max_segs);
    for (int i = 0; i < r->nhops; i++) {
        unsigned missing = r->hops[i].modes.asked & ~r->hops[i].modes.proven;
        for (unsigned b = 1; missing && b < (1u << HOP_MODES); b <<= 1)
            if (missing & b)
                fprintf(f, "hop %d did not exercise %s\n", r->hops[i].index, hop_mode_name(b));
    }
    if (r->fault[0])
        fprintf(f, "at fault: %s%s%s\n", r->fault, r->known_bug[0] ? " - " : "", r->known_bug);
    fprintf(f, "VERDICT: %s%s%s\n", verdict_name(r->verdict), r->reason[0] ? " - " : "", r->reason);
    if (r->rundir[0])
        fprintf(f, "run directory: %s\n", r->rundir);
    if (r->evidence[0])
        fprintf(f, "evidence: %s\n", r->evidence);
    if (r->reproducer[0])
        fprintf(f, "reproducer: %s\n", r->reproducer);
    fflush(f);
}
