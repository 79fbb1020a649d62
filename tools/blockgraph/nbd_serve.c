/*
 * nbd_serve.c: `vqhammer nbd-serve` (internal): the supervisor of the run's NBD server. It runs
 * qemu-storage-daemon exporting the data disks' images (or one qemu-nbd per image: qemu-nbd
 * serves one export a process), and with chaos kills it (SIGKILL, every qemu-nbd at once) at
 * seeded moments and restarts it after a seeded outage. A process of its own, so the outages keep
 * their schedule whatever the orchestrator is waiting for; the orchestrator reaps it (and so the
 * daemon, through proc.c's handlers and PDEATHSIG) at the end of the run.
 *
 * Its log, one line per event, is what the orchestrator reads:
 *   up MS PID | kill MS | outage MS | zeroed MS | skip MS (a kick too soon) | died MS STATUS
 * Signals: SIGUSR1 = one outage now; SIGUSR2 = restart the server on zeroed images (a test hook
 * that really loses data).
 */
#include "blockgraph.h"
#include "clock.h"
#include "nbd_server.h"
#include "prng.h"
#include "proc.h"
#include "qemu_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SERVE_READY_MS 15000
#define SERVE_MAX_EXPORTS OPTS_MAX_DISKS

static volatile sig_atomic_t serve_kick, serve_zero;

static void serve_on_signal(int sig)
{
    if (sig == SIGUSR1)
        serve_kick = 1;
    else
        serve_zero = 1;
}

struct serve {
    const char *sock, *kind, *qsd; /* kind: "qemu-storage-daemon" or "qemu-nbd"; qsd: its binary */
    FILE *log;
    int nexp;
    char name[SERVE_MAX_EXPORTS][32], path[SERVE_MAX_EXPORTS][OPTS_PATH_MAX];
    struct proc *p[SERVE_MAX_EXPORTS]; /* one qemu-storage-daemon, or a qemu-nbd per export */
    int np;
    int64_t t0, up_at;
};

static bool serve_per_export(const struct serve *s)
{
    return !strcmp(s->kind, "qemu-nbd");
}

