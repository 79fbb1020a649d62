/*
 * verify_image.c: `vqhammer verify-image`. The guest's state dump is read back from a serial log,
 * the image is streamed in large chunks, and every block is judged by the same pure code the
 * guest uses (kernel/blockfmt.c, kernel/verify.c), so an offline verdict means what an online one
 * means.
 */
#include "verify_image.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockfmt.h"
#include "guestlog.h"
#include "verify.h"

#define VI_CHUNK_BYTES (4u << 20)
/* A write spans at most max_blocks (config: <= 256) blocks: a block's torn peer is that close. */
#define VI_TORN_WINDOW 256

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

/* ==== judging the image ====================================================================== */

/* Header-check classes; the ones from BAD_HDR_CRC on are problems. */
enum vi_hdr {
    VI_HDR_ZERO,
    VI_HDR_VALID,
    VI_HDR_FOREIGN,
    VI_HDR_BAD_HDR_CRC,
    VI_HDR_BAD_FORMAT,
    VI_HDR_BAD_PAYLOAD_CRC,
    VI_HDR_MISDIRECTED,
    VI_HDR_WRONG_DISK,
    VI_HDR_WRONG_SEED,
    VI_HDR_COUNT,
};

static const char *const vi_hdr_names[VI_HDR_COUNT] = {
    "zero", "valid", "foreign", "bad_header_crc", "bad_format", "bad_payload_crc", "misdirected",
    "wrong_disk", "wrong_seed",
};

enum { VI_CHECK_STATE = 1, VI_CHECK_HEADER };

struct vi_blk {
    uint8_t check;  /* VI_CHECK_* */
    uint8_t cls;    /* enum verify_class or enum vi_hdr */
    bool fails;
    int32_t peer;   /* TORN: index of a current block of the same write */
    struct expect_snap snap;
};

struct vi_scan {
    const struct verify_image_opts *o;
    FILE *out;
    int fd;
    uint64_t nblocks;
    struct verify_ctx ctx;
    bool check_seed, check_tag; /* header mode, when --seed / --serial say what to expect */
    struct expect *exp;
    uint64_t verified, header_checked, bad, ignored;
    uint64_t cls[VERIFY_UNWRITTEN + 1];
    uint64_t hdr[VI_HDR_COUNT];
    uint32_t detailed, format_hint; /* format_hint: blk_size a bad-format header claims */
    json_t *errors;
    uint8_t *buf, *expblk;
    struct vi_blk *blk;
    struct expect_snap *mask;
};

static void vi_snap(const struct vi_scan *s, uint64_t lba, struct expect_snap *snap)
{
    memset(snap, 0, sizeof(*snap));
    if (s->exp && lba >= expect_base(s->exp) && lba - expect_base(s->exp) < expect_nblocks(s->exp))
        expect_get(s->exp, lba, snap);
}

static enum vi_hdr vi_header_class(struct vi_scan *s, uint64_t lba, const uint8_t *data)
{
    struct blk_hdr h;

    switch (blk_check(data, s->ctx.blk_size, &h)) {
    case BLK_ZERO: return VI_HDR_ZERO;
    case BLK_NO_HEADER: return VI_HDR_FOREIGN;
    case BLK_BAD_HDR_CRC: return VI_HDR_BAD_HDR_CRC;
    case BLK_BAD_FORMAT:
        if (!s->format_hint && blk_size_valid(h.blk_size) && h.blk_size != s->ctx.blk_size)
            s->format_hint = h.blk_size;
        return VI_HDR_BAD_FORMAT;
    case BLK_BAD_PAYLOAD_CRC: return h.lba != lba ? VI_HDR_MISDIRECTED : VI_HDR_BAD_PAYLOAD_CRC;
    case BLK_OK: break;
    }
    if (h.lba != lba)
        return VI_HDR_MISDIRECTED;
    if (s->check_tag && h.disk_tag != s->ctx.disk_tag)
        return VI_HDR_WRONG_DISK;
    if (s->check_seed && h.seed != s->ctx.seed)
        return VI_HDR_WRONG_SEED;
    return VI_HDR_VALID;
}

static bool vi_same_write(const struct expect_snap *a, const struct expect_snap *b)
{
    return a->state == EXPECT_GEN && b->state == EXPECT_GEN && a->tag.writer_q == b->tag.writer_q &&
           a->tag.req_seq == b->tag.req_seq;
}

