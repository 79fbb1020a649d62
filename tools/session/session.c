/* session.c: setting up a run, carrying the guest between QEMUs, and ending with a verdict. */
#include "session.h"
#include "abspath.h"
#include "accel.h"
#include "blockgraph.h"
#include "spec.h"
#include "hotplug.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int session_parse(struct vqh_opts *o, const char *command, int argc, char **argv)
{
    struct vqh_err err;
    opts_defaults(o, command);
    int rc = opts_parse(o, argc, argv, &err);
    if (rc == 1)
        return 0;
    if (rc < 0 || !opts_validate(o, &err)) {
        fprintf(stderr, "vqhammer %s: %s\n", command, err.msg);
        return 2;
    }
    return -1;
}

void session_fail(struct session *s, enum verdict v, const char *fmt, ...)
{
    va_list ap;
    char text[HOP_TEXT_MAX];
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (!s->failed) {
        s->failed = true;
        s->result.verdict = v;
        snprintf(s->result.reason, sizeof(s->result.reason), "%s", text);
    }
    status_event(&s->status, "%s: %s", verdict_name(v), text);
}

/* A data disk: the user's image (created when absent, used only with --disk-overwrite when it
 * exists), or a scratch image in the run directory. */
static bool session_prepare_disk(struct session *s, int i, struct vqh_err *err)
{
    char *path = s->disk_paths[i];
    if (s->o->ndisks) {
        struct stat st;
        if (!abspath_resolve(s->o->disk[i], path, OPTS_PATH_MAX)) {
            if (errno != ENOENT) {
                vqh_err_set(err, "--disk %s: %s%s", s->o->disk[i], strerror(errno),
                            errno == ENAMETOOLONG ? " (its absolute path must be shorter than 1024 characters)" : "");
                return false;
            }
            snprintf(path, OPTS_PATH_MAX, "%s", s->o->disk[i]);
        } else if (stat(path, &st) == 0 && st.st_size > 0 && !s->o->disk_overwrite) {
            vqh_err_set(err, "--disk %s exists and the guest would write all over it: pass --disk-overwrite "
                        "to allow that, or name a new file", s->o->disk[i]);
            return false;
        } else if (stat(path, &st) == 0 && st.st_size > 0) {
            return blockgraph_prepare_image(s->o, i, path, rundir_path(s->rd, "qemu-img.out"), err);
        }
    } else {
        char name[32];
        snprintf(name, sizeof(name), "data%d.img", i);
        snprintf(path, OPTS_PATH_MAX, "%s", rundir_path(s->rd, name));
    }
    if (!blockgraph_create_raw(s->o, path, false, "the data disk", err))
        return false;
    /* QEMU starts in the run directory: it needs the absolute path. */
    if (path[0] != '/' && !abspath_resolve(path, path, OPTS_PATH_MAX)) {
        vqh_err_set(err, "the data disk %s: %s%s", path, strerror(errno),
                    errno == ENAMETOOLONG ? " (its absolute path must be shorter than 1024 characters)" : "");
        return false;
    }
    return blockgraph_prepare_image(s->o, i, path, rundir_path(s->rd, "qemu-img.out"), err);
}

