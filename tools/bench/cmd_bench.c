/*
 * cmd_bench.c: `vqhammer bench`: the project's speed and memory figures (for `make bench`, never
 * in a timed test). Three boots of one fixed load, each its own session:
 *   pvh      raw image: time to hello and to the first verified read, then a steady window
 *   uefi     raw image: time to hello and to the first verified read
 *   null-co  QEMU's null-co driver, reads only: the same window, the virtio path without a backend
 * The load is fixed so the figures sit beside a Linux guest running fio: 4 KiB random requests,
 * two reads per write, nothing else.
 */
#include "bench_compare.h"
#include "bench_hops.h"
#include "cmds.h"
#include "report.h"
#include "session.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_WARMUP_MS 2000 /* after the first verified read: queues fill, caches settle */
#define BENCH_HOPS 20        /* `make run`'s hops per hour: a run long enough that boot and end count fairly */
/* OVMF prints this on the serial port just before it starts an EFI application: its own time. */
#define BENCH_OVMF_STARTS "BdsDxe: starting"

struct bench_boot {
    const char *name;
    enum opts_boot boot;
    const char *backend;        /* opts.backend: "" (the image file) or "null-co" */
    bool reads_only;            /* null-co keeps no data: a write could never be read back */
    bool steady;                /* measure the steady window, not just the boot */
    /* results */
    double hello_s, first_s;    /* host clock from QEMU start; first_s < 0: never seen */
    double firmware_s;          /* UEFI: OVMF starts our EFI application; < 0: not seen */
    double window_s, wall_s;    /* the window by the guest's t_ms, and by the host clock */
    double cpu_s;               /* QEMU utime + stime over the window */
    uint64_t ops, bytes, hwm_kib;
    int nq;
    uint64_t qops[HOP_MAX_QUEUES];
};

/* One end of the window: a progress message and QEMU's CPU time when we read it. */
struct bench_mark {
    int64_t t_ms, host_ms;
    double cpu_s;
    uint64_t bytes;
    json_t *qops;
};

static bool bench_cpu_s(pid_t pid, double *out, struct vqh_err *err)
{
    char path[64], buf[2048];
    unsigned long long ut = 0, st = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces and ')': fields are counted from the last ')'. Fields 14
     * and 15 (proc(5)) are utime and stime in clock ticks. */
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        vqh_err_set(err, "cannot read QEMU's CPU time from %s: %s", path, n ? "unexpected format" : strerror(errno));
        return false;
    }
    *out = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return true;
}

static bool bench_hwm_kib(pid_t pid, uint64_t *out, struct vqh_err *err)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    bool got = false;
    while (f && !got && fgets(line, sizeof(line), f)) {
        unsigned long long kib;
        if (sscanf(line, "VmHWM: %llu kB", &kib) == 1) {
            *out = kib;
            got = true;
        }
    }
    if (f)
        fclose(f);
    if (!got)
        vqh_err_set(err, "no VmHWM in %s%s%s", path, f ? "" : ": ", f ? "" : strerror(errno));
    return got;
}

/* The guest channel keeps no log messages: look for first_verified in the merged log it writes
 * ("<seq> <source> <json>" lines, flushed after every pump). */
static bool bench_saw_first_verified(FILE *f)
{
    static char *line; /* a message sent in parts is one long line: no fixed buffer */
    static size_t cap;
    for (;;) {
        long at = ftell(f);
        ssize_t n = getline(&line, &cap, f);
        if (n <= 0) {
            clearerr(f);
            return false;
        }
        if (line[n - 1] != '\n') { /* the rest is not written yet */
            clearerr(f);
            fseek(f, at, SEEK_SET);
            return false;
        }
        char *sp = strchr(line, ' '), *js = sp ? strchr(sp + 1, ' ') : NULL;
        if (!js || line[0] == '#' || !strstr(js, "first_verified"))
            continue;
        json_t *m = json_loads(js + 1, 0, NULL);
        bool hit = m && !strcmp(json_string_value(json_object_get(m, "type")) ?: "", WIRE_MSG_LOG) &&
                   !strcmp(json_string_value(json_object_get(m, "event")) ?: "", "first_verified");
        json_decref(m);
        if (hit)
            return true;
    }
}

