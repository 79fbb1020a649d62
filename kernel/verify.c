/*
 * verify.c: judging read data. The hot path (a block that is what we expect) costs one blk_check
 * and one payload regeneration; everything else here runs only once something is already wrong.
 */
#include "verify.h"
#include "wire.h"

#define VERIFY_CHUNK 64

/* One expectation a block is judged against: the committed one or a write's pending one. */
struct verify_exp {
    uint8_t state;
    uint32_t gen;
    struct expect_tag tag;
};

/* The block found, checked once: its header at once, its payload checksum only when a rule
 * needs it (verify_payload_crc), since the hot path compares the payload with its regeneration. */
struct verify_found {
    const uint8_t *data;
    enum blk_status status;
    bool crc_known;   /* status says whether the payload checksum is right */
    struct blk_hdr hdr;
};

const char *verify_class_name(enum verify_class cls)
{
    switch (cls) {
    case VERIFY_OK: return NULL;
    case VERIFY_CORRUPT: return WIRE_ERR_CORRUPT;
    case VERIFY_MISDIRECTED: return WIRE_ERR_MISDIRECTED;
    case VERIFY_MISDIRECTED_DISK: return WIRE_ERR_MISDIRECTED_DISK;
    case VERIFY_STALE: return WIRE_ERR_STALE;
    case VERIFY_PHANTOM: return WIRE_ERR_PHANTOM;
    case VERIFY_TORN: return WIRE_ERR_TORN;
    case VERIFY_NONZERO: return WIRE_ERR_NONZERO;
    case VERIFY_UNWRITTEN: return WIRE_ERR_UNWRITTEN;
    }
    return NULL;
}

static bool verify_has_header(enum blk_status s)
{
    return s != BLK_ZERO && s != BLK_NO_HEADER;
}

/* Check the payload checksum of a block whose header is valid, once: status becomes
 * BLK_BAD_PAYLOAD_CRC when it is wrong. */
static void verify_payload_crc(const struct verify_ctx *ctx, struct verify_found *f)
{
    if (f->crc_known)
        return;
    f->crc_known = true;
    if (f->status == BLK_OK && !blk_payload_crc_ok(f->data, ctx->blk_size, &f->hdr))
        f->status = BLK_BAD_PAYLOAD_CRC;
}

/* The rules of verify.h, in their order. */
static enum verify_class verify_judge(const struct verify_ctx *ctx, uint64_t lba,
                                      struct verify_found *f, const struct verify_exp *x)
{
    const struct blk_hdr *h = &f->hdr;

    if (x->state == EXPECT_ZERO)
        return f->status == BLK_ZERO ? VERIFY_OK : VERIFY_NONZERO;
    if (x->state != EXPECT_GEN)
        return VERIFY_OK;
    if (f->status == BLK_ZERO)
        return VERIFY_UNWRITTEN;
    if (f->status == BLK_NO_HEADER || f->status == BLK_BAD_HDR_CRC || f->status == BLK_BAD_FORMAT)
        return VERIFY_CORRUPT;
    if (h->seed != ctx->seed)
        return VERIFY_UNWRITTEN;
    if (h->disk_tag != ctx->disk_tag)
        return VERIFY_MISDIRECTED_DISK;
    if (h->lba != lba)
        return VERIFY_MISDIRECTED;
    if (h->gen == x->gen && h->writer_q == x->tag.writer_q && h->req_seq == x->tag.req_seq) {
        /* The block we expect, if its payload is what (seed, disk, lba, gen) make: then its
         * checksum is right too (blockfmt.h), so the hot path skips it. A payload that differs is
         * corrupt either way; the checksum then only names the status in the report. */
        if (blk_payload_diff(f->data, ctx->blk_size, ctx->seed, ctx->disk_tag, lba, x->gen) == ctx->blk_size)
            return VERIFY_OK;
        verify_payload_crc(ctx, f);
        return VERIFY_CORRUPT;
    }
    verify_payload_crc(ctx, f);
    if (f->status == BLK_BAD_PAYLOAD_CRC)
        return VERIFY_CORRUPT;
    if (h->gen < x->gen)
        return VERIFY_STALE;
    return VERIFY_PHANTOM; /* newer than expected, or the right generation from another request */
}

