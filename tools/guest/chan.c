/* chan.c: guest messages from all QEMUs, merged in sequence order. */
#include "chan.h"
#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct chan *chan_new(const char *merged_path, bool verbose, struct vqh_err *err)
{
    struct chan *c = calloc(1, sizeof(*c));
    if (!c || !(c->merge = guestlog_merge_new(1)) || !(c->parts = guestparts_new()) ||
        !(c->error_list = json_array())) {
        vqh_err_set(err, "out of memory");
        chan_free(c);
        return NULL;
    }
    c->merged = fopen(merged_path, "we");
    if (!c->merged) {
        vqh_err_set(err, "cannot create %s: %s", merged_path, strerror(errno));
        chan_free(c);
        return NULL;
    }
    c->verbose = verbose;
    c->last_msg_ms = clock_now_ms();
    return c;
}

void chan_free(struct chan *c)
{
    if (!c)
        return;
    if (c->merge)
        guestlog_merge_free(c->merge);
    guestparts_free(c->parts);
    if (c->merged)
        fclose(c->merged);
    json_decref(c->hello);
    json_decref(c->progress);
    json_decref(c->error_list);
    json_decref(c->panic);
    json_decref(c->verdict);
    json_decref(c->summary);
    json_decref(c->reply);
    free(c);
}

static void chan_keep(json_t **slot, json_t *obj)
{
    json_decref(*slot);
    *slot = json_incref(obj);
}

/* One message, in sequence order. */
static void chan_take(struct chan *c, struct guestlog_msg *m)
{
    const char *t = m->type;
    c->last_seq = m->seq_last;
    fprintf(c->merged, "%llu %s %s\n", (unsigned long long)m->seq, m->source, m->text);
    if (c->verbose && strcmp(t, "progress"))
        fprintf(stderr, "guest[%s] %s\n", m->source, m->text);
    if (!strcmp(t, WIRE_MSG_HELLO)) {
        chan_keep(&c->hello, m->obj);
    } else if (!strcmp(t, WIRE_MSG_PROGRESS)) {
        chan_keep(&c->progress, m->obj);
        c->progress_seq = m->seq;
    } else if (!strcmp(t, WIRE_MSG_ERROR) || !strcmp(t, WIRE_MSG_BROKEN) || !strcmp(t, WIRE_MSG_CONFIG_ERROR)) {
        c->errors++;
        if (json_array_size(c->error_list) < CHAN_KEEP_ERRORS)
            json_array_append(c->error_list, m->obj);
    } else if (!strcmp(t, WIRE_MSG_PANIC)) {
        c->errors++;
        chan_keep(&c->panic, m->obj);
        if (json_array_size(c->error_list) < CHAN_KEEP_ERRORS)
            json_array_append(c->error_list, m->obj);
    } else if (!strcmp(t, WIRE_MSG_VERDICT)) {
        chan_keep(&c->verdict, m->obj);
    } else if (!strcmp(t, WIRE_MSG_SUMMARY)) {
        chan_keep(&c->summary, m->obj);
    } else if (!strcmp(t, WIRE_MSG_REPLY)) {
        chan_keep(&c->reply, m->obj);
        c->reply_seq = m->seq;
    }
}

/* Whole messages out of the reassembler; a message given up is an anomaly, its parts go to the
 * merged log as they came, and a lost error report still counts as an error. */
static void chan_drain_parts(struct chan *c)
{
    struct guestparts_out o;
    while (guestparts_next(c->parts, &o)) {
        if (o.kind == GUESTPARTS_WHOLE) {
            chan_take(c, o.msg);
        } else {
            if (o.kind == GUESTPARTS_BROKEN) {
                c->broken_msgs++;
                if (!c->anomalies++)
                    snprintf(c->first_anomaly, sizeof(c->first_anomaly), "%s", o.detail);
                if (!strcmp(o.of, WIRE_MSG_ERROR) || !strcmp(o.of, WIRE_MSG_BROKEN) ||
                    !strcmp(o.of, WIRE_MSG_PANIC) || !strcmp(o.of, WIRE_MSG_CONFIG_ERROR))
                    c->errors++;
                fprintf(stderr, "vqhammer: %s\n", o.detail);
            }
            fprintf(c->merged, "# %s\n", o.detail);
            for (size_t i = 0; i < o.nparts; i++) {
                struct guestlog_msg *m = o.parts[i];
                c->last_seq = m->seq;
                fprintf(c->merged, "%llu %s %s\n", (unsigned long long)m->seq, m->source, m->text);
            }
        }
        guestparts_out_clear(&o);
    }
}

