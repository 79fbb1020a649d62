/* opts.c: flags of `vqhammer run` and `vqhammer migrate`, their defaults and checks. */
#include "opts.h"
#include "inject_block.h"
#include "config.h"
#include "spec.h"
#include "hotplug.h"
#include "hop_action.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    O_QEMU = 256, O_QEMU_DST, O_MACHINE, O_ACCEL, O_SMP, O_MEM, O_BOOT, O_KERNEL, O_ESP,
    O_OVMF_CODE, O_OVMF_VARS, O_DISK, O_DISK_SIZE, O_QUEUES, O_QUEUE_SIZE, O_IOTHREADS, O_AIO,
    O_CACHE, O_DISK_OPTS, O_SEED, O_GUEST_CONFIG, O_GUEST_MODE, O_MIGRATIONS, O_DURATION,
    O_RUN_SECONDS, O_TRANSPORT, O_MULTIFD, O_POSTCOPY, O_XBZRLE, O_AUTO_CONVERGE,
    O_DOWNTIME_LIMIT, O_BANDWIDTH, O_CANCEL_EVERY, O_KILL_DST_EVERY, O_VERIFY, O_VERIFY_SAMPLE,
    O_GAP, O_BOOT_TIMEOUT, O_MIGRATE_TIMEOUT, O_GUEST_TIMEOUT, O_KEEP, O_JSON, O_JUNIT,
    O_QMP_LOG, O_WORKDIR, O_QUIET, O_VERBOSE, O_INJECT, O_INJECT_HOP, O_HELP, O_DISK_OVERWRITE, O_DISK_PREALLOC, O_FINAL_STATE, O_CHECK_RAM,
    O_DISK_GRAPH, O_NBD_CHAOS, O_RESET_EVERY, O_HOP_ACTIONS, O_HOP_MIX,
    O_HOTPLUG_SLOTS, O_HOTPLUG_EVERY,
};

static const struct option long_opts[] = {
    { "qemu", required_argument, 0, O_QEMU },
    { "qemu-dst", required_argument, 0, O_QEMU_DST },
    { "machine", required_argument, 0, O_MACHINE },
    { "accel", required_argument, 0, O_ACCEL },
    { "smp", required_argument, 0, O_SMP },
    { "mem", required_argument, 0, O_MEM },
    { "boot", required_argument, 0, O_BOOT },
    { "kernel", required_argument, 0, O_KERNEL },
    { "esp", required_argument, 0, O_ESP },
    { "ovmf-code", required_argument, 0, O_OVMF_CODE },
    { "ovmf-vars", required_argument, 0, O_OVMF_VARS },
    { "disk", required_argument, 0, O_DISK },
    { "disk-size", required_argument, 0, O_DISK_SIZE },
    { "disk-overwrite", no_argument, 0, O_DISK_OVERWRITE },
    { "disk-prealloc", no_argument, 0, O_DISK_PREALLOC },
    { "queues", required_argument, 0, O_QUEUES },
    { "queue-size", required_argument, 0, O_QUEUE_SIZE },
    { "iothreads", required_argument, 0, O_IOTHREADS },
    { "aio", required_argument, 0, O_AIO },
    { "cache", required_argument, 0, O_CACHE },
    { "disk-opts", required_argument, 0, O_DISK_OPTS },
    { "seed", required_argument, 0, O_SEED },
    { "guest-config", required_argument, 0, O_GUEST_CONFIG },
    { "guest-mode", required_argument, 0, O_GUEST_MODE },
    { "migrations", required_argument, 0, O_MIGRATIONS },
    { "duration", required_argument, 0, O_DURATION },
    { "run-seconds", required_argument, 0, O_RUN_SECONDS },
    { "transport", required_argument, 0, O_TRANSPORT },
    { "multifd", optional_argument, 0, O_MULTIFD },
    { "postcopy", no_argument, 0, O_POSTCOPY },
    { "xbzrle", no_argument, 0, O_XBZRLE },
    { "auto-converge", no_argument, 0, O_AUTO_CONVERGE },
    { "downtime-limit", required_argument, 0, O_DOWNTIME_LIMIT },
    { "bandwidth", required_argument, 0, O_BANDWIDTH },
    { "cancel-every", required_argument, 0, O_CANCEL_EVERY },
    { "reset-every", required_argument, 0, O_RESET_EVERY },
    { "hotplug-slots", required_argument, 0, O_HOTPLUG_SLOTS },
    { "hotplug-every", required_argument, 0, O_HOTPLUG_EVERY },
    { "kill-dst-every", required_argument, 0, O_KILL_DST_EVERY },
    { "verify", required_argument, 0, O_VERIFY },
    { "verify-sample", required_argument, 0, O_VERIFY_SAMPLE },
    { "gap", required_argument, 0, O_GAP },
    { "boot-timeout", required_argument, 0, O_BOOT_TIMEOUT },
    { "migrate-timeout", required_argument, 0, O_MIGRATE_TIMEOUT },
    { "guest-timeout", required_argument, 0, O_GUEST_TIMEOUT },
    { "keep", no_argument, 0, O_KEEP },
    { "final-state", no_argument, 0, O_FINAL_STATE },
    { "check-ram", no_argument, 0, O_CHECK_RAM },
    { "json", required_argument, 0, O_JSON },
    { "junit", required_argument, 0, O_JUNIT },
    { "qmp-log", required_argument, 0, O_QMP_LOG },
    { "workdir", required_argument, 0, O_WORKDIR },
    { "quiet", no_argument, 0, O_QUIET },
    { "verbose", no_argument, 0, O_VERBOSE },
    { "inject", required_argument, 0, O_INJECT },
    { "inject-hop", required_argument, 0, O_INJECT_HOP },
    { "disk-graph", required_argument, 0, O_DISK_GRAPH },
    { "nbd-chaos", required_argument, 0, O_NBD_CHAOS },
    { "hop-actions", required_argument, 0, O_HOP_ACTIONS },
    { "hop-mix", required_argument, 0, O_HOP_MIX },
    { "help", no_argument, 0, O_HELP },
    { 0, 0, 0, 0 },
};

