/*
 * report.h: what a run leaves behind for people and machines: the summary table, the live status
 * line, and the --json and --junit files, all written from one struct run_result (hop.h).
 *
 *     struct status_line st;
 *     status_init(&st, stderr, opts->quiet);
 *     status_update(&st, "hop %d/%d ...", i, n);     // live, rate-limited
 *     status_event(&st, "vm2: guest up");             // always printed, on a line of its own
 *     status_done(&st);
 *     report_json_write(opts->json, cfg, &result, &err);
 *     report_junit_write(opts->junit, &result, "migrate", &err);
 *     report_table_print(stdout, &result);
 *
 * The files are written atomically (a temporary file in the same directory, then rename), so a
 * crash or a full disk never leaves a half-written report for a CI system to misread.
 */
#ifndef VQH_REPORT_H
#define VQH_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "hop.h"

/* The build that wrote a report (VQH_BUILD_ID from the Makefile, else "unknown"). */
const char *report_build_id(void);

/*
 * --json: {"vqhammer": {"version"}, "config", "verdict", "reason", "accel", "duration_s",
 * "total_ops", "guest_errors", "large_requests": {"ops", "writes", "max_bytes", "max_segs"} (when
 * the guest made any: max_request), "migrations_per_minute", "rundir" (when set), "reproducer",
 * "evidence" (when set), "hops": [every field of struct hop_record; "failure" when set],
 * "summary": {"migrations", "downtime_ms": {"min","avg","max"}, "total_ms": {...}}}.
 * config is borrowed (NULL gives null). Stats with no completed migration are null.
 */
bool report_json_write(const char *path, json_t *config, const struct run_result *r, struct vqh_err *err);
/* The same document, for callers that print or embed it (new reference, NULL when out of memory). */
json_t *report_json_build(json_t *config, const struct run_result *r);

/*
 * --junit: one testcase per hop ("hop 3 (migrate vm1->vm2)", <failure> when it failed, <error>
 * instead when the run ended in ERROR) and a last testcase "verdict" (<failure> on FAIL, <error> on
 * ERROR). suite_name NULL gives "vqhammer".
 */
bool report_junit_write(const char *path, const struct run_result *r, const char *suite_name,
                        struct vqh_err *err);
/* XML 1.0 escaping of text or attribute values into f (invalid UTF-8 and control characters -> '?'). */
void report_xml_escape(FILE *f, const char *s, bool attribute);

/*
 * Length (1-4) of the valid UTF-8 sequence at s (avail bytes readable), or 0 when it is not one:
 * overlong forms, surrogates, code points above U+10FFFF and truncated sequences are invalid.
 */
int report_utf8_seq(const unsigned char *s, size_t avail);

/* The human summary: one row per hop, totals, the verdict line, run directory and reproducer. */
void report_table_print(FILE *f, const struct run_result *r);

/* Statistics over completed migrations: hops of kind HOP_MIGRATE that are ok. */
struct report_minmax {
    int64_t min, max;
    double avg;
};
struct report_stats {
    int migrations;
    struct report_minmax downtime_ms, total_ms;   /* all zero when migrations == 0 */
    double per_minute;                            /* migrations / (duration_s / 60); 0 if no duration */
};
void report_stats_compute(const struct run_result *r, struct report_stats *st);

/*
 * Write path atomically: fill() writes the content to a temporary file next to path (returning
 * false on its own failure), which is then synced and renamed over path. On failure nothing is
 * left behind and err names path and the errno text.
 */
bool report_write_atomic(const char *path, bool (*fill)(FILE *f, void *ctx), void *ctx, struct vqh_err *err);

/*
 * The live status line. On a terminal, status_update() rewrites one line in place (at most
 * STATUS_TTY_MS between redraws; a skipped text is drawn by the next redraw or by status_done).
 * Elsewhere (a log file, CI), an update becomes a plain line at most every STATUS_PLAIN_MS.
 * status_event() always prints its own line; on a terminal it goes above the live line.
 * A zeroed struct (never initialised) makes every call a no-op.
 */
#define STATUS_TTY_MS 100
#define STATUS_PLAIN_MS 5000
#define STATUS_TEXT_MAX 512

struct status_line {
    FILE *f;
    bool tty;
    bool shown;                   /* tty: a live line is on the screen */
    bool pending;                 /* tty: text is newer than what is on the screen */
    bool ever;                    /* an update was drawn or printed at least once */
    int64_t last_ms;              /* when the last update was drawn or printed */
    char text[STATUS_TEXT_MAX];   /* the latest update */
    int64_t (*clock_ms)(void);    /* monotonic milliseconds; tests substitute their own */
};

void status_init(struct status_line *s, FILE *f, bool force_plain);
void status_update(struct status_line *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void status_event(struct status_line *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void status_done(struct status_line *s);

#endif
