/*
 * blockfmt.c: writing and checking self-describing blocks. Every block of every write and read
 * in the guest passes through here, under TCG, so the payload is made and compared eight bytes
 * at a time and never copied.
 */
#include "blockfmt.h"
#include "crc32c.h"
#include "prng.h"

#define BLK_OFF_HDR_CRC 56

static inline uint64_t blk_ld64(const uint8_t *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, 8); /* inline even under -fno-builtin */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void blk_st64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    __builtin_memcpy(p, &v, 8);
}

static inline uint32_t blk_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void blk_st32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t blk_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline void blk_st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline uint64_t blk_payload_base(uint64_t seed, uint32_t disk_tag, uint64_t lba,
                                        uint32_t gen)
{
    return prng_mix(seed, lba, (uint64_t)gen << 32 | disk_tag);
}

/* Payload word i: counter mode, so any word can be made without the ones before it. */
static inline uint64_t blk_payload_word(uint64_t base, uint32_t i)
{
    return prng_fmix64(base + (uint64_t)(i + 1) * PRNG_GOLDEN);
}

bool blk_size_valid(uint32_t blk_size)
{
    return blk_size >= BLK_SIZE_MIN && blk_size <= BLK_SIZE_MAX &&
           (blk_size & (blk_size - 1)) == 0;
}

uint32_t blk_disk_tag(const char *serial, size_t len)
{
    return crc32c(0, serial, len);
}

/* The 64 header bytes for st, payload crc given, header crc computed. */
static void blk_hdr_build(uint8_t *h, uint32_t blk_size, const struct blk_stamp *st,
                          uint32_t payload_crc)
{
    blk_st64(h + 0, BLK_MAGIC);
    blk_st16(h + 8, BLK_VERSION);
    blk_st16(h + 10, BLK_HDR_SIZE);
    blk_st32(h + 12, blk_size);
    blk_st64(h + 16, st->lba);
    blk_st32(h + 24, st->gen);
    blk_st32(h + 28, st->disk_tag);
    blk_st64(h + 32, st->seed);
    blk_st16(h + 40, st->writer_q);
    blk_st16(h + 42, 0);
    blk_st32(h + 44, st->req_seq);
    blk_st32(h + 48, st->epoch);
    blk_st32(h + 52, payload_crc);
    blk_st32(h + 56, 0);
    blk_st32(h + 60, 0);
    blk_st32(h + BLK_OFF_HDR_CRC, crc32c(0, h, BLK_HDR_SIZE));
}

bool blk_fill(void *buf, uint32_t blk_size, const struct blk_stamp *st)
{
    uint8_t *b = buf;
    uint64_t base = blk_payload_base(st->seed, st->disk_tag, st->lba, st->gen);
    uint32_t words = (blk_size - BLK_HDR_SIZE) / 8;

    if (!blk_size_valid(blk_size))
        return false;
    for (uint32_t i = 0; i < words; i++)
        blk_st64(b + BLK_HDR_SIZE + 8 * i, blk_payload_word(base, i));
    /* A second pass over cached data beats a checksum call per word. */
    blk_hdr_build(b, blk_size, st, crc32c(0, b + BLK_HDR_SIZE, blk_size - BLK_HDR_SIZE));
    return true;
}

void blk_hdr_decode(const void *buf, struct blk_hdr *hdr)
{
    const uint8_t *h = buf;

    hdr->magic = blk_ld64(h + 0);
    hdr->version = blk_ld16(h + 8);
    hdr->hdr_size = blk_ld16(h + 10);
    hdr->blk_size = blk_ld32(h + 12);
    hdr->lba = blk_ld64(h + 16);
    hdr->gen = blk_ld32(h + 24);
    hdr->disk_tag = blk_ld32(h + 28);
    hdr->seed = blk_ld64(h + 32);
    hdr->writer_q = blk_ld16(h + 40);
    hdr->flags = blk_ld16(h + 42);
    hdr->req_seq = blk_ld32(h + 44);
    hdr->epoch = blk_ld32(h + 48);
    hdr->payload_crc = blk_ld32(h + 52);
    hdr->hdr_crc = blk_ld32(h + 56);
}

enum blk_status blk_check_header(const void *buf, uint32_t blk_size, struct blk_hdr *hdr_out)
{
    const uint8_t *b = buf;
    struct blk_hdr tmp, *h = hdr_out ? hdr_out : &tmp;
    uint8_t raw[BLK_HDR_SIZE];