/* Bytes [off, off + len) of the block expected under x (len <= VERIFY_CHUNK). */
static void verify_expected_bytes(const struct verify_ctx *ctx, uint64_t lba,
                                  const struct verify_exp *x, const struct verify_found *f,
                                  uint32_t off, uint8_t *out, uint32_t len)
{
    if (x->state != EXPECT_GEN) {
        memset(out, 0, len);
        return;
    }
    struct blk_stamp st = {
        .seed = ctx->seed,
        .disk_tag = ctx->disk_tag,
        .lba = lba,
        .gen = x->gen,
        .writer_q = x->tag.writer_q,
        .req_seq = x->tag.req_seq,
        /* Not tracked: take the block's own, so only real differences show. */
        .epoch = f->hdr.magic == BLK_MAGIC ? f->hdr.epoch : 0,
    };
    blk_expected_bytes(&st, ctx->blk_size, off, out, len);
}

/* A read racing a write: is every byte the old block's or the new block's? */
static bool verify_is_mix(const struct verify_ctx *ctx, uint64_t lba, const struct verify_found *f,
                          const struct verify_exp *old, const struct verify_exp *new)
{
    uint8_t a[VERIFY_CHUNK], b[VERIFY_CHUNK];

    for (uint32_t off = 0; off < ctx->blk_size; off += VERIFY_CHUNK) {
        verify_expected_bytes(ctx, lba, old, f, off, a, VERIFY_CHUNK);
        verify_expected_bytes(ctx, lba, new, f, off, b, VERIFY_CHUNK);
        for (uint32_t i = 0; i < VERIFY_CHUNK; i++)
            if (f->data[off + i] != a[i] && f->data[off + i] != b[i])
                return false;
    }
    return true;
}

/* Judge one block against its snapshot; *used gets the expectation a failure refers to. */
static enum verify_class verify_block(const struct verify_ctx *ctx, uint64_t lba,
                                      struct verify_found *f, const struct expect_snap *s,
                                      struct verify_exp *used)
{
    struct verify_exp old = {s->state, s->gen, s->tag};
    struct verify_exp new = {s->pend_state, s->pend_gen, s->pend_tag};
    enum verify_class c_old = verify_judge(ctx, lba, f, &old);

    *used = old;
    if (!s->inflight || c_old == VERIFY_OK)
        return c_old;
    enum verify_class c_new = verify_judge(ctx, lba, f, &new);
    if (c_new == VERIFY_OK || verify_is_mix(ctx, lba, f, &old, &new))
        return VERIFY_OK;
    if (verify_has_header(f->status) && f->hdr.gen == s->pend_gen) {
        *used = new;
        return c_new;
    }
    return c_old;
}

static void verify_found_of(const struct verify_ctx *ctx, const uint8_t *data,
                            struct verify_found *f)
{
    f->data = data;
    f->status = blk_check_header(data, ctx->blk_size, &f->hdr);
    f->crc_known = f->status != BLK_OK;
}

/* A STALE block is TORN if a block of the same write reads back current: index, or -1. */
static int32_t verify_find_torn_peer(const struct verify_ctx *ctx, uint64_t lba, uint32_t n,
                                     const uint8_t *data, const struct expect_snap *snap,
                                     uint32_t bad)
{
    const struct expect_snap *b = &snap[bad];

    if (b->inflight || b->state != EXPECT_GEN)
        return -1;
    for (uint32_t j = 0; j < n; j++) {
        const struct expect_snap *s = &snap[j];
        struct verify_found f;
        struct verify_exp used;
        if (j == bad || s->inflight || s->state != EXPECT_GEN ||
            s->tag.writer_q != b->tag.writer_q || s->tag.req_seq != b->tag.req_seq)
            continue;
        verify_found_of(ctx, data + (size_t)j * ctx->blk_size, &f);
        if (verify_block(ctx, lba + j, &f, s, &used) == VERIFY_OK)
            return (int32_t)j;
    }
    return -1;
}

