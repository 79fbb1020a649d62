/* cmd_run.c: `vqhammer run`: boot one guest, let it hammer its disks, take its verdict. */
#include "cmds.h"
#include "session.h"
#include "wire.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* The guest ends itself: verdict line, then isa-debug-exit. Watch it, and its heartbeat. */
static void run_watch(struct session *s)
{
    int64_t limit = clock_now_ms() + (int64_t)s->o->run_seconds * 1000 + 10LL * s->o->guest_timeout_ms;
    int64_t next_status = 0;
    while (vm_alive(s->vm)) {
        chan_pump(s->chan, 200);
        int64_t now = clock_now_ms();
        if (now - s->chan->last_msg_ms > s->o->guest_timeout_ms) {
            session_fail(s, VERDICT_FAIL, "the guest has been silent for %d ms (hang)", s->o->guest_timeout_ms);
            session_evidence_vm(s, s->vm, "hang: silent guest");
            return;
        }
        if (now > limit) {
            session_fail(s, VERDICT_FAIL, "the guest did not finish within %lld s", (long long)(limit - s->start_ms) / 1000);
            session_evidence_vm(s, s->vm, "hang: no verdict");
            return;
        }
        if (now >= next_status && s->chan->progress) {
            next_status = now + 1000;
            status_update(&s->status, "%s: t=%llds ops=%llu in flight=%llu errors=%llu", s->vm->label,
                          (long long)json_integer_value(json_object_get(s->chan->progress, "t_ms")) / 1000,
                          (unsigned long long)chan_total_ops(s->chan->progress),
                          (unsigned long long)chan_inflight(s->chan->progress),
                          (unsigned long long)s->chan->errors);
        }
    }
    chan_pump(s->chan, 0);
}

/* Map QEMU's exit status and the guest's last words to the run's verdict. */
static void run_judge(struct session *s)
{
    int st = proc_status(s->vm->proc);
    const char *gv = s->chan->verdict ? json_string_value(json_object_get(s->chan->verdict, "verdict")) : NULL;
    const char *why = s->chan->verdict ? json_string_value(json_object_get(s->chan->verdict, "reason")) : NULL;
    if (s->failed)
        return;
    if (WIFSIGNALED(st)) {
        session_fail(s, VERDICT_FAIL, "QEMU %s %s", s->vm->label, s->vm->exit_status);
        session_evidence_vm(s, s->vm, "crash");
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == WIRE_EXIT_STATUS(WIRE_VERDICT_PASS) && gv && !strcmp(gv, "pass")) {
        s->result.verdict = VERDICT_PASS;
        snprintf(s->result.reason, sizeof(s->result.reason), "guest verdict pass: %s", why ? why : "");
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == WIRE_EXIT_STATUS(WIRE_VERDICT_FAIL)) {
        session_fail(s, VERDICT_FAIL, "guest verdict fail: %s (%llu error reports)", why ? why : "?",
                     (unsigned long long)s->chan->errors);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == WIRE_EXIT_STATUS(WIRE_VERDICT_PANIC)) {
        session_fail(s, VERDICT_FAIL, "guest panic: %s", why ? why : "?");
    } else {
        session_fail(s, VERDICT_FAIL, "QEMU %s %s without a guest verdict (see %s)", s->vm->label,
                     s->vm->exit_status, s->vm->out_path);
    }
}

int cmd_run(int argc, char **argv)
{
    struct vqh_opts o;
    struct session s;
    char guest_cfg[128];
    int rc = session_parse(&o, "run", argc, argv);
    if (rc >= 0)
        return rc;
    snprintf(guest_cfg, sizeof(guest_cfg), "duration=%d\nreport_ms=1000\nwatchdog_ms=%d", o.run_seconds,
             o.guest_timeout_ms);
    if (!session_boot(&s, &o, guest_cfg))
        return session_end(&s);
    run_watch(&s);
    if (!s.failed)
        run_judge(&s);
    return session_end(&s);
}
