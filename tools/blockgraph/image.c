/* image.c: what the graphs need before QEMU starts: qcow2 images made with qemu-img, and the
 * probe that the QEMUs have iothread-vq-mapping when a disk asks for it. */
#include "blockgraph.h"
#include "proc.h"
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOOL_TIMEOUT_MS 30000

void blockgraph_tool(const struct vqh_opts *o, const char *name, char *buf, size_t cap)
{
    const char *slash = strrchr(o->qemu, '/');
    if (slash) {
        snprintf(buf, cap, "%.*s/%s", (int)(slash - o->qemu), o->qemu, name);
        if (access(buf, X_OK) == 0)
            return;
    }
    snprintf(buf, cap, "%s", name);
}

/* Run a short helper; its output goes to log. True when it exited 0 in time. */
static bool image_run(const char *const argv[], const char *log, struct vqh_err *err)
{
    struct proc *p = proc_spawn(argv, argv[0], log, log, err);
    char st[PROC_STATUS_MAX];
    if (!p)
        return false;
    if (!proc_wait(p, TOOL_TIMEOUT_MS)) {
        proc_free(p);
        vqh_err_set(err, "%s did not finish within %d ms (see %s)", argv[0], TOOL_TIMEOUT_MS, log);
        return false;
    }
    int status = proc_status(p);
    proc_free(p);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    vqh_err_set(err, "%s %s (see %s)", argv[0], proc_status_str(status, st), log);
    return false;
}

/* --disk-prealloc: every byte of the image written (zeroes) and on disk, as the Linux + fio
 * baseline and the bench's qemu-img ceiling have theirs: no holes for the host filesystem to fill
 * under load, and no unwritten extents (fallocate) to convert. False with errno set. */
static bool image_write_zeroes(int fd, uint64_t size)
{
    static const char zero[1 << 20];
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < sizeof(zero) ? (size_t)(size - off) : sizeof(zero);
        ssize_t w = pwrite(fd, zero, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        off += (uint64_t)w;
    }
    if (fdatasync(fd))
        return false;
    /* On disk now: drop it from the page cache, so QEMU's O_DIRECT requests (cache=none) find no
     * cached pages to write back or invalidate, as on an image written long before. */
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return true;
}

bool blockgraph_create_raw(const struct vqh_opts *o, const char *path, bool fresh, const char *what,
                           struct vqh_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0600);
    if (fd < 0 || ftruncate(fd, (off_t)o->disk_size) || (o->disk_prealloc && !image_write_zeroes(fd, o->disk_size))) {
        vqh_err_set(err, "cannot create %s %s (%llu bytes%s): %s", what, path, (unsigned long long)o->disk_size,
                    o->disk_prealloc ? ", written in full for --disk-prealloc" : "", strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}

static bool image_is_qcow2(const char *path)
{
    unsigned char magic[4] = { 0 };
    FILE *f = fopen(path, "rbe");
    if (!f)
        return false;
    size_t n = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return n == 4 && !memcmp(magic, "QFI\xfb", 4);
}

/* An NBD export has the size its file had when the server opened it, and a qcow2 cannot grow
 * its file through one: give the file room for every cluster and its metadata up front (sparse;
 * qcow2 allocates from the free clusters it finds, past its metadata). */
static bool image_room(const struct vqh_opts *o, const struct bg_spec *sp, int disk, const char *path,
                       struct vqh_err *err)
{
    struct stat st;
    uint64_t room = o->disk_size + o->disk_size / 8 + (4ull << 20);
    if (!sp->nbd || (stat(path, &st) == 0 && (uint64_t)st.st_size >= room))
        return true;
    if (truncate(path, (off_t)room)) {
        vqh_err_set(err, "cannot make room (%llu bytes) in the qcow2 image %s for data disk %d: %s",
                    (unsigned long long)room, path, disk, strerror(errno));
        return false;
    }
    return true;
}

bool blockgraph_prepare_image(const struct vqh_opts *o, int disk, const char *path, const char *log,
                              struct vqh_err *err)
{
    struct bg_spec sp;
    char img[OPTS_PATH_MAX], size[32];
    bg_spec_of(o, disk, &sp);
    if (!sp.qcow2)
        return true; /* raw: the file itself */
    if (image_is_qcow2(path)) /* an existing qcow2 (--disk-overwrite) is used as it is */
        return image_room(o, &sp, disk, path, err);
    blockgraph_tool(o, "qemu-img", img, sizeof(img));
    snprintf(size, sizeof(size), "%llu", (unsigned long long)o->disk_size);
    const char *argv[] = { img, "create", "-q", "-f", "qcow2", path, size, NULL };
    if (!image_run(argv, log, err)) {
        char why[VQH_ERR_MAX];
        snprintf(why, sizeof(why), "%s", err ? err->msg : "");
        vqh_err_set(err, "cannot create the qcow2 image %s for data disk %d: %s", path, disk, why);
        return false;
    }
    return image_room(o, &sp, disk, path, err);
}

/* iothread-vq-mapping is a virtio-blk-pci property from QEMU 9.0 on: ask the binary itself. */
static bool image_probe_one(const char *qemu, const char *log, struct vqh_err *err)
{
    const char *argv[] = { qemu, "-device", "virtio-blk-pci,help", NULL };
    if (!image_run(argv, log, err))
        return false;
    FILE *f = fopen(log, "re");
    char line[512];
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, "iothread-vq-mapping") != NULL;
    if (f)
        fclose(f);
    if (!found)
        vqh_err_set(err, "--disk-graph vq-iothreads: %s has no virtio-blk-pci property iothread-vq-mapping "
                    "(QEMU 9.0 or later has it; see %s): drop vq-iothreads, or pass --qemu with a newer QEMU",
                    qemu, log);
    return found;
}

bool blockgraph_probe(const struct vqh_opts *o, int ndisks, const char *log, struct vqh_err *err)
{
    struct bg_spec sp;
    bool want = false;
    for (int i = 0; i < ndisks; i++) {
        bg_spec_of(o, i, &sp);
        want = want || sp.vq_iothreads;
    }
    if (!want)
        return true;
    return image_probe_one(o->qemu, log, err) && (!strcmp(o->qemu, o->qemu_dst) || image_probe_one(o->qemu_dst, log, err));
}
