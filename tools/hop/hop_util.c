/* hop_util.c: QMP waits, evidence and scratch images shared by the hop actions. */
#include "hop_internal.h"
#include "blockgraph.h"
#include "prng.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define HOP_POLL_MS 100

struct hop_state hop_cur;

uint64_t hop_rand(void)
{
    return prng_splitmix64(&hop_cur.rng);
}

json_t *hop_qmp(struct session *s, struct vm *v, const char *cmd, json_t *args, struct vqh_err *err)
{
    return qmp_cmd(v->qmp, cmd, args, s->o->qmp_timeout_ms, err);
}

bool hop_qmp_ok(struct session *s, struct vm *v, const char *cmd, json_t *args, struct vqh_err *err)
{
    json_t *r = hop_qmp(s, v, cmd, args, err);
    json_decref(r);
    return r != NULL;
}

static json_t *hop_find_job(json_t *jobs, const char *id)
{
    json_t *j;
    size_t i;
    json_array_foreach(jobs, i, j)
        if (!strcmp(json_string_value(json_object_get(j, "id")) ?: "", id))
            return j;
    return NULL;
}

bool hop_job_wait(struct session *s, struct vm *v, struct hop_record *h, const char *id, const char *want,
                  int timeout_ms, struct vqh_err *err)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    char last[32] = "none";
    for (;;) {
        json_t *jobs = hop_qmp(s, v, "query-jobs", NULL, err);
        if (!jobs)
            return false;
        json_t *j = hop_find_job(jobs, id);
        if (!j) {
            vqh_err_set(err, "block job %s on %s vanished (last status %s)", id, v->label, last);
            json_decref(jobs);
            return false;
        }
        snprintf(last, sizeof(last), "%s", json_string_value(json_object_get(j, "status")) ?: "?");
        const char *jerr = json_string_value(json_object_get(j, "error"));
        if (jerr || (!strcmp(last, "concluded") && strcmp(want, "concluded"))) {
            vqh_err_set(err, "block job %s on %s ended (%s) before it was %s: %s", id, v->label, last, want,
                        jerr ? jerr : "no error given");
            json_decref(jobs);
            return false;
        }
        if (!strcmp(last, want)) {
            if (!strcmp(want, "concluded")) {
                size_t n = strlen(h->jobs);
                snprintf(h->jobs + n, sizeof(h->jobs) - n, "%s%s=%s", n ? " " : "", id, last);
            }
            json_decref(jobs);
            return true;
        }
        json_decref(jobs);
        if (!vm_alive(v)) {
            vqh_err_set(err, "QEMU %s %s while block job %s ran", v->label, v->exit_status, id);
            return false;
        }
        if (clock_now_ms() > deadline) {
            vqh_err_set(err, "block job %s on %s still %s, not %s, after %d ms", id, v->label, last, want,
                        timeout_ms);
            return false;
        }
        chan_pump(s->chan, HOP_POLL_MS);
    }
}

bool hop_job_dismiss(struct session *s, struct vm *v, const char *id, struct vqh_err *err)
{
    if (!hop_qmp_ok(s, v, "job-dismiss", json_pack("{s:s}", "id", id), err))
        return false;
    json_t *jobs = hop_qmp(s, v, "query-jobs", NULL, err);
    if (!jobs)
        return false;
    bool gone = !hop_find_job(jobs, id);
    json_decref(jobs);
    if (!gone)
        vqh_err_set(err, "block job %s on %s is still listed after job-dismiss", id, v->label);
    return gone;
}

bool hop_wait_event(struct session *s, struct vm *v, const char *name, int timeout_ms, json_t **data,
                    struct vqh_err *err)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    static const char *const fail[] = { "SHUTDOWN", NULL };
    for (;;) {
        struct vqh_err e2;
        json_t *ev = qmp_wait_event(v->qmp, name, HOP_POLL_MS, fail, &e2);
        if (ev) {
            if (data)
                *data = json_incref(json_object_get(ev, "data"));
            json_decref(ev);
            return true;
        }
        if (!strstr(e2.msg, "timed out")) {
            *err = e2;
            return false;
        }
        if (clock_now_ms() > deadline) {
            vqh_err_set(err, "no %s event from %s within %d ms", name, v->label, timeout_ms);
            return false;
        }
        chan_pump(s->chan, 0);
    }
}