/* End a chunk before a write's blocks rather than inside them, so torn peers stay together. */
static uint32_t vi_chunk_len(const struct vi_scan *s, uint64_t lba, uint32_t n)
{
    struct expect_snap a, b;
    uint32_t k = n;

    if (!s->exp || lba + n >= s->nblocks)
        return n;
    vi_snap(s, lba + n, &b);
    for (; k > 0; k--) {
        vi_snap(s, lba + k - 1, &a);
        if (!vi_same_write(&a, &b))
            break;
    }
    return k ? k : n;
}

static void vi_judge_chunk(struct vi_scan *s, uint64_t lba, uint32_t n)
{
    const uint32_t bs = s->ctx.blk_size;

    for (uint32_t i = 0; i < n; i++) {
        struct vi_blk *b = &s->blk[i];
        const uint8_t *data = s->buf + (size_t)i * bs;
        vi_snap(s, lba + i, &b->snap);
        b->peer = -1;
        if (b->snap.state == EXPECT_GEN || b->snap.state == EXPECT_ZERO) {
            struct verify_result r;
            b->check = VI_CHECK_STATE;
            b->cls = verify_read(&s->ctx, lba + i, 1, data, &b->snap, &r) ? VERIFY_OK : r.cls;
            b->fails = b->cls != VERIFY_OK;
        } else {
            b->check = VI_CHECK_HEADER;
            b->cls = vi_header_class(s, lba + i, data);
            b->fails = b->cls >= VI_HDR_BAD_HDR_CRC && b->snap.state == EXPECT_UNKNOWN;
        }
    }
    /* verify.h: a STALE block becomes TORN when a block of the same write reads back current. */
    for (uint32_t i = 0; i < n; i++) {
        struct vi_blk *b = &s->blk[i];
        if (b->check != VI_CHECK_STATE || b->cls != VERIFY_STALE)
            continue;
        uint32_t lo = i > VI_TORN_WINDOW ? i - VI_TORN_WINDOW : 0;
        uint32_t hi = MIN(n, i + VI_TORN_WINDOW + 1);
        for (uint32_t j = lo; j < hi && b->peer < 0; j++) {
            const struct vi_blk *p = &s->blk[j];
            if (j != i && p->check == VI_CHECK_STATE && p->cls == VERIFY_OK &&
                vi_same_write(&p->snap, &b->snap)) {
                b->cls = VERIFY_TORN;
                b->peer = (int32_t)j;
            }
        }
    }
}

/* verify_read's own verdict for block i (for TORN: over i and its peer, the rest masked). */
static void vi_verify_one(struct vi_scan *s, uint64_t lba, uint32_t i, struct verify_result *r)
{
    const struct vi_blk *b = &s->blk[i];
    const uint32_t bs = s->ctx.blk_size;

    if (b->peer < 0) {
        verify_read(&s->ctx, lba + i, 1, s->buf + (size_t)i * bs, &b->snap, r);
        return;
    }
    uint32_t lo = MIN(i, (uint32_t)b->peer), hi = MAX(i, (uint32_t)b->peer);
    memset(s->mask, 0, (hi - lo + 1) * sizeof(*s->mask)); /* UNKNOWN: accepted, not peers */
    s->mask[i - lo] = b->snap;
    s->mask[b->peer - lo] = s->blk[b->peer].snap;
    verify_read(&s->ctx, lba + lo, hi - lo + 1, s->buf + (size_t)lo * bs, s->mask, r);
}

static char *vi_hex(const uint8_t *p, size_t n, char *out, const char *sep)
{
    size_t k = 0, sl = strlen(sep);

    for (size_t i = 0; i < n; i++) {
        k += (size_t)sprintf(out + k, "%02x", p[i]);
        if (i + 1 < n) {
            memcpy(out + k, sep, sl);
            k += sl;
        }
    }
    out[k] = '\0';
    return out;
}

static json_t *vi_hex_json(uint64_t v)
{
    return json_sprintf("0x%" PRIx64, v);
}

static bool vi_dump_file(const struct vi_scan *s, uint64_t lba, const char *what,
                         const uint8_t *data, struct vqh_err *err)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/lba-%" PRIu64 ".%s", s->o->dump_dir, lba, what);
    FILE *f = fopen(path, "we");
    bool ok = f && fwrite(data, 1, s->ctx.blk_size, f) == s->ctx.blk_size;
    if (f && fclose(f))
        ok = false;
    if (!ok)
        vqh_err_set(err, "cannot write dump %s: %s (check --dump-dir)", path, strerror(errno));
    return ok;
}

