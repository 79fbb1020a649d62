/* spec.c: the --disk-graph grammar (see spec.h). */
#include "spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_MAX 256

static void spec_defaults(struct bg_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->reconnect_delay = 10;
    s->cache_clean_interval = -1;
    s->iothread = -1;
}

static bool spec_num(const char *text, const char *key, const char *v, long lo, long hi, int *out,
                     struct vqh_err *err)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        vqh_err_set(err, "--disk-graph '%s': %s=%s: expected a whole number %ld..%ld", text, key, v, lo, hi);
        return false;
    }
    *out = (int)n;
    return true;
}

/* Bytes with an optional K, M or G suffix (powers of 1024); zero allowed only when zero_ok. */
static bool spec_size(const char *text, const char *key, const char *v, bool zero_ok, uint64_t *out,
                      struct vqh_err *err)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    }
    if (errno || end == v || *end || v[0] == '-' || (!n && !zero_ok) || (n << shift) >> shift != n) {
        vqh_err_set(err, "--disk-graph '%s': %s=%s: expected a number of bytes, optionally with K, M or G", text,
                    key, v);
        return false;
    }
    *out = (uint64_t)n << shift;
    return true;
}

/* throttle=GROUP:iops=N[:bps=N] (either limit may come alone; at least one). */
static bool spec_throttle(const char *text, char *v, struct bg_spec *s, struct vqh_err *err)
{
    char *save = NULL, *group = strtok_r(v, ":", &save), *lim;
    const char *fix = "expected throttle=GROUP:iops=N[:bps=N], GROUP made of letters, digits, '-' and '_'";
    if (!group || !*group || strlen(group) >= BG_GROUP_MAX ||
        group[strspn(group, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")]) {
        vqh_err_set(err, "--disk-graph '%s': bad throttle group name: %s", text, fix);
        return false;
    }
    snprintf(s->group, sizeof(s->group), "%s", group);
    while ((lim = strtok_r(NULL, ":", &save))) {
        char *eq = strchr(lim, '=');
        uint64_t n;
        if (!eq) {
            vqh_err_set(err, "--disk-graph '%s': throttle limit '%s' has no value: %s", text, lim, fix);
            return false;
        }
        *eq = 0;
        if (strcmp(lim, "iops") && strcmp(lim, "bps")) {
            vqh_err_set(err, "--disk-graph '%s': unknown throttle limit '%s': %s", text, lim, fix);
            return false;
        }
        if (!spec_size(text, lim, eq + 1, false, &n, err))
            return false;
        *(strcmp(lim, "iops") ? &s->bps : &s->iops) = n;
    }
    if (!s->iops && !s->bps) {
        vqh_err_set(err, "--disk-graph '%s': throttle group %s has no limit: %s", text, s->group, fix);
        return false;
    }
    return true;
}

static bool spec_item(const char *text, char *item, struct bg_spec *s, unsigned *seen, struct vqh_err *err)
{
    char *eq = strchr(item, '=');
    const char *v = eq ? eq + 1 : NULL;
    if (eq)
        *eq = 0;
    if (!v && (!strcmp(item, "raw") || !strcmp(item, "qcow2"))) {
        s->qcow2 = !strcmp(item, "qcow2");
        *seen |= 1;
        return true;
    }
    if (!v && (!strcmp(item, "file") || !strcmp(item, "nbd"))) {
        s->nbd = !strcmp(item, "nbd");
        return true;
    }
    if (v && !strcmp(item, "l2-cache-size"))
        return (*seen |= 2), spec_size(text, item, v, false, &s->l2_cache_size, err);
    if (v && !strcmp(item, "cache-clean-interval"))
        return (*seen |= 2), spec_num(text, item, v, 0, 86400, &s->cache_clean_interval, err);
    if (v && !strcmp(item, "reconnect-delay"))
        return (*seen |= 4), spec_num(text, item, v, 1, 3600, &s->reconnect_delay, err);
    if (v && !strcmp(item, "server")) {
        *seen |= 8;
        if (!strcmp(v, "qemu-storage-daemon") || !strcmp(v, "qemu-nbd")) {
            s->nbd_server = strcmp(v, "qemu-nbd") ? BG_NBD_QSD : BG_NBD_QEMU_NBD;
            return true;
        }
        vqh_err_set(err, "--disk-graph '%s': server=%s: expected server=qemu-storage-daemon or server=qemu-nbd",
                    text, v);
        return false;
    }
    if (v && !strcmp(item, "iothread"))
        return spec_num(text, item, v, 0, 15, &s->iothread, err);
    if (v && !strcmp(item, "vq-iothreads"))
        return spec_num(text, item, v, 1, 16, &s->vq_iothreads, err);
    if (v && !strcmp(item, "throttle"))
        return spec_throttle(text, (char *)v, s, err);
    if (v && !strcmp(item, "align")) {
        if (!spec_num(text, item, v, 512, 1 << 20, &s->align, err))
            return false;
        if (s->align & (s->align - 1)) {
            vqh_err_set(err, "--disk-graph '%s': align=%s is not a power of two (try align=4096)", text, v);
            return false;
        }
        return true;
    }
    vqh_err_set(err, "--disk-graph '%s': unknown item '%s%s%s': expected raw, qcow2, file, nbd, l2-cache-size=, "
                "cache-clean-interval=, reconnect-delay=, server=, align=, throttle=, iothread= or vq-iothreads=",
                text, item, v ? "=" : "", v ? v : "");
    return false;
}

bool bg_spec_parse(const char *text, struct bg_spec *out, struct vqh_err *err)
{
    char buf[SPEC_MAX], *save = NULL, *item;
    unsigned seen = 0;
    spec_defaults(out);
    if (!*text || strlen(text) >= sizeof(buf)) {
        vqh_err_set(err, "--disk-graph '%s': empty or longer than %d characters (e.g. qcow2,align=4096)", text,
                    SPEC_MAX - 1);
        return false;
    }
    snprintf(buf, sizeof(buf), "%s", text);
    for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (!spec_item(text, item, out, &seen, err))
            return false;
    if ((seen & 2) && !out->qcow2) {
        vqh_err_set(err, "--disk-graph '%s': l2-cache-size and cache-clean-interval are qcow2 options: add qcow2",
                    text);
        return false;
    }
    if ((seen & 4) && !out->nbd) {
        vqh_err_set(err, "--disk-graph '%s': reconnect-delay is an nbd option: add nbd", text);
        return false;
    }
    if ((seen & 8) && !out->nbd) {
        vqh_err_set(err, "--disk-graph '%s': server= is an nbd option: add nbd", text);
        return false;
    }
    if (out->iothread >= 0 && out->vq_iothreads) {
        vqh_err_set(err, "--disk-graph '%s': iothread= and vq-iothreads= exclude each other: keep one", text);
        return false;
    }
    return true;
}

void bg_spec_of(const struct vqh_opts *o, int disk, struct bg_spec *out)
{
    const char *text = !o->ndisk_graphs ? NULL : o->disk_graph[o->ndisk_graphs == 1 ? 0 : disk];
    if (!text || !bg_spec_parse(text, out, NULL))
        spec_defaults(out);
}

bool bg_spec_validate(const struct vqh_opts *o, int ndisks, struct vqh_err *err)
{
    struct bg_spec s[OPTS_MAX_DISKS];
    if (o->ndisk_graphs > 1 && o->ndisk_graphs != ndisks) {
        vqh_err_set(err, "--disk-graph given %d times for %d data disk(s): give it once (for every disk) or once "
                    "per --disk", o->ndisk_graphs, ndisks);
        return false;
    }
    for (int i = 0; i < o->ndisk_graphs; i++)
        if (!bg_spec_parse(o->disk_graph[i], &s[i], err))
            return false;
    for (int i = 0; i < ndisks; i++) {
        bg_spec_of(o, i, &s[i]);
        if (o->disk_prealloc && s[i].qcow2) {
            vqh_err_set(err, "--disk-prealloc writes raw images in full; disk %d's graph is qcow2 (created by "
                        "qemu-img, its own allocation): drop --disk-prealloc or use a raw graph", i);
            return false;
        }
        int need = s[i].vq_iothreads ? s[i].vq_iothreads : s[i].iothread + 1;
        if (need > o->iothreads) {
            vqh_err_set(err, "--disk-graph '%s' (disk %d) needs %d iothread(s) but --iothreads is %d: raise "
                        "--iothreads", o->disk_graph[o->ndisk_graphs == 1 ? 0 : i], i, need, o->iothreads);
            return false;
        }
        for (int j = 0; j < i; j++) {
            if (s[i].nbd && s[j].nbd && s[i].nbd_server != s[j].nbd_server) {
                vqh_err_set(err, "--disk-graph: disks %d and %d name different NBD servers (%s, %s): one server "
                            "program serves every nbd disk of a run, give the same server=", j, i,
                            bg_nbd_server_name(s[j].nbd_server), bg_nbd_server_name(s[i].nbd_server));
                return false;
            }
            if (s[i].group[0] && !strcmp(s[i].group, s[j].group) && (s[i].iops != s[j].iops || s[i].bps != s[j].bps)) {
                vqh_err_set(err, "--disk-graph: throttle group %s has different limits on disks %d and %d: a "
                            "group has one set of limits, give the same iops/bps", s[i].group, j, i);
                return false;
            }
        }
    }
    if (o->nbd_chaos_max_ms && !bg_spec_any_nbd(o, ndisks)) {
        vqh_err_set(err, "--nbd-chaos needs a disk served over NBD: add --disk-graph nbd");
        return false;
    }
    /* Outages last up to 2 s; QEMU's retry 3 s after the disconnect must come before the delay ends. */
    if (o->nbd_chaos_max_ms && bg_spec_min_reconnect_ms(o, ndisks) < 5000) {
        vqh_err_set(err, "--nbd-chaos needs reconnect-delay=5 or more on every nbd disk (outages last up to 2 s and "
                    "QEMU's NBD client retries 1 and 3 s after a disconnect)");
        return false;
    }
    return true;
}

bool bg_spec_any_nbd(const struct vqh_opts *o, int ndisks)
{
    struct bg_spec s;
    for (int i = 0; i < ndisks; i++) {
        bg_spec_of(o, i, &s);
        if (s.nbd)
            return true;
    }
    return false;
}

enum bg_nbd_server bg_spec_nbd_server(const struct vqh_opts *o, int ndisks)
{
    struct bg_spec s;
    for (int i = 0; i < ndisks; i++) {
        bg_spec_of(o, i, &s);
        if (s.nbd)
            return (enum bg_nbd_server)s.nbd_server;
    }
    return BG_NBD_QSD;
}

const char *bg_nbd_server_name(enum bg_nbd_server s)
{
    return s == BG_NBD_QEMU_NBD ? "qemu-nbd" : "qemu-storage-daemon";
}

int bg_spec_min_reconnect_ms(const struct vqh_opts *o, int ndisks)
{
    struct bg_spec s;
    int min = 0;
    for (int i = 0; i < ndisks; i++) {
        bg_spec_of(o, i, &s);
        if (s.nbd && (!min || s.reconnect_delay * 1000 < min))
            min = s.reconnect_delay * 1000;
    }
    return min;
}
