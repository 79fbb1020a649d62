/*
 * nbd_serve.c: `vqhammer nbd-serve` (internal): the supervisor of the run's NBD server. It runs
 * qemu-storage-daemon exporting the data disks' images, and with chaos kills it (SIGKILL) at
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
    const char *sock, *qsd;
    FILE *log;
    int nexp;
    char name[SERVE_MAX_EXPORTS][32], path[SERVE_MAX_EXPORTS][OPTS_PATH_MAX];
    struct proc *p;
    int64_t t0, up_at;
};

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

/* Start qemu-storage-daemon and wait until its socket accepts connections. */
static bool serve_start(struct serve *s, struct vqh_err *err)
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
    s->p = proc_spawn((const char *const *)args, "qsd", "qemu-storage-daemon.out", "qemu-storage-daemon.out", err);
    if (!s->p)
        return false;
    int64_t deadline = clock_now_ms() + SERVE_READY_MS;
    while (!serve_connects(s->sock)) {
        char st[PROC_STATUS_MAX];
        if (!proc_alive(s->p)) {
            vqh_err_set(err, "qemu-storage-daemon %s (see qemu-storage-daemon.out in the run directory)",
                        proc_status_str(proc_status(s->p), st));
            return false;
        }
        if (clock_now_ms() > deadline) {
            vqh_err_set(err, "qemu-storage-daemon did not listen on %s within %d ms", s->sock, SERVE_READY_MS);
            return false;
        }
        usleep(20000);
    }
    s->up_at = clock_now_ms();
    serve_log(s, "up %lld %d\n", (long long)(s->up_at - s->t0), (int)s->p->pid);
    return true;
}

static void serve_stop(struct serve *s)
{
    proc_kill(s->p, SIGKILL);
    proc_wait(s->p, 10000);
    proc_free(s->p);
    s->p = NULL;
}

/* Sleep up to ms, waking for a signal or a daemon that died by itself. */
static bool serve_nap(struct serve *s, int64_t ms)
{
    int64_t end = clock_now_ms() + ms;
    while (clock_now_ms() < end && !serve_kick && !serve_zero) {
        if (!proc_alive(s->p)) {
            char st[PROC_STATUS_MAX];
            serve_log(s, "died %lld %s\n", (long long)(clock_now_ms() - s->t0), proc_status_str(proc_status(s->p), st));
            return false;
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

/* argv: nbd-serve SOCKET LOG QSD SEED CHAOS_MIN_MS CHAOS_MAX_MS OUTAGE_MAX_MS NAME=PATH... */
int nbd_serve_main(int argc, char **argv)
{
    struct serve s = { 0 };
    struct vqh_err err;
    if (argc < 9 || argc - 8 > SERVE_MAX_EXPORTS) {
        fprintf(stderr, "vqhammer nbd-serve: internal command, started by vqhammer itself\n");
        return 2;
    }
    s.sock = argv[1];
    s.qsd = argv[3];
    s.log = fopen(argv[2], "ae");
    uint64_t rng = strtoull(argv[4], NULL, 0);
    int cmin = atoi(argv[5]), cmax = atoi(argv[6]), omax = atoi(argv[7]);
    for (int i = 8; i < argc; i++) {
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
