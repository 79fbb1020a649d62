/* report.c: what the report writers share: migration statistics and the atomic file write. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef VQH_BUILD_ID
#define VQH_BUILD_ID "unknown"
#endif

/* One definition, so the JSON and the JUnit file of a run can never name different builds. */
const char *report_build_id(void)
{
    return VQH_BUILD_ID;
}

int report_utf8_seq(const unsigned char *s, size_t avail)
{
    if (avail == 0)
        return 0;
    unsigned char c = s[0];
    int len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0; /* a continuation byte, or a lead byte no valid sequence starts with */
    }
    if ((size_t)len > avail)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void minmax_add(struct report_minmax *m, int64_t v, int n, double *sum)
{
    if (n == 0 || v < m->min)
        m->min = v;
    if (n == 0 || v > m->max)
        m->max = v;
    *sum += (double)v;
}

void report_stats_compute(const struct run_result *r, struct report_stats *st)
{
    double down_sum = 0, total_sum = 0;

    memset(st, 0, sizeof(*st));
    /* Cancelled and killed hops have no meaningful downtime: the guest never switched over. */
    for (int i = 0; i < r->nhops; i++) {
        const struct hop_record *h = &r->hops[i];
        if (h->kind != HOP_MIGRATE || !h->ok)
            continue;
        minmax_add(&st->downtime_ms, h->downtime_ms, st->migrations, &down_sum);
        minmax_add(&st->total_ms, h->total_ms, st->migrations, &total_sum);
        st->migrations++;
    }
    if (st->migrations) {
        st->downtime_ms.avg = down_sum / st->migrations;
        st->total_ms.avg = total_sum / st->migrations;
    }
    if (r->duration_s > 0)
        st->per_minute = st->migrations * 60.0 / r->duration_s;
}

/* fsync the directory so the rename itself survives a power cut; best effort. */
static void sync_dir(const char *path, size_t dir_len)
{
    char *dir = dir_len ? strndup(path, dir_len) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* A FIFO or a device such as /dev/stdout cannot be renamed over: write it in place. */
static bool write_special(const char *path, bool (*fill)(FILE *f, void *ctx), void *ctx, struct vqh_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        vqh_err_set(err, "cannot write %s: %s", path, strerror(errno));
        return false;
    }
    errno = 0;
    bool ok = fill(f, ctx) && fflush(f) != EOF && !ferror(f);
    int e = errno ? errno : EIO;
    if (fclose(f) == EOF && ok) {
        ok = false;
        e = errno;
    }
    if (!ok)
        vqh_err_set(err, "cannot write %s: %s", path, strerror(e));
    return ok;
}

bool report_write_atomic(const char *path, bool (*fill)(FILE *f, void *ctx), void *ctx, struct vqh_err *err)
{
    static unsigned counter;
    struct stat st;

    if (!path || !*path) {
        vqh_err_set(err, "cannot write a report: no file name given");
        return false;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        vqh_err_set(err, "cannot write %s: %s", path, strerror(EISDIR));
        return false;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return write_special(path, fill, ctx, err);

    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dir_len = (size_t)(base - path);
    size_t cap = strlen(path) + 64;
    char *tmp = malloc(cap);
    if (!tmp) {
        vqh_err_set(err, "cannot write %s: out of memory", path);
        return false;
    }
    /* O_EXCL with mode 0666 lets the umask decide the final permissions, unlike mkstemp's 0600. */
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(tmp, cap, "%.*s.%s.%ld.%u.tmp", (int)dir_len, path, base, (long)getpid(), counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        vqh_err_set(err, "cannot write %s: cannot create the temporary file %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return false;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        vqh_err_set(err, "cannot write %s: %s", path, strerror(e));
        free(tmp);
        return false;
    }
    errno = 0;
    bool ok = fill(f, ctx) && fflush(f) != EOF && !ferror(f);
    int e = errno ? errno : EIO;
    if (ok && fsync(fileno(f)) != 0) {
        ok = false;
        e = errno;
    }
    if (fclose(f) == EOF && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        vqh_err_set(err, "cannot write %s: %s", path, strerror(e));
    } else {
        sync_dir(path, dir_len);
    }
    free(tmp);
    return ok;
}
