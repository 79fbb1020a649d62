/* inject_block.c: one block per data class, made from the block the guest wrote. */
#include "inject_block.h"
#include "blockfmt.h"
#include "prng.h"
#include "wire.h"

#include <string.h>

static const char *const inject_names[INJECT_PATTERN_COUNT] = {
    "flip", "random", "zeroes", "other-lba", "old-gen", "other-disk",
};

static const char *const inject_classes[INJECT_PATTERN_COUNT] = {
    WIRE_ERR_CORRUPT, WIRE_ERR_CORRUPT, WIRE_ERR_UNWRITTEN, WIRE_ERR_MISDIRECTED, WIRE_ERR_STALE,
    WIRE_ERR_MISDIRECTED_DISK,
};

const char *inject_pattern_name(enum inject_pattern p)
{
    return (unsigned)p < INJECT_PATTERN_COUNT ? inject_names[p] : NULL;
}

bool inject_pattern_parse(const char *name, enum inject_pattern *p)
{
    for (int i = 0; i < INJECT_PATTERN_COUNT; i++)
        if (!strcmp(name, inject_names[i])) {
            *p = (enum inject_pattern)i;
            return true;
        }
    return false;
}

const char *inject_pattern_class(enum inject_pattern p)
{
    return (unsigned)p < INJECT_PATTERN_COUNT ? inject_classes[p] : NULL;
}

const char *inject_pattern_list(void)
{
    return "flip|random|zeroes|other-lba|old-gen|other-disk";
}

bool inject_candidate(const uint8_t *win, uint32_t n, uint32_t idx, uint32_t bs,
                      enum inject_pattern p)
{
    struct blk_hdr h, o;
    if (!blk_size_valid(bs) || idx >= n || blk_check(win + (size_t)idx * bs, bs, &h) != BLK_OK)
        return false;
    if (p == INJECT_OLD_GEN && h.gen < 2)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (i != idx && blk_check(win + (size_t)i * bs, bs, &o) == BLK_OK && o.seed == h.seed &&
            o.writer_q == h.writer_q && o.req_seq == h.req_seq)
            return false;
    return true;
}

bool inject_table_holds(const struct expect_run *runs, size_t nruns, uint64_t lba, const struct blk_hdr *h)
{
    size_t lo = 0, hi = nruns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct expect_run *r = &runs[mid];
        if (lba < r->lba)
            hi = mid;
        else if (lba - r->lba >= r->count)
            lo = mid + 1;
        else
            return r->state == EXPECT_GEN && r->gen == h->gen && r->tag.writer_q == h->writer_q &&
                   r->tag.req_seq == h->req_seq;
    }
    return false;
}

bool inject_build(enum inject_pattern p, const uint8_t *cur, const uint8_t *donor, uint32_t bs,
                  uint64_t rng, uint8_t *out)
{
    struct blk_hdr h, d;
    if (!blk_size_valid(bs) || blk_check(cur, bs, &h) != BLK_OK)
        return false;
    switch (p) {
    case INJECT_FLIP:
        memcpy(out, cur, bs);
        for (int i = 0; i < 16; i++)
            out[BLK_HDR_SIZE + 100 + i] ^= 0xa5;
        return true;
    case INJECT_RANDOM: {
        uint64_t s = rng ^ h.lba;
        for (uint32_t i = 0; i < bs; i += 8) {
            uint64_t w = prng_splitmix64(&s);
            memcpy(out + i, &w, 8);
        }
        /* Never our magic, never all zero, whatever the seed. */
        out[0] = (uint8_t)('V' ^ 0x80);
        return true;
    }
    case INJECT_ZEROES:
        memset(out, 0, bs);
        return true;
    case INJECT_OTHER_LBA:
        if (!donor || blk_check(donor, bs, &d) != BLK_OK || d.lba == h.lba || d.seed != h.seed ||
            d.disk_tag != h.disk_tag)
            return false;
        memcpy(out, donor, bs);
        return true;
    case INJECT_OLD_GEN: {
        if (h.gen < 2)
            return false;
        /* What this LBA held one write earlier, had that write been data: a valid block of ours. */
        struct blk_stamp st = {.seed = h.seed, .disk_tag = h.disk_tag, .lba = h.lba,
                               .gen = h.gen - 1, .writer_q = h.writer_q,
                               .req_seq = h.req_seq ? h.req_seq - 1 : 0, .epoch = h.epoch};
        return blk_fill(out, bs, &st);
    }
    case INJECT_OTHER_DISK:
        if (!donor || blk_check(donor, bs, &d) != BLK_OK || d.lba != h.lba || d.seed != h.seed ||
            d.disk_tag == h.disk_tag)
            return false;
        memcpy(out, donor, bs);
        return true;
    case INJECT_PATTERN_COUNT:
        break;
    }
    return false;
}
