/*
 * lab_html.c: the night's page, one static HTML file that works offline: Chart.js (Debian's
 * libjs-chart.js) and the page's own script (lab_html.js, built into the binary) are inlined,
 * the night and its trends embedded as JSON.
 */
#include "lab_report.h"

#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lab_html.js, linked in as bytes (NUL-terminated) so the binary needs no data files. */
extern const char lab_html_js[];
__asm__(".section .rodata\n"
        ".global lab_html_js\n"
        "lab_html_js:\n"
        ".incbin \"tools/lab/lab_html.js\"\n"
        ".byte 0\n"
        ".previous\n");

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{margin:0 0 .2em}"
    ".badge{display:inline-block;color:#fff;padding:.1em .5em;border-radius:.3em;margin-right:.4em}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2em .4em;text-align:left;vertical-align:top}"
    ".grid td{min-width:6em}.grid-cell{display:block;color:#fff;text-decoration:none;padding:.3em;margin:.1em;"
    "border-radius:.2em;text-align:center}.plots{display:flex;flex-wrap:wrap;gap:1em}.plot{border:1px solid #eee}"
    ".cell-page,#overview{display:none}.shown{display:block!important}.kv th{width:10em}"
    "pre.evidence{background:#f6f6f6;padding:.5em;max-height:30em;overflow:auto;font-size:12px}"
    ".warn,#js-errors{color:#b00}";

static char *slurp(const char *path, struct vqh_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        vqh_err_set(err, "cannot read %s: %s (install Debian's libjs-chart.js: tools/deps.sh)", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
    } else {
        free(buf);
        buf = NULL;
        vqh_err_set(err, "cannot read %s", path);
    }
    fclose(f);
    return buf;
}

/* JSON inside <script>: "</" would end the element, so it becomes "<\/" (the same string in JSON). */
static void put_json(FILE *f, json_t *doc)
{
    char *s = json_dumps(doc ? doc : json_null(), JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    for (const char *p = s ? s : "null"; *p; p++) {
        if (p[0] == '<' && (p[1] == '/' || p[1] == '!'))
            fputs("<\\", f);
        else
            fputc(*p, f);
    }
    free(s);
}

struct html_ctx {
    json_t *night, *trends;
    const char *chartjs;
};

static bool html_fill(FILE *f, void *vctx)
{
    struct html_ctx *c = vctx;
    const char *name = json_string_value(json_object_get(json_object_get(c->night, "night"), "name"));
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>vqhammer lab: ");
    report_xml_escape(f, name ? name : "night", false);
    fprintf(f, "</title>\n<style>%s</style>\n<script>\n%s\n</script>\n</head><body>\n", css, c->chartjs);
    fprintf(f, "<pre id=\"js-errors\" hidden></pre>\n<main id=\"app\"></main>\n");
    fprintf(f, "<script type=\"application/json\" id=\"night\">");
    put_json(f, c->night);
    fprintf(f, "</script>\n<script type=\"application/json\" id=\"trends\">");
    put_json(f, c->trends);
    fprintf(f, "</script>\n<script>\n%s\n</script>\n</body></html>\n", lab_html_js);
    return !ferror(f);
}

bool lab_report_html(const char *path, json_t *night, json_t *trends, const char *chartjs, struct vqh_err *err)
{
    char *js = slurp(chartjs, err);
    if (!js)
        return false;
    if (strstr(js, "</script") || strstr(js, "<!--")) {
        vqh_err_set(err, "%s cannot be inlined: it contains '</script' or '<!--'", chartjs);
        free(js);
        return false;
    }
    struct html_ctx ctx = {night, trends, js};
    bool ok = report_write_atomic(path, html_fill, &ctx, err);
    free(js);
    return ok;
}
