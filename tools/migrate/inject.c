/* inject.c: host-side data corruption while the guest is stopped (--inject overwrite-block). */
#include "inject.h"
#include "blockfmt.h"
#include "inject_block.h"
#include "verify_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The guest's description of data disk `serial` (borrowed), NULL if absent. */
static json_t *inject_disk(struct session *s, const char *serial)
{
    json_t *d;
    size_t i;
    json_array_foreach(json_object_get(s->chan->hello, "disks"), i, d)
        if (!strcmp(json_string_value(json_object_get(d, "serial")) ?: "", serial))
            return d;
    return NULL;
}

static uint32_t inject_blk_size(struct session *s, const char *serial)
{
    json_int_t bs = json_integer_value(json_object_get(inject_disk(s, serial), "blk_size"));
    return blk_size_valid((uint32_t)bs) ? (uint32_t)bs : 512;
}

/* The seed the guest stamps (its configuration in effect; --guest-config may change it). */
static uint64_t inject_seed(struct session *s)
{
    const char *v = json_string_value(json_object_get(json_object_get(s->chan->hello, "config"), "seed"));
    return v ? strtoull(v, NULL, 0) : s->o->seed;
}

struct inject_disk_file {
    int fd;
    uint64_t nblocks;
};

static bool inject_open(const char *path, uint32_t bs, struct inject_disk_file *f, struct vqh_err *err)
{
    struct stat st;
    f->fd = open(path, O_RDWR | O_CLOEXEC);
    if (f->fd < 0 || fstat(f->fd, &st)) {
        vqh_err_set(err, "inject: cannot open %s: %s", path, strerror(errno));
        return false;
    }
    f->nblocks = (uint64_t)st.st_size / bs;
    return true;
}

static bool inject_read(const struct inject_disk_file *f, uint64_t lba, uint32_t n, uint32_t bs, uint8_t *buf)
{
    return pread(f->fd, buf, (size_t)n * bs, (off_t)(lba * bs)) == (ssize_t)((size_t)n * bs);
}

/* The guest's expected-state table of the first data disk, through its `state` command. */
static bool inject_state(struct session *s, struct vm *v, struct verify_image_state *st, struct vqh_err *err)
{
    struct vqh_err why;
    if (!chan_command(s->chan, v, WIRE_CMD_STATE "\n", WIRE_REPLY_STATE_END, 60000, NULL, &why)) {
        vqh_err_set(err, "inject: the guest's state table: %s", why.msg);
        return false;
    }
    const char *log = rundir_path(s->rd, "serial-merged.log");
    if (!verify_image_load_state(log, "vqh0", -1, st, &why)) {
        vqh_err_set(err, "inject: the guest's state table: %s", why.msg);
        return false;
    }
    return true;
}

/* A valid block of ours at another LBA of the same disk, for other-lba. */
static bool inject_donor_lba(const struct inject_disk_file *f, uint64_t lba, uint64_t start, uint32_t bs,
                             uint64_t seed, uint8_t *donor)
{
    struct blk_hdr h;
    for (uint64_t k = 1; k < f->nblocks; k++) {
        uint64_t b = (start + k * 104729) % f->nblocks;
        if (b != lba && inject_read(f, b, 1, bs, donor) && blk_check(donor, bs, &h) == BLK_OK && h.seed == seed &&
            h.lba == b)
            return true;
    }
    return false;
}

/*
 * Find a block that fits the pattern (from a seeded start) and overwrite it; *lba gets it.
 * win holds 2 INJECT_WRITE_SPAN + 1 blocks.
 */