bool session_setup(struct session *s, struct vqh_opts *o, const char *guest_config, struct vqh_err *err)
{
    memset(s, 0, sizeof(*s));
    s->o = o;
    s->start_ms = clock_now_ms();
    if (!o->quiet) /* --quiet: only the summary (and the table after a failure) */
        status_init(&s->status, stderr, false);
    s->rd = rundir_create(o->workdir[0] ? o->workdir : NULL, err);
    if (!s->rd)
        return false;
    snprintf(s->result.rundir, sizeof(s->result.rundir), "%s", rundir_base(s->rd));
    opts_reproducer(o, s->result.reproducer, sizeof(s->result.reproducer));
    s->ndisks = o->ndisks ? o->ndisks : 1;
    for (int i = 0; i < s->ndisks; i++) {
        if (!session_prepare_disk(s, i, err))
            return false;
        s->disk_ptrs[i] = s->disk_paths[i];
    }
    snprintf(s->config_path, sizeof(s->config_path), "%s", rundir_path(s->rd, "guest.cfg"));
    FILE *f = fopen(s->config_path, "we");
    if (!f) {
        vqh_err_set(err, "cannot write %s: %s", s->config_path, strerror(errno));
        return false;
    }
    fprintf(f, "# written by vqhammer %s\nseed=0x%llx\nmode=%s\nmin_disks=%d\n%s\n%s", o->command,
            (unsigned long long)o->seed, o->mode, s->ndisks, guest_config, o->final_state ? "final_state=on\n" : "");
    for (const char *p = o->guest_config; *p; p++)
        fputc(*p == ';' ? '\n' : *p, f);
    fputc('\n', f);
    fclose(f);
    if (o->qmp_log[0]) {
        s->qmp_log = fopen(o->qmp_log, "we");
        if (!s->qmp_log) {
            vqh_err_set(err, "--qmp-log %s: %s", o->qmp_log, strerror(errno));
            return false;
        }
    } else {
        s->qmp_log = fopen(rundir_path(s->rd, "qmp.log"), "we");
    }
    s->chan = chan_new(rundir_path(s->rd, "serial-merged.log"), o->verbose, err);
    if (!s->chan)
        return false;
    /* QEMU inherits this: a crash leaves a core ("core" in its working directory). */
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    setrlimit(RLIMIT_CORE, &rl);
    proc_set_child_dir(rundir_base(s->rd));
    if (!blockgraph_probe(o, s->ndisks, rundir_path(s->rd, "qemu-probe.out"), err))
        return false;
    if (bg_spec_any_nbd(o, s->ndisks) && !(s->nbd = nbd_server_start(o, s->rd, s->disk_ptrs, s->ndisks, err)))
        return false;
    s->accel = accel_choose(o, s->rd, s->accel_why, sizeof(s->accel_why));
    snprintf(s->result.accel, sizeof(s->result.accel), "%s", s->accel);
    status_event(&s->status, "accelerator %s", s->accel_why);
    status_event(&s->status, "run directory %s", rundir_base(s->rd));
    return true;
}

/* Under a KVM that --accel auto chose, a guest comes up in a second or two. */
#define KVM_AUTO_HELLO_MS 15000

/*
 * --accel auto chose KVM because its probe boot passed; a guest that then never comes up under it
 * (no hello, no panic) means this KVM does not work after all (seen on hosts whose /dev/kvm works
 * only now and then): say so and boot again under TCG. --accel kvm never falls back.
 */
static bool session_kvm_gave_up(struct session *s, const char *why)
{
    if (s->o->accel != ACCEL_AUTO || strcmp(s->accel, "kvm") || s->chan->hello || s->chan->panic ||
        s->chan->verdict)
        return false;
    vm_kill(s->vm);
    chan_detach(s->chan, s->vm);
    vm_free(s->vm);
    s->vm = NULL;
    s->accel = "tcg";
    snprintf(s->result.accel, sizeof(s->result.accel), "%s", s->accel);
    snprintf(s->accel_why, sizeof(s->accel_why), "TCG: the probe passed under KVM, but the guest did not come up "
             "under it (%.300s)", why);
    status_event(&s->status, "accelerator %s", s->accel_why);
    return true;
}

