/* accel.c: the KVM probe: boot the PVH kernel for a moment under KVM and see it pass. */
#include "accel.h"
#include "clock.h"
#include "proc.h"
#include "wire.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define KVM_GET_API_VERSION 0xAE00
#define KVM_API_VERSION 12
#define PROBE_TIMEOUT_MS 8000 /* a working KVM boots the PVH kernel in well under a second */
/* The probe guest runs its load for duration=1 s after hello, then exits: a guest that said hello
 * and is still there this long after is hung (a broken KVM often hangs right after hello). */
#define PROBE_AFTER_HELLO_MS 2500

static bool accel_kvm_device(char *why, size_t cap)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "/dev/kvm cannot be opened");
        return false;
    }
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    close(fd);
    if (v != KVM_API_VERSION) {
        snprintf(why, cap, "/dev/kvm answers API version %d, not %d", v, KVM_API_VERSION);
        return false;
    }
    return true;
}

/* The probe guest's serial output (a file) holds its hello message (or its part 0, wire.h). */
static bool accel_probe_said_hello(const char *path)
{
    char buf[4096];
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    return strstr(buf, "\"type\":\"" WIRE_MSG_HELLO "\"") || strstr(buf, "\"of\":\"" WIRE_MSG_HELLO "\"");
}

static bool accel_probe_boot(const struct vqh_opts *o, struct rundir *rd, char *why, size_t cap)
{
    struct vqh_err err;
    const char *cfg = rundir_path(rd, "kvm-probe.cfg");
    FILE *f = fopen(cfg, "we");
    if (!f) {
        snprintf(why, cap, "cannot write %s", cfg);
        return false;
    }
    /* The probe is the run in small: its vCPUs, memory and queues, a data disk on an iothread
     * and verified I/O. A KVM that boots an idle guest but hangs once the device is busy must
     * not be chosen. */
    fputs("duration=1\nmin_disks=1\nreport_ms=0\n", f);
    fclose(f);
    const char *img = rundir_path(rd, "kvm-probe.img");
    int fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, 4 << 20) != 0) {
        if (fd >= 0)
            close(fd);
        snprintf(why, cap, "cannot create %s", img);
        return false;
    }
    close(fd);
    char fwcfg[1200], serial[1100], smp[16], mem[16], drive[1200], device[160];
    snprintf(fwcfg, sizeof(fwcfg), "name=%s,file=%s", WIRE_FWCFG_CONFIG, cfg);
    snprintf(serial, sizeof(serial), "file:%s", rundir_path(rd, "kvm-probe.serial"));
    snprintf(smp, sizeof(smp), "%d", o->smp);
    snprintf(mem, sizeof(mem), "%d", o->mem_mib);
    snprintf(drive, sizeof(drive), "driver=raw,node-name=probe0,file.driver=file,file.filename=%s", img);
    snprintf(device, sizeof(device), "virtio-blk-pci,drive=probe0,serial=vqh0,num-queues=%d,iothread=probeio",
             o->queues);
    const char *serial_path = serial + 5;
    const char *argv[] = {
        o->qemu, "-machine", o->machine, "-accel", "kvm", "-smp", smp, "-m", mem, "-nodefaults",
        "-no-user-config", "-display", "none", "-no-reboot", "-kernel", o->kernel,
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-fw_cfg", fwcfg, "-serial", serial,
        "-object", "iothread,id=probeio", "-blockdev", drive, "-device", device, NULL,
    };
    const char *log = rundir_path(rd, "kvm-probe.log");
    struct proc *p = proc_spawn(argv, "kvm-probe", log, log, &err);
    if (!p) {
        snprintf(why, cap, "KVM probe: %s", err.msg);
        return false;
    }
    int64_t t0 = clock_now_ms(), hello_ms = 0;
    bool done = false;
    while (!done && clock_now_ms() - t0 < PROBE_TIMEOUT_MS &&
           (!hello_ms || clock_now_ms() - hello_ms < PROBE_AFTER_HELLO_MS)) {
        done = proc_wait(p, 50);
        if (!hello_ms && accel_probe_said_hello(serial_path))
            hello_ms = clock_now_ms();
    }
    int st = done ? proc_status(p) : 0;
    proc_free(p);
    if (!done && hello_ms) {
        snprintf(why, cap, "KVM probe boot said hello, then hung for %d s (see %s)", PROBE_AFTER_HELLO_MS / 1000, serial_path);
        return false;
    }
    if (!done) {
        snprintf(why, cap, "KVM probe boot hung for %d s (see %s)", PROBE_TIMEOUT_MS / 1000, log);
        return false;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != WIRE_EXIT_STATUS(WIRE_VERDICT_PASS)) {
        char s[PROC_STATUS_MAX];
        snprintf(why, cap, "KVM probe boot %s, not the pass status %d (see %s)", proc_status_str(st, s),
                 WIRE_EXIT_STATUS(WIRE_VERDICT_PASS), log);
        return false;
    }
    return true;
}

const char *accel_choose(const struct vqh_opts *o, struct rundir *rd, char *why, size_t cap)
{
    if (o->accel == ACCEL_TCG) {
        snprintf(why, cap, "TCG: chosen with --accel tcg");
        return "tcg";
    }
    if (o->accel == ACCEL_KVM) {
        snprintf(why, cap, "KVM: chosen with --accel kvm (not probed)");
        return "kvm";
    }
    char reason[512];
    if (!accel_kvm_device(reason, sizeof(reason)) || !accel_probe_boot(o, rd, reason, sizeof(reason))) {
        snprintf(why, cap, "TCG: %s", reason);
        return "tcg";
    }
    snprintf(why, cap, "KVM: a probe boot passed under it");
    return "kvm";
}
