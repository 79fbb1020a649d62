/*
 * jobs.c: block jobs on the source between hops, while the guest writes, each as libvirt runs it
 * (blockdev mode: persistent jobs, auto-dismiss off, end states read from query-jobs):
 *   backup  virDomainBackupBegin's push mode: blockdev-backup sync=full into a scratch target
 *   commit  snapshot-create --disk-only (blockdev-create a qcow2 overlay, blockdev-snapshot),
 *           then blockcommit --active --pivot (block-commit, ready, job-complete, job-dismiss)
 *   stream  two overlays, blockpull of the middle one into the top (block-stream base-node),
 *           then the active commit back down to the base
 * Every job must conclude without an error and be dismissed; afterwards each device sits on its
 * base node again with no backing chain, which the next migration's destination (opening the
 * base image) relies on, and the hop's full verification reads every block through it.
 */
#include "hop_internal.h"
#include "blockgraph.h"

#include <stdio.h>
#include <string.h>

#define JOB_TIMEOUT_MS 300000

/* A qcow2 overlay `tag` (vqhsnap<tag><i>) on top of node `below`, which becomes its backing. */
static bool jobs_snapshot(struct session *s, struct hop_record *h, int i, char tag, const char *below,
                          char *node, size_t cap, struct vqh_err *err)
{
    char name[64], path[OPTS_PATH_MAX], file[32], job[32];
    snprintf(name, sizeof(name), "snap%d%c-disk%d.qcow2", h->index, tag, i);
    snprintf(file, sizeof(file), "vqhsnapf%c%d", tag, i);
    snprintf(node, cap, "vqhsnap%c%d", tag, i);
    snprintf(job, sizeof(job), "vqhcreate%c%d", tag, i);
    if (!hop_scratch_image(s, name, 0, path, sizeof(path), err) ||
        !hop_qmp_ok(s, s->vm, "blockdev-add", json_pack("{s:s, s:s, s:s}", "driver", "file", "node-name", file,
                                                        "filename", path), err) ||
        !hop_qmp_ok(s, s->vm, "blockdev-create",
                    json_pack("{s:s, s:{s:s, s:s, s:I}}", "job-id", job, "options", "driver", "qcow2", "file", file,
                              "size", (json_int_t)hop_disk_size(s, i)), err) ||
        !hop_job_wait(s, s->vm, h, job, "concluded", JOB_TIMEOUT_MS, err) || !hop_job_dismiss(s, s->vm, job, err))
        return false;
    /* backing null: blockdev-snapshot links the overlay to `below` itself. */
    return hop_qmp_ok(s, s->vm, "blockdev-add", json_pack("{s:s, s:s, s:s, s:n}", "driver", "qcow2", "node-name", node,
                                                          "file", file, "backing"), err) &&
           hop_qmp_ok(s, s->vm, "blockdev-snapshot", json_pack("{s:s, s:s}", "node", below, "overlay", node), err);
}

static bool jobs_del_overlay(struct session *s, char tag, int i, struct vqh_err *err)
{
    char node[32], file[32];
    snprintf(node, sizeof(node), "vqhsnap%c%d", tag, i);
    snprintf(file, sizeof(file), "vqhsnapf%c%d", tag, i);
    return hop_qmp_ok(s, s->vm, "blockdev-del", json_pack("{s:s}", "node-name", node), err) &&
           hop_qmp_ok(s, s->vm, "blockdev-del", json_pack("{s:s}", "node-name", file), err);
}

/* Let the guest write into the current top layer for a seeded while. */
static void jobs_let_guest_write(struct session *s)
{
    int64_t end = clock_now_ms() + 200 + (int64_t)(hop_rand() % 800);
    while (clock_now_ms() < end)
        chan_pump(s->chan, 50);
}

/* Active commit of `top` into `base`, pivoting the device back to base. */
static bool jobs_commit(struct session *s, struct hop_record *h, int i, const char *top, const char *base,
                        struct vqh_err *err)
{
    char job[32];
    snprintf(job, sizeof(job), "vqhcommit%d", i);
    return hop_qmp_ok(s, s->vm, "block-commit",
                      json_pack("{s:s, s:s, s:s, s:s, s:b}", "job-id", job, "device", top, "top-node", top,
                                "base-node", base, "auto-dismiss", 0), err) &&
           hop_job_wait(s, s->vm, h, job, "ready", JOB_TIMEOUT_MS, err) &&
           hop_qmp_ok(s, s->vm, "job-complete", json_pack("{s:s}", "id", job), err) &&
           hop_job_wait(s, s->vm, h, job, "concluded", JOB_TIMEOUT_MS, err) &&
           (hop_evidence(s, s->vm, h, "commit concluded, before job-dismiss"), hop_job_dismiss(s, s->vm, job, err));
}

/* The image chain under disk i's device: its top image must be `top_file` and its backing (if
 * want_backing) `backing_file`, with nothing below. */