/* The block a header-checked block should be: its own header fields, at its own LBA, with the
 * seed and disk tag asked for. */
static void vi_expected_of_header(const struct vi_scan *s, uint64_t lba, const struct blk_hdr *h)
{
    struct blk_stamp st = {
        .seed = s->check_seed ? s->ctx.seed : h->seed,
        .disk_tag = s->check_tag ? s->ctx.disk_tag : h->disk_tag,
        .lba = lba, .gen = h->gen, .writer_q = h->writer_q, .req_seq = h->req_seq,
        .epoch = h->epoch,
    };
    blk_fill(s->expblk, s->ctx.blk_size, &st);
}

/* The error's expectation: JSON, one line of text, and the expected block in s->expblk. */
static json_t *vi_expectation(struct vi_scan *s, uint64_t lba, uint32_t i, const struct blk_hdr *h,
                              const char **cls, int64_t *peer_lba, char *text, size_t cap)
{
    const struct vi_blk *b = &s->blk[i];
    json_t *x = json_object();

    *peer_lba = -1;
    if (b->check == VI_CHECK_HEADER) {
        *cls = vi_hdr_names[b->cls];
        vi_expected_of_header(s, lba + i, h);
        json_object_set_new(x, "lba", json_integer((json_int_t)(lba + i)));
        if (s->check_seed)
            json_object_set_new(x, "seed", vi_hex_json(s->ctx.seed));
        if (s->check_tag)
            json_object_set_new(x, "disk_tag", vi_hex_json(s->ctx.disk_tag));
        if (s->o->state_path)
            snprintf(text, cap, "header check; block state %s", expect_state_name(b->snap.state));
        else
            snprintf(text, cap, "header check");
        return x;
    }
    struct verify_result r;
    vi_verify_one(s, lba, i, &r);
    *cls = r.class_name ? r.class_name : verify_class_name(b->cls);
    if (r.torn_peer >= 0)
        *peer_lba = (int64_t)r.lba - (int64_t)r.index + r.torn_peer;
    json_object_set_new(x, "state", json_string(expect_state_name(r.expected_state)));
    if (r.expected_state == EXPECT_GEN) {
        struct blk_stamp st = {
            .seed = s->ctx.seed, .disk_tag = s->ctx.disk_tag, .lba = lba + i,
            .gen = r.expected_gen, .writer_q = r.expected_tag.writer_q,
            .req_seq = r.expected_tag.req_seq,
            .epoch = h->magic == BLK_MAGIC ? h->epoch : 0, /* epochs are not tracked */
        };
        blk_fill(s->expblk, s->ctx.blk_size, &st);
        json_object_set_new(x, "gen", json_integer(r.expected_gen));
        json_object_set_new(x, "writer_q", json_integer(r.expected_tag.writer_q));
        json_object_set_new(x, "req_seq", json_integer(r.expected_tag.req_seq));
        snprintf(text, cap, "expected gen %u (q %u seq %u)", r.expected_gen,
                 r.expected_tag.writer_q, r.expected_tag.req_seq);
    } else {
        memset(s->expblk, 0, s->ctx.blk_size);
        snprintf(text, cap, "expected zeroes");
    }
    return x;
}

static json_t *vi_found_json(enum blk_status st, const struct blk_hdr *h, char *text, size_t cap)
{
    json_t *f = json_pack("{s:s}", "status", blk_status_name(st));

    if (h->magic != BLK_MAGIC) {
        snprintf(text, cap, "found %s", blk_status_name(st));
        return f;
    }
    json_object_set_new(f, "lba", json_integer((json_int_t)h->lba));
    json_object_set_new(f, "gen", json_integer(h->gen));
    json_object_set_new(f, "writer_q", json_integer(h->writer_q));
    json_object_set_new(f, "req_seq", json_integer(h->req_seq));
    json_object_set_new(f, "epoch", json_integer(h->epoch));
    json_object_set_new(f, "disk_tag", vi_hex_json(h->disk_tag));
    json_object_set_new(f, "seed", vi_hex_json(h->seed));
    json_object_set_new(f, "flags", json_integer(h->flags));
    snprintf(text, cap, "found %s: gen %u (q %u seq %u epoch %u), lba %" PRIu64 ", disk_tag 0x%x, "
             "seed 0x%" PRIx64, blk_status_name(st), h->gen, h->writer_q, h->req_seq, h->epoch,
             h->lba, h->disk_tag, h->seed);
    return f;
}

