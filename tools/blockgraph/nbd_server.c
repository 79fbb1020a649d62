/* nbd_server.c: the orchestrator's side of the run's NBD server (see nbd_server.h). */
#include "nbd_server.h"
#include "blockgraph.h"
#include "clock.h"
#include "proc.h"
#include "spec.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBD_READY_MS 20000

struct nbd_server {
    struct proc *p;
    char log[OPTS_PATH_MAX];
};

/* Lines of the supervisor's log that start with word. */
static int nbd_count(struct nbd_server *ns, const char *word, char *last, size_t cap)
{
    FILE *f = fopen(ns->log, "re");
    char line[600];
    int n = 0;
    size_t w = strlen(word);
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, word, w) && line[w] == ' ') {
            n++;
            if (last)
                snprintf(last, cap, "%s", line + w + 1);
        }
    }
    if (f)
        fclose(f);
    return n;
}

struct nbd_server *nbd_server_start(const struct vqh_opts *o, struct rundir *rd, const char *const *disks,
                                    int ndisks, struct vqh_err *err)
{
    char self[OPTS_PATH_MAX], qsd[OPTS_PATH_MAX], seed[32], cmin[16], cmax[16], omax[16], why[512];
    char exports[OPTS_MAX_DISKS][OPTS_PATH_MAX + 40];
    const char *argv[9 + OPTS_MAX_DISKS + 1];
    enum bg_nbd_server kind = bg_spec_nbd_server(o, ndisks);
    int n = 0;
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    struct nbd_server *ns = calloc(1, sizeof(*ns));
    if (!ns || len <= 0) {
        free(ns);
        vqh_err_set(err, "cannot find the vqhammer executable to run the NBD server's supervisor");
        return NULL;
    }
    self[len] = 0;
    const char *sock = rundir_sock_path(rd, "nbd.sock", err);
    if (!sock) {
        free(ns);
        return NULL;
    }
    snprintf(ns->log, sizeof(ns->log), "%s", rundir_path(rd, "nbd-server.log"));
    /* qemu-nbd serves one export a process: one socket per export, each checked for length. */
    for (int i = 0; kind == BG_NBD_QEMU_NBD && i < ndisks; i++) {
        char name[32], one[64];
        blockgraph_nbd_export(i, name, sizeof(name));
        blockgraph_nbd_socket("nbd.sock", true, name, one, sizeof(one));
        if (!rundir_sock_path(rd, one, err)) {
            free(ns);
            return NULL;
        }
    }
    blockgraph_tool(o, bg_nbd_server_name(kind), qsd, sizeof(qsd));
    /* A different seed stream from the guest's and the migration loop's. */
    snprintf(seed, sizeof(seed), "0x%llx", (unsigned long long)(o->seed ^ 0x6e6264636861ull));
    snprintf(cmin, sizeof(cmin), "%d", o->nbd_chaos_min_ms);
    snprintf(cmax, sizeof(cmax), "%d", o->nbd_chaos_max_ms);
    /* QEMU's NBD client retries 1, 3, 7, ... s after a disconnect: an outage of at most 2 s is
     * over by the second retry, well inside reconnect-delay (5 s or more with chaos). */
    snprintf(omax, sizeof(omax), "%d", 2000);
    argv[n++] = self;
    argv[n++] = "nbd-serve";
    argv[n++] = sock;
    argv[n++] = ns->log;
    argv[n++] = bg_nbd_server_name(kind);
    argv[n++] = qsd;
    argv[n++] = seed;
    argv[n++] = cmin;
    argv[n++] = cmax;
    argv[n++] = omax;
    for (int i = 0, e = 0; i < ndisks; i++) {
        struct bg_spec sp;
        char name[32];
        bg_spec_of(o, i, &sp);
        if (!sp.nbd)
            continue;
        blockgraph_nbd_export(i, name, sizeof(name));
        snprintf(exports[e], sizeof(exports[e]), "%s=%s", name, disks[i]);
        argv[n++] = exports[e++];
    }
    argv[n] = NULL;
    ns->p = proc_spawn(argv, "nbd-serve", rundir_path(rd, "nbd-serve.out"), rundir_path(rd, "nbd-serve.out"), err);
    if (!ns->p) {
        free(ns);
        return NULL;
    }
    int64_t deadline = clock_now_ms() + NBD_READY_MS;
    while (!nbd_count(ns, "up", NULL, 0)) {
        if (!nbd_server_alive(ns, err) || clock_now_ms() > deadline) {
            if (clock_now_ms() > deadline)
                vqh_err_set(err, "the NBD server (%s) did not come up within %d ms (see %s)", qsd, NBD_READY_MS, ns->log);
            snprintf(why, sizeof(why), "%s", err->msg);
            vqh_err_set(err, "cannot start the NBD server: %s", why);
            nbd_server_stop(ns);
            return NULL;
        }
        usleep(20000);
    }
    blockgraph_set_nbd_socket(sock, kind == BG_NBD_QEMU_NBD);
    return ns;
}

int nbd_server_outages(struct nbd_server *ns)
{
    return ns ? nbd_count(ns, "kill", NULL, 0) : 0;
}

bool nbd_server_alive(struct nbd_server *ns, struct vqh_err *err)
{
    char st[PROC_STATUS_MAX], last[512] = "no reason logged";
    if (!ns || proc_alive(ns->p))
        return true;
    if (!nbd_count(ns, "error", last, sizeof(last)))
        nbd_count(ns, "died", last, sizeof(last));
    last[strcspn(last, "\n")] = 0;
    vqh_err_set(err, "the NBD server's supervisor %s: %s (see %s)", proc_status_str(proc_status(ns->p), st), last,
                ns->log);
    return false;
}

bool nbd_server_kick(struct nbd_server *ns, int timeout_ms)
{
    int kills = nbd_server_outages(ns), skips = ns ? nbd_count(ns, "skip", NULL, 0) : 0;
    int64_t deadline = clock_now_ms() + timeout_ms;
    if (!ns || !proc_kill(ns->p, SIGUSR1))
        return false;
    while (nbd_server_outages(ns) == kills) {
        if (!proc_alive(ns->p) || clock_now_ms() > deadline || nbd_count(ns, "skip", NULL, 0) > skips)
            return false;
        usleep(5000);
    }
    return true;
}

bool nbd_server_zero(struct nbd_server *ns, int timeout_ms, struct vqh_err *err)
{
    int ups = nbd_count(ns, "up", NULL, 0);
    int64_t deadline = clock_now_ms() + timeout_ms;
    proc_kill(ns->p, SIGUSR2);
    while (!nbd_count(ns, "zeroed", NULL, 0) || nbd_count(ns, "up", NULL, 0) <= ups) {
        if (!nbd_server_alive(ns, err))
            return false;
        if (clock_now_ms() > deadline) {
            vqh_err_set(err, "the NBD server did not restart on zeroed images within %d ms (see %s)", timeout_ms,
                        ns->log);
            return false;
        }
        usleep(20000);
    }
    return true;
}

void nbd_server_stop(struct nbd_server *ns)
{
    if (!ns)
        return;
    /* SIGTERM: the supervisor's proc.c handlers kill the daemon before it goes. */
    proc_kill_reap(ns->p, 3000);
    proc_free(ns->p);
    blockgraph_set_nbd_socket(NULL, false);
    free(ns);
}
