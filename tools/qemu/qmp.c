/*
 * qmp.c: QMP over a unix socket: one JSON object per line each way, replies matched by "id",
 * events queued.
 */
#include "qmp.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define QMP_SLICE_MS 100
#define QMP_MSG_MAX (16u << 20) /* a reply this big means a desynchronised stream */

struct qmp_queued {
    struct qmp_queued *next;
    json_t *event;
};

struct qmp {
    int fd;
    bool closed;
    struct qmp_opts o;
    char label[32];
    char *buf; /* received bytes not yet parsed */
    size_t len, cap;
    struct qmp_queued *head, **tail;
    json_t *greeting;
    json_int_t last_id;
};

/* What the current wait is for, to put into its error messages. */
struct qmp_wait {
    const char *what;  /* command name or "waiting for event X" */
    int64_t deadline;  /* CLOCK_MONOTONIC ms */
    int timeout_ms;    /* as the caller gave it, for "timed out after N ms" */
};

static struct qmp_wait qmp_wait_for(const char *what, int timeout_ms)
{
    struct qmp_wait w = {what, 0, timeout_ms > 0 ? timeout_ms : 0};

    w.deadline = clock_now_ms() + w.timeout_ms;
    return w;
}

/* Printable copy of up to max bytes, for the transcript and error messages. */
static void qmp_escape(char *out, size_t cap, const char *s, size_t len, size_t max)
{
    size_t o = 0;

    for (size_t i = 0; i < len && i < max && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (len > max && o + 4 < cap)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o] = '\0';
}

static void qmp_log(struct qmp *q, const char *dir, const char *text, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];

    if (!q->o.log)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(q->o.log, "%s.%03ld %s %s ", stamp, ts.tv_nsec / 1000000, q->label, dir);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c >= 0x20 && c < 0x7f)
            fputc(c, q->o.log);
        else
            fprintf(q->o.log, "\\x%02x", c);
    }
    fputc('\n', q->o.log);
    fflush(q->o.log); /* the transcript matters most when the tool dies */
}

static void qmp_note(struct qmp *q, const char *text)
{
    qmp_log(q, "!!", text, strlen(text));
}

static void qmp_fail(struct qmp *q, const struct qmp_wait *w, struct vqh_err *err,
                     enum vqh_err_kind kind, const char *reason)
{
    char text[VQH_ERR_MAX];

    snprintf(text, sizeof(text), "%s: %s", w->what, reason);
    vqh_err_setk(err, kind, "qmp %s: %s", q->label, text);
    qmp_note(q, text);
}

/* False, with why filled, when the liveness hook reports QEMU gone. */
static bool qmp_alive(struct qmp *q, struct vqh_err *why)
{
    why->msg[0] = '\0';
    return !q->o.alive || q->o.alive(q->o.alive_arg, why);
}

static void qmp_fail_dead(struct qmp *q, const struct qmp_wait *w, const struct vqh_err *why,
                          struct vqh_err *err)
{
    char reason[VQH_ERR_MAX];

    snprintf(reason, sizeof(reason), "QEMU died: %.400s", why->msg[0] ? why->msg : "not running");
    qmp_fail(q, w, err, VQH_ERR_DIED, reason);
}

/* Liveness check for waits with nothing to drain; fills err when QEMU is gone. */
static bool qmp_check_alive(struct qmp *q, const struct qmp_wait *w, struct vqh_err *err)
{
    struct vqh_err why;

    if (qmp_alive(q, &why))
        return true;
    qmp_fail_dead(q, w, &why, err);
    return false;
}

/* Room to receive into; false when a message outgrows QMP_MSG_MAX (or memory). */
static bool qmp_reserve(struct qmp *q)
{
    size_t cap = q->cap ? q->cap * 2 : 4096;
    char *b;

    if (q->len < q->cap)
        return true;
    b = cap <= QMP_MSG_MAX ? realloc(q->buf, cap) : NULL;
    if (!b)
        return false;
    q->buf = b;
    q->cap = cap;
    return true;
}

