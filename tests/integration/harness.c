/* harness.c: QEMU and vqhammer runs for the integration tests. */
#include "harness.h"
#include "guestlog.h"
#include "guestparts.h"
#include "proc.h"
#include "wire.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char scratch[256];
static int boot_count;

static double harness_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *harness_dir(void)
{
    if (!scratch[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(scratch, sizeof(scratch), "%s/vqh-test-XXXXXX", t ? t : "/tmp");
        if (!mkdtemp(scratch))
            abort();
    }
    return scratch;
}

static void harness_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char p[1024];
    if (!d) {
        unlink(path);
        return;
    }
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat st;
        if (!lstat(p, &st) && S_ISDIR(st.st_mode))
            harness_rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

void harness_cleanup(void)
{
    /* VQH_KEEP keeps every case's directory (README), so their parent stays too. */
    if (scratch[0] && !getenv("VQH_KEEP"))
        harness_rm_rf(scratch);
    scratch[0] = 0;
}

const char *harness_image(const char *name, unsigned long long size)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", harness_dir(), name);
    FILE *f = fopen(p, "w");
    if (!f || ftruncate(fileno(f), (off_t)size))
        abort();
    fclose(f);
    return p;
}

char *harness_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

struct harness_take {
    struct boot_result *r;
    struct guestparts *parts;
};

/* Whole messages (multi-part ones put back together) into r; a message given up is counted. */
static void harness_drain(struct harness_take *t)
{
    struct guestparts_out o;
    while (guestparts_next(t->parts, &o)) {
        if (o.kind == GUESTPARTS_WHOLE && t->r->nmsgs < HARNESS_MAX_MSGS)
            t->r->msgs[t->r->nmsgs++] = json_incref(o.msg->obj);
        if (o.kind == GUESTPARTS_BROKEN) {
            t->r->broken_msgs++;
            fprintf(stderr, "harness: %s\n", o.detail);
        }
        guestparts_out_clear(&o);
    }
}

static void harness_take_line(void *arg, const struct guestlog_line *line)
{
    struct harness_take *t = arg;
    struct guestlog_msg *m = NULL;
    struct vqh_err err;
    if (guestlog_parse_line(line, "test", &m, &err) != GUESTLOG_MSG)
        return;
    guestparts_add(t->parts, m);
    harness_drain(t);
}

bool harness_boot(const struct boot_spec *spec, struct boot_result *r)
{
    char serial[512], cfg[512], vars[512], log[512], fw[600], serarg[600], cpus[16], mem[16];
    const char *argv[96];
    int n = 0, id = ++boot_count;
    memset(r, 0, sizeof(*r));
    snprintf(serial, sizeof(serial), "%s/serial-%d.log", harness_dir(), id);
    snprintf(log, sizeof(log), "%s/qemu-%d.log", harness_dir(), id);
    snprintf(serarg, sizeof(serarg), "file:%s", serial);
    snprintf(cpus, sizeof(cpus), "%d", spec->smp ? spec->smp : 4);
    snprintf(mem, sizeof(mem), "%d", spec->mem_mib ? spec->mem_mib : 256);
    argv[n++] = "qemu-system-x86_64";
    argv[n++] = "-machine"; argv[n++] = "q35";
    argv[n++] = "-accel"; argv[n++] = "tcg";
    argv[n++] = "-smp"; argv[n++] = cpus;
    argv[n++] = "-m"; argv[n++] = mem;
    argv[n++] = "-nodefaults"; argv[n++] = "-no-user-config";
    argv[n++] = "-display"; argv[n++] = "none"; argv[n++] = "-no-reboot";
    argv[n++] = "-serial"; argv[n++] = serarg;
    argv[n++] = "-device"; argv[n++] = "isa-debug-exit,iobase=0xf4,iosize=0x04";
    if (spec->config) {
        snprintf(cfg, sizeof(cfg), "%s/guest-%d.cfg", harness_dir(), id);
        FILE *f = fopen(cfg, "w");
        fputs(spec->config, f);
        fclose(f);
        snprintf(fw, sizeof(fw), "name=%s,file=%s", WIRE_FWCFG_CONFIG, cfg);
        argv[n++] = "-fw_cfg"; argv[n++] = fw;
    }
    static char pf0[600], pf1[600], esp[600];
    if (!strcmp(spec->boot, "uefi")) {
        snprintf(vars, sizeof(vars), "%s/vars-%d.fd", harness_dir(), id);
        char cp[1200];
        snprintf(cp, sizeof(cp), "cp /usr/share/OVMF/OVMF_VARS_4M.fd %s", vars);
        if (system(cp))
            return false;
        snprintf(pf0, sizeof(pf0), "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd");
        snprintf(pf1, sizeof(pf1), "if=pflash,format=raw,unit=1,file=%s", vars);
        snprintf(esp, sizeof(esp), "if=none,id=esp,format=raw,readonly=on,file=%s/build/esp.img", VQH_TOP);
        argv[n++] = "-drive"; argv[n++] = pf0;
        argv[n++] = "-drive"; argv[n++] = pf1;
        argv[n++] = "-drive"; argv[n++] = esp;
        argv[n++] = "-device"; argv[n++] = "virtio-blk-pci,drive=esp,serial=esp,bootindex=0";
    } else {
        argv[n++] = "-kernel"; argv[n++] = VQH_TOP "/build/kernel.elf";
    }
    for (int i = 0; spec->extra[i] && n < 94; i++)
        argv[n++] = spec->extra[i];
    argv[n] = NULL;

    struct vqh_err err;
    double t0 = harness_now();
    struct proc *p = proc_spawn(argv, "qemu", log, log, &err);
    if (!p) {
        fprintf(stderr, "harness: %s\n", err.msg);
        return false;
    }
    bool done = proc_wait(p, spec->timeout_ms ? spec->timeout_ms : 60000);
    r->seconds = harness_now() - t0;
    if (!done) {
        r->timed_out = true;
        proc_kill_reap(p, 1000);
    }
    int st = proc_status(p);
    r->exit_status = done && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    proc_free(p);

    /* The guest's messages, in order (boot times are the bench's business, not a test's). */
    struct guestlog_asm a;
    struct harness_take t = { r, guestparts_new() };
    if (!t.parts)
        abort();
    guestlog_asm_init(&a);
    FILE *f = fopen(serial, "r");
    char buf[8192];
    size_t got;
    while (f && (got = fread(buf, 1, sizeof(buf), f)) > 0)
        guestlog_asm_feed(&a, buf, got, harness_take_line, &t);
    guestlog_asm_finish(&a, harness_take_line, &t);
    guestparts_end(t.parts);
    harness_drain(&t);
    guestparts_free(t.parts);
    if (f)
        fclose(f);
    if (r->timed_out || r->exit_status < 0) {
        char *q = harness_slurp(log);
        fprintf(stderr, "harness: QEMU %s; its output:\n%s\n", r->timed_out ? "timed out" : "died", q ? q : "");
        free(q);
    }
    return true;
}

