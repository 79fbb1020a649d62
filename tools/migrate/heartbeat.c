/* heartbeat.c: a progress wait that asks for the progress (see heartbeat.h). */
#include "heartbeat.h"

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