static uint64_t bench_bytes(const json_t *progress)
{
    return chan_queue_sum(progress, "bytes");
}

static bool bench_mark_take(struct session *s, struct bench_mark *m, int64_t now)
{
    struct vqh_err err;
    m->t_ms = json_integer_value(json_object_get(s->chan->progress, "t_ms"));
    m->host_ms = now;
    m->bytes = bench_bytes(s->chan->progress);
    m->qops = chan_queue_ops(s->chan->progress);
    if (bench_cpu_s(s->vm->proc->pid, &m->cpu_s, &err))
        return true;
    session_fail(s, VERDICT_ERROR, "%s", err.msg);
    return false;
}

static void bench_window(struct bench_boot *b, const struct bench_mark *a, const struct bench_mark *z)
{
    b->window_s = (double)(z->t_ms - a->t_ms) / 1000.0;
    b->wall_s = (double)(z->host_ms - a->host_ms) / 1000.0;
    b->cpu_s = z->cpu_s - a->cpu_s;
    b->bytes = z->bytes - a->bytes;
    b->ops = 0;
    b->nq = (int)json_array_size(z->qops);
    if (b->nq > HOP_MAX_QUEUES)
        b->nq = HOP_MAX_QUEUES;
    for (int i = 0; i < b->nq; i++) {
        b->qops[i] = (uint64_t)(json_integer_value(json_array_get(z->qops, (size_t)i)) -
                                json_integer_value(json_array_get(a->qops, (size_t)i)));
        b->ops += b->qops[i];
    }
}

/* Anything wrong with the guest or QEMU ends the bench: figures from a broken run mean nothing. */
static bool bench_healthy(struct session *s, int64_t now)
{
    if (s->chan->errors) {
        char *first = json_dumps(json_array_get(s->chan->error_list, 0), JSON_COMPACT);
        session_fail(s, VERDICT_FAIL, "the guest reported %llu errors, first: %.300s",
                     (unsigned long long)s->chan->errors, first ? first : "?");
        free(first);
    } else if (s->chan->verdict) {
        session_fail(s, VERDICT_FAIL, "the guest ended on its own: %s",
                     json_string_value(json_object_get(s->chan->verdict, "reason")) ?: "?");
    } else if (!vm_alive(s->vm)) {
        session_fail(s, VERDICT_FAIL, "QEMU %s %s (see %s)", s->vm->label, s->vm->exit_status, s->vm->out_path);
    } else if (now - s->chan->last_msg_ms > s->o->guest_timeout_ms) {
        session_fail(s, VERDICT_FAIL, "the guest has been silent for %d ms (hang)", s->o->guest_timeout_ms);
        session_evidence_vm(s, s->vm, "hang: silent guest");
    }
    return !s->failed;
}