void harness_result_free(struct boot_result *r)
{
    for (int i = 0; i < r->nmsgs; i++)
        json_decref(r->msgs[i]);
    r->nmsgs = 0;
}

json_t *harness_find(const struct boot_result *r, const char *type)
{
    for (int i = 0; i < r->nmsgs; i++)
        if (!strcmp(json_string_value(json_object_get(r->msgs[i], "type")) ?: "", type))
            return r->msgs[i];
    return NULL;
}

int harness_count(const struct boot_result *r, const char *type)
{
    int n = 0;
    for (int i = 0; i < r->nmsgs; i++)
        if (!strcmp(json_string_value(json_object_get(r->msgs[i], "type")) ?: "", type))
            n++;
    return n;
}

int harness_tool(const char *const args[], const char *out_path, int timeout_ms)
{
    return harness_run(VQH_TOP "/build/vqhammer", args, out_path, timeout_ms);
}

int harness_run(const char *prog, const char *const args[], const char *out_path, int timeout_ms)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = prog;
    for (int i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct vqh_err err;
    /* The program's run directory, and so every QEMU's sockets, under our scratch directory:
     * that is how harness_no_qemu_left() tells our QEMUs from anyone else's. */
    setenv("TMPDIR", harness_dir(), 1);
    const char *label = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
    struct proc *p = proc_spawn(argv, label, out_path, out_path, &err);
    if (!p)
        return -1;
    bool done = proc_wait(p, timeout_ms);
    if (!done)
        proc_kill_reap(p, 5000);
    int st = proc_status(p);
    proc_free(p);
    if (!done || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* Read /proc directly: a pgrep that is missing or fails must not pass for "none left". Ours are
 * the processes (only QEMUs when qemu_only) whose command line names our scratch directory; the
 * first one found is named in who. */
static bool harness_scan_proc(bool qemu_only, char *who, size_t len)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    bool none = true;
    if (!d)
        return false;
    while (none && (e = readdir(d))) {
        char path[64], buf[8192];
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue; /* gone meanwhile */
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *base = strrchr(buf, '/');
        if (qemu_only && strncmp(base ? base + 1 : buf, "qemu-system-", 12))
            continue;
        for (size_t i = 0; i < n && none; i += strlen(buf + i) + 1) {
            if (strstr(buf + i, harness_dir())) {
                none = false;
                if (len)
                    snprintf(who, len, "pid %s (%s)", e->d_name, buf);
            }
        }
    }
    closedir(d);
    return none;
}

bool harness_no_qemu_left(void)
{
    return harness_scan_proc(true, NULL, 0);
}

bool harness_nothing_left(char *who, size_t len)
{
    return harness_scan_proc(false, who, len);
}
