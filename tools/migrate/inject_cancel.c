/* inject_cancel.c: faults at a hop's migrate_cancel (inject_cancel.h). */
#include "inject_cancel.h"
#include "clock.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define STALL_MAX_MS 10000

static bool stopped_dst; /* crash-after-cancel: the destination waits, stopped, for its signal */

bool inject_at_cancel(const struct vqh_opts *o)
{
    return !strcmp(o->inject, "slow-cancel") || !strcmp(o->inject, "crash-after-cancel");
}

void inject_cancel_before(struct session *s, struct vm *dst)
{
    if (stopped_dst || strcmp(s->o->inject, "crash-after-cancel"))
        return;
    stopped_dst = proc_kill(dst->proc, SIGSTOP);
}

void inject_cancel_after(struct session *s, struct vm *src, struct vm *dst, int hop)
{
    if (!strcmp(s->o->inject, "crash-after-cancel")) {
        /* A stopped process keeps SIGABRT pending and dies of it as soon as it is continued,
         * before it runs any of its own code. */
        proc_kill(dst->proc, SIGABRT);
        proc_kill(dst->proc, SIGCONT);
        stopped_dst = false;
        status_event(&s->status, "hop %d: injected: SIGABRT to the destination %s just after migrate_cancel",
                     hop, dst->label);
        return;
    }
    proc_kill(src->proc, SIGSTOP);
    int64_t deadline = clock_now_ms() + STALL_MAX_MS;
    while (vm_alive(dst) && clock_now_ms() < deadline)
        usleep(10000);
    bool exited = !vm_alive(dst);
    proc_kill(src->proc, SIGCONT);
    status_event(&s->status, "hop %d: injected: the source stopped after migrate_cancel until %s (%s)", hop,
                 exited ? "the destination exited" : "10 s passed", exited ? dst->exit_status : "it still runs");
}