/* From hello to the first verified read, then (steady) warm-up and the window. */
static void bench_watch(struct session *s, struct bench_boot *b, int64_t t0)
{
    FILE *merged = fopen(rundir_path(s->rd, "serial-merged.log"), "re");
    struct bench_mark a = { 0 }, z = { 0 };
    int64_t ready_ms = 0, deadline = t0 + s->o->boot_timeout_ms;
    uint64_t seen = 0;
    const char *waiting = b->reads_only ? "completed operation" : "first verified read";
    if (!merged) {
        session_fail(s, VERDICT_ERROR, "cannot read the merged guest log: %s", strerror(errno));
        return;
    }
    b->first_s = -1;
    for (;;) {
        chan_pump(s->chan, 100);
        int64_t now = clock_now_ms();
        if (!bench_healthy(s, now))
            break;
        if (b->first_s < 0 && !b->reads_only && bench_saw_first_verified(merged)) {
            b->first_s = (double)(now - t0) / 1000.0;
            ready_ms = now;
            if (!b->steady)
                break;
        }
        if (now > deadline) {
            session_fail(s, VERDICT_FAIL, "no %s within %lld ms of starting QEMU", waiting, (long long)(deadline - t0));
            session_evidence_vm(s, s->vm, "hang: bench");
            break;
        }
        if (s->chan->progress_seq == seen || !s->chan->progress)
            continue;
        seen = s->chan->progress_seq;
        if (!ready_ms && b->reads_only && chan_total_ops(s->chan->progress) > 0)
            ready_ms = now;
        if (!ready_ms || now < ready_ms + BENCH_WARMUP_MS)
            continue;
        if (!a.qops) {
            if (!bench_mark_take(s, &a, now))
                break;
            waiting = "end of the steady window";
            deadline = now + (int64_t)s->o->run_seconds * 1000 + s->o->guest_timeout_ms;
            status_event(&s->status, "%s: steady window starts (guest t=%.1f s)", s->vm->label, (double)a.t_ms / 1000.0);
        } else if (json_integer_value(json_object_get(s->chan->progress, "t_ms")) - a.t_ms >=
                   (int64_t)s->o->run_seconds * 1000) {
            if (bench_mark_take(s, &z, now))
                bench_window(b, &a, &z);
            if (!s->failed && !b->ops)
                session_fail(s, VERDICT_FAIL, "no operation completed in the %.1f s window", b->window_s);
            break;
        }
    }
    json_decref(a.qops);
    json_decref(z.qops);
    fclose(merged);
}

static void bench_guest_config(const struct bench_boot *b, const struct vqh_opts *o, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "duration=0\nreport_ms=1000\nwatchdog_ms=%d\n"
             "min_blocks=8\nmax_blocks=8\n" /* 4 KiB on 512-byte blocks */
             "mix_read=%d\nmix_write=%d\nmix_flush=0\nmix_discard=0\nmix_write_zeroes=0",
             o->guest_timeout_ms, b->reads_only ? 1 : 2, b->reads_only ? 0 : 1);
}

/* UEFI: the host time OVMF announces it starts our loader (its serial output, as written to the
 * VM's serial log by the channel); stops early at hello, a dead QEMU or the boot timeout, which
 * session_wait_hello then reports. */
static void bench_wait_firmware(struct session *s, struct bench_boot *b, int64_t t0)
{
    static char buf[1 << 16];
    int64_t deadline = t0 + s->o->boot_timeout_ms;
    FILE *f = fopen(s->vm->serial_log, "re");
    b->firmware_s = -1;
    while (f && !s->chan->hello && vm_alive(s->vm) && clock_now_ms() < deadline) {
        chan_pump(s->chan, 20);
        fflush(s->vm->serial_log_f); /* the channel flushes it only when the VM goes */
        rewind(f);
        size_t n = fread(buf, 1, sizeof(buf), f);
        if (memmem(buf, n, BENCH_OVMF_STARTS, strlen(BENCH_OVMF_STARTS))) {
            b->firmware_s = (double)(clock_now_ms() - t0) / 1000.0;
            break;
        }
    }
    if (f)
        fclose(f);
}

