/* heartbeat.c: a progress wait that asks for the progress (see heartbeat.h). */
#include "heartbeat.h"

#include <string.h>

bool heartbeat_wait(struct session *s, struct vm *v, uint64_t seq, const json_t *before, int timeout_ms,
                    struct vqh_err *err)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    for (;;) {
        /* `report` only adds a progress message: it changes nothing in the guest's load. */
        if (!vm_send(v, "report\n", err))
            return false;
        int64_t left = deadline - clock_now_ms();
        int slice = left < HEARTBEAT_POKE_MS ? (int)(left > 0 ? left : 0) : HEARTBEAT_POKE_MS;
        if (chan_wait_progress(s->chan, v, seq, before, slice, err))
            return true;
        /* A panic or a dead QEMU ends the wait at once; only running out of the slice goes on. */
        if (s->chan->panic || !vm_alive(v))
            return false;
        if (clock_now_ms() >= deadline) {
            vqh_err_set(err, "no progress on every queue within %d ms on %s (the guest is silent or a queue is stuck)",
                        timeout_ms, v->label);
            return false;
        }
    }
}

bool heartbeat_send(struct session *s, struct vm *v, const char *line, uint64_t *after, struct vqh_err *err)
{
    /* Only one command is ever in flight, so the newest reply after this point is its reply. */
    *after = s->chan->last_seq;
    return vm_send(v, line, err);
}

bool heartbeat_reply(struct session *s, struct vm *v, uint64_t after, const char *cmd, int timeout_ms, json_t **reply,
                     struct vqh_err *err)
{
    struct chan *c = s->chan;
    struct vqh_err why;
    int64_t deadline = clock_now_ms() + timeout_ms;
    for (;;) {
        chan_pump(c, 50);
        const char *rc = c->reply && c->reply_seq > after ? json_string_value(json_object_get(c->reply, "cmd")) : NULL;
        if (rc && !strcmp(rc, cmd)) {
            if (reply)
                *reply = json_incref(c->reply);
            return true;
        }
        if (c->panic) {
            vqh_err_set(err, "the guest panicked while running '%s'", cmd);
            return false;
        }
        if (!vm_alive_hook(v, &why)) {
            vqh_err_set(err, "waiting for the guest's reply to '%s': %s", cmd, why.msg);
            return false;
        }
        if (clock_now_ms() > deadline) {
            vqh_err_set(err, "the guest did not answer '%s' within %d ms (on %s)", cmd, timeout_ms, v->label);
            return false;
        }
    }
}
