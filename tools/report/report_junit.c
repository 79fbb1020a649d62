/* report_junit.c: the --junit file, so a CI system shows each hop as a test case. */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void report_xml_escape(FILE *f, const char *s, bool attribute)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        int len = 1;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        /* A parser normalises raw whitespace in attributes to spaces and CR everywhere: keep them. */
        case '\t': fputs(attribute ? "&#9;" : "\t", f); break;
        case '\n': fputs(attribute ? "&#10;" : "\n", f); break;
        case '\r': fputs("&#13;", f); break;
        default:
            /* XML 1.0 Char excludes the other C0 controls (even as &#xNN;) and U+FFFE/U+FFFF. */
            if (c < 0x20 || c == 0x7f) {
                fputc('?', f);
            } else if (c < 0x80) {
                fputc(c, f);
            } else {
                len = report_utf8_seq(p + i, n - i);
                bool nonchar = len == 3 && c == 0xef && p[i + 1] == 0xbf && p[i + 2] >= 0xbe;
                if (len > 0 && !nonchar)
                    fwrite(p + i, 1, (size_t)len, f);
                else
                    fputc('?', f);
                if (len == 0)
                    len = 1;
            }
        }
        i += (size_t)len;
    }
}

/* Seconds with millisecond precision, never in a locale's decimal comma. */
static void put_seconds(FILE *f, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    fprintf(f, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
}

struct junit_ctx {
    const struct run_result *r;
    const char *suite;
};

static void put_property(FILE *f, const char *name, const char *value)
{
    fprintf(f, "      <property name=\"%s\" value=\"", name);
    report_xml_escape(f, value, true);
    fputs("\"/>\n", f);
}

static void put_hop(FILE *f, const struct junit_ctx *c, const struct hop_record *h)
{
    char name[96], msg[HOP_TEXT_MAX + 64];

    snprintf(name, sizeof(name), "hop %d (%s %.16s->%.16s)", h->index, hop_kind_name(h->kind), h->src, h->dst);
    fputs("    <testcase classname=\"vqhammer.", f);
    report_xml_escape(f, c->suite, true);
    fputs("\" name=\"", f);
    report_xml_escape(f, name, true);
    fputs("\" time=\"", f);
    put_seconds(f, h->total_ms);
    if (h->ok) {
        fputs("\"/>\n", f);
        return;
    }
    /* In an ERROR run the hop did not fail the product: the harness or the host did. */
    const char *tag = c->r->verdict == VERDICT_ERROR ? "error" : "failure";
    if (h->failure[0])
        snprintf(msg, sizeof(msg), "%.*s", (int)sizeof(h->failure), h->failure);
    else
        snprintf(msg, sizeof(msg), "hop %d failed (migration status %.32s)", h->index, h->status);
    fprintf(f, "\">\n      <%s message=\"", tag);
    report_xml_escape(f, msg, true);
    fprintf(f, "\" type=\"%s\">", hop_kind_name(h->kind));
    report_xml_escape(f, msg, false);
    fprintf(f, "\nmigration status: ");
    report_xml_escape(f, h->status, false);
    fprintf(f, ", total %" PRId64 " ms, downtime %" PRId64 " ms, verified %" PRIu64 " blocks with %" PRIu64
               " errors</%s>\n    </testcase>\n",
            h->total_ms, h->downtime_ms, h->verify_checked, h->verify_errors, tag);
}

static void put_verdict(FILE *f, const struct junit_ctx *c)
{
    const struct run_result *r = c->r;

    fputs("    <testcase classname=\"vqhammer.", f);
    report_xml_escape(f, c->suite, true);
    fputs("\" name=\"verdict\" time=\"0.000\"", f);
    if (r->verdict == VERDICT_PASS) {
        fputs("/>\n", f);
        return;
    }
    const char *tag = r->verdict == VERDICT_FAIL ? "failure" : "error";
    const char *reason = r->reason[0] ? r->reason : verdict_name(r->verdict);
    fprintf(f, ">\n      <%s message=\"", tag);
    report_xml_escape(f, reason, true);
    fprintf(f, "\" type=\"%s\">", verdict_name(r->verdict));
    report_xml_escape(f, reason, false);
    const char *labels[] = {"run directory", "evidence", "reproducer"};
    const char *values[] = {r->rundir, r->evidence, r->reproducer};
    for (int i = 0; i < 3; i++) {
        if (!values[i][0])
            continue;
        fprintf(f, "\n%s: ", labels[i]);
        report_xml_escape(f, values[i], false);
    }
    fprintf(f, "</%s>\n    </testcase>\n", tag);
}

static bool junit_fill(FILE *f, void *ctx)
{
    const struct junit_ctx *c = ctx;
    const struct run_result *r = c->r;
    int tests = r->nhops + 1, failures = 0, errors = 0;
    int64_t ms = isfinite(r->duration_s) ? llround(r->duration_s * 1000.0) : 0;

    for (int i = 0; i < r->nhops; i++)
        if (!r->hops[i].ok)
            *(r->verdict == VERDICT_ERROR ? &errors : &failures) += 1;
    failures += r->verdict == VERDICT_FAIL;
    errors += r->verdict == VERDICT_ERROR;

    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"vqhammer\"", f);
    fprintf(f, " tests=\"%d\" failures=\"%d\" errors=\"%d\" time=\"", tests, failures, errors);
    put_seconds(f, ms);
    fputs("\">\n  <testsuite name=\"", f);
    report_xml_escape(f, c->suite, true);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"0\" time=\"", tests, failures, errors);
    put_seconds(f, ms);
    fputs("\">\n    <properties>\n", f);
    put_property(f, "version", report_build_id());
    put_property(f, "accel", r->accel);
    if (r->reproducer[0])
        put_property(f, "reproducer", r->reproducer);
    fputs("    </properties>\n", f);
    for (int i = 0; i < r->nhops; i++)
        put_hop(f, c, &r->hops[i]);
    put_verdict(f, c);
    fputs("  </testsuite>\n</testsuites>\n", f);
    return !ferror(f);
}

bool report_junit_write(const char *path, const struct run_result *r, const char *suite_name,
                        struct vqh_err *err)
{
    struct junit_ctx c = {r, suite_name && suite_name[0] ? suite_name : "vqhammer"};
    return report_write_atomic(path, junit_fill, &c, err);
}