/* One boot in its own session; 0 or the session's exit status. */
static int bench_boot_run(struct vqh_opts *base, struct bench_boot *b, char *accel_why, size_t why_cap,
                          char *reason, size_t reason_cap)
{
    struct vqh_opts o = *base;
    struct session s;
    struct vqh_err err;
    char cfg[512];
    o.boot = b->boot;
    snprintf(o.backend, sizeof(o.backend), "%s", b->backend);
    /* The raw image fully written, as the ceiling's and Linux + fio's are: a sparse one would
     * measure the host filesystem filling holes under O_DIRECT writes (a third fewer ops/s and
     * some 25 MiB more QEMU RSS here, from more busy thread-pool workers). */
    o.disk_prealloc = !b->backend[0];
    o.json[0] = o.junit[0] = 0; /* the session's run report is not the bench's */
    bench_guest_config(b, &o, cfg, sizeof(cfg));
    if (!session_setup(&s, &o, cfg, &err)) {
        session_fail(&s, VERDICT_ERROR, "%s", err.msg);
    } else {
        if (!accel_why[0]) /* probe KVM at most once */
            snprintf(accel_why, why_cap, "%s", s.accel_why);
        base->accel = strcmp(s.accel, "kvm") ? ACCEL_TCG : ACCEL_KVM;
        int64_t t0 = clock_now_ms();
        s.vm = session_start_vm(&s, false, &err);
        if (s.vm && b->boot == BOOT_UEFI)
            bench_wait_firmware(&s, b, t0);
        if (!s.vm) {
            session_fail(&s, VERDICT_ERROR, "%s", err.msg);
        } else if (!session_wait_hello(&s, &err)) {
            session_fail(&s, s.chan->hello || s.chan->panic ? VERDICT_FAIL : VERDICT_ERROR, "%s", err.msg);
            if (vm_alive(s.vm))
                session_evidence_vm(&s, s.vm, "no hello");
        } else {
            b->hello_s = (double)(clock_now_ms() - t0) / 1000.0;
            bench_watch(&s, b, t0);
        }
        if (!s.failed && !bench_hwm_kib(s.vm->proc->pid, &b->hwm_kib, &err))
            session_fail(&s, VERDICT_ERROR, "%s", err.msg);
        /* Stop the VM before quitting it: the figures are taken, and a QEMU before the fix that
         * begins qemu_cleanup's drain after vm_shutdown() (7.2 here) can deadlock when it quits
         * a running VM with requests in flight on an iothread: the main loop holds the BQL and
         * waits for the iothread's AioContext lock, the iothread holds that lock and waits for
         * the BQL to signal a completion (1 bench in 5 on Debian's 7.2 under TCG). `stop` runs
         * the device's own stop path (the dataplane drains and goes back to the main loop). */
        json_t *stopped = NULL;
        if (!s.failed && vm_alive(s.vm) && !(stopped = qmp_cmd(s.vm->qmp, "stop", NULL, 10000, &err))) {
            session_fail(&s, VERDICT_FAIL, "QEMU %s did not stop when asked (QMP stop): %s", s.vm->label, err.msg);
            session_evidence_vm(&s, s.vm, "did not stop");
        }
        json_decref(stopped);
        if (!s.failed && !vm_quit(s.vm, 10000, &err)) {
            session_fail(&s, VERDICT_FAIL, "%s", err.msg);
            if (vm_alive(s.vm)) /* hung in its shutdown: which thread waits for what */
                session_evidence_vm(&s, s.vm, "did not exit after quit");
        }
    }
    snprintf(reason, reason_cap, "%s", s.result.reason);
    if (!s.failed) {
        snprintf(s.result.reason, sizeof(s.result.reason), "bench boot %s done", b->name);
        o.quiet = true; /* no run table per boot: the bench prints its own */
    }
    return session_end(&s);
}

