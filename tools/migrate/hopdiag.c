/* hopdiag.c: what tells the causes of a guest failure right after a hop apart (see hopdiag.h). */
#include "hopdiag.h"
#include "knownbug.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOPDIAG_LAST_MSGS 20

/* A QMP command's answer into f: HMP text as it is, anything else as JSON. */
static void hopdiag_qmp(struct session *s, struct vm *v, FILE *f, const char *cmd, json_t *args)
{
    struct vqh_err err;
    json_t *r = qmp_cmd(v->qmp, cmd, args, s->o->qmp_timeout_ms, &err);
    if (!r) {
        fprintf(f, "  (%s)\n", err.msg);
        return;
    }
    if (json_is_string(r)) {
        fprintf(f, "%s", json_string_value(r));
    } else {
        char *t = json_dumps(r, JSON_COMPACT);
        fprintf(f, "  %s\n", t ? t : "?");
        free(t);
    }
    json_decref(r);
}

/* The last lines of serial-merged.log. */
static void hopdiag_last_msgs(struct session *s, FILE *f)
{
    FILE *in = fopen(rundir_path(s->rd, "serial-merged.log"), "re");
    static char ring[HOPDIAG_LAST_MSGS][600];
    int n = 0;
    if (!in) {
        fprintf(f, "  (no serial-merged.log)\n");
        return;
    }
    /* one entry per message, cut: a message sent in parts is one long line there */
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) >= 0)
        snprintf(ring[n++ % HOPDIAG_LAST_MSGS], sizeof(ring[0]), "%s", line);
    free(line);
    fclose(in);
    for (int i = n > HOPDIAG_LAST_MSGS ? n - HOPDIAG_LAST_MSGS : 0; i < n; i++)
        fprintf(f, "  | %s%s", ring[i % HOPDIAG_LAST_MSGS], strchr(ring[i % HOPDIAG_LAST_MSGS], '\n') ? "" : "\n");
}

/* Which side is at fault, from what this hop measured. */
static const char *hopdiag_blame(const struct hop_record *h, char *why, size_t cap)
{
    if (h->ram_checked && h->ram_diff_pages > 0) {
        snprintf(why, cap, "guest RAM differs between the ends after the migration (--check-ram): QEMU lost guest "
                 "memory%s", h->tcg_dirty_exposed ? "; " KNOWNBUG_TCG_DIRTY : "");
        return "qemu";
    }
    if (h->ram_checked && h->ram_diff_pages == 0) {
        snprintf(why, cap, "guest RAM was identical on both ends after the migration (--check-ram), so no "
                 "memory was lost: the guest, or device state QEMU migrated, is at fault; the registers and "
                 "the guest's last messages are in the evidence");
        return "guest";
    }
    if (h->tcg_dirty_exposed) {
        snprintf(why, cap, "suspect: %s (this hop ran under TCG on a QEMU without the fix%s); the reproducer "
                 "reruns the seed with --check-ram, which tells lost memory from a guest fault",
                 KNOWNBUG_TCG_DIRTY, h->tlb_refresh ? ", with the guest's TLB workaround on" : ", workaround off");
        return "undetermined";
    }
    snprintf(why, cap, "cause undetermined: the reproducer reruns the seed with --check-ram, which tells memory "
             "lost by QEMU from a guest fault");
    return "undetermined";
}

void hopdiag_guest_failed(struct session *s, struct hop_record *h, struct vm *v)
{
    char why[600], ver[128];
    const char *fault = hopdiag_blame(h, why, sizeof(why));
    snprintf(s->result.fault, sizeof(s->result.fault), "%s", fault);
    size_t len = strlen(s->result.reason);
    if (!(h->ram_checked && h->ram_diff_pages > 0)) /* that reason names the RAM already */
        snprintf(s->result.reason + len, sizeof(s->result.reason) - len, "; %s", why);
    if (!s->o->check_ram && !strstr(s->result.reproducer, "--check-ram")) {
        len = strlen(s->result.reproducer);
        snprintf(s->result.reproducer + len, sizeof(s->result.reproducer) - len, " --check-ram");
    }
    FILE *f = fopen(rundir_path(s->rd, "evidence.txt"), "ae");
    if (!f)
        return;
    knownbug_describe(s, v, v, ver, sizeof(ver));
    fprintf(f, "== hop %d: the guest failed on %s right after the migration %s -> %s (%s)\n", h->index, v->label,
            h->src, h->dst, ver);
    fprintf(f, "fault: %s: %s\n", fault, why);
    fprintf(f, "TCG dirty-tracking bug exposure: %s; guest TLB workaround during the hop: %s\n",
            h->tcg_dirty_exposed ? "yes" : "no", h->tlb_refresh ? "on" : "off");
    if (h->ram_checked)
        fprintf(f, "RAM comparison of this hop: %llu differing pages\n", (unsigned long long)h->ram_diff_pages);
    else
        fprintf(f, "RAM comparison of this hop: not done (--check-ram was off)\n");
    fprintf(f, "reproducer with the RAM comparison: %s\n", s->result.reproducer);
    if (vm_alive(v)) {
        fprintf(f, "query-cpus-fast on %s:\n", v->label);
        hopdiag_qmp(s, v, f, "query-cpus-fast", NULL);
        fprintf(f, "vCPU registers on %s (info registers -a):\n", v->label);
        hopdiag_qmp(s, v, f, "human-monitor-command", json_pack("{s:s}", "command-line", "info registers -a"));
    } else {
        fprintf(f, "no registers: QEMU %s %s\n", v->label, v->exit_status);
    }
    fprintf(f, "the guest's last %d messages (serial-merged.log):\n", HOPDIAG_LAST_MSGS);
    fflush(s->chan->merged);
    hopdiag_last_msgs(s, f);
    fclose(f);
}