static void serve_log(struct serve *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void serve_log(struct serve *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(s->log, fmt, ap);
    va_end(ap);
    fflush(s->log);
}

static bool serve_connects(const char *sock)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static struct proc *serve_spawn_qsd(struct serve *s, struct vqh_err *err);

/* One qemu-nbd for export i: persistent (it outlives a client's disconnect) and shared (source
 * and destination QEMU are connected at once during a migration), on its own socket. The image
 * is opened as the daemon opens it: a file node, no format, writable. */
static struct proc *serve_spawn_qemu_nbd(struct serve *s, int i, const char *sock, struct vqh_err *err)
{
    char sockopt[OPTS_PATH_MAX + 64], expopt[64], image[2 * OPTS_PATH_MAX + 64], esc[2 * OPTS_PATH_MAX], out[64];
    snprintf(sockopt, sizeof(sockopt), "--socket=%s", sock);
    snprintf(expopt, sizeof(expopt), "--export-name=%s", s->name[i]);
    snprintf(image, sizeof(image), "driver=file,filename=%s", qemu_cmd_escape(s->path[i], esc, sizeof(esc)));
    snprintf(out, sizeof(out), "qemu-nbd-%s.out", s->name[i]);
    const char *args[] = { s->qsd, sockopt, expopt, "--persistent", "--shared=16", "--image-opts", image, NULL };
    unlink(sock);
    return proc_spawn(args, "qemu-nbd", out, out, err);
}

/* Start the server (qemu-storage-daemon, or a qemu-nbd per export) and wait until every socket
 * accepts connections. */
static bool serve_start(struct serve *s, struct vqh_err *err)
{
    char socks[SERVE_MAX_EXPORTS][OPTS_PATH_MAX + 40];
    int nsock = 0;
    s->np = 0;
    if (serve_per_export(s)) {
        for (int i = 0; i < s->nexp; i++) {
            blockgraph_nbd_socket(s->sock, true, s->name[i], socks[nsock], sizeof(socks[0]));
            if (!(s->p[s->np] = serve_spawn_qemu_nbd(s, i, socks[nsock++], err)))
                return false;
            s->np++;
        }
    } else {
        snprintf(socks[nsock++], sizeof(socks[0]), "%s", s->sock);
        if (!(s->p[s->np] = serve_spawn_qsd(s, err)))
            return false;
        s->np++;
    }
    int64_t deadline = clock_now_ms() + SERVE_READY_MS;
    for (int i = 0; i < nsock; i++) {
        while (!serve_connects(socks[i])) {
            char st[PROC_STATUS_MAX];
            for (int k = 0; k < s->np; k++) {
                if (!proc_alive(s->p[k])) {
                    vqh_err_set(err, "%s %s (see %s*.out in the run directory)", s->kind,
                                proc_status_str(proc_status(s->p[k]), st), s->kind);
                    return false;
                }
            }
            if (clock_now_ms() > deadline) {
                vqh_err_set(err, "%s did not listen on %s within %d ms", s->kind, socks[i], SERVE_READY_MS);
                return false;
            }
            usleep(20000);
        }
    }
    s->up_at = clock_now_ms();
    serve_log(s, "up %lld %d\n", (long long)(s->up_at - s->t0), (int)s->p[0]->pid);
    return true;
}

/* qemu-storage-daemon exporting every image on the one socket. */
static struct proc *serve_spawn_qsd(struct serve *s, struct vqh_err *err)
{
    char *args[4 + 4 * SERVE_MAX_EXPORTS];
    char buf[2 + 2 * SERVE_MAX_EXPORTS][2 * OPTS_PATH_MAX + 128], esc[2 * OPTS_PATH_MAX];
    int n = 0, b = 0;
    args[n++] = (char *)s->qsd;
    for (int i = 0; i < s->nexp; i++) {
        /* The file node itself: the QEMUs' format nodes (raw, qcow2) sit above their nbd node. */
        snprintf(buf[b], sizeof(buf[b]), "driver=file,node-name=nbdfile%d,filename=%s", i,
                 qemu_cmd_escape(s->path[i], esc, sizeof(esc)));
        args[n++] = "--blockdev";
        args[n++] = buf[b++];
    }
    snprintf(buf[b], sizeof(buf[b]), "addr.type=unix,addr.path=%s", qemu_cmd_escape(s->sock, esc, sizeof(esc)));
    args[n++] = "--nbd-server";
    args[n++] = buf[b++];
    for (int i = 0; i < s->nexp; i++) {
        snprintf(buf[b], sizeof(buf[b]), "type=nbd,id=nbdexp%d,node-name=nbdfile%d,name=%s,writable=on", i, i,
                 s->name[i]);
        args[n++] = "--export";
        args[n++] = buf[b++];
    }
    args[n] = NULL;
    unlink(s->sock);
    return proc_spawn((const char *const *)args, "qsd", "qemu-storage-daemon.out", "qemu-storage-daemon.out", err);
}

static void serve_stop(struct serve *s)
{
    for (int i = 0; i < s->np; i++)
        proc_kill(s->p[i], SIGKILL);
    for (int i = 0; i < s->np; i++) {
        proc_wait(s->p[i], 10000);
        proc_free(s->p[i]);
        s->p[i] = NULL;
    }
    s->np = 0;
}

/* Sleep up to ms, waking for a signal or a daemon that died by itself. */
static bool serve_nap(struct serve *s, int64_t ms)
{
    int64_t end = clock_now_ms() + ms;
    while (clock_now_ms() < end && !serve_kick && !serve_zero) {
        for (int i = 0; i < s->np; i++) {
            if (!proc_alive(s->p[i])) {
                char st[PROC_STATUS_MAX];
                serve_log(s, "died %lld %s %s\n", (long long)(clock_now_ms() - s->t0), s->kind,
                          proc_status_str(proc_status(s->p[i]), st));
                return false;
            }
        }
        usleep(20000);
    }
    return true;
}

static bool serve_zero_images(struct serve *s)
{
    for (int i = 0; i < s->nexp; i++) {
        struct stat st;
        if (stat(s->path[i], &st) || truncate(s->path[i], 0) || truncate(s->path[i], st.st_size))
            return false;
    }
    return true;
}

/* argv: nbd-serve SOCKET LOG KIND BINARY SEED CHAOS_MIN_MS CHAOS_MAX_MS OUTAGE_MAX_MS NAME=PATH...
 * (KIND: qemu-storage-daemon or qemu-nbd) */
int nbd_serve_main(int argc, char **argv)
{
    struct serve s = { 0 };
    struct vqh_err err;
    if (argc < 10 || argc - 9 > SERVE_MAX_EXPORTS ||
        (strcmp(argv[3], "qemu-storage-daemon") && strcmp(argv[3], "qemu-nbd"))) {
        fprintf(stderr, "vqhammer nbd-serve: internal command, started by vqhammer itself\n");
        return 2;
    }
    s.sock = argv[1];
    s.kind = argv[3];
    s.qsd = argv[4];
    s.log = fopen(argv[2], "ae");
    uint64_t rng = strtoull(argv[5], NULL, 0);
    int cmin = atoi(argv[6]), cmax = atoi(argv[7]), omax = atoi(argv[8]);
    for (int i = 9; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || !s.log)
            return 2;
        snprintf(s.name[s.nexp], sizeof(s.name[0]), "%.*s", (int)(eq - argv[i]), argv[i]);
        snprintf(s.path[s.nexp++], sizeof(s.path[0]), "%s", eq + 1);
    }
    struct sigaction sa = { .sa_handler = serve_on_signal };
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    s.t0 = clock_now_ms();
    if (!serve_start(&s, &err)) {
        serve_log(&s, "error %s\n", err.msg);
        return 2;
    }
    for (;;) {
        int64_t gap = cmax ? cmin + (int64_t)(prng_splitmix64(&rng) % (uint64_t)(cmax - cmin + 1)) : 3600000;
        if (!serve_nap(&s, gap))
            return 1;
        if (!cmax && !serve_kick && !serve_zero)
            continue;
        bool zero = serve_zero;
        /* A kick within 4 s of the last restart could land before QEMU's second retry (3 s after
         * the disconnect) reconnected: skipped, as --nbd-chaos MIN is at least 4 s. */
        if (serve_kick && !zero && clock_now_ms() - s.up_at < 4000) {
            serve_kick = 0;
            serve_log(&s, "skip %lld\n", (long long)(clock_now_ms() - s.t0));
            continue;
        }
        serve_kick = serve_zero = 0;
        serve_stop(&s);
        serve_log(&s, "kill %lld\n", (long long)(clock_now_ms() - s.t0));
        if (zero) {
            if (!serve_zero_images(&s)) {
                serve_log(&s, "error cannot zero the images: %s\n", strerror(errno));
                return 2;
            }
            serve_log(&s, "zeroed %lld\n", (long long)(clock_now_ms() - s.t0));
        } else {
            int outage = 50 + (int)(prng_splitmix64(&rng) % (uint64_t)(omax > 50 ? omax - 50 + 1 : 1));
            serve_log(&s, "outage %d\n", outage);
            usleep((useconds_t)outage * 1000);
        }
        if (!serve_start(&s, &err)) {
            serve_log(&s, "error %s\n", err.msg);
            return 2;
        }
    }
}