/* Take in what a dead QEMU wrote before it went: its last events may say why. */
static void qmp_drain(struct qmp *q)
{
    while (!q->closed && qmp_reserve(q)) {
        ssize_t n = recv(q->fd, q->buf + q->len, q->cap - q->len, 0);

        if (n <= 0) {
            q->closed = n == 0;
            return;
        }
        q->len += (size_t)n;
    }
}

/* ---- receiving ----------------------------------------------------------------------------- */

/* Parse the first complete line in the buffer: 1 with *msg, 0 if none, -1 (err) if malformed. */
static int qmp_take_line(struct qmp *q, const struct qmp_wait *w, json_t **msg, struct vqh_err *err)
{
    char *nl;

    while (q->len > 0 && (nl = memchr(q->buf, '\n', q->len))) {
        size_t n = (size_t)(nl - q->buf), rest = q->len - n - 1;
        json_error_t jerr;
        json_t *j = NULL;
        size_t t = n;

        while (t > 0 && (q->buf[t - 1] == '\r' || q->buf[t - 1] == ' '))
            t--;
        if (t > 0) {
            qmp_log(q, "<-", q->buf, t);
            j = json_loadb(q->buf, t, 0, &jerr);
            if (!json_is_object(j)) {
                char snip[160], reason[300];

                json_decref(j);
                qmp_escape(snip, sizeof(snip), q->buf, t, 100);
                snprintf(reason, sizeof(reason), "malformed JSON from QMP: %s", snip);
                memmove(q->buf, nl + 1, rest);
                q->len = rest;
                qmp_fail(q, w, err, VQH_ERR_OTHER, reason);
                return -1;
            }
        }
        memmove(q->buf, nl + 1, rest);
        q->len = rest;
        if (j) {
            *msg = j;
            return 1;
        }
    }
    return 0;
}

static bool qmp_fill(struct qmp *q, const struct qmp_wait *w, struct vqh_err *err)
{
    ssize_t n;

    if (!qmp_reserve(q)) {
        qmp_fail(q, w, err, VQH_ERR_OTHER, "QMP message longer than 16 MiB (or out of memory)");
        q->closed = true;
        return false;
    }
    n = recv(q->fd, q->buf + q->len, q->cap - q->len, 0);
    if (n > 0) {
        q->len += (size_t)n;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        char reason[300], snip[160];
        int o = snprintf(reason, sizeof(reason), "connection closed%s%s", n < 0 ? ": " : "",
                         n < 0 ? strerror(errno) : "");

        if (q->len > 0) {
            qmp_escape(snip, sizeof(snip), q->buf, q->len, 100);
            snprintf(reason + o, sizeof(reason) - (size_t)o, " in the middle of a message: %s",
                     snip);
        }
        q->closed = true;
        qmp_fail(q, w, err, VQH_ERR_CLOSED, reason);
        return false;
    }
    return true;
}

/* The next message (new reference), or NULL with err on timeout, death, EOF or bad JSON. */
static json_t *qmp_read_msg(struct qmp *q, const struct qmp_wait *w, struct vqh_err *err)
{
    for (;;) {
        json_t *msg = NULL;
        struct vqh_err why;
        int64_t left;
        struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
        int r = qmp_take_line(q, w, &msg, err);

        if (r != 0)
            return msg;
        if (q->closed) {
            qmp_fail(q, w, err, VQH_ERR_CLOSED, "connection closed");
            return NULL;
        }
        if (!qmp_alive(q, &why)) {
            qmp_drain(q);
            if (qmp_take_line(q, w, &msg, err) != 0)
                return msg;
            qmp_fail_dead(q, w, &why, err);
            return NULL;
        }
        left = w->deadline - clock_now_ms();
        r = poll(&pfd, 1, left <= 0 ? 0 : left < QMP_SLICE_MS ? (int)left : QMP_SLICE_MS);
        if (r > 0) {
            if (!qmp_fill(q, w, err))
                return NULL;
            continue;
        }
        if (r < 0 && errno != EINTR) {
            qmp_fail(q, w, err, VQH_ERR_OTHER, strerror(errno));
            return NULL;
        }
        if (left <= 0) {
            char reason[64];

            snprintf(reason, sizeof(reason), "timed out after %d ms", w->timeout_ms);
            qmp_fail(q, w, err, VQH_ERR_TIMEOUT, reason);
            return NULL;
        }
    }
}