bool session_boot(struct session *s, struct vqh_opts *o, const char *guest_config)
{
    struct vqh_err err;
    if (!session_setup(s, o, guest_config, &err)) {
        session_fail(s, VERDICT_ERROR, "%s", err.msg);
        return false;
    }
    s->vm = session_start_vm(s, false, &err);
    if (!s->vm) {
        session_fail(s, VERDICT_ERROR, "%s", err.msg);
        return false;
    }
    int boot_timeout = o->boot_timeout_ms;
    if (o->accel == ACCEL_AUTO && !strcmp(s->accel, "kvm") && o->boot_timeout_ms > KVM_AUTO_HELLO_MS)
        o->boot_timeout_ms = KVM_AUTO_HELLO_MS;
    bool up = session_wait_hello(s, &err);
    o->boot_timeout_ms = boot_timeout;
    if (!up && session_kvm_gave_up(s, err.msg)) {
        s->vm = session_start_vm(s, false, &err);
        if (!s->vm) {
            session_fail(s, VERDICT_ERROR, "%s", err.msg);
            return false;
        }
        up = session_wait_hello(s, &err);
    }
    if (!up) {
        /* A guest that spoke (or panicked) is a finding; one that never came up is a setup error. */
        session_fail(s, s->chan->hello || s->chan->panic ? VERDICT_FAIL : VERDICT_ERROR, "%s", err.msg);
        if (vm_alive(s->vm))
            session_evidence_vm(s, s->vm, "no hello");
        return false;
    }
    return true;
}

struct vm *session_start_vm(struct session *s, bool incoming, struct vqh_err *err)
{
    char label[16];
    struct vm_launch l = {
        .opts = s->o, .rd = s->rd, .accel = s->accel, .config_file = s->config_path,
        .disks = s->disk_ptrs, .ndisks = s->ndisks, .disk_ports = s->disk_port, .qmp_log = s->qmp_log,
        .paused = s->dst_paused, .refuse_features = incoming && s->dst_refuse_features,
    };
    snprintf(label, sizeof(label), "vm%d", ++s->vm_count);
    struct vm *v = vm_start(&l, label, incoming, err);
    if (v)
        chan_attach(s->chan, v);
    return v;
}

bool session_wait_hello(struct session *s, struct vqh_err *err)
{
    int64_t deadline = clock_now_ms() + s->o->boot_timeout_ms;
    struct vqh_err why;
    while (!s->chan->hello) {
        chan_pump(s->chan, 100);
        if (s->chan->verdict || s->chan->panic)
            break;
        if (!vm_alive_hook(s->vm, &why)) {
            vqh_err_set(err, "the guest did not boot: %s (see %s)", why.msg, s->vm->out_path);
            return false;
        }
        if (clock_now_ms() > deadline) {
            vqh_err_set(err, "no hello from the guest within %d ms of starting QEMU (see %s)",
                        s->o->boot_timeout_ms, s->vm->serial_log);
            return false;
        }
    }
    json_t *cfg_err = json_array_get(s->chan->error_list, 0);
    if (!s->chan->hello && cfg_err && !strcmp(json_string_value(json_object_get(cfg_err, "type")) ?: "", WIRE_MSG_CONFIG_ERROR)) {
        vqh_err_set(err, "the guest refused its configuration (%s): %s; fix --guest-config",
                    s->config_path, json_string_value(json_object_get(cfg_err, "error")) ?: "?");
        return false;
    }
    if (!s->chan->hello) {
        char *last = json_dumps(s->chan->verdict ? s->chan->verdict : s->chan->panic, JSON_COMPACT);
        vqh_err_set(err, "the guest ended before hello: %s", last ? last : "?");
        free(last);
        return false;
    }
    json_t *h = s->chan->hello, *d;
    size_t i;
    int cpus = (int)json_integer_value(json_object_get(h, "cpus")), data = 0;
    json_array_foreach(json_object_get(h, "disks"), i, d) {
        if (!strcmp(json_string_value(json_object_get(d, "role")) ?: "", "data")) {
            data++;
            if (json_integer_value(json_object_get(d, "num_queues")) != s->o->queues) {
                vqh_err_set(err, "the guest sees %lld queues on %s, not --queues %d",
                            json_integer_value(json_object_get(d, "num_queues")),
                            json_string_value(json_object_get(d, "serial")), s->o->queues);
                return false;
            }
        }
    }
    if (cpus != s->o->smp) {
        vqh_err_set(err, "only %d of %d vCPUs came up in the guest (see cpu messages in %s)", cpus, s->o->smp,
                    rundir_path(s->rd, "serial-merged.log"));
        return false;
    }
    if (data != s->ndisks) {
        vqh_err_set(err, "the guest found %d data disks, not %d (see hello in %s)", data, s->ndisks,
                    rundir_path(s->rd, "serial-merged.log"));
        return false;
    }
    if (!hotplug_check_hello(s, h, err))
        return false;
    status_event(&s->status, "%s: guest up (%s boot, %d vCPUs, %d data disk%s, %lld ms after start)", s->vm->label,
                 json_string_value(json_object_get(h, "boot_path")), cpus, data, data == 1 ? "" : "s",
                 (long long)(clock_now_ms() - s->start_ms));
    return true;
}