static void bench_print(FILE *f, const struct vqh_opts *o, const char *accel_why, const struct bench_boot *bt)
{
    const struct bench_boot *pvh = &bt[0], *uefi = &bt[1], *raw = &bt[0], *nul = &bt[2];
    fprintf(f, "\nvqhammer bench (build %s), accelerator %s\n", report_build_id(), accel_why);
    fprintf(f, "VM: %s, %d vCPUs, %d MiB RAM, virtio-blk num-queues=%d queue-size=%d, %d iothread%s, guest %s mode\n",
            o->machine, o->smp, o->mem_mib, o->queues, o->queue_size, o->iothreads, o->iothreads == 1 ? "" : "s", o->mode);
    fprintf(f, "Load: 4 KiB random requests (8 x 512-byte blocks), 2 reads per write; every read of a block\n"
               "      written in the run is verified (there is no final verification pass)\n\n");
    fprintf(f, "%-44s %12s %12s\n", "Boot (host clock, from QEMU start)", "PVH", "UEFI");
    fprintf(f, "  %-42s %10.2f s %10.2f s\n", "to hello", pvh->hello_s, uefi->hello_s);
    fprintf(f, "  %-42s %10.2f s %10.2f s\n", "to first verified I/O", pvh->first_s, uefi->first_s);
    fprintf(f, "  %-42s %12s %10.2f s\n\n", "to OVMF starting our EFI loader", "-", uefi->firmware_s);
    fprintf(f, "Steady window (PVH boots; %d s of warm-up after the first verified I/O, null-co: read)\n",
            BENCH_WARMUP_MS / 1000);
    fprintf(f, "  raw:     %llu MiB raw image, cache=%s, aio=%s\n", (unsigned long long)(o->disk_size >> 20), o->cache, o->aio);
    fprintf(f, "  null-co: null-co read-zeroes=on, same cache/aio flags, READS ONLY (null-co keeps no data,\n"
               "           so nothing is verified): the ceiling of the virtio path without a backend\n");
    fprintf(f, "%-44s %12s %12s\n", "", "raw", "null-co");
    fprintf(f, "  %-42s %10.2f s %10.2f s\n", "window by the guest's clock", raw->window_s, nul->window_s);
    fprintf(f, "  %-42s %10.2f s %10.2f s\n", "window by the host's clock", raw->wall_s, nul->wall_s);
    fprintf(f, "  %-42s %8.0f/s   %8.0f/s\n", "ops (raw: verified), total", raw->ops / raw->window_s, nul->ops / nul->window_s);
    for (int q = 0; q < raw->nq || q < nul->nq; q++) {
        char what[32];
        snprintf(what, sizeof(what), "  queue %d", q);
        fprintf(f, "  %-42s %8.0f/s   %8.0f/s\n", what, q < raw->nq ? raw->qops[q] / raw->window_s : 0,
                q < nul->nq ? nul->qops[q] / nul->window_s : 0);
    }
    fprintf(f, "  %-42s %6.1f MiB/s %6.1f MiB/s\n", "throughput", raw->bytes / raw->window_s / 1048576.0,
            nul->bytes / nul->window_s / 1048576.0);
    fprintf(f, "  %-42s %10.3f s %10.3f s\n", "QEMU CPU (user+sys) per 1000 ops", raw->cpu_s * 1000.0 / (double)raw->ops,
            nul->cpu_s * 1000.0 / (double)nul->ops);
    fprintf(f, "  %-42s %10.2f   %10.2f\n", "QEMU CPUs busy (CPU s / host s)", raw->cpu_s / raw->wall_s, nul->cpu_s / nul->wall_s);
    fprintf(f, "  %-42s %6.1f MiB   %6.1f MiB\n", "QEMU peak RSS (VmHWM, before quit)", raw->hwm_kib / 1024.0, nul->hwm_kib / 1024.0);
}

