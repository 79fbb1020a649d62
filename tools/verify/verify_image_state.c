/*
 * verify_image_state.c: `vqhammer verify-image --state`: the guest's final expected state, read
 * back from a serial log (its replies to the `state` command) and checked for consistency before
 * any block is judged against it.
 */
#include "verify_image.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "blockfmt.h"
#include "expect.h"
#include "guestlog.h"

/* ==== the state dump ========================================================================= */

struct vi_load {
    const char *path;
    const char *want_serial;
    int want_disk;
    struct verify_image_state cur;  /* the wanted disk in the dump being read */
    size_t cap;
    bool in_dump, cur_found, cur_last;
    unsigned long dump_line, cur_desc_line;
    uint64_t dump_runs;             /* runs of every disk in the dump being read */
    int prev_disk;
    char disks[256], done_disks[256]; /* "0 (vqh0), 1 (vqh1)": for a "no such disk" error */
    struct verify_image_state done; /* from the last complete dump */
    bool any_dump, done_found;
    uint64_t last_seq;
    char first_bad[200];            /* a line that had the prefix but did not parse */
};

__attribute__((format(printf, 4, 5))) static bool vi_bad(struct vqh_err *err, const struct vi_load *l,
                                                        unsigned long line, const char *fmt, ...)
{
    char what[VQH_ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    vqh_err_set(err, "%s line %lu: %s%s%s", l->path, line, what,
                l->first_bad[0] ? "; note: " : "", l->first_bad);
    return false;
}

static bool vi_get_u64(const json_t *obj, const char *key, uint64_t *v)
{
    const json_t *j = json_object_get(obj, key);

    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *v = (uint64_t)json_integer_value(j);
    return true;
}

/* The guest's hex members ("0x1f"). */
static bool vi_get_hex(const json_t *obj, const char *key, uint64_t *v)
{
    const char *s = json_string_value(json_object_get(obj, key));
    char *end;

    if (!s || strncmp(s, "0x", 2) || !s[2])
        return false;
    errno = 0;
    *v = strtoull(s + 2, &end, 16);
    return !errno && !*end && s[2] != '-' && s[2] != '+';
}

static void vi_state_reset(struct verify_image_state *st)
{
    free(st->runs);
    memset(st, 0, sizeof(*st));
    st->disk = -1;
}

void verify_image_state_free(struct verify_image_state *st)
{
    if (st)
        vi_state_reset(st);
}

static bool vi_add_run(struct vi_load *l, const struct expect_run *r, const char *text,
                       unsigned long line, struct vqh_err *err)
{
    struct verify_image_state *st = &l->cur;

    if (r->lba < st->end_lba)
        return vi_bad(err, l, line, "run \"%s\" of disk %d overlaps or precedes the run before it "
                      "(which ends at LBA %" PRIu64 "): runs must ascend without overlap",
                      text, st->disk, st->end_lba);
    if (st->nruns == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct expect_run *p = realloc(st->runs, cap * sizeof(*p));
        if (!p)
            return vi_bad(err, l, line, "out of memory after %zu runs", st->nruns);
        st->runs = p;
        l->cap = cap;
    }
    st->runs[st->nruns++] = *r;
    st->end_lba = r->lba + r->count;
    return true;
}

/* Is this message's disk the one asked for? The first matching disk of a dump decides. */
static bool vi_is_wanted(const struct vi_load *l, int disk, const char *serial)
{
    if (l->want_serial)
        return !strcmp(serial, l->want_serial);
    if (l->want_disk >= 0)
        return disk == l->want_disk;
    return !l->cur_found || disk == l->cur.disk;
}

static bool vi_take_desc(struct vi_load *l, int disk, const char *serial, uint64_t bs,
                         uint64_t seed, uint64_t tag, unsigned long line, struct vqh_err *err)
{
    struct verify_image_state *st = &l->cur;

    if (strlen(serial) >= sizeof(st->serial))
        return vi_bad(err, l, line, "serial \"%.80s\" is too long", serial);
    if (bs > UINT32_MAX || !blk_size_valid((uint32_t)bs))
        return vi_bad(err, l, line, "blk_size %" PRIu64 " is not 512, 1024, 2048 or 4096", bs);
    if (tag > UINT32_MAX)
        return vi_bad(err, l, line, "disk_tag 0x%" PRIx64 " is wider than 32 bits", tag);
    if (!l->cur_found) {
        l->cur_found = true;
        l->cur_desc_line = line;
        st->disk = disk;
        snprintf(st->serial, sizeof(st->serial), "%s", serial);
        st->blk_size = (uint32_t)bs;
        st->seed = seed;
        st->disk_tag = (uint32_t)tag;
        st->line = l->dump_line;
        return true;
    }
    if (st->disk != disk || strcmp(st->serial, serial) || st->blk_size != bs || st->seed != seed ||
        st->disk_tag != tag)
        return vi_bad(err, l, line, "disk %d (%s) is described differently than at line %lu "
                      "(disk, serial, blk_size, seed or disk_tag)", disk, serial, l->cur_desc_line);
    if (l->cur_last)
        return vi_bad(err, l, line, "more state for disk %d after its message with last=true",
                      disk);
    return true;
}

static bool vi_take_state(struct vi_load *l, const json_t *obj, unsigned long line,
                          struct vqh_err *err)
{
    const json_t *runs = json_object_get(obj, "runs"), *last = json_object_get(obj, "last"), *r;
    const char *serial = json_string_value(json_object_get(obj, "serial"));
    uint64_t disk, bs, seed, tag;
    size_t i;

    if (!json_is_true(json_object_get(obj, "ok")))
        return vi_bad(err, l, line, "the guest answered `state` with ok=false");
    if (!vi_get_u64(obj, "disk", &disk) || disk > 1000 || !serial || !vi_get_u64(obj, "blk_size", &bs) ||
        !vi_get_hex(obj, "seed", &seed) || !vi_get_hex(obj, "disk_tag", &tag) ||
        !json_is_array(runs) || !json_is_boolean(last))
        return vi_bad(err, l, line, "a state reply needs disk, serial, blk_size, seed and disk_tag "
                      "(\"0x...\"), runs (array) and last (boolean)");
    if (!l->in_dump) {
        l->in_dump = true;
        l->dump_line = line;
    }
    if ((int)disk != l->prev_disk) {
        size_t n = strlen(l->disks);
        snprintf(l->disks + n, sizeof(l->disks) - n, "%s%d (%s)", n ? ", " : "", (int)disk, serial);
        l->prev_disk = (int)disk;
    }
    bool wanted = vi_is_wanted(l, (int)disk, serial);
    if (wanted && !vi_take_desc(l, (int)disk, serial, bs, seed, tag, line, err))
        return false;
    l->dump_runs += json_array_size(runs);
    json_array_foreach(runs, i, r) {
        const char *text = json_string_value(r);
        struct expect_run run;
        if (!text || !expect_run_parse(text, strlen(text), &run))
            return vi_bad(err, l, line, "run %zu \"%.80s\" is not <lba>+<count>:<g|z|d|f>[:gen:q:seq]",
                          i, text ? text : "(not a string)");
        if (run.lba > UINT64_MAX - run.count)
            return vi_bad(err, l, line, "run \"%s\" ends past the last possible LBA", text);
        if (wanted && !vi_add_run(l, &run, text, line, err))
            return false;
    }
    if (wanted)
        l->cur_last = json_is_true(last);
    return true;
}

static bool vi_take_state_end(struct vi_load *l, const json_t *obj, unsigned long line,
                              struct vqh_err *err)
{
    uint64_t runs;

    if (!vi_get_u64(obj, "runs", &runs))
        return vi_bad(err, l, line, "state_end has no \"runs\" count");
    if (runs != l->dump_runs)
        return vi_bad(err, l, line, "state_end counts %" PRIu64 " runs but %" PRIu64 " were "
                      "read since line %lu: state lines were lost or damaged", runs, l->dump_runs,
                      l->dump_line);
    if (l->cur_found && !l->cur_last)
        return vi_bad(err, l, line, "the state of disk %d ends without last=true", l->cur.disk);
    /* A later dump supersedes an earlier one: the last describes the final state. */
    vi_state_reset(&l->done);
    l->done = l->cur;
    l->done_found = l->cur_found;
    memcpy(l->done_disks, l->disks, sizeof(l->disks));
    l->any_dump = true;
    memset(&l->cur, 0, sizeof(l->cur));
    l->cur.disk = -1;
    l->cap = 0;
    l->in_dump = l->cur_found = l->cur_last = false;
    l->dump_runs = 0;
    l->disks[0] = '\0';
    l->prev_disk = -1;
    return true;
}

/* The orchestrator's merged log: "<seq> <source> <json>". Rebuilt as a serial line to parse. */
static enum guestlog_parse vi_parse_merged(const char *text, size_t len, struct guestlog_msg **m,
                                           struct vqh_err *err)
{
    size_t i = 0, seq_end, src, src_end;
    char source[GUESTLOG_SOURCE_MAX], *wire;

    while (i < len && text[i] >= '0' && text[i] <= '9')
        i++;
    seq_end = i;
    if (!seq_end || i >= len || text[i++] != ' ')
        return GUESTLOG_NOISE;
    for (src = i; i < len && text[i] != ' '; i++)
        ;
    src_end = i;
    if (src_end == src || i + 1 >= len || text[i + 1] != '{')
        return GUESTLOG_NOISE;
    snprintf(source, sizeof(source), "%.*s", (int)(src_end - src), text + src);
    int n = asprintf(&wire, "%s%.*s %.*s", WIRE_PREFIX, (int)seq_end, text, (int)(len - i - 1),
                     text + i + 1);
    if (n < 0)
        return GUESTLOG_NOISE;
    struct guestlog_line gl = {wire, (size_t)n, false};
    enum guestlog_parse r = guestlog_parse_line(&gl, source, m, err);
    free(wire);
    return r;
}

static bool vi_take_line(struct vi_load *l, char *text, size_t len, unsigned long line,
                         struct vqh_err *err)
{
    struct guestlog_line gl = {text, len, false};
    struct guestlog_msg *m = NULL;
    struct vqh_err perr;
    bool ok = true;

    enum guestlog_parse r = guestlog_parse_line(&gl, "log", &m, &perr);
    if (r == GUESTLOG_NOISE)
        r = vi_parse_merged(text, len, &m, &perr);
    if (r == GUESTLOG_BAD && !l->first_bad[0])
        snprintf(l->first_bad, sizeof(l->first_bad), "line %lu did not parse (%.120s)", line,
                 perr.msg);
    if (r != GUESTLOG_MSG)
        return true; /* lost state lines show up in the state_end count */
    const char *cmd = json_string_value(json_object_get(m->obj, "cmd"));
    if (!strcmp(m->type, WIRE_MSG_HELLO)) {
        if (l->in_dump)
            ok = vi_bad(err, l, line, "the guest rebooted inside the state dump of line %lu",
                        l->dump_line);
        l->last_seq = m->seq;
    } else if (m->seq <= l->last_seq) {
        /* Logs of two QEMUs overlap around a migration: a repeat, not new state. */
    } else {
        l->last_seq = m->seq;
        bool reply = !strcmp(m->type, WIRE_MSG_REPLY) && cmd;
        if (reply && !strcmp(cmd, WIRE_CMD_STATE))
            ok = vi_take_state(l, m->obj, line, err);
        else if (reply && !strcmp(cmd, WIRE_REPLY_STATE_END))
            ok = vi_take_state_end(l, m->obj, line, err);
    }
    guestlog_msg_free(m);
    return ok;
}

static bool vi_load_finish(struct vi_load *l, unsigned long lines, struct vqh_err *err)
{
    if (l->in_dump)
        return vi_bad(err, l, l->dump_line, "this state dump has no state_end (the log ends at "
                      "line %lu): the log was cut short, take the state again", lines);
    if (!l->any_dump) {
        vqh_err_set(err, "%s holds no state dump (the guest's replies to the `state` command): "
                    "pass the serial log of a run that sent `state` (e.g. serial-merged.log)%s%s",
                    l->path, l->first_bad[0] ? "; note: " : "", l->first_bad);
        return false;
    }
    if (!l->done_found) {
        char want[96];
        if (l->want_serial)
            snprintf(want, sizeof(want), "serial %s", l->want_serial);
        else
            snprintf(want, sizeof(want), "disk %d", l->want_disk);
        vqh_err_set(err, "%s: the last state dump has no %s (disks in it: %s): pick one of "
                    "those with --serial or --disk", l->path, want,
                    l->done_disks[0] ? l->done_disks : "none");
        return false;
    }
    return true;
}

bool verify_image_load_state(const char *path, const char *serial, int disk,
                             struct verify_image_state *st, struct vqh_err *err)
{
    struct vi_load l = {.path = path, .want_serial = serial, .want_disk = disk, .prev_disk = -1};
    unsigned long line = 0;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    bool ok = true;

    memset(st, 0, sizeof(*st));
    st->disk = -1;
    vi_state_reset(&l.cur);
    vi_state_reset(&l.done);
    FILE *f = fopen(path, "re");
    if (!f) {
        vqh_err_set(err, "cannot open state file %s: %s", path, strerror(errno));
        return false;
    }
    /* getline, not guestlog_asm: a merged line may exceed WIRE_LINE_MAX by its source label. */
    while (ok && (n = getline(&text, &cap, f)) >= 0) {
        line++;
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
            text[--n] = '\0';
        ok = vi_take_line(&l, text, (size_t)n, line, err);
    }
    if (ok && ferror(f)) {
        vqh_err_set(err, "cannot read state file %s: %s", path, strerror(errno));
        ok = false;
    }
    free(text);
    fclose(f);
    ok = ok && vi_load_finish(&l, line, err);
    vi_state_reset(&l.cur);
    if (ok)
        *st = l.done;
    else
        vi_state_reset(&l.done);
    return ok;
}