static void qmp_queue_event(struct qmp *q, json_t *event)
{
    struct qmp_queued *e = malloc(sizeof(*e));

    if (q->o.on_event)
        q->o.on_event(q->o.event_arg, event);
    if (!e) {
        json_decref(event);
        return;
    }
    e->next = NULL;
    e->event = event;
    *q->tail = e;
    q->tail = &e->next;
}

/* ---- sending and commands ------------------------------------------------------------------ */

static bool qmp_send(struct qmp *q, const struct qmp_wait *w, const char *text, size_t len,
                     struct vqh_err *err)
{
    qmp_log(q, "->", text, len - 1);
    while (len > 0) {
        ssize_t n = send(q->fd, text, len, MSG_NOSIGNAL);

        if (n > 0) {
            text += n;
            len -= (size_t)n;
        } else if (errno == EAGAIN || errno == EINTR) {
            struct pollfd pfd = {.fd = q->fd, .events = POLLOUT};
            int64_t left = w->deadline - clock_now_ms();

            if (!qmp_check_alive(q, w, err))
                return false;
            if (left <= 0) {
                qmp_fail(q, w, err, VQH_ERR_TIMEOUT, "timed out sending the command (QEMU does not read)");
                return false;
            }
            poll(&pfd, 1, left < QMP_SLICE_MS ? (int)left : QMP_SLICE_MS);
        } else {
            char reason[128];

            snprintf(reason, sizeof(reason), "connection closed: %s", strerror(errno));
            q->closed = true;
            qmp_fail(q, w, err, VQH_ERR_CLOSED, reason);
            return false;
        }
    }
    return true;
}

static json_t *qmp_reply_error(struct qmp *q, const struct qmp_wait *w, json_t *msg,
                               struct vqh_err *err)
{
    json_t *e = json_object_get(msg, "error");
    const char *cls = json_string_value(json_object_get(e, "class"));
    const char *desc = json_string_value(json_object_get(e, "desc"));
    char reason[VQH_ERR_MAX];

    snprintf(reason, sizeof(reason), "%s: %s", cls ? cls : "(no class)", desc ? desc : "(no desc)");
    qmp_fail(q, w, err, VQH_ERR_REFUSED, reason);
    json_decref(msg);
    return NULL;
}

static json_t *qmp_cmd_wait(struct qmp *q, const char *name, json_t *args,
                            const struct qmp_wait *w, struct vqh_err *err)
{
    json_t *req = json_object(), *msg;
    json_int_t id = ++q->last_id;
    char *text, *line = NULL;
    bool sent;

    json_object_set_new(req, "execute", json_string(name));
    if (args)
        json_object_set_new(req, "arguments", args);
    json_object_set_new(req, "id", json_integer(id));
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    /* QMP parses a stream; the newline makes QEMU act on the command at once. */
    if (!text || asprintf(&line, "%s\n", text) < 0) {
        free(text);
        qmp_fail(q, w, err, VQH_ERR_OTHER, "cannot encode the command (bad arguments or out of memory)");
        return NULL;
    }
    free(text);
    if (q->closed) {
        free(line);
        qmp_fail(q, w, err, VQH_ERR_CLOSED, "connection closed");
        return NULL;
    }
    sent = qmp_send(q, w, line, strlen(line), err);
    free(line);
    if (!sent)
        return NULL;
    while ((msg = qmp_read_msg(q, w, err))) {
        json_t *mid = json_object_get(msg, "id");

        if (json_object_get(msg, "event")) {
            qmp_queue_event(q, msg);
        } else if (json_is_integer(mid) && json_integer_value(mid) == id) {
            json_t *ret = json_incref(json_object_get(msg, "return"));

            if (!ret)
                return qmp_reply_error(q, w, msg, err);
            json_decref(msg);
            return ret;
        } else if (!mid && json_object_get(msg, "error")) {
            /* QEMU drops the id when it cannot parse the command at all. */
            return qmp_reply_error(q, w, msg, err);
        } else {
            qmp_note(q, "ignored: neither an event nor the reply awaited");
            json_decref(msg);
        }
    }
    return NULL;
}