static json_t *bench_boot_json(const struct bench_boot *b)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:f, s:I}", "name", b->name, "boot", b->boot == BOOT_PVH ? "pvh" : "uefi",
                          "backend", b->backend[0] ? b->backend : "raw", "reads_only", b->reads_only,
                          "to_hello_s", b->hello_s, "qemu_peak_rss_kib", (json_int_t)b->hwm_kib);
    if (b->first_s >= 0)
        json_object_set_new(j, "to_first_verified_s", json_real(b->first_s));
    if (b->boot == BOOT_UEFI && b->firmware_s >= 0)
        json_object_set_new(j, "to_firmware_starting_loader_s", json_real(b->firmware_s));
    if (!b->steady)
        return j;
    json_t *q = json_array();
    for (int i = 0; i < b->nq; i++)
        json_array_append_new(q, json_real((double)b->qops[i] / b->window_s));
    json_object_set_new(j, "steady", json_pack("{s:f, s:f, s:I, s:f, s:o, s:f, s:f, s:f}",
        "window_s", b->window_s, "host_window_s", b->wall_s, "ops", (json_int_t)b->ops,
        "ops_per_s", (double)b->ops / b->window_s, "queue_ops_per_s", q,
        "mib_per_s", (double)b->bytes / b->window_s / 1048576.0, "qemu_cpu_s", b->cpu_s,
        "qemu_cpu_s_per_1000_ops", b->cpu_s * 1000.0 / (double)b->ops));
    return j;
}