static void chan_drain_merge(struct chan *c)
{
    struct guestlog_event ev;
    while (guestlog_merge_next(c->merge, &ev)) {
        if (ev.kind == GUESTLOG_EV_MSG) {
            guestparts_add(c->parts, ev.msg);
            ev.msg = NULL; /* the reassembler owns it now */
            chan_drain_parts(c);
        } else if (ev.kind != GUESTLOG_EV_DUP) {
            /* A duplicate with the same text is the normal overlap of two QEMUs' output around
             * a migration; a gap or a conflict is not. */
            if (!c->anomalies++)
                snprintf(c->first_anomaly, sizeof(c->first_anomaly), "%s", ev.detail);
            fprintf(c->merged, "# %s\n", ev.detail);
        }
        guestlog_event_clear(&ev);
    }
}

struct chan_line_ctx {
    struct chan *c;
    struct vm *v;
};

static void chan_line(void *arg, const struct guestlog_line *line)
{
    struct chan_line_ctx *x = arg;
    struct guestlog_msg *m = NULL;
    struct vqh_err err;
    switch (guestlog_parse_line(line, x->v->label, &m, &err)) {
    case GUESTLOG_MSG:
        x->c->last_msg_ms = clock_now_ms();
        guestlog_merge_add(x->c->merge, m);
        break;
    case GUESTLOG_BAD:
        x->c->bad_lines++;
        fprintf(x->c->merged, "# bad line from %s: %s\n", x->v->label, err.msg);
        break;
    default:
        break;
    }
}

