/* prestart.c: starting the next destination during the gap (see prestart.h). */
#include "prestart.h"

struct vm *prestart_dst(struct session *s, int *took_ms, struct vqh_err *err)
{
    int64_t t0 = clock_now_ms();
    struct vm *dst = session_start_vm(s, true, err);
    *took_ms = (int)(clock_now_ms() - t0);
    return dst;
}

void prestart_drop(struct session *s, struct vm *dst)
{
    if (!dst)
        return;
    vm_kill(dst); /* kills and reaps; vm_free would too, but say so here */
    chan_detach(s->chan, dst);
    vm_free(dst);
}