static bool bench_json_fill(FILE *f, void *ctx)
{
    return json_dumpf(ctx, f, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0 && fputc('\n', f) != EOF;
}

static void bench_usage(FILE *f)
{
    fprintf(f,
        "usage: vqhammer bench [options]\n\n"
        "Speed and memory figures under QEMU (for `make bench`; never part of a timed test). Three boots:\n"
        "  PVH, raw image      seconds from QEMU start to hello and to the first verified read, then a\n"
        "                      steady window: verified ops/s (total and per queue), QEMU CPU seconds per\n"
        "                      1000 ops (/proc/PID/stat) and QEMU peak RSS (VmHWM)\n"
        "  UEFI, raw image     seconds to hello and to the first verified read\n"
        "  PVH, null-co        the steady window on QEMU's null-co driver (read-zeroes=on), READS ONLY:\n"
        "                      the ceiling of the virtio path without a backend (nothing to verify)\n"
        "Fixed load: 4 KiB random requests, 2 reads per write, no flush, discard or write-zeroes.\n"
        "Then `make run`'s hops per hour: vqhammer migrate with its default flags, UEFI and PVH, and a\n"
        "table of every figure beside the Linux + fio baseline and the host's ceiling, with its goal.\n\n"
        "Options (bench defaults):\n"
        "  --accel auto|kvm|tcg   (tcg: no KVM probe; auto probes once)\n"
        "  --smp N (2)  --queues N (4)  --mem MIB (256)  --iothreads N (1)  --disk-size SIZE (256M)\n"
        "  --aio threads|native|io_uring (threads)  --cache MODE (none)\n"
        "  --run-seconds N        steady window by the guest's clock (20), after %d s of warm-up\n"
        "  --json FILE            the figures as JSON\n"
        "  --hops N               hops of each `migrate` run for hops per hour (%d; 0: skip them)\n"
        "  --baseline FILE        result.json of the Linux + fio baseline (../shared/linux-fio/run.sh)\n"
        "  --ceiling FILE         qemu-img bench figures: {raw_read_iops, raw_write_iops, null_read_iops}\n"
        "  --workdir DIR          where the scratch image lives: its filesystem is what is measured\n"
        "Also as in `vqhammer run --help`: --qemu --machine --queue-size --disk-opts --guest-mode --seed\n"
        "--boot-timeout --guest-timeout --keep --quiet --verbose. --guest-config may add guest keys\n"
        "other than those the bench sets (duration, report_ms, watchdog_ms, min/max_blocks, mix_*).\n"
        "Exit status: 0 figures printed, 1 FAIL (guest errors, hang, crash), 2 ERROR (setup, flags).\n",
        BENCH_WARMUP_MS / 1000, BENCH_HOPS);
}

int cmd_bench(int argc, char **argv)
{
    struct vqh_opts o;
    struct vqh_err err;
    char accel_why[512] = "", reason[HOP_TEXT_MAX];
    struct bench_boot boots[] = {
        { .name = "pvh", .boot = BOOT_PVH, .backend = "", .steady = true },
        { .name = "uefi", .boot = BOOT_UEFI, .backend = "" },
        { .name = "null-co", .boot = BOOT_PVH, .backend = "null-co", .reads_only = true, .steady = true },
    };
    const char *baseline = NULL, *ceiling = NULL;
    int nhops = BENCH_HOPS, kept = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            bench_usage(stdout);
            return 0;
        }
    }
    /* The bench's own flags come out of argv; the rest are the run options. */
    for (int i = 1; i < argc; i++) {
        bool mine = i + 1 < argc && (!strcmp(argv[i], "--baseline") || !strcmp(argv[i], "--ceiling") ||
                                     !strcmp(argv[i], "--hops"));
        if (!mine) {
            argv[kept++] = argv[i];
            continue;
        }
        const char *v = argv[++i];
        char *end;
        if (!strcmp(argv[i - 1], "--baseline")) {
            baseline = v;
        } else if (!strcmp(argv[i - 1], "--ceiling")) {
            ceiling = v;
        } else {
            long n = strtol(v, &end, 10);
            if (*end || end == v || n < 0 || n > 1000) {
                fprintf(stderr, "vqhammer bench: --hops '%s': want a number of hops from 0 (skip) to 1000\n", v);
                return 2;
            }
            nhops = (int)n;
        }
    }
    argc = kept;
    opts_defaults(&o, "bench");
    o.accel = ACCEL_TCG;
    o.smp = 2;
    o.queues = 4;
    o.run_seconds = 20;
    if (opts_parse(&o, argc, argv, &err) < 0 || !opts_validate(&o, &err)) {
        fprintf(stderr, "vqhammer bench: %s\n", err.msg);
        return 2;
    }
    if (o.ndisks || o.run_seconds < 1) {
        fprintf(stderr, "vqhammer bench: %s\n", o.ndisks ? "--disk: the bench uses a scratch image in its run directory; "
                "choose its filesystem with --workdir" : "--run-seconds: the steady window needs at least 1 s");
        return 2;
    }
    /* opts_validate checks the files of one boot (--boot); the bench boots both ways. */
    o.boot = o.boot == BOOT_PVH ? BOOT_UEFI : BOOT_PVH;
    if (!opts_validate(&o, &err)) {
        fprintf(stderr, "vqhammer bench: %s\n", err.msg);
        return 2;
    }
    for (size_t i = 0; i < sizeof(boots) / sizeof(boots[0]); i++) {
        fprintf(stderr, "vqhammer bench: boot %zu of %zu: %s%s\n", i + 1, sizeof(boots) / sizeof(boots[0]),
                boots[i].boot == BOOT_PVH ? "PVH" : "UEFI", boots[i].reads_only ? ", null-co, reads only" : ", raw image");
        int rc = bench_boot_run(&o, &boots[i], accel_why, sizeof(accel_why), reason, sizeof(reason));
        if (rc) {
            fprintf(stderr, "vqhammer bench: the %s boot failed: %s\n", boots[i].name, reason);
            return rc;
        }
    }
    struct bench_hops hops[] = { { .boot = "uefi", .hops = nhops }, { .boot = "pvh", .hops = nhops } };
    for (size_t i = 0; nhops && i < sizeof(hops) / sizeof(hops[0]); i++) {
        fprintf(stderr, "vqhammer bench: `make run` hops per hour: vqhammer migrate --migrations %d --boot %s --accel %s\n", nhops,
                hops[i].boot, o.accel == ACCEL_KVM ? "kvm" : "tcg");
        if (!bench_hops_run(&hops[i], o.accel == ACCEL_KVM ? "kvm" : "tcg", o.workdir, &err)) {
            fprintf(stderr, "vqhammer bench: %s\n", err.msg);
            return 1;
        }
    }
    struct bench_baseline base = { 0 };
    struct bench_ceiling ceil = { 0 };
    if (baseline && !bench_baseline_load(baseline, &base, &err))
        fprintf(stderr, "vqhammer bench: the Linux + fio baseline is left out: %s\n", err.msg);
    if (ceiling && !bench_ceiling_load(ceiling, &ceil, &err))
        fprintf(stderr, "vqhammer bench: the host's ceiling is left out: %s\n", err.msg);
    bench_print(stdout, &o, accel_why, boots);
    for (size_t i = 0; nhops && i < sizeof(hops) / sizeof(hops[0]); i++)
        printf("  `make run` as %s: %d hops in %.1f s (first hop at %.1f s, then %.2f s per hop), accelerator %s\n",
               hops[i].boot, hops[i].hops, hops[i].duration_s, hops[i].first_hop_s, hops[i].per_hop_s, hops[i].accel);
    struct bench_figures fig = {
        .iops_raw = boots[0].window_s > 0 ? (double)boots[0].ops / boots[0].window_s : 0,
        .iops_null = boots[2].window_s > 0 ? (double)boots[2].ops / boots[2].window_s : 0,
        .pvh_first_s = boots[0].first_s, .uefi_first_s = boots[1].first_s, .uefi_firmware_s = boots[1].firmware_s,
        .rss_mib = (double)boots[0].hwm_kib / 1024.0, .hops_uefi = &hops[0], .hops_pvh = &hops[1],
    };
    json_t *rows = bench_compare_rows(&fig, &base, &ceil);
    bench_compare_print(stdout, rows, &base);
    if (!o.json[0]) {
        json_decref(rows);
        return 0;
    }
    json_t *cfg = opts_to_json(&o), *boot_list = json_array(), *hop_list = json_array();
    for (size_t i = 0; nhops && i < sizeof(hops) / sizeof(hops[0]); i++)
        json_array_append_new(hop_list, json_pack("{s:s, s:i, s:f, s:f, s:f, s:s, s:f}", "boot", hops[i].boot,
            "hops", hops[i].hops, "duration_s", hops[i].duration_s, "first_hop_s", hops[i].first_hop_s,
            "per_hop_s", hops[i].per_hop_s, "accel", hops[i].accel, "hops_per_hour", hops[i].hops_per_hour));
    json_object_del(cfg, "boot");
    json_object_del(cfg, "disks");
    for (size_t i = 0; i < sizeof(boots) / sizeof(boots[0]); i++)
        json_array_append_new(boot_list, bench_boot_json(&boots[i]));
    json_t *doc = json_pack("{s:{s:s}, s:s, s:s, s:o, s:{s:i, s:i, s:i}, s:o}", "vqhammer", "version", report_build_id(),
                            "accel", o.accel == ACCEL_KVM ? "kvm" : "tcg", "accel_why", accel_why, "config", cfg,
                            "load", "request_bytes", 4096, "mix_read", 2, "mix_write", 1, "boots", boot_list);
    json_object_set_new(doc, "make_run_hops", hop_list);
    json_object_set_new(doc, "linux_fio", base.have ? json_pack("{s:s, s:f, s:f, s:f}", "result", base.path,
                        "iops", base.iops, "first_io_s", base.first_io_s, "qemu_peak_rss_mib", base.rss_mib) : json_null());
    json_object_set_new(doc, "host_ceiling", ceil.have ? json_pack("{s:s, s:f, s:f, s:f}", "tool", "qemu-img bench",
                        "raw_read_iops", ceil.raw_read, "raw_write_iops", ceil.raw_write, "null_read_iops",
                        ceil.null_read) : json_null());
    json_object_set_new(doc, "comparison", rows);
    bool ok = doc && report_write_atomic(o.json, bench_json_fill, doc, &err);
    if (!doc)
        vqh_err_set(&err, "out of memory building the --json document");
    json_decref(doc);
    if (!ok)
        fprintf(stderr, "vqhammer bench: %s\n", err.msg);
    return ok ? 0 : 2;
}
