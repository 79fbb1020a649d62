/* bench_compare.c: the side-by-side table of `make bench` (see bench_compare.h). */
#include "bench_compare.h"

#include <string.h>

#define GOAL_IOPS_VS_FIO 3.0       /* verified I/Os per second: at least 3x Linux + fio, same run */
#define GOAL_NULL_IOPS 300000.0    /* the device path alone (null-co) */
#define GOAL_PVH_FIRST_S 0.25      /* QEMU start to the first verified I/O, PVH */
#define GOAL_UEFI_OVER_FW_S 0.3    /* UEFI: at most this much after OVMF starts our EFI application */
#define GOAL_RSS_MIB 100.0
#define GOAL_HOPS_PER_HOUR 1800.0  /* `make run`, default flags */

bool bench_baseline_load(const char *path, struct bench_baseline *b, struct vqh_err *err)
{
    json_error_t je;
    memset(b, 0, sizeof(*b));
    snprintf(b->path, sizeof(b->path), "%s", path);
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        vqh_err_set(err, "--baseline %s: %s (line %d)", path, je.text, je.line);
        return false;
    }
    json_t *fio = json_object_get(doc, "fio");
    const char *vmsgs = json_string_value(json_object_get(doc, "verify_msgs"));
    json_t *first = json_object_get(json_object_get(doc, "first_io"), "first_io_s");
    json_t *rss = json_object_get(json_object_get(doc, "qemu_proc"), "maxrss_kb");
    bool ok = false;
    if (!json_is_true(json_object_get(fio, "ok")))
        vqh_err_set(err, "--baseline %s: fio left no result (see the serial log beside it)", path);
    else if (json_integer_value(json_object_get(fio, "total_err")) || !vmsgs || strcmp(vmsgs, "0"))
        vqh_err_set(err, "--baseline %s: fio reported errors (total_err %lld, verify messages %s): not a baseline",
                    path, json_integer_value(json_object_get(fio, "total_err")), vmsgs ? vmsgs : "?");
    else if (!json_is_number(json_object_get(fio, "total_iops")) || !json_is_number(first) || !json_is_number(rss))
        vqh_err_set(err, "--baseline %s: no fio.total_iops, first_io.first_io_s or qemu_proc.maxrss_kb in it", path);
    else
        ok = true;
    if (ok) {
        b->have = true;
        b->iops = json_number_value(json_object_get(fio, "total_iops"));
        b->first_io_s = json_number_value(first);
        b->rss_mib = json_number_value(rss) / 1024.0;
    }
    json_decref(doc);
    return ok;
}

bool bench_ceiling_load(const char *path, struct bench_ceiling *c, struct vqh_err *err)
{
    json_error_t je;
    memset(c, 0, sizeof(*c));
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        vqh_err_set(err, "--ceiling %s: %s (line %d)", path, je.text, je.line);
        return false;
    }
    json_t *r = json_object_get(doc, "raw_read_iops"), *w = json_object_get(doc, "raw_write_iops"),
           *n = json_object_get(doc, "null_read_iops");
    c->have = json_is_number(r) && json_is_number(w) && json_is_number(n);
    if (c->have) {
        c->raw_read = json_number_value(r);
        c->raw_write = json_number_value(w);
        c->null_read = json_number_value(n);
    } else {
        vqh_err_set(err, "--ceiling %s: wants numbers raw_read_iops, raw_write_iops, null_read_iops", path);
    }
    json_decref(doc);
    return c->have;
}

static json_t *bench_num(double v)
{
    return v >= 0 ? json_real(v) : json_null();
}

/* One row. fio or limit < 0: absent. met < 0: cannot tell. "vs" columns are "times better than
 * Linux + fio" and "fraction of the host's limit", whichever way the figure improves. */
static void bench_row(json_t *rows, const char *figure, const char *unit, bool higher_better, double v, double fio,
                      double limit, const char *goal, int met)
{
    double vs_fio = -1, of_limit = -1;
    if (v > 0 && fio > 0)
        vs_fio = higher_better ? v / fio : fio / v;
    if (v > 0 && limit > 0)
        of_limit = higher_better ? v / limit : limit / v;
    json_array_append_new(rows, json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:s, s:o}", "figure", figure,
        "unit", unit, "higher_is_better", higher_better, "vqhammer", bench_num(v), "linux_fio", bench_num(fio),
        "host_limit", bench_num(limit), "vs_linux_fio", bench_num(vs_fio), "of_host_limit", bench_num(of_limit),
        "goal", goal, "met", met < 0 ? json_null() : json_boolean(met)));
}

