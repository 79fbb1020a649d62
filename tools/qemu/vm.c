/* vm.c: starting, talking to and stopping one QEMU. */
#include "vm.h"
#include "clock.h"
#include "qemu_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int vm_listen(const char *path, struct vqh_err *err)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vqh_err_set(err, "socket(): %s", strerror(errno));
        return -1;
    }
    if (strlen(path) >= sizeof(a.sun_path)) { /* rundir_sock_path checked it; keep gcc sure */
        vqh_err_set(err, "socket path %s is too long", path);
        close(fd);
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) {
        vqh_err_set(err, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool vm_copy_file(const char *from, const char *to, struct vqh_err *err)
{
    char buf[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;
    bool ok = false;
    if (in < 0) {
        vqh_err_set(err, "cannot read %s: %s", from, strerror(errno));
        return false;
    }
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        vqh_err_set(err, "cannot create %s: %s", to, strerror(errno));
        goto done;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0 || write(out, buf, (size_t)n) != n) {
            vqh_err_set(err, "copying %s to %s: %s", from, to, strerror(errno));
            goto done;
        }
    }
    ok = true;
done:
    close(in);
    if (out >= 0)
        close(out);
    return ok;
}

bool vm_alive(struct vm *v)
{
    if (!v->proc)
        return false;
    if (proc_alive(v->proc))
        return true;
    proc_status_str(proc_status(v->proc), v->exit_status);
    return false;
}

bool vm_crashed(struct vm *v)
{
    return v->proc && !vm_alive(v) && WIFSIGNALED(proc_status(v->proc));
}

bool vm_alive_hook(void *arg, struct vqh_err *why)
{
    struct vm *v = arg;
    if (vm_alive(v))
        return true;
    vqh_err_set(why, "QEMU %s %s", v->label, v->exit_status);
    return false;
}

/* What QEMU said last on its way out: the last line of its output that starts with "qemu" (its
 * error lines do: "qemu-system-x86_64: -machine foo: unsupported machine type", "qemu: could
 * not load kernel ..."), else the last non-empty one; false when there is nothing. */
static bool vm_said(const struct vm *v, char *buf, size_t cap)
{
    char tail[4096];
    FILE *f = fopen(v->out_path, "re");
    if (!f)
        return false;
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)sizeof(tail) - 1)
        fseek(f, -(long)sizeof(tail) + 1, SEEK_END);
    else
        rewind(f);
    size_t n = fread(tail, 1, sizeof(tail) - 1, f);
    fclose(f);
    tail[n] = 0;
    const char *pick = NULL, *last = NULL;
    for (char *line = strtok(tail, "\n"); line; line = strtok(NULL, "\n")) {
        if (!line[strspn(line, " \t\r")])
            continue;
        last = line;
        if (!strncmp(line, "qemu", 4) && strstr(line, ": "))
            pick = line;
    }
    if (!pick)
        pick = last;
    if (!pick)
        return false;
    snprintf(buf, cap, "%s", pick);
    buf[strcspn(buf, "\r")] = 0;
    return true;
}

/* A QEMU that died while starting (a bad option, a kernel file that vanished) breaks whatever
 * we were waiting for (stage); the error then says what QEMU said, waiting up to a second for it
 * to go. */
static void vm_start_failed(struct vm *v, const char *stage, struct vqh_err *err)
{
    char said[300];
    for (int i = 0; i < 20 && vm_alive(v); i++)
        usleep(50 * 1000);
    if (vm_alive(v) || !vm_said(v, said, sizeof(said)) || !err)
        return;
    enum vqh_err_kind kind = err->kind;
    vqh_err_set(err, "QEMU %s %s %s: \"%s\" (see %s)", v->label, v->exit_status, stage, said, v->out_path);
    err->kind = kind;
}

/* Wait for QEMU to connect to our serial listener. */
static bool vm_accept_serial(struct vm *v, int timeout_ms, struct vqh_err *err)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    while (clock_now_ms() < deadline) {
        struct pollfd p = { .fd = v->listen_fd, .events = POLLIN };
        if (poll(&p, 1, 100) > 0) {
            v->serial_fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (v->serial_fd >= 0)
                return true;
        }
        if (!vm_alive(v)) {
            vqh_err_set(err, "QEMU %s %s before connecting its serial port (see %s)", v->label,
                        v->exit_status, v->out_path);
            return false;
        }
    }
    vqh_err_set(err, "QEMU %s did not connect its serial port within %d ms", v->label, timeout_ms);
    return false;
}

struct vm *vm_start(const struct vm_launch *l, const char *label, bool incoming, struct vqh_err *err)
{
    struct vm *v = calloc(1, sizeof(*v));
    struct qemu_cmd cmd;
    char name[64];
    const char *p;
    if (!v) {
        vqh_err_set(err, "out of memory");
        return NULL;
    }
    v->listen_fd = v->serial_fd = -1;
    v->incoming = incoming;
    v->hold_serial = incoming;
    snprintf(v->label, sizeof(v->label), "%s", label);
    snprintf(name, sizeof(name), "qmp-%s.sock", label);
    if (!(p = rundir_sock_path(l->rd, name, err)))
        goto fail;
    snprintf(v->qmp_path, sizeof(v->qmp_path), "%s", p);
    snprintf(name, sizeof(name), "ser-%s.sock", label);
    if (!(p = rundir_sock_path(l->rd, name, err)))
        goto fail;
    snprintf(v->serial_path, sizeof(v->serial_path), "%s", p);
    snprintf(name, sizeof(name), "qemu-%s.log", label);
    snprintf(v->out_path, sizeof(v->out_path), "%s", rundir_path(l->rd, name));
    snprintf(name, sizeof(name), "serial-%s.log", label);
    snprintf(v->serial_log, sizeof(v->serial_log), "%s", rundir_path(l->rd, name));
    snprintf(name, sizeof(name), "vars-%s.fd", label);
    snprintf(v->vars, sizeof(v->vars), "%s", rundir_path(l->rd, name));
    if (l->opts->boot == BOOT_UEFI && !vm_copy_file(l->opts->ovmf_vars, v->vars, err))
        goto fail;
    v->serial_log_f = fopen(v->serial_log, "we");
    if (!v->serial_log_f) {
        vqh_err_set(err, "cannot create %s: %s", v->serial_log, strerror(errno));
        goto fail;
    }
    v->listen_fd = vm_listen(v->serial_path, err);
    if (v->listen_fd < 0)
        goto fail;
    guestlog_asm_init(&v->asm_);