/* Describe bad block i of the chunk at lba: stdout, JSON, dump files. */
static bool vi_detail(struct vi_scan *s, uint64_t lba, uint32_t i, struct vqh_err *err)
{
    const uint32_t bs = s->ctx.blk_size;
    const uint8_t *found = s->buf + (size_t)i * bs;
    char xtext[160], ftext[200], hx[3 * VERIFY_DUMP_MAX], hf[3 * VERIFY_DUMP_MAX];
    const char *cls;
    int64_t peer;
    struct blk_hdr h;

    enum blk_status st = blk_check(found, bs, &h);
    json_t *e = json_object();
    json_object_set_new(e, "lba", json_integer((json_int_t)(lba + i)));
    json_t *x = vi_expectation(s, lba, i, &h, &cls, &peer, xtext, sizeof(xtext));
    json_object_set_new(e, "class", json_string(cls));
    json_object_set_new(e, "check", json_string(s->blk[i].check == VI_CHECK_STATE ? "state" : "header"));
    json_object_set_new(e, "expected", x);
    json_object_set_new(e, "found", vi_found_json(st, &h, ftext, sizeof(ftext)));
    uint32_t off = (uint32_t)blk_first_diff(s->expblk, found, bs);
    if (off == bs)
        off = 0;
    uint32_t len = MIN(VERIFY_DUMP_MAX, bs - off);
    json_object_set_new(e, "offset", json_integer(off));
    json_object_set_new(e, "hex_expected", json_string(vi_hex(s->expblk + off, len, hx, "")));
    json_object_set_new(e, "hex_found", json_string(vi_hex(found + off, len, hf, "")));
    if (peer >= 0)
        json_object_set_new(e, "torn_peer_lba", json_integer(peer));
    json_array_append_new(s->errors, e);
    if (s->out) {
        fprintf(s->out, "  lba %" PRIu64 ": %s (%s); %s\n", lba + i, cls, xtext, ftext);
        if (peer >= 0)
            fprintf(s->out, "    current block of the same write: lba %" PRId64 "\n", peer);
        fprintf(s->out, "    first difference at byte %u of %u\n", off, bs);
        fprintf(s->out, "    expected: %s\n", vi_hex(s->expblk + off, len, hx, " "));
        fprintf(s->out, "    found:    %s\n", vi_hex(found + off, len, hf, " "));
    }
    if (s->o->dump_dir && (!vi_dump_file(s, lba + i, "expected", s->expblk, err) ||
                           !vi_dump_file(s, lba + i, "found", found, err)))
        return false;
    return true;
}

static bool vi_count_chunk(struct vi_scan *s, uint64_t lba, uint32_t n, struct vqh_err *err)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct vi_blk *b = &s->blk[i];
        if (b->check == VI_CHECK_STATE) {
            s->verified++;
            s->cls[b->cls]++;
        } else {
            s->header_checked++;
            s->hdr[b->cls]++;
            if (b->cls >= VI_HDR_BAD_HDR_CRC && !b->fails)
                s->ignored++;
        }
        if (!b->fails)
            continue;
        if (!s->bad++ && s->out && s->o->max_errors)
            fprintf(s->out, "errors (the first %u):\n", s->o->max_errors);
        if (s->detailed < s->o->max_errors) {
            s->detailed++;
            if (!vi_detail(s, lba, i, err))
                return false;
        }
    }
    return true;
}

static bool vi_read(struct vi_scan *s, uint64_t lba, uint32_t n, struct vqh_err *err)
{
    size_t want = (size_t)n * s->ctx.blk_size, got = 0;
    off_t base = (off_t)(lba * s->ctx.blk_size);

    while (got < want) {
        ssize_t r = pread(s->fd, s->buf + got, want - got, base + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            vqh_err_set(err, "cannot read image %s at byte %" PRIu64 ": %s", s->o->image,
                        (uint64_t)base + got, r < 0 ? strerror(errno) : "unexpected end of file");
            return false;
        }
        got += (size_t)r;
    }
    return true;
}