/* The directory holding this executable: build/, where kernel.elf and esp.img are too. */
static void opts_self_dir(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0) {
        snprintf(buf, cap, "build");
        return;
    }
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = 0;
}

void opts_defaults(struct vqh_opts *o, const char *command)
{
    char dir[OPTS_PATH_MAX - 32];
    memset(o, 0, sizeof(*o));
    o->command = command;
    opts_self_dir(dir, sizeof(dir));
    snprintf(o->qemu, sizeof(o->qemu), "qemu-system-x86_64");
    snprintf(o->machine, sizeof(o->machine), "pc-q35-7.2");
    o->accel = ACCEL_AUTO;
    o->smp = 4;
    o->mem_mib = 256;
    o->boot = BOOT_UEFI;
    snprintf(o->kernel, sizeof(o->kernel), "%s/kernel.elf", dir);
    snprintf(o->esp, sizeof(o->esp), "%s/esp.img", dir);
    snprintf(o->ovmf_code, sizeof(o->ovmf_code), "/usr/share/OVMF/OVMF_CODE_4M.fd");
    snprintf(o->ovmf_vars, sizeof(o->ovmf_vars), "/usr/share/OVMF/OVMF_VARS_4M.fd");
    o->disk_size = 256ull << 20;
    o->queues = 8;
    o->queue_size = 256;
    o->iothreads = 1;
    snprintf(o->aio, sizeof(o->aio), "threads");
    snprintf(o->cache, sizeof(o->cache), "none");
    o->seed = 0; /* chosen at validate time, printed in the reproducer */
    snprintf(o->mode, sizeof(o->mode), "irq");
    o->migrations = 10;
    o->run_seconds = 10;
    snprintf(o->verify, sizeof(o->verify), "sample");
    snprintf(o->hop_mix, sizeof(o->hop_mix), "rotate");
    o->verify_sample = 16;
    o->min_gap_ms = 200;
    o->max_gap_ms = 1500;
    o->boot_timeout_ms = 60000;
    o->migrate_timeout_ms = 120000;
    o->qmp_timeout_ms = 10000;
    o->guest_timeout_ms = 30000;
}

static bool opts_int(const char *flag, const char *s, long lo, long hi, int *out, struct vqh_err *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno || end == s || *end || v < lo || v > hi) {
        vqh_err_set(err, "%s: bad value '%s': expected a whole number %ld..%ld", flag, s, lo, hi);
        return false;
    }
    *out = (int)v;
    return true;
}

/* Sizes: bytes with an optional K, M, G or T suffix (powers of 1024). */
static bool opts_size(const char *flag, const char *s, uint64_t *out, struct vqh_err *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    }
    if (errno || end == s || *end || s[0] == '-' || v == 0 || (v << shift) >> shift != v) {
        vqh_err_set(err, "%s: bad size '%s': expected a positive number of bytes, optionally with K, M, G or T", flag, s);
        return false;
    }
    *out = (uint64_t)v << shift;
    return true;
}