/* Read whatever v has; false at end of stream. */
static bool chan_read_vm(struct chan *c, struct vm *v)
{
    char buf[16384];
    struct chan_line_ctx x = { c, v };
    for (;;) {
        ssize_t n = read(v->serial_fd, buf, sizeof(buf));
        if (n > 0) {
            fwrite(buf, 1, (size_t)n, v->serial_log_f);
            guestlog_asm_feed(&v->asm_, buf, (size_t)n, chan_line, &x);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        guestlog_asm_finish(&v->asm_, chan_line, &x);
        return false;
    }
}

void chan_attach(struct chan *c, struct vm *v)
{
    if (c->nvms < CHAN_MAX_VMS) {
        c->vms[c->nvms++] = v;
        guestlog_merge_open(c->merge, v->label);
    }
}

void chan_detach(struct chan *c, struct vm *v)
{
    for (int i = 0; i < c->nvms; i++) {
        if (c->vms[i] != v)
            continue;
        if (v->serial_fd >= 0 && !v->hold_serial)
            chan_read_vm(c, v);
        fflush(v->serial_log_f);
        guestlog_merge_close(c->merge, v->label);
        c->vms[i] = c->vms[--c->nvms];
        chan_drain_merge(c);
        if (!c->nvms) { /* nothing more can come: a message still missing parts never ends */
            guestparts_end(c->parts);
            chan_drain_parts(c);
        }
        return;
    }
}

void chan_handoff(struct chan *c, struct vm *from, struct vm *to)
{
    if (from->serial_fd >= 0)
        chan_read_vm(c, from);
    guestlog_asm_handoff(&from->asm_, &to->asm_);
    to->hold_serial = false;
}

void chan_pump(struct chan *c, int timeout_ms)
{
    chan_pump_fd(c, -1, timeout_ms);
}

void chan_pump_fd(struct chan *c, int extra_fd, int timeout_ms)
{
    struct pollfd p[CHAN_MAX_VMS + 1];
    struct vm *who[CHAN_MAX_VMS];
    int n = 0;
    for (int i = 0; i < c->nvms; i++) {
        if (c->vms[i]->hold_serial)
            continue;
        who[n] = c->vms[i];
        p[n].fd = c->vms[i]->serial_fd;
        p[n].events = POLLIN;
        n++;
    }
    p[n].fd = extra_fd; /* poll(2) skips a negative fd */
    p[n].events = POLLIN;
    p[n].revents = 0;
    if (poll(p, (nfds_t)n + 1, timeout_ms) > 0) {
        for (int i = 0; i < n; i++)
            if (p[i].revents)
                chan_read_vm(c, who[i]);
    }
    chan_drain_merge(c);
    fflush(c->merged);
}

/* idle_ms: with `moving`, the wait lasts while progress messages show the operation count
 * rising, and fails only after idle_ms without a rise; else it is a plain deadline. */
static bool chan_command_wait(struct chan *c, struct vm *v, const char *line, const char *cmd, int timeout_ms,
                              bool moving, json_t **reply, struct vqh_err *err)
{
    uint64_t after = c->last_seq, seen_seq = c->progress_seq;
    uint64_t ops = c->progress ? chan_total_ops(c->progress) : 0;
    struct vqh_err why;
    if (!vm_send(v, line, err))
        return false;
    int64_t start = clock_now_ms(), deadline = start + timeout_ms;
    for (;;) {
        chan_pump(c, 50);
        if (c->reply && c->reply_seq > after) {
            const char *rc = json_string_value(json_object_get(c->reply, "cmd"));
            if (rc && !strcmp(rc, cmd)) {
                if (reply)
                    *reply = json_incref(c->reply);
                return true;
            }
        }
        if (moving && c->progress && c->progress_seq > seen_seq) {
            uint64_t now_ops = chan_total_ops(c->progress);
            seen_seq = c->progress_seq;
            if (now_ops > ops)
                deadline = clock_now_ms() + timeout_ms;
            ops = now_ops;
        }
        if (c->panic) {
            vqh_err_set(err, "the guest panicked while running '%s'", cmd);
            return false;
        }
        if (!vm_alive_hook(v, &why)) {
            vqh_err_setk(err, VQH_ERR_DIED, "waiting for the guest's reply to '%s': %s", cmd, why.msg);
            return false;
        }
        if (clock_now_ms() > deadline) {
            if (moving)
                vqh_err_setk(err, VQH_ERR_TIMEOUT, "the guest did not answer '%s' (on %s) and made no progress for %d ms "
                            "(%lld ms since it was sent)", cmd, v->label, timeout_ms,
                            (long long)(clock_now_ms() - start));
            else
                vqh_err_setk(err, VQH_ERR_TIMEOUT, "the guest did not answer '%s' within %d ms (on %s)", cmd, timeout_ms, v->label);
            return false;
        }
    }
}

bool chan_command(struct chan *c, struct vm *v, const char *line, const char *cmd, int timeout_ms,
                  json_t **reply, struct vqh_err *err)
{
    return chan_command_wait(c, v, line, cmd, timeout_ms, false, reply, err);
}

bool chan_command_moving(struct chan *c, struct vm *v, const char *line, const char *cmd, int idle_ms,
                         json_t **reply, struct vqh_err *err)
{
    return chan_command_wait(c, v, line, cmd, idle_ms, true, reply, err);
}

json_t *chan_queue_ops(const json_t *msg)
{
    json_t *out = json_array(), *disk, *q;
    size_t i, j;
    json_array_foreach(json_object_get(msg, "disks"), i, disk)
        json_array_foreach(json_object_get(disk, "queues"), j, q)
            json_array_append_new(out, json_integer(json_integer_value(json_object_get(q, "ops"))));
    return out;
}

uint64_t chan_queue_sum(const json_t *msg, const char *field)
{
    uint64_t n = 0;
    json_t *disk, *q;
    size_t i, j;
    json_array_foreach(json_object_get(msg, "disks"), i, disk)
        json_array_foreach(json_object_get(disk, "queues"), j, q)
            n += (uint64_t)json_integer_value(json_object_get(q, field));
    return n;
}

uint64_t chan_queue_max(const json_t *msg, const char *field)
{
    uint64_t n = 0;
    json_t *disk, *q;
    size_t i, j;
    json_array_foreach(json_object_get(msg, "disks"), i, disk)
        json_array_foreach(json_object_get(disk, "queues"), j, q)
            if ((uint64_t)json_integer_value(json_object_get(q, field)) > n)
                n = (uint64_t)json_integer_value(json_object_get(q, field));
    return n;
}

uint64_t chan_total_ops(const json_t *progress)
{
    return chan_queue_sum(progress, "ops");
}

uint64_t chan_inflight(const json_t *progress)
{
    return chan_queue_sum(progress, "inflight");
}

bool chan_wait_progress(struct chan *c, struct vm *v, uint64_t seq, const json_t *before, int timeout_ms,
                        struct vqh_err *err)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    struct vqh_err why;
    for (;;) {
        chan_pump(c, 50);
        if (c->progress && c->progress_seq > seq) {
            json_t *now = chan_queue_ops(c->progress);
            bool all = json_array_size(now) > 0;
            for (size_t i = 0; before && i < json_array_size(now); i++)
                if (json_integer_value(json_array_get(now, i)) <= json_integer_value(json_array_get(before, i)))
                    all = false;
            json_decref(now);
            if (all)
                return true;
        }
        if (c->panic) {
            vqh_err_set(err, "the guest panicked");
            return false;
        }
        if (!vm_alive_hook(v, &why)) {
            vqh_err_setk(err, VQH_ERR_DIED, "waiting for the guest's heartbeat: %s", why.msg);
            return false;
        }
        if (clock_now_ms() > deadline) {
            vqh_err_setk(err, VQH_ERR_TIMEOUT,
                         "no progress on every queue within %d ms on %s (the guest is silent or a queue is stuck)",
                         timeout_ms, v->label);
            return false;
        }
    }
}
