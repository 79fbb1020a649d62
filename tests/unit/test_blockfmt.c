/* test_blockfmt.c: crc32c, prng and the block format (kernel/crc32c.h, prng.h, blockfmt.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blockfmt.h"
#include "crc32c.h"
#include "prng.h"

/* Bit-at-a-time CRC-32C straight from the definition, to check the table-driven one against. */
static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return ~c;
}

static void test_crc32c_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];

    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
    /* RFC 3720 (iSCSI) appendix B.4 vectors. */
    memset(buf, 0, sizeof(buf));
    assert_int_equal(crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, sizeof(buf));
    assert_int_equal(crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(crc32c(0, buf, 32), 0x113FDB5Cu);
}

/* The instruction and the tables agree on every length, alignment and start state, and the
 * public functions give the same answers whichever is chosen. */
static void test_crc32c_hw_and_tables_agree(void **state)
{
    (void)state;
    static uint8_t buf[4096 + 8];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    if (!crc32c_hw_available()) {
        /* A CPU without SSE4.2: the tables are used, and the choice cannot be forced. */
        crc32c_use_hw(true);
        assert_false(crc32c_using_hw());
        return;
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n < 300; n++) {
            uint32_t st = (uint32_t)(n * 0x01000193u) ^ CRC32C_RAW_INIT;
            assert_int_equal(crc32c_raw_hw(st, buf + off, n), crc32c_raw_sw(st, buf + off, n));
        }
    assert_int_equal(crc32c_raw_hw(CRC32C_RAW_INIT, buf, 4096), crc32c_raw_sw(CRC32C_RAW_INIT, buf, 4096));
    for (int hw = 0; hw < 2; hw++) {
        crc32c_use_hw(hw);
        assert_int_equal(crc32c_using_hw(), hw);
        assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
        assert_int_equal(crc32c_raw_u64(CRC32C_RAW_INIT, 0x0706050403020100ull),
                         crc32c_raw_sw(CRC32C_RAW_INIT, "\0\1\2\3\4\5\6\7", 8));
    }
    crc32c_use_hw(true);
}

static void test_crc32c_chaining_and_alignment(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);

    /* Every start alignment and length, against the bitwise definition. */
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof(buf); n += 13)
            assert_int_equal(crc32c(0, buf + off, n), ref_crc32c(buf + off, n));
    for (size_t cut = 0; cut <= sizeof(buf); cut += 17)
        assert_int_equal(crc32c(crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut),
                         crc32c(0, buf, sizeof(buf)));
    /* The raw word step equals eight bytes in memory order. */
    uint64_t w = 0x0706050403020100ull;
    uint8_t b[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    assert_int_equal(~crc32c_raw_u64(CRC32C_RAW_INIT, w), ref_crc32c(b, 8));
}

static void test_prng_reference_vectors(void **state)
{
    (void)state;
    uint64_t sm = 0;
    assert_true(prng_splitmix64(&sm) == 0xE220A8397B1DCDAFull); /* published splitmix64(0) */

    struct prng p = {.s = {1, 2, 3, 4}}; /* published xoshiro256** outputs for this state */
    assert_true(prng_next(&p) == 11520);
    assert_true(prng_next(&p) == 0);
    assert_true(prng_next(&p) == 1509978240);
    assert_true(prng_next(&p) == 1215971899390074240ull);
}

static void test_prng_determinism(void **state)
{
    (void)state;
    struct prng a, b, c;
    prng_seed(&a, 42);
    prng_seed(&b, 42);
    prng_seed(&c, 43);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = prng_next(&a);
        assert_true(x == prng_next(&b));
        same_c += x == prng_next(&c);
    }
    assert_int_equal(same_c, 0);
    prng_seed(&a, 42);
    assert_true(prng_next(&a) == 0x15780B2E0C2EC716ull); /* frozen: payloads must not change */

    prng_seed(&a, 0); /* seed 0 must not give the all-zero state */
    assert_true(prng_next(&a) != 0 || prng_next(&a) != 0);
}