static bool opts_word(const char *flag, const char *s, const char *const *words, char *out, size_t cap,
                      struct vqh_err *err)
{
    for (int i = 0; words[i]; i++) {
        if (!strcmp(s, words[i])) {
            snprintf(out, cap, "%s", s);
            return true;
        }
    }
    char list[256] = "";
    for (int i = 0; words[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", words[i]);
    vqh_err_set(err, "%s: bad value '%s': expected one of %s", flag, s, list);
    return false;
}

static bool opts_path(const char *flag, const char *s, char *out, size_t cap, struct vqh_err *err)
{
    if (!*s || strlen(s) >= cap) {
        vqh_err_set(err, "%s: path is empty or longer than %zu characters", flag, cap - 1);
        return false;
    }
    snprintf(out, cap, "%s", s);
    return true;
}

static const char *const boot_words[] = { "uefi", "pvh", NULL };
static const char *const accel_words[] = { "auto", "kvm", "tcg", NULL };
static const char *const transport_words[] = { "unix", "tcp", NULL };
static const char *const aio_words[] = { "threads", "native", "io_uring", NULL };
static const char *const cache_words[] = { "none", "writeback", "writethrough", "directsync", "unsafe", NULL };
static const char *const mode_words[] = { "irq", "poll", NULL };
static const char *const verify_words[] = { "full", "sample", "none", NULL };
static const char *const hop_mix_words[] = { "rotate", "random", NULL };
static const char *const inject_words[] = { "abort-src", "stop-dst", "overwrite-block", "ram-diff", "stop-guest", "nbd-zero", "refuse-features", "slow-cancel", "crash-after-cancel", "none", NULL };

static bool opts_one(struct vqh_opts *o, int c, const char *arg, struct vqh_err *err)
{
    char w[32];
    switch (c) {
    case O_QEMU: return opts_path("--qemu", arg, o->qemu, sizeof(o->qemu), err);
    case O_QEMU_DST: return opts_path("--qemu-dst", arg, o->qemu_dst, sizeof(o->qemu_dst), err);
    case O_MACHINE: return opts_path("--machine", arg, o->machine, sizeof(o->machine), err);
    case O_ACCEL:
        if (!opts_word("--accel", arg, accel_words, w, sizeof(w), err))
            return false;
        o->accel = !strcmp(w, "kvm") ? ACCEL_KVM : !strcmp(w, "tcg") ? ACCEL_TCG : ACCEL_AUTO;
        return true;
    case O_SMP: return opts_int("--smp", arg, 1, 64, &o->smp, err);
    case O_MEM: return opts_int("--mem", arg, 64, 65536, &o->mem_mib, err);
    case O_BOOT:
        if (!opts_word("--boot", arg, boot_words, w, sizeof(w), err))
            return false;
        o->boot = !strcmp(w, "pvh") ? BOOT_PVH : BOOT_UEFI;
        return true;
    case O_KERNEL: return opts_path("--kernel", arg, o->kernel, sizeof(o->kernel), err);
    case O_ESP: return opts_path("--esp", arg, o->esp, sizeof(o->esp), err);
    case O_OVMF_CODE: return opts_path("--ovmf-code", arg, o->ovmf_code, sizeof(o->ovmf_code), err);
    case O_OVMF_VARS: return opts_path("--ovmf-vars", arg, o->ovmf_vars, sizeof(o->ovmf_vars), err);
    case O_DISK:
        if (o->ndisks == OPTS_MAX_DISKS) {
            vqh_err_set(err, "--disk: at most %d disks", OPTS_MAX_DISKS);
            return false;
        }
        return opts_path("--disk", arg, o->disk[o->ndisks++], OPTS_PATH_MAX, err);
    case O_DISK_SIZE: return opts_size("--disk-size", arg, &o->disk_size, err);
    case O_DISK_OVERWRITE: o->disk_overwrite = true; return true;
    case O_DISK_PREALLOC: o->disk_prealloc = true; return true;
    case O_QUEUES: return opts_int("--queues", arg, 1, 64, &o->queues, err);
    case O_QUEUE_SIZE:
        if (!opts_int("--queue-size", arg, 2, 1024, &o->queue_size, err))
            return false;
        if (o->queue_size & (o->queue_size - 1)) {
            vqh_err_set(err, "--queue-size: %d is not a power of two (QEMU requires one)", o->queue_size);
            return false;
        }
        return true;
    case O_IOTHREADS: return opts_int("--iothreads", arg, 0, 16, &o->iothreads, err);
    case O_AIO: return opts_word("--aio", arg, aio_words, o->aio, sizeof(o->aio), err);
    case O_CACHE: return opts_word("--cache", arg, cache_words, o->cache, sizeof(o->cache), err);
    case O_DISK_OPTS: return opts_path("--disk-opts", arg, o->disk_extra, sizeof(o->disk_extra), err);
    case O_SEED: {
        char *end;
        errno = 0;
        o->seed = strtoull(arg, &end, 0);
        if (errno || end == arg || *end || arg[0] == '-') {
            vqh_err_set(err, "--seed: bad value '%s': expected a non-negative number (decimal or 0x hex)", arg);
            return false;
        }
        return true;
    }
    case O_GUEST_CONFIG: {
        size_t n = strlen(o->guest_config);
        if (n + strlen(arg) + 2 > sizeof(o->guest_config)) {
            vqh_err_set(err, "--guest-config: more than %zu characters in all", sizeof(o->guest_config) - 1);
            return false;
        }
        snprintf(o->guest_config + n, sizeof(o->guest_config) - n, "%s%s", n ? ";" : "", arg);
        return true;
    }
    case O_GUEST_MODE: return opts_word("--guest-mode", arg, mode_words, o->mode, sizeof(o->mode), err);
    case O_MIGRATIONS: return opts_int("--migrations", arg, 0, 1000000, &o->migrations, err);
    case O_DURATION: return opts_int("--duration", arg, 1, 30 * 86400, &o->duration_s, err);
    case O_RUN_SECONDS: return opts_int("--run-seconds", arg, 0, 30 * 86400, &o->run_seconds, err);
    case O_TRANSPORT:
        if (!opts_word("--transport", arg, transport_words, w, sizeof(w), err))
            return false;
        o->transport = !strcmp(w, "tcp") ? TRANSPORT_TCP : TRANSPORT_UNIX;
        return true;
    case O_MULTIFD:
        o->multifd = 2;
        return !arg || opts_int("--multifd", arg, 1, 64, &o->multifd, err);
    case O_POSTCOPY: o->postcopy = true; return true;
    case O_XBZRLE: o->xbzrle = true; return true;
    case O_AUTO_CONVERGE: o->auto_converge = true; return true;
    case O_DOWNTIME_LIMIT: return opts_int("--downtime-limit", arg, 1, 2000000, &o->downtime_limit_ms, err);
    case O_BANDWIDTH: return opts_size("--bandwidth", arg, &o->bandwidth, err);
    case O_CANCEL_EVERY: return opts_int("--cancel-every", arg, 1, 1000000, &o->cancel_every, err);
    case O_RESET_EVERY: return opts_int("--reset-every", arg, 1, 1000000, &o->reset_every, err);
    case O_HOTPLUG_SLOTS: return opts_int("--hotplug-slots", arg, 0, HOTPLUG_SLOTS_MAX, &o->hotplug_slots, err);
    case O_HOTPLUG_EVERY: return opts_int("--hotplug-every", arg, 1, 1000000, &o->hotplug_every, err);
    case O_KILL_DST_EVERY: return opts_int("--kill-dst-every", arg, 1, 1000000, &o->kill_dst_every, err);
    case O_VERIFY: return opts_word("--verify", arg, verify_words, o->verify, sizeof(o->verify), err);
    case O_VERIFY_SAMPLE: return opts_int("--verify-sample", arg, 1, 1000000, &o->verify_sample, err);
    case O_GAP: {
        int a, b;
        if (sscanf(arg, "%d:%d", &a, &b) != 2 || a < 0 || b < a || b > 3600000) {
            vqh_err_set(err, "--gap: bad value '%s': expected MIN_MS:MAX_MS with 0 <= MIN <= MAX", arg);
            return false;
        }
        o->min_gap_ms = a;
        o->max_gap_ms = b;
        return true;
    }
    case O_BOOT_TIMEOUT: return opts_int("--boot-timeout", arg, 1000, 3600000, &o->boot_timeout_ms, err);
    case O_MIGRATE_TIMEOUT: return opts_int("--migrate-timeout", arg, 1000, 3600000, &o->migrate_timeout_ms, err);
    case O_GUEST_TIMEOUT: return opts_int("--guest-timeout", arg, 1000, 3600000, &o->guest_timeout_ms, err);
    case O_KEEP: o->keep = true; return true;
    case O_FINAL_STATE: o->final_state = true; o->keep = true; return true;
    case O_CHECK_RAM: o->check_ram = true; return true;
    case O_JSON: return opts_path("--json", arg, o->json, sizeof(o->json), err);
    case O_JUNIT: return opts_path("--junit", arg, o->junit, sizeof(o->junit), err);
    case O_QMP_LOG: return opts_path("--qmp-log", arg, o->qmp_log, sizeof(o->qmp_log), err);
    case O_WORKDIR: return opts_path("--workdir", arg, o->workdir, sizeof(o->workdir), err);
    case O_QUIET: o->quiet = true; return true;
    case O_VERBOSE: o->verbose = true; return true;
    case O_INJECT:
        if (!strncmp(arg, "overwrite-block=", 16)) {
            enum inject_pattern p;
            if (!inject_pattern_parse(arg + 16, &p)) {
                vqh_err_set(err, "--inject: bad pattern '%s': expected overwrite-block=%s", arg + 16,
                            inject_pattern_list());
                return false;
            }
            snprintf(o->inject_pattern, sizeof(o->inject_pattern), "%s", arg + 16);
            snprintf(o->inject, sizeof(o->inject), "overwrite-block");
            return true;
        }
        o->inject_pattern[0] = '\0';
        return opts_word("--inject", arg, inject_words, o->inject, sizeof(o->inject), err);
    case O_INJECT_HOP: return opts_int("--inject-hop", arg, 1, 1000000, &o->inject_hop, err);
    case O_DISK_GRAPH: {
        struct bg_spec spec;
        if (o->ndisk_graphs == OPTS_MAX_DISKS) {
            vqh_err_set(err, "--disk-graph: at most %d (one per disk)", OPTS_MAX_DISKS);
            return false;
        }
        if (!bg_spec_parse(arg, &spec, err))
            return false;
        snprintf(o->disk_graph[o->ndisk_graphs++], sizeof(o->disk_graph[0]), "%s", arg);
        return true;
    }
    case O_NBD_CHAOS: {
        int a, b;
        char tail;
        if (sscanf(arg, "%d:%d%c", &a, &b, &tail) != 2 || b < a || b > 3600000) {
            vqh_err_set(err, "--nbd-chaos: bad value '%s': expected MIN_MS:MAX_MS between NBD server kills, "
                        "MIN <= MAX (e.g. 4000:8000)", arg);
            return false;
        }
        /* QEMU's NBD client retries after 1, 2, 4 s: a server killed again sooner can be missed
         * by every retry until reconnect-delay fails the requests, as designed, not a bug. */
        if (a < 4000) {
            vqh_err_set(err, "--nbd-chaos %s: MIN must be 4000 ms or more: QEMU's NBD client retries 1, 3 and 7 s "
                        "after a disconnect, and a server killed again sooner can miss them all (requests then "
                        "fail by design after reconnect-delay); e.g. --nbd-chaos 4000:8000", arg);
            return false;
        }
        o->nbd_chaos_min_ms = a;
        o->nbd_chaos_max_ms = b;
        return true;
    }
    case O_HOP_ACTIONS:
        if (strlen(arg) >= sizeof(o->hop_actions)) {
            vqh_err_set(err, "--hop-actions: list too long");
            return false;
        }
        snprintf(o->hop_actions, sizeof(o->hop_actions), "%s", arg);
        return hop_action_parse(arg, &o->hop_action_mask, err);
    case O_HOP_MIX: return opts_word("--hop-mix", arg, hop_mix_words, o->hop_mix, sizeof(o->hop_mix), err);
    }
    vqh_err_set(err, "internal: unhandled option %d", c);
    return false;
}

int opts_parse(struct vqh_opts *o, int argc, char **argv, struct vqh_err *err)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h' || c == O_HELP) {
            opts_usage(stdout, o->command);
            return 1;
        }
        if (c == '?') {
            const char *bad = argv[optind - 1];
            if (optopt)
                vqh_err_set(err, "option %s needs a value (see vqhammer %s --help)", bad, o->command);
            else
                vqh_err_set(err, "unknown option '%s' (see vqhammer %s --help)", bad, o->command);
            return -1;
        }
        if (c == ':') {
            vqh_err_set(err, "option %s needs a value", argv[optind - 1]);
            return -1;
        }
        if (!opts_one(o, c, optarg, err))
            return -1;
    }
    if (optind < argc) {
        vqh_err_set(err, "unexpected argument '%s' (vqhammer %s takes only options; see --help)", argv[optind], o->command);
        return -1;
    }
    return 0;
}