bool hop_cont(struct session *s, struct vm *v, struct vqh_err *err)
{
    if (!hop_qmp_ok(s, v, "cont", NULL, err))
        return false;
    /* A stopped guest says nothing, and under TCG its clock (QEMU_CLOCK_VIRTUAL, which feeds the
     * TSC) stood still too, so its own watchdog saw no gap: only the host's silence timer must
     * start over. */
    s->chan->last_msg_ms = clock_now_ms();
    return true;
}

bool hop_graph_restored(struct session *s, struct vm *v, struct vqh_err *err)
{
    json_t *r = hop_qmp(s, v, "query-block", NULL, err), *b;
    size_t i;
    if (!r)
        return false;
    json_array_foreach(r, i, b) {
        int d = blockgraph_disk_of_qdev(json_string_value(json_object_get(b, "qdev")));
        if (d < 0)
            continue;
        char want[32];
        blockgraph_top_node(s->o, d, want, sizeof(want));
        const char *got = json_string_value(json_object_get(json_object_get(b, "inserted"), "node-name"));
        if (!got || strcmp(got, want)) {
            vqh_err_set(err, "after the block jobs, data disk %d on %s sits on node %s, not %s", d, v->label,
                        got ? got : "(none)", want);
            json_decref(r);
            return false;
        }
    }
    json_decref(r);
    return true;
}

void hop_evidence(struct session *s, struct vm *v, const struct hop_record *h, const char *what)
{
    hop_evidence_nodes(s, v, h, what, true);
}

void hop_evidence_nodes(struct session *s, struct vm *v, const struct hop_record *h, const char *what, bool nodes_too)
{
    struct vqh_err err;
    FILE *f = fopen(rundir_path(s->rd, "evidence.txt"), "ae");
    if (!f)
        return;
    fprintf(f, "== hop %d (%s) on %s: %s\n", h->index, h->action_name, v->label, what);
    json_t *jobs = hop_qmp(s, v, "query-jobs", NULL, &err), *j;
    size_t i;
    fprintf(f, "query-jobs:%s\n", jobs ? (json_array_size(jobs) ? "" : " (none)") : err.msg);
    json_array_foreach(jobs, i, j)
        fprintf(f, "  %s %s %s progress %lld/%lld%s%s\n", json_string_value(json_object_get(j, "id")),
                json_string_value(json_object_get(j, "type")), json_string_value(json_object_get(j, "status")),
                json_integer_value(json_object_get(j, "current-progress")),
                json_integer_value(json_object_get(j, "total-progress")),
                json_object_get(j, "error") ? " error: " : "", json_string_value(json_object_get(j, "error")) ?: "");
    json_decref(jobs);
    json_t *bj = hop_qmp(s, v, "query-block-jobs", NULL, &err);
    fprintf(f, "query-block-jobs:%s\n", bj ? (json_array_size(bj) ? "" : " (none)") : err.msg);
    json_array_foreach(bj, i, j)
        fprintf(f, "  %s %s ready=%s offset %lld/%lld\n", json_string_value(json_object_get(j, "device")),
                json_string_value(json_object_get(j, "type")), json_is_true(json_object_get(j, "ready")) ? "yes" : "no",
                json_integer_value(json_object_get(j, "offset")), json_integer_value(json_object_get(j, "len")));
    json_decref(bj);
    if (!nodes_too) {
        fprintf(f, "query-named-block-nodes: not asked here (see the caller)\n");
        fclose(f);
        return;
    }
    json_t *nodes = hop_qmp(s, v, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), &err), *n;
    fprintf(f, "query-named-block-nodes:%s\n", nodes ? "" : err.msg);
    json_array_foreach(nodes, i, n) {
        const json_t *img = json_object_get(n, "image");
        fprintf(f, "  %-14s %-9s ro=%d %s%s%s\n", json_string_value(json_object_get(n, "node-name")) ?: "?",
                json_string_value(json_object_get(n, "drv")) ?: "?", json_is_true(json_object_get(n, "ro")),
                json_string_value(json_object_get(n, "file")) ?: "",
                json_object_get(img, "backing-filename") ? " backing " : "",
                json_string_value(json_object_get(img, "backing-filename")) ?: "");
    }
    json_decref(nodes);
    fclose(f);
}

bool hop_scratch_image(struct session *s, const char *name, uint64_t size, char *path, size_t cap,
                       struct vqh_err *err)
{
    snprintf(path, cap, "%s", rundir_path(s->rd, name));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size)) {
        vqh_err_set(err, "cannot create %s (%llu bytes): %s", path, (unsigned long long)size,
                    strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}

uint64_t hop_disk_size(struct session *s, int i)
{
    struct stat st;
    return stat(s->disk_paths[i], &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : s->o->disk_size;
}