json_t *qmp_cmd(struct qmp *q, const char *name, json_t *args, int timeout_ms, struct vqh_err *err)
{
    struct qmp_wait w = qmp_wait_for(name, timeout_ms);

    return qmp_cmd_wait(q, name, args, &w, err);
}

/* ---- events -------------------------------------------------------------------------------- */

static json_t *qmp_event_wait(struct qmp *q, const struct qmp_wait *w, struct vqh_err *err)
{
    struct qmp_queued *e = q->head;
    json_t *msg;

    if (e) {
        msg = e->event;
        q->head = e->next;
        if (!q->head)
            q->tail = &q->head;
        free(e);
        return msg;
    }
    while ((msg = qmp_read_msg(q, w, err))) {
        if (json_object_get(msg, "event")) {
            if (q->o.on_event)
                q->o.on_event(q->o.event_arg, msg);
            return msg;
        }
        qmp_note(q, "ignored: a reply while no command waits");
        json_decref(msg);
    }
    return NULL;
}

json_t *qmp_next_event(struct qmp *q, int timeout_ms, struct vqh_err *err)
{
    struct qmp_wait w = qmp_wait_for("waiting for an event", timeout_ms);

    return qmp_event_wait(q, &w, err);
}

json_t *qmp_wait_event(struct qmp *q, const char *name, int timeout_ms,
                       const char *const fail_names[], struct vqh_err *err)
{
    char what[128];
    struct qmp_wait w;
    json_t *ev;

    snprintf(what, sizeof(what), "waiting for event %s", name);
    w = qmp_wait_for(what, timeout_ms);
    while ((ev = qmp_event_wait(q, &w, err))) {
        const char *got = json_string_value(json_object_get(ev, "event"));

        if (got && strcmp(got, name) == 0)
            return ev;
        for (size_t i = 0; got && fail_names && fail_names[i]; i++) {
            if (strcmp(got, fail_names[i]) == 0) {
                char *data = json_dumps(json_object_get(ev, "data"), JSON_COMPACT);
                char reason[VQH_ERR_MAX];

                snprintf(reason, sizeof(reason), "got event %s first (data: %.300s)", got,
                         data ? data : "none");
                free(data);
                json_decref(ev);
                qmp_fail(q, &w, err, VQH_ERR_OTHER, reason);
                return NULL;
            }
        }
        json_decref(ev);
    }
    return NULL;
}

bool qmp_pump(struct qmp *q, struct vqh_err *err)
{
    struct qmp_wait w = qmp_wait_for("reading events", 0);
    struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
    json_t *msg;

    for (;;) {
        int r = qmp_take_line(q, &w, &msg, err);

        if (r < 0)
            return false;
        if (r > 0 && json_object_get(msg, "event")) {
            qmp_queue_event(q, msg);
        } else if (r > 0) {
            qmp_note(q, "ignored: a reply while no command waits");
            json_decref(msg);
        } else if (q->closed) {
            qmp_fail(q, &w, err, VQH_ERR_CLOSED, "connection closed");
            return false;
        } else if (poll(&pfd, 1, 0) <= 0) {
            return true;
        } else if (!qmp_fill(q, &w, err)) {
            return false;
        }
    }
}

