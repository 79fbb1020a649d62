/*
 * copy_storage.c: migration without shared storage, the way `virsh migrate --copy-storage-all`
 * does it (libvirt's qemuMigrationDstStartNBDServer and qemuMigrationSrcNBDStorageCopy*):
 *   destination: starts on fresh empty images of the same size, nbd-server-start on a unix
 *     socket, block-export-add (writable) of each data disk's top node;
 *   source: blockdev-add an nbd client node (and a raw node on it) per disk, blockdev-mirror
 *     sync=full (copy-mode write-blocking for copy-storage-sync) while the guest writes, wait
 *     until every mirror is ready, then migrate;
 *   at pre-switchover (the source's CPUs stopped): block-job-cancel of each ready mirror (which
 *     completes it without pivoting), job-dismiss, blockdev-del of the client nodes, then
 *     migrate-continue; the destination stops its NBD server and is resumed with cont.
 * The hop's full verification then reads every block from the copy, and later hops carry on
 * with the copy (in the run directory; a user's --disk is left as it was at the copy).
 */
#include "hop_internal.h"
#include "blockgraph.h"

#include <stdio.h>
#include <string.h>

#define COPY_READY_TIMEOUT_MS 60000
#define COPY_CANCEL_TIMEOUT_MS 60000

bool copy_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    for (int i = 0; i < s->ndisks; i++) {
        char name[48], path[OPTS_PATH_MAX];
        snprintf(name, sizeof(name), "copy%d-disk%d.img", h->index, i);
        if (!hop_scratch_image(s, name, hop_disk_size(s, i), path, sizeof(path), err))
            return false;
        snprintf(hop_cur.old_disk[i], sizeof(hop_cur.old_disk[i]), "%s", s->disk_paths[i]);
        snprintf(s->disk_paths[i], sizeof(s->disk_paths[i]), "%s", path);
    }
    hop_cur.disks_swapped = true;
    return true;
}

static void copy_names(int i, char *job, char *nbd, char *fmt, size_t cap)
{
    snprintf(job, cap, "vqhmirror%d", i);
    snprintf(nbd, cap, "vqhmignbd%d", i);
    snprintf(fmt, cap, "vqhmig%d", i);
}

bool copy_before_migrate(struct session *s, struct hop_record *h, struct vm *dst, struct vqh_err *err)
{
    char name[32];
    snprintf(name, sizeof(name), "nbd%d.sock", h->index);
    const char *sock = rundir_sock_path(s->rd, name, err);
    if (!sock)
        return false;
    snprintf(hop_cur.nbd_sock, sizeof(hop_cur.nbd_sock), "%s", sock);
    if (!hop_qmp_ok(s, dst, "nbd-server-start",
                    json_pack("{s:{s:s, s:{s:s}}}", "addr", "type", "unix", "data", "path", sock), err))
        return false;
    bool sync = hop_cur.act == HA_COPY_STORAGE_SYNC;
    for (int i = 0; i < s->ndisks; i++) {
        char top[32], exp[32], job[32], nbd[32], fmt[32];
        blockgraph_format_node(i, top, sizeof(top));
        snprintf(exp, sizeof(exp), "vqhdisk%d", i);
        copy_names(i, job, nbd, fmt, sizeof(job));
        if (!hop_qmp_ok(s, dst, "block-export-add",
                        json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "nbd", "id", exp, "node-name", top,
                                  "writable", 1, "name", exp), err))
            return false;
        if (!hop_qmp_ok(s, s->vm, "blockdev-add",
                        json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "driver", "nbd", "node-name", nbd, "server",
                                  "type", "unix", "path", sock, "export", exp), err) ||
            !hop_qmp_ok(s, s->vm, "blockdev-add",
                        json_pack("{s:s, s:s, s:s}", "driver", "raw", "node-name", fmt, "file", nbd), err))
            return false;
        if (!hop_qmp_ok(s, s->vm, "blockdev-mirror",
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "job-id", job, "device", top, "target", fmt,
                                  "sync", "full", "copy-mode", sync ? "write-blocking" : "background",
                                  "auto-dismiss", 0), err))
            return false;
        hop_cur.mirrors = true;
    }
    for (int i = 0; i < s->ndisks; i++) {
        char job[32], nbd[32], fmt[32];
        copy_names(i, job, nbd, fmt, sizeof(job));
        if (!hop_job_wait(s, s->vm, h, job, "ready", COPY_READY_TIMEOUT_MS, err)) {
            /* A guest that rewrites the disk faster than the mirror copies keeps it from ever
             * being in sync: the setup's limit, not QEMU's fault (write-blocking exists for it). */
            if (strstr(err->msg, "still running"))
                session_fail(s, VERDICT_ERROR, "hop %d: mirror %s did not converge within %d ms: the guest dirties "
                             "the disk faster than the mirror copies it; use copy-storage-sync (copy-mode "
                             "write-blocking) or a guest rate limit (--guest-config rate=N)", h->index, job,
                             COPY_READY_TIMEOUT_MS);
            return false;
        }
    }
    hop_evidence(s, s->vm, h, "source with every mirror ready, before migrate");
    return true;
}

bool copy_switchover(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    for (int i = 0; i < s->ndisks; i++) {
        char job[32], nbd[32], fmt[32];
        copy_names(i, job, nbd, fmt, sizeof(job));
        if (!hop_qmp_ok(s, s->vm, "block-job-cancel", json_pack("{s:s}", "device", job), err) ||
            !hop_job_wait(s, s->vm, h, job, "concluded", COPY_CANCEL_TIMEOUT_MS, err))
            return false;
    }
    hop_evidence(s, s->vm, h, "source at pre-switchover, mirrors concluded");
    for (int i = 0; i < s->ndisks; i++) {
        char job[32], nbd[32], fmt[32];
        copy_names(i, job, nbd, fmt, sizeof(job));
        if (!hop_job_dismiss(s, s->vm, job, err) ||
            !hop_qmp_ok(s, s->vm, "blockdev-del", json_pack("{s:s}", "node-name", fmt), err) ||
            !hop_qmp_ok(s, s->vm, "blockdev-del", json_pack("{s:s}", "node-name", nbd), err))
            return false;
    }
    hop_cur.mirrors = false;
    return true;
}

bool copy_after(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    (void)h;
    if (!hop_cur.switched) {
        vqh_err_set(err, "the migration completed without stopping at pre-switchover: the mirrors were never "
                    "completed, the copy is not proven");
        return false;
    }
    return hop_qmp_ok(s, s->vm, "nbd-server-stop", NULL, err);
}