static void test_prng_below_and_range(void **state)
{
    (void)state;
    struct prng p;
    prng_seed(&p, 7);
    assert_true(prng_below(&p, 0) == 0);
    assert_true(prng_below(&p, 1) == 0);
    int hits[10] = {0};
    for (int i = 0; i < 10000; i++) {
        uint64_t v = prng_below(&p, 10);
        assert_true(v < 10);
        hits[v]++;
    }
    for (int i = 0; i < 10; i++) /* each ~1000; a broken generator misses whole values */
        assert_true(hits[i] > 800 && hits[i] < 1200);
    for (int i = 0; i < 1000; i++) {
        uint64_t big = prng_below(&p, (1ull << 63) + 1); /* rejection path is reachable */
        assert_true(big <= (1ull << 63));
        uint64_t r = prng_range(&p, 5, 8);
        assert_true(r >= 5 && r <= 8);
    }
    assert_true(prng_range(&p, 9, 3) == 9);
}

/* Power-of-two draws from the bit pool: in range, about uniform, n = 1 draws nothing, and the
 * pool is part of the state (same seed, same interleaving, same values). */
static void test_prng_below_pow2(void **state)
{
    (void)state;
    struct prng a, b;
    uint32_t hist[4] = {0};
    prng_seed(&a, 77);
    for (int i = 0; i < 40000; i++)
        hist[prng_below_pow2(&a, 4)]++;
    for (int i = 0; i < 4; i++)
        assert_in_range(hist[i], 9500, 10500);
    const uint64_t ns[] = {1, 2, 8, 512, 1ull << 31, 1ull << 32};
    prng_seed(&a, 5);
    prng_seed(&b, 5);
    for (int i = 0; i < 3000; i++) {
        uint64_t n = ns[i % 6], v = prng_below_pow2(&a, n);
        assert_true(v < n);
        assert_int_equal(v, prng_below_pow2(&b, n));
        if (i % 7 == 0)
            assert_int_equal(prng_below(&a, 1000), prng_below(&b, 1000));
    }
    /* n = 1 takes no bits: the next coin is the same as without it. */
    prng_seed(&a, 9);
    prng_seed(&b, 9);
    assert_int_equal(prng_below_pow2(&a, 1), 0);
    assert_int_equal(prng_below_pow2(&a, 512), prng_below_pow2(&b, 512));
    /* A draw of 64 bits' worth in coins refills exactly once: 32 two-bit coins from one word. */
    prng_seed(&a, 3);
    prng_seed(&b, 3);
    uint64_t word = prng_next(&b);
    for (int i = 0; i < 32; i++)
        assert_int_equal(prng_below_pow2(&a, 4), (word >> (2 * i)) & 3);
    assert_int_equal(prng_below_pow2(&a, 4), prng_next(&b) & 3);
}

static void test_prng_mix(void **state)
{
    (void)state;
    assert_true(prng_mix(1, 2, 3) == 0xCEAD1F2FA8F8A720ull); /* frozen: on-disk payloads use it */
    assert_true(prng_mix(1, 2, 3) != prng_mix(3, 2, 1));
    assert_true(prng_mix(1, 2, 3) != prng_mix(1, 2, 4));
    assert_true(prng_mix(0, 0, 0) != prng_mix(0, 0, 1));
}

static struct blk_stamp stamp_of(uint64_t lba, uint32_t gen)
{
    struct blk_stamp st = {.seed = 0x1234, .disk_tag = 0xD15C, .lba = lba, .gen = gen,
                           .writer_q = 3, .req_seq = 77, .epoch = 5};
    return st;
}

static void round_trip(uint32_t bs)
{
    uint8_t buf[BLK_SIZE_MAX];
    struct blk_stamp st = stamp_of(123456789012ull, 9);
    struct blk_hdr h;

    assert_true(blk_fill(buf, bs, &st));
    assert_int_equal(blk_check(buf, bs, &h), BLK_OK);
    assert_true(h.magic == BLK_MAGIC);
    assert_int_equal(h.version, BLK_VERSION);
    assert_int_equal(h.hdr_size, BLK_HDR_SIZE);
    assert_int_equal(h.blk_size, bs);
    assert_true(h.lba == st.lba);
    assert_int_equal(h.gen, 9);
    assert_int_equal(h.disk_tag, 0xD15C);
    assert_true(h.seed == 0x1234);
    assert_int_equal(h.writer_q, 3);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.req_seq, 77);
    assert_int_equal(h.epoch, 5);
    assert_int_equal(h.payload_crc, crc32c(0, buf + 64, bs - 64));
    assert_int_equal(blk_payload_diff(buf, bs, 0x1234, 0xD15C, st.lba, 9), bs);
}