static bool inject_pick(struct session *s, const struct verify_image_state *table, enum inject_pattern p,
                        uint64_t start, uint64_t *lba, uint8_t *win, struct vqh_err *err)
{
    uint32_t bs = inject_blk_size(s, "vqh0");
    uint64_t seed = inject_seed(s);
    struct inject_disk_file d0 = { -1, 0 }, d1 = { -1, 0 };
    uint8_t cur[BLK_SIZE_MAX], donor[BLK_SIZE_MAX], out[BLK_SIZE_MAX];
    bool done = false, ok = false;
    struct blk_hdr h;

    if (p == INJECT_OTHER_DISK) {
        if (s->ndisks < 2 || !inject_disk(s, "vqh1")) {
            vqh_err_set(err, "inject other-disk: needs a second data disk (give --disk twice)");
            return false;
        }
        if (inject_blk_size(s, "vqh1") != bs) {
            vqh_err_set(err, "inject other-disk: the two data disks have different block sizes");
            return false;
        }
    }
    if (!inject_open(s->disk_paths[0], bs, &d0, err) ||
        (p == INJECT_OTHER_DISK && !inject_open(s->disk_paths[1], bs, &d1, err)))
        goto out;
    ok = true;
    for (uint64_t k = 0; k < d0.nblocks && !done; k++) {
        uint64_t b = (start + k * 7919) % d0.nblocks;
        if (!inject_read(&d0, b, 1, bs, cur) || blk_check(cur, bs, &h) != BLK_OK || h.seed != seed || h.lba != b ||
            !inject_table_holds(table->runs, table->nruns, b, &h))
            continue;
        uint64_t from = b > INJECT_WRITE_SPAN ? b - INJECT_WRITE_SPAN : 0;
        uint64_t to = MIN(d0.nblocks, b + INJECT_WRITE_SPAN + 1);
        if (!inject_read(&d0, from, (uint32_t)(to - from), bs, win) ||
            !inject_candidate(win, (uint32_t)(to - from), (uint32_t)(b - from), bs, p))
            continue;
        if (p == INJECT_OTHER_DISK && !inject_read(&d1, b, 1, bs, donor))
            continue;
        if (p == INJECT_OTHER_LBA && !inject_donor_lba(&d0, b, start, bs, seed, donor))
            break;
        if (!inject_build(p, cur, donor, bs, start, out))
            continue;
        if (pwrite(d0.fd, out, bs, (off_t)(b * bs)) != (ssize_t)bs || fdatasync(d0.fd)) {
            vqh_err_set(err, "inject: cannot write %s: %s", s->disk_paths[0], strerror(errno));
            ok = false;
            goto out;
        }
        *lba = b;
        done = true;
    }
    if (!done)
        vqh_err_set(err, "inject %s: no block in %s fits (a valid block the guest wrote alone and still expects%s)",
                    inject_pattern_name(p), s->disk_paths[0],
                    p == INJECT_OLD_GEN        ? ", written at least twice"
                    : p == INJECT_OTHER_DISK ? ", with a valid block at the same LBA of the second disk"
                                               : "");
out:
    if (d0.fd >= 0)
        close(d0.fd);
    if (d1.fd >= 0)
        close(d1.fd);
    return ok && done;
}

bool inject_overwrite_block(struct session *s, struct vm *v, uint64_t seed, uint64_t *lba, struct vqh_err *err)
{
    enum inject_pattern p = INJECT_FLIP;
    if (s->o->inject_pattern[0] && !inject_pattern_parse(s->o->inject_pattern, &p)) {
        vqh_err_set(err, "inject: unknown pattern '%s' (%s)", s->o->inject_pattern, inject_pattern_list());
        return false;
    }
    /* The guest is quiesced: its table is final until resume. */
    struct verify_image_state table;
    if (!inject_state(s, v, &table, err))
        return false;
    json_t *r = qmp_cmd(v->qmp, "stop", NULL, s->o->qmp_timeout_ms, err);
    if (!r) {
        verify_image_state_free(&table);
        return false;
    }
    json_decref(r);
    /* vm_stop drains every in-flight request, so nothing races with the write below. */
    uint8_t *win = malloc((size_t)(2 * INJECT_WRITE_SPAN + 1) * BLK_SIZE_MAX);
    bool done = win && inject_pick(s, &table, p, seed, lba, win, err);
    if (!win)
        vqh_err_set(err, "out of memory");
    free(win);
    verify_image_state_free(&table);
    r = qmp_cmd(v->qmp, "cont", NULL, s->o->qmp_timeout_ms, done ? err : NULL);
    json_decref(r);
    if (done && r)
        status_event(&s->status, "injected %s over block %llu of %s: the guest must report '%s'",
                     inject_pattern_name(p), (unsigned long long)*lba, s->disk_paths[0], inject_pattern_class(p));
    return done && r;
}
