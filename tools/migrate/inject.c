/* inject.c: host-side data corruption while the guest is stopped. */
#include "inject.h"
#include "blockfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t inject_blk_size(struct session *s)
{
    json_t *d;
    size_t i;
    json_array_foreach(json_object_get(s->chan->hello, "disks"), i, d)
        if (!strcmp(json_string_value(json_object_get(d, "serial")) ?: "", "vqh0"))
            return json_integer_value(json_object_get(d, "blk_size"));
    return 512;
}

bool inject_overwrite_block(struct session *s, struct vm *v, uint64_t seed, uint64_t *lba, struct vqh_err *err)
{
    json_t *r = qmp_cmd(v->qmp, "stop", NULL, s->o->qmp_timeout_ms, err);
    if (!r)
        return false;
    json_decref(r);
    /* vm_stop drains every in-flight request, so nothing races with the write below. */
    int64_t bs = inject_blk_size(s);
    int fd = open(s->disk_paths[0], O_RDWR | O_CLOEXEC);
    struct stat st;
    bool done = false;
    if (fd < 0 || fstat(fd, &st)) {
        vqh_err_set(err, "inject: cannot open %s: %s", s->disk_paths[0], strerror(errno));
        goto out;
    }
    uint64_t nblocks = (uint64_t)st.st_size / (uint64_t)bs;
    uint8_t buf[BLK_SIZE_MAX];
    for (uint64_t k = 0; k < nblocks && !done; k++) {
        uint64_t b = (seed + k * 7919) % nblocks;
        if (pread(fd, buf, (size_t)bs, (off_t)(b * bs)) != bs)
            continue;
        if (blk_check(buf, (uint32_t)bs, NULL) != BLK_OK)
            continue;
        for (int i = 0; i < 16; i++)
            buf[BLK_HDR_SIZE + 100 + i] ^= 0xa5;
        if (pwrite(fd, buf, (size_t)bs, (off_t)(b * bs)) != bs || fdatasync(fd)) {
            vqh_err_set(err, "inject: cannot write %s: %s", s->disk_paths[0], strerror(errno));
            goto out;
        }
        *lba = b;
        done = true;
    }
    if (!done)
        vqh_err_set(err, "inject: no block written by the guest found in %s", s->disk_paths[0]);
out:
    if (fd >= 0)
        close(fd);
    r = qmp_cmd(v->qmp, "cont", NULL, s->o->qmp_timeout_ms, done ? err : NULL);
    json_decref(r);
    return done && r;
}
