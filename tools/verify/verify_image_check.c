/*
 * verify_image_check.c: `vqhammer verify-image` judging the image. The image is streamed in
 * large chunks and every block is judged by the same pure code the guest uses (kernel/blockfmt.c,
 * kernel/verify.c): against the state by verify_read, else by its own header. Each class is
 * counted; the first bad blocks are detailed (stdout, JSON, dump files).
 */
#include "verify_image_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockfmt.h"
#include "verify.h"

#define VI_CHUNK_BYTES (4u << 20)
/* A write spans at most max_blocks (config: <= 256) blocks: a block's torn peer is that close. */
#define VI_TORN_WINDOW 256

/* ==== judging the image ====================================================================== */

const char *const vi_hdr_names[VI_HDR_COUNT] = {
    "zero", "valid", "foreign", "bad_header_crc", "bad_format", "bad_payload_crc", "misdirected",
    "wrong_disk", "wrong_seed",
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

json_t *vi_hex_json(uint64_t v)
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

bool vi_scan_image(struct vi_scan *s, struct vqh_err *err)
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