static bool vi_scan_image(struct vi_scan *s, struct vqh_err *err)
{
    const uint32_t max = VI_CHUNK_BYTES / s->ctx.blk_size;

    s->buf = malloc(VI_CHUNK_BYTES);
    s->expblk = malloc(s->ctx.blk_size);
    s->blk = calloc(max, sizeof(*s->blk));
    s->mask = calloc(2 * VI_TORN_WINDOW + 1, sizeof(*s->mask));
    s->errors = json_array();
    if (!s->buf || !s->expblk || !s->blk || !s->mask || !s->errors) {
        vqh_err_set(err, "out of memory for the scan buffers");
        return false;
    }
    for (uint64_t lba = 0; lba < s->nblocks;) {
        uint32_t n = vi_chunk_len(s, lba, (uint32_t)MIN((uint64_t)max, s->nblocks - lba));
        if (!vi_read(s, lba, n, err))
            return false;
        vi_judge_chunk(s, lba, n);
        if (!vi_count_chunk(s, lba, n, err))
            return false;
        lba += n;
    }
    return true;
}

/* ==== setup, summary and the command ========================================================= */

void verify_image_defaults(struct verify_image_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->disk = -1;
    o->max_errors = 20;
}

static bool vi_setup_state(struct vi_scan *s, const struct verify_image_state *st,
                           struct vqh_err *err)
{
    const struct verify_image_opts *o = s->o;

    if (o->blk_size && o->blk_size != st->blk_size) {
        vqh_err_set(err, "--blk-size %u disagrees with the state of disk %d (blk_size %u): drop "
                    "--blk-size or pick the right disk", o->blk_size, st->disk, st->blk_size);
        return false;
    }
    if (o->seed_given && o->seed != st->seed) {
        vqh_err_set(err, "--seed 0x%" PRIx64 " disagrees with the state's seed 0x%" PRIx64
                    ": drop --seed (the state carries it)", o->seed, st->seed);
        return false;
    }
    s->ctx = (struct verify_ctx){.seed = st->seed, .disk_tag = st->disk_tag,
                                 .blk_size = st->blk_size};
    return true;
}

static bool vi_build_table(struct vi_scan *s, const struct verify_image_state *st, void **mem,
                           struct vqh_err *err)
{
    uint64_t base = s->o->region_start;

    if (!st->nruns)
        return true;
    if (st->runs[0].lba < base) {
        vqh_err_set(err, "the state's first run starts at LBA %" PRIu64 ", below --region-start "
                    "%" PRIu64 ": lower --region-start", st->runs[0].lba, base);
        return false;
    }
    if (st->end_lba > s->nblocks) {
        vqh_err_set(err, "the state of disk %d (%s) covers LBAs up to %" PRIu64 " but image %s has "
                    "only %" PRIu64 " blocks: is this that disk's image?", st->disk, st->serial,
                    st->end_lba, s->o->image, s->nblocks);
        return false;
    }
    uint64_t n = st->end_lba - base;
    size_t bytes = expect_bytes(n);
    *mem = bytes == SIZE_MAX ? NULL : aligned_alloc(8, ALIGN_UP(bytes, 8));
    s->exp = *mem ? expect_init(*mem, bytes, base, n) : NULL;
    if (!s->exp) {
        vqh_err_set(err, "out of memory for the expected-state table of %" PRIu64 " blocks", n);
        return false;
    }
    for (size_t i = 0; i < st->nruns; i++)
        expect_apply_run(s->exp, &st->runs[i]); /* in range, ascending, nothing in flight */
    return true;
}

static bool vi_open_image(struct vi_scan *s, struct vqh_err *err)
{
    const char *img = s->o->image;
    unsigned char magic[4] = {0};

    s->fd = open(img, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        vqh_err_set(err, "cannot open image %s: %s", img, strerror(errno));
        return false;
    }
    off_t size = lseek(s->fd, 0, SEEK_END);
    if (size < 0) {
        vqh_err_set(err, "cannot get the size of image %s: %s", img, strerror(errno));
        return false;
    }
    if (pread(s->fd, magic, 4, 0) == 4 && !memcmp(magic, "QFI\xfb", 4)) {
        vqh_err_set(err, "%s is a qcow2 image: convert it first (qemu-img convert -O raw %s "
                    "image.raw)", img, img);
        return false;
    }
    if (size == 0 || (uint64_t)size % s->ctx.blk_size) {
        vqh_err_set(err, "image %s is %" PRIu64 " bytes, not a positive multiple of the block "
                    "size %u: pass the disk's --blk-size, or check it is a raw image", img,
                    (uint64_t)size, s->ctx.blk_size);
        return false;
    }
    s->nblocks = (uint64_t)size / s->ctx.blk_size;
    return true;
}