/* Append a file's last lines to f. */
static void session_tail(FILE *f, const char *path, int lines)
{
    FILE *in = fopen(path, "re");
    if (!in) {
        fprintf(f, "  (cannot read %s)\n", path);
        return;
    }
    static char ring[64][512];
    int n = 0;
    while (fgets(ring[n % 64], sizeof(ring[0]), in))
        n++;
    fclose(in);
    int from = n > lines ? n - lines : 0;
    for (int i = from; i < n; i++)
        fprintf(f, "  | %s%s", ring[i % 64], strchr(ring[i % 64], '\n') ? "" : "\n");
}

void session_evidence_vm(struct session *s, struct vm *v, const char *what)
{
    char name[64];
    struct vqh_err err;
    snprintf(name, sizeof(name), "gdb-%s.txt", v->label);
    const char *out = rundir_path(s->rd, name);
    FILE *f;
    bool got;
    /* The graph as this QEMU has it, asked before gdb stops it; briefly: a hung QEMU must not
     * hold up its backtrace. */
    char *nodes = vm_alive(v) && v->qmp ? blockgraph_nodes_text(v->qmp, 2000) : NULL;
    if (vm_alive(v)) {
        got = proc_gdb_backtrace(v->proc->pid, NULL, NULL, out, 60000, &err);
        vm_kill(v);
    } else {
        /* QEMU runs in the run directory: a core dump lands there as "core". */
        char core[1100];
        snprintf(core, sizeof(core), "%s", rundir_path(s->rd, "core"));
        got = access(core, R_OK) == 0 && proc_gdb_backtrace(0, v->exe, core, out, 120000, &err);
        if (got) {
            char kept[64];
            snprintf(kept, sizeof(kept), "core-%s", v->label);
            rename(core, rundir_path(s->rd, kept));
        } else if (access(core, R_OK) != 0) {
            vqh_err_set(&err, "no core file was written (ulimit -c, /proc/sys/kernel/core_pattern)");
        }
    }
    f = fopen(rundir_path(s->rd, "evidence.txt"), "ae");
    if (!f) {
        free(nodes);
        return;
    }
    fprintf(f, "== %s: %s (%s)\n", v->label, what, v->exit_status[0] ? v->exit_status : "running");
    if (nodes)
        fprintf(f, "query-named-block-nodes (flat):\n%s", nodes);
    free(nodes);
    fprintf(f, "command: %s\n", v->cmdline);
    fprintf(f, "QEMU output (%s), last lines:\n", v->out_path);
    session_tail(f, v->out_path, 30);
    if (got)
        fprintf(f, "all-thread backtrace: %s\n", out);
    else
        fprintf(f, "no backtrace: %s\n", err.msg);
    if (got)
        session_tail(f, out, 400);
    fclose(f);
    snprintf(s->result.evidence, sizeof(s->result.evidence), "%s", rundir_path(s->rd, "evidence.txt"));
}