static bool jobs_check_chain(struct session *s, int i, const char *top_file, const char *backing_file,
                             struct vqh_err *err)
{
    json_t *r = hop_qmp(s, s->vm, "query-block", NULL, err), *b;
    size_t k;
    bool ok = false, found = false;
    if (!r)
        return false;
    json_array_foreach(r, k, b) {
        if (blockgraph_disk_of_qdev(json_string_value(json_object_get(b, "qdev"))) != i)
            continue;
        found = true;
        json_t *img = json_object_get(json_object_get(b, "inserted"), "image");
        json_t *back = json_object_get(img, "backing-image");
        const char *f = json_string_value(json_object_get(img, "filename")) ?: "?";
        const char *bf = json_string_value(json_object_get(back, "filename"));
        if (!strstr(f, top_file))
            vqh_err_set(err, "disk %d's top image is %s, not %s", i, f, top_file);
        else if (!backing_file && back)
            vqh_err_set(err, "disk %d's image %s still has a backing image %s", i, f, bf ? bf : "?");
        else if (backing_file && (!bf || strcmp(bf, backing_file)))
            vqh_err_set(err, "disk %d's image %s is backed by %s, not %s", i, f, bf ? bf : "nothing", backing_file);
        else if (backing_file && json_object_get(back, "backing-image"))
            vqh_err_set(err, "disk %d's chain is deeper than %s <- %s", i, backing_file, f);
        else
            ok = true;
    }
    if (!found)
        vqh_err_set(err, "query-block on %s lists no data disk %d", s->vm->label, i);
    json_decref(r);
    return ok;
}

static bool jobs_backup(struct session *s, struct hop_record *h, int i, const char *fmt, struct vqh_err *err)
{
    char name[48], path[OPTS_PATH_MAX], job[32], tf[32], tn[32];
    snprintf(name, sizeof(name), "backup%d-disk%d.img", h->index, i);
    snprintf(job, sizeof(job), "vqhbackup%d", i);
    snprintf(tf, sizeof(tf), "vqhbakf%d", i);
    snprintf(tn, sizeof(tn), "vqhbak%d", i);
    return hop_scratch_image(s, name, hop_disk_size(s, i), path, sizeof(path), err) &&
           hop_qmp_ok(s, s->vm, "blockdev-add", json_pack("{s:s, s:s, s:s}", "driver", "file", "node-name", tf,
                                                          "filename", path), err) &&
           hop_qmp_ok(s, s->vm, "blockdev-add", json_pack("{s:s, s:s, s:s}", "driver", "raw", "node-name", tn,
                                                          "file", tf), err) &&
           hop_qmp_ok(s, s->vm, "blockdev-backup", json_pack("{s:s, s:s, s:s, s:s, s:b}", "job-id", job, "device", fmt,
                                                             "target", tn, "sync", "full", "auto-dismiss", 0), err) &&
           hop_job_wait(s, s->vm, h, job, "concluded", JOB_TIMEOUT_MS, err) &&
           (hop_evidence(s, s->vm, h, "backup concluded, before job-dismiss"), hop_job_dismiss(s, s->vm, job, err)) &&
           hop_qmp_ok(s, s->vm, "blockdev-del", json_pack("{s:s}", "node-name", tn), err) &&
           hop_qmp_ok(s, s->vm, "blockdev-del", json_pack("{s:s}", "node-name", tf), err);
}

static bool jobs_one_disk(struct session *s, struct hop_record *h, int i, struct vqh_err *err)
{
    char fmt[32], a[32], b[32], job[32], afile[64], bfile[64];
    blockgraph_format_node(i, fmt, sizeof(fmt));
    if (hop_cur.act == HA_BACKUP)
        return jobs_backup(s, h, i, fmt, err);
    snprintf(afile, sizeof(afile), "snap%dA-disk%d.qcow2", h->index, i);
    snprintf(bfile, sizeof(bfile), "snap%dB-disk%d.qcow2", h->index, i);
    if (!jobs_snapshot(s, h, i, 'A', fmt, a, sizeof(a), err))
        return false;
    jobs_let_guest_write(s);
    const char *top = a;
    if (hop_cur.act == HA_STREAM) {
        if (!jobs_snapshot(s, h, i, 'B', a, b, sizeof(b), err))
            return false;
        jobs_let_guest_write(s);
        snprintf(job, sizeof(job), "vqhstream%d", i);
        if (!hop_qmp_ok(s, s->vm, "block-stream", json_pack("{s:s, s:s, s:s, s:b}", "job-id", job, "device", b,
                                                            "base-node", fmt, "auto-dismiss", 0), err) ||
            !hop_job_wait(s, s->vm, h, job, "concluded", JOB_TIMEOUT_MS, err) ||
            (hop_evidence(s, s->vm, h, "stream concluded, before job-dismiss"), !hop_job_dismiss(s, s->vm, job, err)))
            return false;
        /* A's data now lives in B, which is backed by the base directly. */
        if (!jobs_check_chain(s, i, bfile, s->disk_paths[i], err) || !jobs_del_overlay(s, 'A', i, err))
            return false;
        top = b;
    }
    if (!jobs_commit(s, h, i, top, fmt, err))
        return false;
    return jobs_check_chain(s, i, s->disk_paths[i], NULL, err) &&
           jobs_del_overlay(s, hop_cur.act == HA_STREAM ? 'B' : 'A', i, err);
}

bool jobs_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    for (int i = 0; i < s->ndisks; i++)
        if (!jobs_one_disk(s, h, i, err))
            return false;
    if (!hop_graph_restored(s, s->vm, err))
        return false;
    hop_evidence(s, s->vm, h, "after the block jobs, before the migration");
    return true;
}