    blk_hdr_decode(b, h);
    if (h->magic != BLK_MAGIC)
        return blk_is_zero(b, blk_size) ? BLK_ZERO : BLK_NO_HEADER;
    memcpy(raw, b, BLK_HDR_SIZE);
    blk_st32(raw + BLK_OFF_HDR_CRC, 0);
    if (crc32c(0, raw, BLK_HDR_SIZE) != h->hdr_crc)
        return BLK_BAD_HDR_CRC;
    if (h->version != BLK_VERSION || h->hdr_size != BLK_HDR_SIZE || h->blk_size != blk_size)
        return BLK_BAD_FORMAT;
    return BLK_OK;
}

bool blk_payload_crc_ok(const void *buf, uint32_t blk_size, const struct blk_hdr *h)
{
    const uint8_t *b = buf;
    return crc32c(0, b + BLK_HDR_SIZE, blk_size - BLK_HDR_SIZE) == h->payload_crc;
}

enum blk_status blk_check(const void *buf, uint32_t blk_size, struct blk_hdr *hdr_out)
{
    struct blk_hdr tmp, *h = hdr_out ? hdr_out : &tmp;
    enum blk_status s = blk_check_header(buf, blk_size, h);
    if (s == BLK_OK && !blk_payload_crc_ok(buf, blk_size, h))
        return BLK_BAD_PAYLOAD_CRC;
    return s;
}

const char *blk_status_name(enum blk_status s)
{
    switch (s) {
    case BLK_OK: return "ok";
    case BLK_ZERO: return "zero";
    case BLK_NO_HEADER: return "no_header";
    case BLK_BAD_HDR_CRC: return "bad_header_crc";
    case BLK_BAD_FORMAT: return "bad_format";
    case BLK_BAD_PAYLOAD_CRC: return "bad_payload_crc";
    }
    return "?";
}

void blk_expected_bytes(const struct blk_stamp *st, uint32_t blk_size, uint32_t off, void *out,
                        uint32_t len)
{
    uint8_t *o = out;
    uint64_t base = blk_payload_base(st->seed, st->disk_tag, st->lba, st->gen);

    if (off >= blk_size)
        return;
    if (len > blk_size - off)
        len = blk_size - off;
    if (off < BLK_HDR_SIZE) {
        /* The header needs the payload crc: regenerate the payload's checksum. */
        uint8_t h[BLK_HDR_SIZE];
        uint32_t crc = CRC32C_RAW_INIT;
        for (uint32_t i = 0; i < (blk_size - BLK_HDR_SIZE) / 8; i++)
            crc = crc32c_raw_u64(crc, blk_payload_word(base, i));
        blk_hdr_build(h, blk_size, st, ~crc);
        uint32_t n = MIN(len, BLK_HDR_SIZE - off);
        memcpy(o, h + off, n);
        o += n;
        off += n;
        len -= n;
    }
    while (len) {
        uint32_t p = off - BLK_HDR_SIZE;
        uint8_t w[8];
        blk_st64(w, blk_payload_word(base, p / 8));
        uint32_t n = MIN(len, 8 - p % 8);
        memcpy(o, w + p % 8, n);
        o += n;
        off += n;
        len -= n;
    }
}

uint32_t blk_payload_diff(const void *buf, uint32_t blk_size, uint64_t seed, uint32_t disk_tag,
                          uint64_t lba, uint32_t gen)
{
    const uint8_t *b = (const uint8_t *)buf + BLK_HDR_SIZE;
    uint64_t base = blk_payload_base(seed, disk_tag, lba, gen);
    uint32_t words = (blk_size - BLK_HDR_SIZE) / 8;

    for (uint32_t i = 0; i < words; i++) {
        uint64_t x = blk_ld64(b + 8 * i) ^ blk_payload_word(base, i);
        if (x)
            return BLK_HDR_SIZE + 8 * i + (uint32_t)(__builtin_ctzll(x) / 8);
    }
    return blk_size;
}

size_t blk_first_diff(const void *a, const void *b, size_t n)
{
    const uint8_t *pa = a, *pb = b;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t x = blk_ld64(pa + i) ^ blk_ld64(pb + i);
        if (x)
            return i + (size_t)(__builtin_ctzll(x) / 8);
    }
    for (; i < n; i++)
        if (pa[i] != pb[i])
            return i;
    return n;
}

bool blk_is_zero(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        if (blk_ld64(p + i))
            return false;
    for (; i < n; i++)
        if (p[i])
            return false;
    return true;
}