/* Before the scan: what is checked against what. */
static void vi_intro(const struct vi_scan *s, const struct verify_image_state *st)
{
    FILE *f = s->out;

    if (!f)
        return;
    fprintf(f, "verify-image %s: %" PRIu64 " blocks of %u bytes, ", s->o->image, s->nblocks,
            s->ctx.blk_size);
    if (st)
        fprintf(f, "state of disk %d (%s, seed 0x%" PRIx64 ", disk_tag 0x%x, LBAs %" PRIu64
                "..%" PRIu64 ") from %s\n", st->disk, st->serial, st->seed, st->disk_tag,
                s->o->region_start, st->end_lba, s->o->state_path);
    else
        fprintf(f, "header check only\n");
}

static void vi_summary(const struct vi_scan *s, const struct verify_image_state *st)
{
    FILE *f = s->out;

    if (!f)
        return;
    if (st) {
        fprintf(f, "checked against the state: %" PRIu64 " blocks; ok %" PRIu64, s->verified,
                s->cls[VERIFY_OK]);
        for (int c = VERIFY_CORRUPT; c <= VERIFY_UNWRITTEN; c++)
            fprintf(f, ", %s %" PRIu64, verify_class_name(c), s->cls[c]);
        fprintf(f, "\n");
    }
    fprintf(f, "header-checked: %" PRIu64 " blocks", s->header_checked);
    for (int c = 0; c < VI_HDR_COUNT; c++)
        fprintf(f, ", %s %" PRIu64, vi_hdr_names[c], s->hdr[c]);
    fprintf(f, "\n");
    if (s->ignored)
        fprintf(f, "(%" PRIu64 " header problems in discarded or failed-write blocks: allowed)\n",
                s->ignored);
    if (s->format_hint)
        fprintf(f, "hint: headers say blocks of %u bytes: try --blk-size %u\n", s->format_hint,
                s->format_hint);
    fprintf(f, "%s: %" PRIu64 " bad block%s\n", s->bad ? "FAIL" : "PASS", s->bad,
            s->bad == 1 ? "" : "s");
}

static json_t *vi_report_json(const struct vi_scan *s, const struct verify_image_state *st)
{
    json_t *classes = json_object(), *hdr = json_object();

    for (int c = VERIFY_CORRUPT; c <= VERIFY_UNWRITTEN; c++)
        json_object_set_new(classes, verify_class_name(c), json_integer((json_int_t)s->cls[c]));
    for (int c = 0; c < VI_HDR_COUNT; c++)
        json_object_set_new(hdr, vi_hdr_names[c], json_integer((json_int_t)s->hdr[c]));
    json_t *j = json_pack("{s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:o}",
                          "result", s->bad ? "fail" : "pass", "image", s->o->image,
                          "blocks", (json_int_t)s->nblocks, "blk_size", (int)s->ctx.blk_size,
                          "checked", (json_int_t)s->verified,
                          "header_checked", (json_int_t)s->header_checked,
                          "bad", (json_int_t)s->bad, "classes", classes, "header", hdr,
                          "header_allowed", (json_int_t)s->ignored,
                          "max_errors", (json_int_t)s->o->max_errors,
                          "errors", json_incref(s->errors));
    json_object_set_new(j, "mode", json_string(st ? "state" : "header"));
    if (st) {
        json_object_set_new(j, "state", json_string(s->o->state_path));
        json_object_set_new(j, "disk", json_integer(st->disk));
        json_object_set_new(j, "serial", json_string(st->serial));
        json_object_set_new(j, "region_start", json_integer((json_int_t)s->o->region_start));
        json_object_set_new(j, "region_end", json_integer((json_int_t)st->end_lba));
    }
    if (st || s->check_seed)
        json_object_set_new(j, "seed", vi_hex_json(s->ctx.seed));
    if (st || s->check_tag)
        json_object_set_new(j, "disk_tag", vi_hex_json(s->ctx.disk_tag));
    return j;
}