    struct qemu_inst in = {
        .label = label, .binary = incoming ? l->opts->qemu_dst : l->opts->qemu,
        .qmp_sock = v->qmp_path, .serial_sock = v->serial_path, .vars = v->vars,
        .config_file = l->config_file, .disks = l->disks, .ndisks = l->ndisks, .disk_ports = l->disk_ports,
        .incoming = incoming, .paused = incoming && (l->opts->check_ram || l->paused), .accel = l->accel,
        .refuse_features = l->refuse_features,
    };
    /* Cross-version runs: the first source uses --qemu, every later QEMU alternates. */
    if (!qemu_cmd_build(&cmd, l->opts, &in, err))
        goto fail;
    snprintf(v->exe, sizeof(v->exe), "%s", in.binary);
    char *s = qemu_cmd_string(&cmd);
    snprintf(v->cmdline, sizeof(v->cmdline), "%s", s ? s : "?");
    free(s);
    v->proc = proc_spawn((const char *const *)cmd.argv, label, v->out_path, v->out_path, err);
    qemu_cmd_free(&cmd);
    if (!v->proc)
        goto fail;
    const char *stage = "before connecting its serial port";
    if (!vm_accept_serial(v, l->opts->boot_timeout_ms, err))
        goto fail_started;
    stage = "during the QMP handshake";
    struct qmp_opts qo = { .label = v->label, .log = l->qmp_log, .alive = vm_alive_hook, .alive_arg = v };
    v->qmp = qmp_open(v->qmp_path, l->opts->qmp_timeout_ms, &qo, err);
    if (!v->qmp)
        goto fail_started;
    /* Known QEMU bugs depend on it (tools/migrate/knownbug.h). */
    json_t *ver = qmp_cmd(v->qmp, "query-version", NULL, l->opts->qmp_timeout_ms, err);
    if (!ver)
        goto fail_started;
    json_t *qv = json_object_get(ver, "qemu");
    v->version = (int)(json_integer_value(json_object_get(qv, "major")) * 10000 +
                       json_integer_value(json_object_get(qv, "minor")) * 100 +
                       json_integer_value(json_object_get(qv, "micro")));
    json_decref(ver);
    return v;
fail_started:
    vm_start_failed(v, stage, err);
fail:
    vm_free(v);
    return NULL;
}

bool vm_send(struct vm *v, const char *line, struct vqh_err *err)
{
    size_t len = strlen(line), off = 0;
    int64_t deadline = clock_now_ms() + 5000;
    while (off < len) {
        ssize_t n = send(v->serial_fd, line + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            vqh_err_set(err, "writing to the guest through %s: %s", v->label, strerror(errno));
            return false;
        }
        if (clock_now_ms() > deadline) {
            vqh_err_set(err, "the guest's serial input through %s stayed full for 5 s", v->label);
            return false;
        }
        usleep(1000);
    }
    return true;
}

bool vm_quit(struct vm *v, int timeout_ms, struct vqh_err *err)
{
    vm_quit_send(v);
    return vm_quit_wait(v, timeout_ms, err);
}

void vm_quit_send(struct vm *v)
{
    struct vqh_err ignore;
    v->quit_sent = true;
    if (v->qmp) {
        json_decref(qmp_cmd(v->qmp, "quit", NULL, 2000, &ignore));
        qmp_close(v->qmp);
        v->qmp = NULL;
    }
}

bool vm_quit_wait(struct vm *v, int timeout_ms, struct vqh_err *err)
{
    if (!proc_wait(v->proc, timeout_ms)) {
        vqh_err_set(err, "QEMU %s did not exit within %d ms of quit", v->label, timeout_ms);
        return false;
    }
    int st = proc_status(v->proc);
    proc_status_str(st, v->exit_status);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        vqh_err_set(err, "QEMU %s %s after quit (see %s)", v->label, v->exit_status, v->out_path);
        return false;
    }
    return true;
}

void vm_kill(struct vm *v)
{
    if (v->proc && !v->proc->reaped) {
        proc_kill(v->proc, SIGKILL);
        proc_wait(v->proc, 10000);
        proc_status_str(proc_status(v->proc), v->exit_status);
    }
}

void vm_free(struct vm *v)
{
    if (!v)
        return;
    if (v->qmp)
        qmp_close(v->qmp);
    if (v->proc)
        proc_free(v->proc);
    if (v->serial_fd >= 0)
        close(v->serial_fd);
    if (v->listen_fd >= 0)
        close(v->listen_fd);
    if (v->serial_log_f)
        fclose(v->serial_log_f);
    free(v);
}
