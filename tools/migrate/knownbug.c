/* knownbug.c: known QEMU bugs by version and accelerator, and the guest's TLB switch. */
#include "knownbug.h"

#include <stdio.h>
#include <string.h>

#define KNOWNBUG_TLB_TIMEOUT_MS 30000

bool knownbug_tcg_dirty_exposed(const struct session *s, const struct vm *src, const struct vm *dst)
{
    /* An unknown version (0) counts as exposed: the workaround costs speed, never correctness. */
    return s->accel && !strcmp(s->accel, "tcg") &&
           (src->version < KNOWNBUG_TCG_DIRTY_FIXED || dst->version < KNOWNBUG_TCG_DIRTY_FIXED);
}

static void knownbug_version(const struct vm *v, char *buf, size_t cap)
{
    if (v->version)
        snprintf(buf, cap, "%d.%d.%d", v->version / 10000, v->version / 100 % 100, v->version % 100);
    else
        snprintf(buf, cap, "unknown");
}

void knownbug_describe(const struct session *s, const struct vm *src, const struct vm *dst, char *buf, size_t cap)
{
    char a[24], b[24];
    knownbug_version(src, a, sizeof(a));
    knownbug_version(dst, b, sizeof(b));
    if (!strcmp(a, b))
        snprintf(buf, cap, "QEMU %s on both ends under %s", a, s->accel ? s->accel : "?");
    else
        snprintf(buf, cap, "QEMU %s -> %s under %s", a, b, s->accel ? s->accel : "?");
}

struct hop_record *knownbug_suspect_hop(struct session *s)
{
    const struct vqh_opts *o = s->o;
    struct hop_record *last = NULL;
    if (s->result.fault[0] || (o->inject[0] && strcmp(o->inject, "none")))
        return NULL;
    for (int i = 0; i < s->result.nhops; i++)
        if (!strcmp(s->result.hops[i].status, "completed"))
            last = &s->result.hops[i];
    return last && last->tcg_dirty_exposed ? last : NULL;
}

bool knownbug_tlb(struct session *s, struct vm *v, bool on, bool *active, struct vqh_err *err)
{
    json_t *reply = NULL;
    const char *line = on ? "tlb refresh=on\n" : "tlb refresh=off\n";
    if (!chan_command(s->chan, v, line, "tlb", KNOWNBUG_TLB_TIMEOUT_MS, &reply, err))
        return false;
    bool ok = json_is_true(json_object_get(reply, "ok"));
    *active = json_is_true(json_object_get(reply, "refresh"));
    json_decref(reply);
    if (!ok)
        vqh_err_set(err, "the guest refused '%.*s' (a guest older than this vqhammer?)", (int)strlen(line) - 1, line);
    return ok;
}