static bool vi_write_json(const struct vi_scan *s, const struct verify_image_state *st,
                          struct vqh_err *err)
{
    json_t *j = vi_report_json(s, st);
    FILE *f = fopen(s->o->json_path, "we");
    bool ok = f && !json_dumpf(j, f, JSON_INDENT(2)) && fputc('\n', f) != EOF;

    if (f && fclose(f))
        ok = false;
    if (!ok)
        vqh_err_set(err, "cannot write the JSON report %s: %s", s->o->json_path, strerror(errno));
    json_decref(j);
    return ok;
}

static bool vi_check_opts(const struct verify_image_opts *o, struct vqh_err *err)
{
    if (!o->image) {
        vqh_err_set(err, "no IMAGE given: usage is vqhammer verify-image IMAGE [--state FILE] ... (see --help)");
        return false;
    }
    if (o->blk_size && !blk_size_valid(o->blk_size)) {
        vqh_err_set(err, "--blk-size %u: expected 512, 1024, 2048 or 4096", o->blk_size);
        return false;
    }
    if (o->serial && o->disk >= 0) {
        vqh_err_set(err, "--serial and --disk both pick the disk: give one of them");
        return false;
    }
    if (!o->state_path && (o->disk >= 0 || o->region_start)) {
        vqh_err_set(err, "%s only applies with --state FILE (it picks from the guest's state)",
                    o->disk >= 0 ? "--disk" : "--region-start");
        return false;
    }
    if (o->dump_dir && mkdir(o->dump_dir, 0755) && errno != EEXIST) {
        vqh_err_set(err, "cannot create --dump-dir %s: %s", o->dump_dir, strerror(errno));
        return false;
    }
    return true;
}

int verify_image_run(const struct verify_image_opts *o, FILE *out, struct vqh_err *err)
{
    struct vi_scan s = {.o = o, .out = out, .fd = -1};
    struct verify_image_state st, *stp = NULL;
    void *table = NULL;
    int rc = VERIFY_IMAGE_ERROR;

    memset(&st, 0, sizeof(st));
    if (!vi_check_opts(o, err))
        return rc;
    if (o->state_path) {
        if (!verify_image_load_state(o->state_path, o->serial, o->disk, &st, err))
            return rc;
        stp = &st;
        if (!vi_setup_state(&s, &st, err))
            goto out;
    } else {
        s.ctx.blk_size = o->blk_size ? o->blk_size : 512;
        s.ctx.seed = o->seed;
        s.check_seed = o->seed_given;
        s.check_tag = o->serial != NULL;
        s.ctx.disk_tag = o->serial ? blk_disk_tag(o->serial, strlen(o->serial)) : 0;
    }
    if (!vi_open_image(&s, err) || (stp && !vi_build_table(&s, &st, &table, err)))
        goto out;
    vi_intro(&s, stp);
    if (!vi_scan_image(&s, err))
        goto out;
    vi_summary(&s, stp);
    if (o->json_path && !vi_write_json(&s, stp, err))
        goto out;
    rc = s.bad ? VERIFY_IMAGE_FAIL : VERIFY_IMAGE_PASS;
out:
    if (s.fd >= 0)
        close(s.fd);
    free(table);
    free(s.buf);
    free(s.expblk);
    free(s.blk);
    free(s.mask);
    json_decref(s.errors);
    verify_image_state_free(&st);
    return rc;
}

void verify_image_usage(FILE *f)
{
    fprintf(f,
        "usage: vqhammer verify-image IMAGE [options]\n"
        "Check every block of a raw disk image the guest hammered.\n"
        "Exit status: 0 pass, 1 bad blocks found, 2 error.\n\n"
        "  --state FILE        serial log holding the guest's replies to `state` (e.g. the run's\n"
        "                      serial-merged.log): judge blocks against its final expected state;\n"
        "                      without it, only each block's own header and checksums are checked\n"
        "  --serial SERIAL     the disk to take from the state (e.g. vqh0); header mode: the disk\n"
        "                      tag every block must carry\n"
        "  --disk N            the disk to take from the state, by index (default: the first)\n"
        "  --blk-size N        logical block size, 512..4096 (default 512; the state carries it)\n"
        "  --seed S            header mode: the seed every block must carry (decimal or 0x hex)\n"
        "  --region-start LBA  first LBA of the state's table (default 0)\n"
        "  --json FILE         write the report as JSON\n"
        "  --max-errors N      bad blocks described in full (default 20)\n"
        "  --dump-dir DIR      write lba-<N>.expected and lba-<N>.found for each of them\n"
        "  -h, --help          this text\n");
}