static void test_blk_round_trip(void **state)
{
    (void)state;
    round_trip(512);
    round_trip(1024);
    round_trip(2048);
    round_trip(4096);
    uint8_t buf[BLK_SIZE_MAX];
    struct blk_stamp st = stamp_of(1, 1);
    assert_false(blk_fill(buf, 768, &st));
    assert_false(blk_fill(buf, 256, &st));
    assert_false(blk_fill(buf, 8192, &st));
}

/* The documented table: field offsets, little-endian, magic as text. */
static void test_blk_layout(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct blk_stamp st = {.seed = 0x0102030405060708ull, .disk_tag = 0xA1A2A3A4, .lba = 0x1122334455ull,
                           .gen = 0xB1B2B3B4, .writer_q = 0xC1C2, .req_seq = 0xD1D2D3D4,
                           .epoch = 0xE1E2E3E4};
    blk_fill(buf, 512, &st);
    assert_memory_equal(buf, "VQHBLK01", 8);
    uint8_t want[64] = {'V', 'Q', 'H', 'B', 'L', 'K', '0', '1', 1, 0, 64, 0, 0x00, 0x02, 0, 0,
                        0x55, 0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0xB4, 0xB3, 0xB2, 0xB1,
                        0xA4, 0xA3, 0xA2, 0xA1, 8, 7, 6, 5, 4, 3, 2, 1, 0xC2, 0xC1, 0, 0,
                        0xD4, 0xD3, 0xD2, 0xD1, 0xE4, 0xE3, 0xE2, 0xE1};
    assert_memory_equal(buf, want, 52);
    uint32_t pcrc = crc32c(0, buf + 64, 448);
    assert_int_equal(buf[52] | buf[53] << 8 | buf[54] << 16 | (uint32_t)buf[55] << 24, pcrc);
    uint32_t hcrc = buf[56] | buf[57] << 8 | buf[58] << 16 | (uint32_t)buf[59] << 24;
    assert_memory_equal(buf + 60, "\0\0\0\0", 4);
    memset(buf + 56, 0, 4);
    assert_int_equal(crc32c(0, buf, 64), hcrc);
}

/* The on-disk format is shared with images written by older builds: freeze it. */
static void test_blk_format_frozen(void **state)
{
    (void)state;
    uint8_t b[4096];
    struct blk_stamp st = {.seed = 0x0123456789ABCDEFull, .disk_tag = 0xFEEDBEEF, .lba = 42,
                           .gen = 3, .writer_q = 1, .req_seq = 2, .epoch = 4};

    blk_fill(b, 512, &st);
    assert_int_equal(crc32c(0, b, 512), 0x339DB728u);
    blk_fill(b, 4096, &st);
    assert_int_equal(crc32c(0, b, 4096), 0x0948FE8Fu);
    /* Payload word i as blockfmt.h documents it. */
    uint64_t base = prng_mix(st.seed, st.lba, (uint64_t)st.gen << 32 | st.disk_tag);
    for (uint32_t i = 0; i < (4096 - 64) / 8; i += 101) {
        uint64_t w;
        memcpy(&w, b + 64 + 8 * i, 8);
        assert_true(w == prng_fmix64(base + (uint64_t)(i + 1) * PRNG_GOLDEN));
    }
}

static void test_blk_payload_depends_only_on_identity(void **state)
{
    (void)state;
    uint8_t a[4096], b[4096];
    struct blk_stamp sa = stamp_of(100, 4), sb = sa;

    sb.writer_q = 9;
    sb.req_seq = 1000;
    sb.epoch = 77;
    blk_fill(a, 4096, &sa);
    blk_fill(b, 4096, &sb);
    assert_memory_equal(a + 64, b + 64, 4096 - 64);
    assert_memory_not_equal(a, b, 64);

    /* Each of seed, disk tag, lba, generation changes the payload. */
    struct blk_stamp v[4] = {sa, sa, sa, sa};
    v[0].seed++;
    v[1].disk_tag++;
    v[2].lba++;
    v[3].gen++;
    for (int i = 0; i < 4; i++) {
        blk_fill(b, 4096, &v[i]);
        assert_memory_not_equal(a + 64, b + 64, 64);
    }
    blk_fill(b, 4096, &sa); /* and it is deterministic */
    assert_memory_equal(a, b, 4096);
}

