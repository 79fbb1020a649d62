/* ramcheck.c: guest RAM of source and destination compared after a migration. */
#include "ramcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAMCHECK_PAGE 4096
#define RAMCHECK_LIST 8 /* differing pages named in the message */

static bool ramcheck_dump(struct session *s, struct vm *v, const char *path, struct vqh_err *err)
{
    /* pmemsave writes guest-physical memory from 0: RAM below 4 GiB is what this guest uses. */
    json_t *r = qmp_cmd(v->qmp, "pmemsave",
                        json_pack("{s:I, s:I, s:s}", "val", (json_int_t)0,
                                  "size", (json_int_t)s->o->mem_mib << 20, "filename", path),
                        60000, err);
    json_decref(r);
    return r != NULL;
}

static const uint8_t *ramcheck_map(const char *path, size_t size, struct vqh_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || (size_t)st.st_size != size) {
        vqh_err_set(err, "RAM dump %s is missing or short", path);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        vqh_err_set(err, "cannot map %s: %s", path, strerror(errno));
        return NULL;
    }
    return p;
}

/* --inject ram-diff: one byte of the destination's dump changed, to prove the comparison. */
static bool ramcheck_flip(const char *path, struct vqh_err *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    uint8_t byte = 0;
    const off_t at = 0x123456; /* inside the first 2 MiB of any guest */
    bool ok = fd >= 0 && pread(fd, &byte, 1, at) == 1;
    byte ^= 0x5a;
    ok = ok && pwrite(fd, &byte, 1, at) == 1;
    if (fd >= 0)
        close(fd);
    if (!ok)
        vqh_err_set(err, "inject ram-diff: cannot change %s", path);
    return ok;
}

bool ramcheck_compare(struct session *s, struct vm *src, struct vm *dst, struct hop_record *h, struct vqh_err *err)
{
    int hop = h->index;
    char a_name[32], b_name[32];
    size_t size = (size_t)s->o->mem_mib << 20;
    snprintf(a_name, sizeof(a_name), "ram-hop%d-src.bin", hop);
    snprintf(b_name, sizeof(b_name), "ram-hop%d-dst.bin", hop);
    char a_path[1100], b_path[1100];
    snprintf(a_path, sizeof(a_path), "%s", rundir_path(s->rd, a_name));
    snprintf(b_path, sizeof(b_path), "%s", rundir_path(s->rd, b_name));
    if (!ramcheck_dump(s, src, a_path, err) || !ramcheck_dump(s, dst, b_path, err))
        return false;
    if (!strcmp(s->o->inject, "ram-diff") && s->o->inject_hop == hop && !ramcheck_flip(b_path, err))
        return false;
    const uint8_t *a = ramcheck_map(a_path, size, err), *b = a ? ramcheck_map(b_path, size, err) : NULL;
    if (!a || !b) {
        if (a)
            munmap((void *)a, size);
        return false;
    }
    size_t differ = 0;
    char list[RAMCHECK_LIST * 20] = "";
    for (size_t off = 0; off < size; off += RAMCHECK_PAGE) {
        if (!memcmp(a + off, b + off, RAMCHECK_PAGE))
            continue;
        if (differ++ < RAMCHECK_LIST)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s0x%zx", differ > 1 ? " " : "", off);
    }
    munmap((void *)a, size);
    munmap((void *)b, size);
    h->ram_checked = true;
    h->ram_diff_pages = differ;
    if (differ) {
        /* keep the dumps: they are the evidence */
        vqh_err_set(err, "guest RAM differs between %s (source, postmigrate) and %s (destination, not yet run) "
                    "in %zu pages, first: %s (dumps %s, %s)", src->label, dst->label, differ, list, a_path, b_path);
        return false;
    }
    unlink(a_path);
    unlink(b_path);
    return true;
}