/* Offset, dumps and found fields of the first bad block. */
static void verify_describe(const struct verify_ctx *ctx, uint64_t lba,
                            const struct verify_found *f, const struct verify_exp *x,
                            struct verify_result *res)
{
    uint8_t chunk[VERIFY_CHUNK];
    uint32_t off = ctx->blk_size;

    for (uint32_t o = 0; o < ctx->blk_size && off == ctx->blk_size; o += VERIFY_CHUNK) {
        verify_expected_bytes(ctx, lba, x, f, o, chunk, VERIFY_CHUNK);
        size_t d = blk_first_diff(chunk, f->data + o, VERIFY_CHUNK);
        if (d < VERIFY_CHUNK)
            off = o + (uint32_t)d;
    }
    if (off == ctx->blk_size) /* no byte differs (cannot happen for a bad block): dump the top */
        off = 0;
    res->offset = off;
    res->dump_len = MIN(VERIFY_DUMP_MAX, ctx->blk_size - off);
    verify_expected_bytes(ctx, lba, x, f, off, res->dump_expected, res->dump_len);
    memcpy(res->dump_found, f->data + off, res->dump_len);
    res->found_status = f->status;
    res->found = f->hdr;
    res->expected_state = x->state;
    res->expected_gen = x->gen;
    res->expected_tag = x->tag;
}

/* The whole result cleared (dumps included): for a bad read only, since every read of a run
 * comes through verify_read. */
static void verify_result_clear(struct verify_result *res, uint32_t checked)
{
    memset(res, 0, sizeof(*res));
    res->torn_peer = -1;
    res->checked = checked;
}

bool verify_read(const struct verify_ctx *ctx, uint64_t lba, uint32_t n, const uint8_t *data,
                 const struct expect_snap *snap, struct verify_result *res)
{
    struct verify_found first_f;
    struct verify_exp first_x;
    enum verify_class first_c = VERIFY_OK;
    uint32_t first = 0, bad = 0, checked = 0;

    if (!blk_size_valid(ctx->blk_size) || n == 0) {
        verify_result_clear(res, 0);
        return false; /* a caller bug: not ok, yet no bad block */
    }
    for (uint32_t i = 0; i < n; i++) {
        struct verify_found f;
        struct verify_exp used;
        /* A block committed as anything-goes (never written, discarded, failed) is fine whatever
         * it holds, a write in flight to it or not (verify_block judges the pending state only
         * when the committed one fails): no need to look at it. Reads of such blocks are most
         * reads early in a run, and all of them on null-co. */
        if (snap[i].state != EXPECT_GEN && snap[i].state != EXPECT_ZERO)
            continue;
        checked++;
        verify_found_of(ctx, data + (size_t)i * ctx->blk_size, &f);
        enum verify_class c = verify_block(ctx, lba + i, &f, &snap[i], &used);
        if (c == VERIFY_OK)
            continue;
        if (!bad++) {
            first_c = c;
            first = i;
            first_f = f;
            first_x = used;
        }
    }
    if (!bad) {
        res->ok = true;
        res->cls = VERIFY_OK;
        res->class_name = NULL;
        res->bad_count = 0;
        res->checked = checked;
        res->torn_peer = -1;
        return true;
    }
    verify_result_clear(res, checked);
    res->cls = first_c;
    res->index = first;
    res->bad_count = bad;
    res->lba = lba + res->index;
    res->expected = snap[res->index];
    if (res->cls == VERIFY_STALE) {
        res->torn_peer = verify_find_torn_peer(ctx, lba, n, data, snap, res->index);
        if (res->torn_peer >= 0)
            res->cls = VERIFY_TORN;
    }
    res->class_name = verify_class_name(res->cls);
    verify_payload_crc(ctx, &first_f); /* the report names the status blk_check would */
    verify_describe(ctx, res->lba, &first_f, &first_x, res);
    return false;
}
