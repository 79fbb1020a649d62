/*
 * lab_report.c: the night's JUnit XML (a testsuite per cell, a testcase per hop plus a verdict
 * testcase), TAP (a test point per cell, known issues as TODO) and JSON (the night document).
 */
#include "lab_report.h"
#include "lab_night.h"

#include "report.h"

#include <stdio.h>
#include <string.h>

int lab_night_status(json_t *night)
{
    json_t *s = json_object_get(night, "summary");
    if (json_integer_value(json_object_get(s, "fail")) || json_integer_value(json_object_get(s, "flaky")))
        return 1;
    return json_integer_value(json_object_get(s, "error")) ? 2 : 0;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_t *rep_attempt(json_t *cell)
{
    return json_array_get(json_object_get(cell, "attempts"), (size_t)json_integer_value(json_object_get(cell, "representative")));
}

static void cell_outcome(FILE *f, json_t *c, const char *verdict)
{
    json_t *ki = json_object_get(c, "known_issue");
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s%s: %s", verdict, !strcmp(verdict, "flaky") ? " (fails sometimes)" : "", str(c, "reason"));
    if (json_is_object(ki)) {
        fprintf(f, "      <skipped message=\"");
        char k[768];
        snprintf(k, sizeof(k), "known issue %s: %s (fixed in QEMU %s by %s)", str(ki, "id"), str(ki, "title"),
                 str(ki, "fixed_in"), str(ki, "upstream_fix"));
        report_xml_escape(f, k, true);
        fprintf(f, "\"/>\n");
    } else if (!strcmp(verdict, "error")) {
        fprintf(f, "      <error message=\"");
        report_xml_escape(f, msg, true);
        fprintf(f, "\"/>\n");
    } else if (strcmp(verdict, "pass")) {
        fprintf(f, "      <failure message=\"");
        report_xml_escape(f, msg, true);
        fprintf(f, "\">");
        char body[4096];
        snprintf(body, sizeof(body), "class: %s\nfail rate: %.0f%% (%lld of %lld attempts)\nseed: %s\nreproducer: %s\nevidence: %s\n",
                 str(c, "failure_class"), 100 * json_number_value(json_object_get(c, "fail_rate")),
                 (long long)json_integer_value(json_object_get(c, "failures")),
                 (long long)json_integer_value(json_object_get(c, "attempts_run")), str(c, "seed"), str(c, "reproducer"),
                 str(c, "evidence"));
        report_xml_escape(f, body, false);
        fprintf(f, "</failure>\n");
    }
}

static bool junit_fill(FILE *f, void *ctx)
{
    json_t *night = ctx, *s = json_object_get(night, "summary");
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"vqhammer lab ");
    report_xml_escape(f, str(json_object_get(night, "night"), "name"), true);
    fprintf(f, "\" tests=\"%lld\" failures=\"%lld\" errors=\"%lld\">\n", (long long)json_integer_value(json_object_get(s, "cells")),
            (long long)(json_integer_value(json_object_get(s, "fail")) + json_integer_value(json_object_get(s, "flaky"))),
            (long long)json_integer_value(json_object_get(s, "error")));
    size_t i, j;
    json_t *c, *h;
    json_array_foreach(json_object_get(night, "cells"), i, c) {
        json_t *a = rep_attempt(c), *hops = json_object_get(json_object_get(a, "report"), "hops");
        const char *v = str(c, "verdict");
        int bad_hops = 0;
        json_array_foreach(hops, j, h) bad_hops += !json_is_true(json_object_get(h, "ok"));
        fprintf(f, "  <testsuite name=\"");
        report_xml_escape(f, str(c, "id"), true);
        fprintf(f, "\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" time=\"%.3f\">\n", json_array_size(hops) + 1,
                bad_hops + (!strcmp(v, "fail") || !strcmp(v, "flaky")), !strcmp(v, "error"),
                json_number_value(json_object_get(a, "seconds")));
        fprintf(f, "    <properties>\n");
        const char *props[] = {"verdict", "seed", "build", "qemu_version", "qemu_dst_version", "failure_class"};
        for (size_t p = 0; p < sizeof(props) / sizeof(props[0]); p++) {
            fprintf(f, "      <property name=\"%s\" value=\"", props[p]);
            report_xml_escape(f, str(c, props[p]), true);
            fprintf(f, "\"/>\n");
        }
        fprintf(f, "    </properties>\n");
        json_array_foreach(hops, j, h) {
            char name[128];
            snprintf(name, sizeof(name), "hop %lld (%s %s->%s)", (long long)json_integer_value(json_object_get(h, "index")),
                     str(h, "kind"), str(h, "src"), str(h, "dst"));
            fprintf(f, "    <testcase classname=\"");
            report_xml_escape(f, str(c, "id"), true);
            fprintf(f, "\" name=\"");
            report_xml_escape(f, name, true);
            fprintf(f, "\" time=\"%.3f\">\n", json_integer_value(json_object_get(h, "total_ms")) / 1000.0);
            if (!json_is_true(json_object_get(h, "ok"))) {
                fprintf(f, "      <failure message=\"");
                report_xml_escape(f, str(h, "failure")[0] ? str(h, "failure") : str(h, "status"), true);
                fprintf(f, "\"/>\n");
            }
            fprintf(f, "    </testcase>\n");
        }
        fprintf(f, "    <testcase classname=\"");
        report_xml_escape(f, str(c, "id"), true);
        fprintf(f, "\" name=\"verdict\">\n");
        cell_outcome(f, c, v);
        fprintf(f, "    </testcase>\n  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
    return !ferror(f);
}

bool lab_report_junit(const char *path, json_t *night, struct vqh_err *err)
{
    return report_write_atomic(path, junit_fill, night, err);
}

/* A YAML double-quoted scalar for TAP's diagnostic block. */
static void tap_quote(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else if ((unsigned char)*s < 0x20)
            fputc(' ', f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static bool tap_fill(FILE *f, void *ctx)
{
    json_t *night = ctx, *cells = json_object_get(night, "cells"), *c;
    size_t i;
    fprintf(f, "TAP version 13\n1..%zu\n", json_array_size(cells));
    json_array_foreach(cells, i, c) {
        const char *v = str(c, "verdict");
        json_t *ki = json_object_get(c, "known_issue");
        bool ok = !strcmp(v, "pass");
        fprintf(f, "%s %zu - %s", ok ? "ok" : "not ok", i + 1, str(c, "id"));
        if (json_is_object(ki))
            fprintf(f, " # TODO known issue %s (fixed in QEMU %s)", str(ki, "id"), str(ki, "fixed_in"));
        fputc('\n', f);
        if (ok)
            continue;
        fprintf(f, "  ---\n  verdict: %s\n  fail_rate: %.2f\n  attempts: %lld\n  class: %s\n  seed: \"%s\"\n  reason: ", v,
                json_number_value(json_object_get(c, "fail_rate")), (long long)json_integer_value(json_object_get(c, "attempts_run")),
                str(c, "failure_class"), str(c, "seed"));
        tap_quote(f, str(c, "reason"));
        fprintf(f, "\n  reproducer: ");
        tap_quote(f, str(c, "reproducer"));
        fprintf(f, "\n  evidence: ");
        tap_quote(f, str(c, "evidence"));
        fprintf(f, "\n  ...\n");
    }
    return !ferror(f);
}

bool lab_report_tap(const char *path, json_t *night, struct vqh_err *err)
{
    return report_write_atomic(path, tap_fill, night, err);
}

bool lab_report_json(const char *path, json_t *night, struct vqh_err *err)
{
    return lab_json_write(path, night, err);
}