static void session_write_guest_evidence(struct session *s, const char *nodes)
{
    FILE *f = fopen(rundir_path(s->rd, "evidence.txt"), "ae");
    if (!f)
        return;
    if (nodes)
        fprintf(f, "query-named-block-nodes (flat) of the last QEMU:\n%s", nodes);
    fprintf(f, "== verdict %s: %s\n", verdict_name(s->result.verdict), s->result.reason);
    fprintf(f, "reproducer: %s\n", s->result.reproducer);
    fprintf(f, "guest messages, merged by sequence number: %s\n", rundir_path(s->rd, "serial-merged.log"));
    fprintf(f, "QMP transcript: %s\n", s->o->qmp_log[0] ? s->o->qmp_log : rundir_path(s->rd, "qmp.log"));
    if (s->chan->anomalies)
        fprintf(f, "guest message stream anomalies: %llu, first: %s\n", (unsigned long long)s->chan->anomalies,
                s->chan->first_anomaly);
    if (json_array_size(s->chan->error_list)) {
        fprintf(f, "guest error reports (%llu in all, first %zu):\n", (unsigned long long)s->chan->errors,
                json_array_size(s->chan->error_list));
        json_t *e;
        size_t i;
        json_array_foreach(s->chan->error_list, i, e) {
            char *t = json_dumps(e, JSON_COMPACT);
            fprintf(f, "  %s\n", t ? t : "?");
            free(t);
        }
    }
    fclose(f);
    snprintf(s->result.evidence, sizeof(s->result.evidence), "%s", rundir_path(s->rd, "evidence.txt"));
}

int session_end(struct session *s)
{
    struct vqh_err err;
    char *nodes = NULL;
    if (s->vm && s->result.verdict != VERDICT_PASS && vm_alive(s->vm) && s->vm->qmp)
        nodes = blockgraph_nodes_text(s->vm->qmp, 2000);
    if (s->vm) {
        chan_detach(s->chan, s->vm);
        vm_free(s->vm);
        s->vm = NULL;
    }
    status_done(&s->status);
    s->result.duration_s = (double)(clock_now_ms() - s->start_ms) / 1000.0;
    s->result.guest_errors = s->chan ? s->chan->errors : 0;
    if (s->chan && s->chan->summary)
        s->result.total_ops = (uint64_t)json_integer_value(json_object_get(s->chan->summary, "ops"));
    if (s->chan && s->chan->summary) {
        s->result.large_ops = chan_queue_sum(s->chan->summary, "large");
        s->result.large_writes = chan_queue_sum(s->chan->summary, "large_writes");
        s->result.large_max_bytes = chan_queue_max(s->chan->summary, "large_max_bytes");
        s->result.large_max_segs = chan_queue_max(s->chan->summary, "large_max_segs");
    }
    if (s->result.verdict != VERDICT_PASS && s->rd && s->chan)
        session_write_guest_evidence(s, nodes);
    free(nodes);
    nbd_server_stop(s->nbd);
    s->nbd = NULL;
    if (s->qmp_log)
        fclose(s->qmp_log);
    if (s->o->json[0]) {
        json_t *cfg = opts_to_json(s->o);
        if (!report_json_write(s->o->json, cfg, &s->result, &err))
            fprintf(stderr, "vqhammer: %s\n", err.msg);
        json_decref(cfg);
    }
    if (s->o->junit[0] && !report_junit_write(s->o->junit, &s->result, s->o->command, &err))
        fprintf(stderr, "vqhammer: %s\n", err.msg);
    bool keep = s->o->keep || s->result.verdict != VERDICT_PASS;
    if (s->rd && !keep && rundir_remove(s->rd, &err))
        s->result.rundir[0] = 0;
    if (!s->o->quiet || s->result.verdict != VERDICT_PASS)
        report_table_print(stdout, &s->result);
    if (s->o->final_state && s->result.rundir[0])
        printf("offline check: vqhammer verify-image %s --state %s/serial-merged.log\n", s->disk_paths[0],
               s->result.rundir);
    chan_free(s->chan);
    rundir_free(s->rd);
    int rc = s->result.verdict == VERDICT_PASS ? 0 : s->result.verdict == VERDICT_FAIL ? 1 : 2;
    run_result_free(&s->result);
    return rc;
}