static bool opts_readable(const char *what, const char *flag, const char *path, struct vqh_err *err)
{
    if (access(path, R_OK) == 0)
        return true;
    vqh_err_set(err, "%s '%s' is not readable (%s): build it with `make`, or name another with %s",
                what, path, strerror(errno), flag);
    return false;
}

/* QEMU starts in the run directory: every path it is given must be absolute. */
static void opts_absolute(char *path)
{
    char abs[PATH_MAX];
    if (path[0] && path[0] != '/' && realpath(path, abs) && strlen(abs) < OPTS_PATH_MAX)
        strcpy(path, abs);
}

bool opts_validate(struct vqh_opts *o, struct vqh_err *err)
{
    if (!o->seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
        o->seed &= 0xffffffffffffull; /* short enough to type back in */
        if (!o->seed)
            o->seed = 1;
    }
    if (!o->qemu_dst[0])
        snprintf(o->qemu_dst, sizeof(o->qemu_dst), "%s", o->qemu);
    opts_absolute(o->kernel);
    opts_absolute(o->esp);
    opts_absolute(o->ovmf_code);
    opts_absolute(o->ovmf_vars);
    if (strchr(o->qemu, '/'))
        opts_absolute(o->qemu);
    if (strchr(o->qemu_dst, '/'))
        opts_absolute(o->qemu_dst);
    if (o->boot == BOOT_PVH && !opts_readable("kernel", "--kernel", o->kernel, err))
        return false;
    if (o->boot == BOOT_UEFI) {
        if (!opts_readable("ESP image", "--esp", o->esp, err) ||
            !opts_readable("OVMF code", "--ovmf-code", o->ovmf_code, err) ||
            !opts_readable("OVMF variables template", "--ovmf-vars", o->ovmf_vars, err))
            return false;
    }
    if (o->guest_config[0]) {
        /* The guest's own parser, here: a bad key is a flag error now, not a failed run later. */
        struct config cfg;
        struct config_error ce;
        config_defaults(&cfg);
        if (!config_parse(&cfg, o->guest_config, strlen(o->guest_config), &ce) || !config_validate(&cfg, &ce)) {
            vqh_err_set(err, "--guest-config '%s': %s (see the README's \"Guest configuration\")",
                        o->guest_config, ce.message);
            return false;
        }
    }
    if (o->boot == BOOT_UEFI && o->ndisks > OPTS_MAX_DISKS_UEFI) {
        vqh_err_set(err, "--disk given %d times: with --boot uefi at most %d data disks (the ESP is a "
                    "virtio-blk disk too and the guest drives %d in all); drop one or use --boot pvh",
                    o->ndisks, OPTS_MAX_DISKS_UEFI, OPTS_MAX_DISKS);
        return false;
    }
    if (o->postcopy && o->multifd) {
        vqh_err_set(err, "--postcopy and --multifd cannot be combined in QEMU 7.2: drop one");
        return false;
    }
    if (o->queues > o->queue_size) {
        vqh_err_set(err, "--queues %d is more than --queue-size %d allows", o->queues, o->queue_size);
        return false;
    }
    if (!bg_spec_validate(o, o->ndisks ? o->ndisks : 1, err))
        return false;
    if (o->inject[0] && strcmp(o->inject, "none") && !o->inject_hop)
        o->inject_hop = 1;
    if (!strcmp(o->inject, "refuse-features") && !o->reset_every) {
        vqh_err_set(err, "--inject refuse-features shows only at a reset: add --reset-every N");
        return false;
    }
    /* The hop --inject-hop names must cancel: every hop is a late-cancel hop, or that one is a
     * --cancel-every hop (cancel hops go first: cmd_migrate.c). */
    if ((!strcmp(o->inject, "slow-cancel") || !strcmp(o->inject, "crash-after-cancel")) &&
        o->hop_action_mask != (1u << HA_LATE_CANCEL) && !(o->cancel_every && o->inject_hop % o->cancel_every == 0)) {
        vqh_err_set(err, "--inject %s acts at a hop's cancel: add --hop-actions late-cancel (alone), or "
                    "--cancel-every K with --inject-hop %d a multiple of K", o->inject, o->inject_hop);
        return false;
    }
    if (!hop_action_validate(o, err))
        return false;
    if (!hotplug_validate(o, err))
        return false;
    return true;
}