static bool vi_parse_u64(const char *flag, const char *arg, int base, uint64_t max, uint64_t *v,
                         struct vqh_err *err)
{
    char *end;

    errno = 0;
    *v = strtoull(arg, &end, base);
    if (!arg[0] || *end || errno || arg[0] == '-' || arg[0] == '+' || *v > max) {
        vqh_err_set(err, "%s '%s': expected a number from 0 to %" PRIu64 "%s", flag, arg, max,
                    base == 0 ? " (decimal, or hex with 0x)" : "");
        return false;
    }
    return true;
}

enum { O_STATE = 256, O_SERIAL, O_DISK, O_BLK_SIZE, O_SEED, O_REGION_START, O_JSON, O_MAX_ERRORS,
       O_DUMP_DIR };

static const struct option vi_long_opts[] = {
    {"state", required_argument, 0, O_STATE},
    {"serial", required_argument, 0, O_SERIAL},
    {"disk", required_argument, 0, O_DISK},
    {"blk-size", required_argument, 0, O_BLK_SIZE},
    {"seed", required_argument, 0, O_SEED},
    {"region-start", required_argument, 0, O_REGION_START},
    {"json", required_argument, 0, O_JSON},
    {"max-errors", required_argument, 0, O_MAX_ERRORS},
    {"dump-dir", required_argument, 0, O_DUMP_DIR},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* One option; 1 = go on, 0 = --help printed, -1 = err set. */
static int vi_parse_opt(struct verify_image_opts *o, int c, const char *arg, const char *word,
                        struct vqh_err *err)
{
    uint64_t v;

    switch (c) {
    case O_STATE: o->state_path = arg; return 1;
    case O_SERIAL: o->serial = arg; return 1;
    case O_JSON: o->json_path = arg; return 1;
    case O_DUMP_DIR: o->dump_dir = arg; return 1;
    case O_DISK:
        if (!vi_parse_u64("--disk", arg, 10, 1000, &v, err))
            return -1;
        o->disk = (int)v;
        return 1;
    case O_BLK_SIZE:
        if (!vi_parse_u64("--blk-size", arg, 10, BLK_SIZE_MAX, &v, err))
            return -1;
        o->blk_size = (uint32_t)v;
        return 1;
    case O_SEED:
        if (!vi_parse_u64("--seed", arg, 0, UINT64_MAX, &o->seed, err))
            return -1;
        o->seed_given = true;
        return 1;
    case O_REGION_START:
        return vi_parse_u64("--region-start", arg, 10, UINT64_MAX / 2, &o->region_start, err) ? 1 : -1;
    case O_MAX_ERRORS:
        if (!vi_parse_u64("--max-errors", arg, 10, 1000000, &v, err))
            return -1;
        o->max_errors = (uint32_t)v;
        return 1;
    case 'h':
        verify_image_usage(stdout);
        return 0;
    case ':':
        vqh_err_set(err, "%s needs a value", word);
        return -1;
    default:
        vqh_err_set(err, "unknown option '%s'", word);
        return -1;
    }
}

int verify_image_main(int argc, char **argv)
{
    struct verify_image_opts o;
    struct vqh_err err = {""};
    int c, r = 1;

    verify_image_defaults(&o);
    optind = 0; /* glibc: a full re-scan, so the function can run more than once */
    opterr = 0;
    while (r == 1 && (c = getopt_long(argc, argv, ":h", vi_long_opts, NULL)) != -1)
        r = vi_parse_opt(&o, c, optarg, argv[optind - 1], &err);
    if (r == 0)
        return VERIFY_IMAGE_PASS;
    if (r == 1 && optind < argc)
        o.image = argv[optind++];
    if (r == 1 && optind < argc) {
        vqh_err_set(&err, "unexpected argument '%s': give one IMAGE", argv[optind]);
        r = -1;
    }
    int rc = r == 1 ? verify_image_run(&o, stdout, &err) : VERIFY_IMAGE_ERROR;
    if (rc == VERIFY_IMAGE_ERROR)
        fprintf(stderr, "vqhammer verify-image: %s\n%s", err.msg,
                r == 1 ? "" : "see: vqhammer verify-image --help\n");
    return rc;
}