void qmp_set_event_fn(struct qmp *q, qmp_event_fn fn, void *arg)
{
    q->o.on_event = fn;
    q->o.event_arg = arg;
}

int qmp_fd(const struct qmp *q)
{
    return q && !q->closed ? q->fd : -1;
}

double qmp_event_time(const json_t *event)
{
    json_t *ts = json_object_get(event, "timestamp");

    return (double)json_integer_value(json_object_get(ts, "seconds")) +
           (double)json_integer_value(json_object_get(ts, "microseconds")) / 1e6;
}

/* ---- connection ---------------------------------------------------------------------------- */

static int qmp_connect(struct qmp *q, const char *path, const struct qmp_wait *w,
                       struct vqh_err *err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char reason[VQH_ERR_MAX];

    if (strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(reason, sizeof(reason), "socket path %.300s longer than sun_path (%zu)", path,
                 sizeof(addr.sun_path) - 1);
        qmp_fail(q, w, err, VQH_ERR_OTHER, reason);
        return -1;
    }
    strcpy(addr.sun_path, path);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), e;
        const struct timespec nap = {0, 20 * 1000 * 1000};

        if (fd < 0) {
            qmp_fail(q, w, err, VQH_ERR_OTHER, strerror(errno));
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            return fd;
        }
        e = errno;
        close(fd);
        /* QEMU creates and listens on the socket a moment after it starts. */
        if (e != ENOENT && e != ECONNREFUSED && e != EINTR && e != EAGAIN) {
            snprintf(reason, sizeof(reason), "cannot connect to %.300s: %s", path, strerror(e));
            qmp_fail(q, w, err, VQH_ERR_TIMEOUT, reason);
            return -1;
        }
        if (!qmp_check_alive(q, w, err))
            return -1;
        if (clock_now_ms() >= w->deadline) {
            snprintf(reason, sizeof(reason), "no QMP server at %.300s after %d ms: %s", path,
                     w->timeout_ms, strerror(e));
            qmp_fail(q, w, err, VQH_ERR_OTHER, reason);
            return -1;
        }
        nanosleep(&nap, NULL);
    }
}

struct qmp *qmp_open(const char *path, int timeout_ms, const struct qmp_opts *opts,
                     struct vqh_err *err)
{
    struct qmp *q = calloc(1, sizeof(*q));
    struct qmp_wait w = qmp_wait_for("connect", timeout_ms);
    json_t *ret;

    if (!q) {
        vqh_err_set(err, "qmp: out of memory");
        return NULL;
    }
    if (opts)
        q->o = *opts;
    snprintf(q->label, sizeof(q->label), "%s", q->o.label ? q->o.label : "qmp");
    q->tail = &q->head;
    q->fd = -1;
    q->fd = qmp_connect(q, path, &w, err);
    if (q->fd < 0)
        goto fail;
    qmp_note(q, "connected");
    w.what = "greeting";
    q->greeting = qmp_read_msg(q, &w, err);
    if (!q->greeting)
        goto fail;
    if (!json_is_object(json_object_get(q->greeting, "QMP"))) {
        qmp_fail(q, &w, err, VQH_ERR_OTHER, "the first message is not a QMP greeting");
        goto fail;
    }
    w.what = "qmp_capabilities";
    ret = qmp_cmd_wait(q, "qmp_capabilities", NULL, &w, err);
    if (!ret)
        goto fail;
    json_decref(ret);
    return q;
fail:
    qmp_close(q);
    return NULL;
}

void qmp_close(struct qmp *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    while (q->head) {
        struct qmp_queued *e = q->head;

        q->head = e->next;
        json_decref(e->event);
        free(e);
    }
    json_decref(q->greeting);
    free(q->buf);
    free(q);
}

void qmp_set_alive_fn(struct qmp *q, qmp_alive_fn fn, void *arg)
{
    q->o.alive = fn;
    q->o.alive_arg = arg;
}

const json_t *qmp_greeting(const struct qmp *q)
{
    return q->greeting;
}