json_t *bench_compare_rows(const struct bench_figures *f, const struct bench_baseline *b, const struct bench_ceiling *c)
{
    json_t *rows = json_array();
    char goal[96];
    /* 2 reads per write: the mix's ceiling is the harmonic blend of the read and write ceilings. */
    double mix = c->have ? 3.0 / (2.0 / c->raw_read + 1.0 / c->raw_write) : -1;
    snprintf(goal, sizeof(goal), ">= %.0fx Linux + fio", GOAL_IOPS_VS_FIO);
    bench_row(rows, "verified I/Os per second (raw, 4 KiB, 2:1)", "ops/s", true, f->iops_raw, b->have ? b->iops : -1,
              mix, goal, b->have ? f->iops_raw >= GOAL_IOPS_VS_FIO * b->iops : -1);
    snprintf(goal, sizeof(goal), ">= %.0fk", GOAL_NULL_IOPS / 1000);
    bench_row(rows, "I/Os per second, null-co (device path alone)", "ops/s", true, f->iops_null, -1,
              c->have ? c->null_read : -1, goal, f->iops_null >= GOAL_NULL_IOPS);
    snprintf(goal, sizeof(goal), "<= %.2f s", GOAL_PVH_FIRST_S);
    bench_row(rows, "QEMU start -> first verified I/O, PVH", "s", false, f->pvh_first_s, b->have ? b->first_io_s : -1,
              -1, goal, f->pvh_first_s >= 0 && f->pvh_first_s <= GOAL_PVH_FIRST_S);
    bool fw = f->uefi_firmware_s > 0;
    snprintf(goal, sizeof(goal), "<= OVMF's %.2f s + %.1f s", fw ? f->uefi_firmware_s : 0, GOAL_UEFI_OVER_FW_S);
    bench_row(rows, "QEMU start -> first verified I/O, UEFI", "s", false, f->uefi_first_s, -1,
              fw ? f->uefi_firmware_s : -1, fw ? goal : "<= OVMF's own time + 0.3 s (OVMF's not seen)",
              fw ? f->uefi_first_s >= 0 && f->uefi_first_s <= f->uefi_firmware_s + GOAL_UEFI_OVER_FW_S : -1);
    snprintf(goal, sizeof(goal), "<= %.0f MiB", GOAL_RSS_MIB);
    bench_row(rows, "QEMU peak RSS (PVH, raw)", "MiB", false, f->rss_mib, b->have ? b->rss_mib : -1, -1, goal,
              f->rss_mib <= GOAL_RSS_MIB);
    if (f->hops_uefi && f->hops_uefi->hops) {
        snprintf(goal, sizeof(goal), ">= %.0f", GOAL_HOPS_PER_HOUR);
        bench_row(rows, "`make run` hops per hour (UEFI, default flags)", "hops/h", true, f->hops_uefi->hops_per_hour,
                  -1, -1, goal, f->hops_uefi->hops_per_hour >= GOAL_HOPS_PER_HOUR);
    }
    if (f->hops_pvh && f->hops_pvh->hops)
        bench_row(rows, "hops per hour, the same with --boot pvh", "hops/h", true, f->hops_pvh->hops_per_hour, -1, -1,
                  "(no goal)", -1);
    return rows;
}

static void bench_fmt(char *buf, size_t cap, const json_t *v, const char *unit)
{
    if (!json_is_number(v)) {
        snprintf(buf, cap, "-");
        return;
    }
    double x = json_number_value(v);
    if (!strcmp(unit, "ops/s"))
        snprintf(buf, cap, x >= 100000 ? "%.0fk" : "%.1fk", x / 1000.0);
    else if (!strcmp(unit, "s"))
        snprintf(buf, cap, "%.2f s", x);
    else if (!strcmp(unit, "MiB"))
        snprintf(buf, cap, "%.0f MiB", x);
    else
        snprintf(buf, cap, "%.0f", x);
}

void bench_compare_print(FILE *out, const json_t *rows, const struct bench_baseline *b)
{
    json_t *r;
    size_t i;
    fprintf(out, "\nSide by side, this run (Linux + fio: %s)\n", b->have ? b->path : "not run");
    fprintf(out, "%-47s %9s %9s %9s %8s %6s  %s\n", "figure", "vqhammer", "Linux+fio", "host", "vs Linux", "of host",
            "goal");
    json_array_foreach(rows, i, r) {
        const char *unit = json_string_value(json_object_get(r, "unit"));
        char v[32], fio[32], lim[32], vs[32] = "-", of[32] = "-";
        bench_fmt(v, sizeof(v), json_object_get(r, "vqhammer"), unit);
        bench_fmt(fio, sizeof(fio), json_object_get(r, "linux_fio"), unit);
        bench_fmt(lim, sizeof(lim), json_object_get(r, "host_limit"), unit);
        if (json_is_number(json_object_get(r, "vs_linux_fio")))
            snprintf(vs, sizeof(vs), "%.2fx", json_number_value(json_object_get(r, "vs_linux_fio")));
        if (json_is_number(json_object_get(r, "of_host_limit")))
            snprintf(of, sizeof(of), "%.0f%%", 100.0 * json_number_value(json_object_get(r, "of_host_limit")));
        json_t *met = json_object_get(r, "met");
        fprintf(out, "%-47s %9s %9s %9s %8s %6s  %s: %s\n", json_string_value(json_object_get(r, "figure")), v, fio, lim,
                vs, of, json_string_value(json_object_get(r, "goal")),
                json_is_boolean(met) ? (json_is_true(met) ? "met" : "NOT MET") : "n/a");
    }
    fprintf(out, "vs Linux: times better than Linux + fio (either way the figure improves); host: the host's own\n"
                 "limit (qemu-img bench; raw: the 2:1 blend of its read and write IOPS; UEFI: OVMF's own time to\n"
                 "start our EFI application), \"of host\" how close vqhammer comes to it\n");
}