static void test_blk_check_outcomes(void **state)
{
    (void)state;
    uint8_t buf[4096];
    struct blk_stamp st = stamp_of(55, 2);
    struct blk_hdr h;

    memset(buf, 0, sizeof(buf));
    assert_int_equal(blk_check(buf, 4096, &h), BLK_ZERO);

    buf[4095] = 1; /* zero except the last byte: no magic, not zero */
    assert_int_equal(blk_check(buf, 4096, &h), BLK_NO_HEADER);
    for (int i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i * 31 + 1);
    assert_int_equal(blk_check(buf, 4096, &h), BLK_NO_HEADER);

    blk_fill(buf, 4096, &st);
    buf[20] ^= 0x40; /* lba bits: header checksum must catch it, and decode still shows it */
    assert_int_equal(blk_check(buf, 4096, &h), BLK_BAD_HDR_CRC);
    assert_true(h.lba == (55 ^ (0x40ull << 32)));

    blk_fill(buf, 4096, &st);
    buf[4000] ^= 1;
    assert_int_equal(blk_check(buf, 4096, &h), BLK_BAD_PAYLOAD_CRC);
    assert_true(h.lba == 55);
    assert_int_equal(blk_payload_diff(buf, 4096, st.seed, st.disk_tag, 55, 2), 4000);

    /* A 512-byte block read as 4096: header valid, sizes wrong. */
    blk_fill(buf, 512, &st);
    assert_int_equal(blk_check(buf, 4096, &h), BLK_BAD_FORMAT);
    assert_int_equal(h.blk_size, 512);

    assert_string_equal(blk_status_name(BLK_BAD_FORMAT), "bad_format");
    assert_int_equal(blk_check(buf, 512, NULL), BLK_OK);
}

static void test_blk_expected_bytes(void **state)
{
    (void)state;
    uint8_t blk[2048], part[2048];
    struct blk_stamp st = stamp_of(9, 3);
    blk_fill(blk, 2048, &st);

    uint32_t offs[] = {0, 1, 7, 50, 63, 64, 65, 71, 1000, 2040, 2047};
    uint32_t lens[] = {1, 3, 8, 14, 32, 100};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
        for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
            uint32_t len = lens[j];
            if (len > 2048 - offs[i])
                len = 2048 - offs[i];
            memset(part, 0xAA, sizeof(part));
            blk_expected_bytes(&st, 2048, offs[i], part, lens[j]);
            assert_memory_equal(part, blk + offs[i], len);
            assert_int_equal(part[len], 0xAA); /* nothing past the block */
        }
    blk_expected_bytes(&st, 2048, 0, part, 2048);
    assert_memory_equal(part, blk, 2048);
}

static void test_blk_helpers(void **state)
{
    (void)state;
    uint8_t a[40], b[40];
    for (int i = 0; i < 40; i++)
        a[i] = b[i] = (uint8_t)i;
    assert_int_equal(blk_first_diff(a, b, 40), 40);
    b[13] ^= 0x80;
    assert_int_equal(blk_first_diff(a, b, 40), 13);
    b[13] ^= 0x80;
    b[38] = 0;
    assert_int_equal(blk_first_diff(a, b, 40), 38);
    assert_int_equal(blk_first_diff(a, b, 38), 38);

    memset(a, 0, sizeof(a));
    assert_true(blk_is_zero(a, 40));
    a[39] = 1;
    assert_false(blk_is_zero(a, 40));
    assert_true(blk_is_zero(a, 39));

    assert_true(blk_size_valid(512) && blk_size_valid(4096));
    assert_false(blk_size_valid(0) || blk_size_valid(513) || blk_size_valid(8192));
    assert_int_equal(blk_disk_tag("vqh0", 4), crc32c(0, "vqh0", 4));
    assert_int_not_equal(blk_disk_tag("vqh0", 4), blk_disk_tag("vqh1", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_chaining_and_alignment),
        cmocka_unit_test(test_crc32c_hw_and_tables_agree),
        cmocka_unit_test(test_prng_reference_vectors),
        cmocka_unit_test(test_prng_determinism),
        cmocka_unit_test(test_prng_below_and_range),
        cmocka_unit_test(test_prng_below_pow2),
        cmocka_unit_test(test_prng_mix),
        cmocka_unit_test(test_blk_round_trip),
        cmocka_unit_test(test_blk_layout),
        cmocka_unit_test(test_blk_format_frozen),
        cmocka_unit_test(test_blk_payload_depends_only_on_identity),
        cmocka_unit_test(test_blk_check_outcomes),
        cmocka_unit_test(test_blk_expected_bytes),
        cmocka_unit_test(test_blk_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
