/*
 * test_verify.c: every detection class of kernel/verify.h is proven by injecting exactly that
 * fault into a simulated disk; the accepting rules (in-flight writes, unknown states) too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blockfmt.h"
#include "crc32c.h"
#include "expect.h"
#include "verify.h"
#include "wire.h"

#define BASE 5000
#define NBLK 32
#define ALL 0xFFFFFFFFFFFFFFFFull

/* A disk, its expected-state table and the writer's identity. */
struct sim {
    struct verify_ctx ctx;
    struct expect *e;
    uint64_t tbl[(32 + NBLK * 24) / 8];
    uint8_t disk[NBLK * 4096];
    uint8_t data[NBLK * 4096];
    struct expect_snap snap[NBLK];
    struct verify_result res;
};

static struct sim *sim_new(uint32_t bs)
{
    static struct sim s;
    memset(&s, 0, sizeof(s));
    s.ctx.seed = 0xC0FFEE;
    s.ctx.disk_tag = blk_disk_tag("vqh-disk0", 9);
    s.ctx.blk_size = bs;
    s.e = expect_init(s.tbl, sizeof(s.tbl), BASE, NBLK);
    assert_non_null(s.e);
    return &s;
}

static uint8_t *blk(struct sim *s, uint64_t lba)
{
    return s->disk + (lba - BASE) * s->ctx.blk_size;
}

/* Block as the writer (q, seq) would stamp it. */
static void stamp_block(struct sim *s, uint8_t *dst, uint64_t lba, uint32_t gen, uint16_t q,
                        uint32_t seq)
{
    struct blk_stamp st = {.seed = s->ctx.seed, .disk_tag = s->ctx.disk_tag, .lba = lba,
                           .gen = gen, .writer_q = q, .req_seq = seq, .epoch = 1};
    assert_true(blk_fill(dst, s->ctx.blk_size, &st));
}

/* A completed write: the device stores the blocks whose bit is set in `lands`. */
static void sim_write(struct sim *s, uint64_t lba, uint32_t n, enum expect_state kind,
                      uint16_t q, uint32_t seq, uint64_t lands)
{
    uint32_t gens[NBLK];
    struct expect_tag t = {q, seq};
    assert_true(expect_begin_write(s->e, lba, n, kind, t, gens));
    for (uint32_t i = 0; i < n; i++) {
        if (!(lands >> i & 1))
            continue;
        if (kind == EXPECT_GEN)
            stamp_block(s, blk(s, lba + i), lba + i, gens[i], q, seq);
        else
            memset(blk(s, lba + i), 0, s->ctx.blk_size);
    }
    assert_true(expect_end_write(s->e, lba, n, true));
}

static void sim_snap(struct sim *s, uint64_t lba, uint32_t n)
{
    if (expect_begin_read(s->e, lba, n, s->snap) == 0) /* maybe left unwritten (expect.h) */
        for (uint32_t i = 0; i < n; i++)
            assert_true(expect_get(s->e, lba + i, &s->snap[i]));
    memcpy(s->data, blk(s, lba), (size_t)n * s->ctx.blk_size);
}

static bool sim_check(struct sim *s, uint64_t lba, uint32_t n)
{
    bool ok = verify_read(&s->ctx, lba, n, s->data, s->snap, &s->res);
    assert_true(expect_end_read(s->e, lba, n, s->snap));
    assert_int_equal(ok, s->res.ok);
    return ok;
}

static bool sim_read(struct sim *s, uint64_t lba, uint32_t n)
{
    sim_snap(s, lba, n);
    return sim_check(s, lba, n);
}

static void assert_bad(struct sim *s, enum verify_class cls, const char *name, uint32_t index,
                       uint32_t bad_count)
{
    assert_false(s->res.ok);
    assert_int_equal(s->res.cls, cls);
    assert_string_equal(s->res.class_name, name);
    assert_int_equal(s->res.index, index);
    assert_int_equal(s->res.bad_count, bad_count);
}

/* The dumps show what differs at the reported offset. */
static void assert_dumps(struct sim *s, uint32_t offset)
{
    assert_int_equal(s->res.offset, offset);
    assert_int_equal(s->res.dump_len, MIN(VERIFY_DUMP_MAX, s->ctx.blk_size - offset));
    assert_int_not_equal(s->res.dump_expected[0], s->res.dump_found[0]);
    assert_memory_equal(s->res.dump_found, s->data + (size_t)s->res.index * s->ctx.blk_size + offset,
                        s->res.dump_len);
}

static void test_clean_reads_pass(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE, 8, EXPECT_GEN, 0, 1, ALL);
    sim_write(s, BASE + 2, 3, EXPECT_GEN, 1, 1, ALL);
    sim_write(s, BASE + 8, 4, EXPECT_ZERO, 1, 2, ALL);
    assert_true(sim_read(s, BASE, 16));
    assert_int_equal(s->res.bad_count, 0);
    assert_null(s->res.class_name);
    assert_int_equal(s->res.checked, 12); /* blocks 12..15 were never written: nothing to judge */
    assert_true(sim_read(s, BASE + 12, 4));
    assert_int_equal(s->res.checked, 0);
}

static void test_corrupt_payload_byte(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE, 4, EXPECT_GEN, 2, 7, ALL);
    blk(s, BASE + 2)[1000] ^= 0x10;
    assert_false(sim_read(s, BASE, 4));
    assert_bad(s, VERIFY_CORRUPT, WIRE_ERR_CORRUPT, 2, 1);
    assert_true(s->res.lba == BASE + 2);
    assert_int_equal(s->res.found_status, BLK_BAD_PAYLOAD_CRC);
    assert_int_equal(s->res.expected_state, EXPECT_GEN);
    assert_int_equal(s->res.expected_gen, 1);
    assert_int_equal(s->res.expected_tag.writer_q, 2);
    assert_int_equal(s->res.expected_tag.req_seq, 7);
    assert_int_equal(s->res.found.gen, 1);
    assert_true(s->res.found.lba == BASE + 2);
    assert_dumps(s, 1000);
    assert_int_equal(s->res.dump_expected[0] ^ s->res.dump_found[0], 0x10);
    assert_memory_equal(s->res.dump_expected + 1, s->res.dump_found + 1, VERIFY_DUMP_MAX - 1);
}

static void test_corrupt_header_byte(void **state)
{
    (void)state;
    struct sim *s = sim_new(512);
    sim_write(s, BASE, 2, EXPECT_GEN, 0, 1, ALL);
    blk(s, BASE + 1)[45] ^= 0x01; /* request sequence: only the header checksum can tell */
    assert_false(sim_read(s, BASE, 2));
    assert_bad(s, VERIFY_CORRUPT, WIRE_ERR_CORRUPT, 1, 1);
    assert_int_equal(s->res.found_status, BLK_BAD_HDR_CRC);
    assert_int_equal(s->res.found.req_seq, 1 ^ 0x100); /* decoded though invalid */
    assert_dumps(s, 45);
}

/* Checksums right, payload not ours: a writer that stamped a wrong payload. */
static void test_corrupt_payload_with_valid_checksums(void **state)
{
    (void)state;
    struct sim *s = sim_new(1024);
    sim_write(s, BASE, 1, EXPECT_GEN, 0, 1, ALL);
    uint8_t *b = blk(s, BASE);
    b[700] ^= 0xFF;
    uint32_t pcrc = crc32c(0, b + 64, 1024 - 64);
    memcpy(b + 52, &pcrc, 4);
    memset(b + 56, 0, 4);
    uint32_t hcrc = crc32c(0, b, 64);
    memcpy(b + 56, &hcrc, 4);
    assert_int_equal(blk_check(b, 1024, NULL), BLK_OK);
    assert_false(sim_read(s, BASE, 1));
    assert_bad(s, VERIFY_CORRUPT, WIRE_ERR_CORRUPT, 0, 1);
    assert_int_equal(s->res.found_status, BLK_OK);
    assert_dumps(s, 52); /* the stored payload crc is the first byte off the expected block */
}

static void test_misdirected_other_lba(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE, 8, EXPECT_GEN, 3, 9, ALL);
    memcpy(blk(s, BASE + 5), blk(s, BASE + 6), 4096); /* a write that landed one block off */
    assert_false(sim_read(s, BASE, 8));
    assert_bad(s, VERIFY_MISDIRECTED, WIRE_ERR_MISDIRECTED, 5, 1);
    assert_true(s->res.lba == BASE + 5);
    assert_int_equal(s->res.found_status, BLK_OK);
    assert_true(s->res.found.lba == BASE + 6);
    assert_int_equal(s->res.found.disk_tag, s->ctx.disk_tag);
    assert_dumps(s, 16); /* the lba field */
}

static void test_misdirected_other_disk(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE, 1, EXPECT_GEN, 0, 1, ALL);
    struct blk_stamp st = {.seed = s->ctx.seed, .disk_tag = blk_disk_tag("vqh-disk1", 9),
                           .lba = BASE, .gen = 1, .writer_q = 0, .req_seq = 1, .epoch = 1};
    blk_fill(blk(s, BASE), 4096, &st);
    blk(s, BASE)[3000] ^= 1; /* also corrupt: the foreign header still decides */
    assert_false(sim_read(s, BASE, 1));
    assert_bad(s, VERIFY_MISDIRECTED_DISK, WIRE_ERR_MISDIRECTED_DISK, 0, 1);
    assert_int_equal(s->res.found.disk_tag, st.disk_tag);
    assert_int_equal(s->res.found_status, BLK_BAD_PAYLOAD_CRC);
    assert_dumps(s, 28); /* the disk tag field */
}

static void test_stale_lost_write(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE + 3, 1, EXPECT_GEN, 1, 1, ALL);
    sim_write(s, BASE + 3, 1, EXPECT_GEN, 1, 2, ALL);
    sim_write(s, BASE + 3, 1, EXPECT_GEN, 2, 5, 0); /* acknowledged, never stored */
    assert_false(sim_read(s, BASE + 3, 1));
    assert_bad(s, VERIFY_STALE, WIRE_ERR_STALE, 0, 1);
    assert_true(s->res.lba == BASE + 3);
    assert_int_equal(s->res.expected_gen, 3);
    assert_int_equal(s->res.expected_tag.writer_q, 2);
    assert_int_equal(s->res.expected_tag.req_seq, 5);
    assert_int_equal(s->res.found.gen, 2);
    assert_int_equal(s->res.found.req_seq, 2);
    assert_int_equal(s->res.torn_peer, -1);
    assert_dumps(s, 24); /* the generation field */
}

/* An old generation whose payload is damaged too: corrupt, not stale (the payload checksum,
 * skipped on the hot path, is checked once the block is not the one expected). */
static void test_stale_with_corrupt_payload_is_corrupt(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE + 3, 1, EXPECT_GEN, 1, 1, ALL);
    sim_write(s, BASE + 3, 1, EXPECT_GEN, 2, 5, 0); /* acknowledged, never stored */
    blk(s, BASE + 3)[2000] ^= 0x40;
    assert_false(sim_read(s, BASE + 3, 1));
    assert_bad(s, VERIFY_CORRUPT, WIRE_ERR_CORRUPT, 0, 1);
    assert_int_equal(s->res.found_status, BLK_BAD_PAYLOAD_CRC);
    assert_int_equal(s->res.found.gen, 1);
}

/* An earlier run's block where our write should be: what was there before it, so unwritten
 * (not stale: no older generation of ours was ever there). */
static void test_unwritten_other_run(void **state)
{
    (void)state;
    struct sim *s = sim_new(512);
    sim_write(s, BASE, 1, EXPECT_GEN, 0, 1, 0);
    struct blk_stamp st = {.seed = 1, .disk_tag = s->ctx.disk_tag, .lba = BASE, .gen = 1};
    blk_fill(blk(s, BASE), 512, &st); /* left by an earlier run with another seed */
    assert_false(sim_read(s, BASE, 1));
    assert_bad(s, VERIFY_UNWRITTEN, WIRE_ERR_UNWRITTEN, 0, 1);
    assert_true(s->res.found.seed == 1);
    /* even when that run wrote it for another disk or LBA: it was there before us */
    st.disk_tag ^= 1;
    st.lba = BASE + 3;
    blk_fill(blk(s, BASE), 512, &st);
    assert_false(sim_read(s, BASE, 1));
    assert_bad(s, VERIFY_UNWRITTEN, WIRE_ERR_UNWRITTEN, 0, 1);
}

static void test_phantom_generation(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE, 4, EXPECT_GEN, 0, 1, ALL);
    sim_write(s, BASE, 4, EXPECT_GEN, 0, 2, ALL);
    stamp_block(s, blk(s, BASE + 1), BASE + 1, 7, 0, 2); /* generation 7 was never issued */
    assert_false(sim_read(s, BASE, 4));
    assert_bad(s, VERIFY_PHANTOM, WIRE_ERR_PHANTOM, 1, 1);
    assert_true(s->res.lba == BASE + 1);
    assert_int_equal(s->res.expected_gen, 2);
    assert_int_equal(s->res.found.gen, 7);
    assert_dumps(s, 24);
}

static void test_phantom_writer(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE, 1, EXPECT_GEN, 4, 40, ALL);
    stamp_block(s, blk(s, BASE), BASE, 1, 4, 41); /* right generation, a request never sent */
    assert_false(sim_read(s, BASE, 1));
    assert_bad(s, VERIFY_PHANTOM, WIRE_ERR_PHANTOM, 0, 1);
    assert_int_equal(s->res.found.req_seq, 41);
    assert_dumps(s, 44);
}

static void test_torn_write(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE, 8, EXPECT_GEN, 1, 1, ALL);
    sim_write(s, BASE, 8, EXPECT_GEN, 1, 2, 0x0F); /* only the first half landed */
    assert_false(sim_read(s, BASE, 8));
    assert_bad(s, VERIFY_TORN, WIRE_ERR_TORN, 4, 4);
    assert_true(s->res.lba == BASE + 4);
    assert_true(s->res.torn_peer >= 0 && s->res.torn_peer < 4);
    assert_int_equal(s->res.expected_gen, 2);
    assert_int_equal(s->res.found.gen, 1);
    assert_dumps(s, 24);

    /* The other half landing instead: still torn, reported at the first block. */
    sim_write(s, BASE, 8, EXPECT_GEN, 1, 3, 0xF0);
    assert_false(sim_read(s, BASE, 8));
    assert_bad(s, VERIFY_TORN, WIRE_ERR_TORN, 0, 4);
    assert_true(s->res.torn_peer >= 4);

    /* Control: stale blocks next to current ones of ANOTHER write are just stale. */
    sim_write(s, BASE + 16, 4, EXPECT_GEN, 2, 0, ALL);
    sim_write(s, BASE + 16, 2, EXPECT_GEN, 2, 1, ALL);
    sim_write(s, BASE + 18, 2, EXPECT_GEN, 2, 2, 0);
    assert_false(sim_read(s, BASE + 16, 4));
    assert_bad(s, VERIFY_STALE, WIRE_ERR_STALE, 2, 2);
    assert_int_equal(s->res.torn_peer, -1);
}

static void test_nonzero_after_write_zeroes(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    sim_write(s, BASE, 4, EXPECT_GEN, 0, 1, ALL);
    sim_write(s, BASE, 4, EXPECT_ZERO, 0, 2, 0x0B); /* block 2 kept its data */
    assert_false(sim_read(s, BASE, 4));
    assert_bad(s, VERIFY_NONZERO, WIRE_ERR_NONZERO, 2, 1);
    assert_true(s->res.lba == BASE + 2);
    assert_int_equal(s->res.expected_state, EXPECT_ZERO);
    assert_int_equal(s->res.found_status, BLK_OK);
    assert_int_equal(s->res.found.gen, 1);
    assert_dumps(s, 0);
    assert_memory_equal(s->res.dump_expected, (uint8_t[VERIFY_DUMP_MAX]){0}, VERIFY_DUMP_MAX);
}

static void test_unwritten(void **state)
{
    (void)state;
    struct sim *s = sim_new(2048);
    sim_write(s, BASE, 3, EXPECT_GEN, 5, 50, 0x5); /* block 1 never stored: still zero */
    assert_false(sim_read(s, BASE, 3));
    assert_bad(s, VERIFY_UNWRITTEN, WIRE_ERR_UNWRITTEN, 1, 1);
    assert_true(s->res.lba == BASE + 1);
    assert_int_equal(s->res.found_status, BLK_ZERO);
    assert_int_equal(s->res.expected_gen, 1);
    assert_dumps(s, 0);
    assert_memory_equal(s->res.dump_expected, "VQHBLK01", 8);

}

/* Random bytes over a written block are corruption, not "unwritten": a fresh disk holds zeroes. */
static void test_random_bytes_are_corrupt(void **state)
{
    (void)state;
    struct sim *s = sim_new(2048);
    sim_write(s, BASE, 3, EXPECT_GEN, 5, 50, ALL);
    for (int i = 0; i < 2048; i++)
        blk(s, BASE + 1)[i] = (uint8_t)(i * 13 + 1);
    assert_false(sim_read(s, BASE, 3));
    assert_bad(s, VERIFY_CORRUPT, WIRE_ERR_CORRUPT, 1, 1);
    assert_true(s->res.lba == BASE + 1);
    assert_int_equal(s->res.found_status, BLK_NO_HEADER);
    assert_dumps(s, 0);
}

static void test_first_bad_block_and_count(void **state)
{
    (void)state;
    struct sim *s = sim_new(512);
    sim_write(s, BASE, 6, EXPECT_GEN, 0, 1, ALL);
    memset(blk(s, BASE + 4), 0, 512);
    blk(s, BASE + 1)[300] ^= 1;
    assert_false(sim_read(s, BASE, 6));
    assert_bad(s, VERIFY_CORRUPT, WIRE_ERR_CORRUPT, 1, 2);
}

/* A read submitted while a write is in flight sees old, new or a mix: all fine. */
static void test_inflight_accepts_old_new_or_mix(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    uint32_t gens[4];
    struct expect_tag t = {6, 60};
    uint8_t newb[4][4096];

    sim_write(s, BASE, 4, EXPECT_GEN, 6, 59, ALL);
    assert_true(expect_begin_write(s->e, BASE, 4, EXPECT_GEN, t, gens));
    for (int i = 0; i < 4; i++)
        stamp_block(s, newb[i], BASE + i, gens[i], 6, 60);
    sim_snap(s, BASE, 4);
    memcpy(s->data + 1 * 4096, newb[1], 4096);           /* block 1 new */
    memcpy(s->data + 2 * 4096, newb[2], 2048);           /* block 2 half new, half old */
    memcpy(s->data + 3 * 4096 + 1001, newb[3] + 1001, 7); /* block 3 old with a few new bytes */
    assert_true(sim_check(s, BASE, 4));

    /* Still judged: a corrupt byte, or a generation past the pending one, is caught. */
    sim_snap(s, BASE, 4);
    memcpy(s->data + 2 * 4096, newb[2], 4096);
    s->data[2 * 4096 + 2000] ^= 0x55;
    assert_false(sim_check(s, BASE, 4));
    assert_bad(s, VERIFY_CORRUPT, WIRE_ERR_CORRUPT, 2, 1);
    assert_int_equal(s->res.expected_gen, 2); /* judged against the pending write it carries */
    assert_true(s->res.expected.inflight);
    assert_dumps(s, 2000);

    sim_snap(s, BASE, 4);
    stamp_block(s, s->data, BASE, 3, 6, 60);
    assert_false(sim_check(s, BASE, 4));
    assert_bad(s, VERIFY_PHANTOM, WIRE_ERR_PHANTOM, 0, 1);
    assert_true(expect_end_write(s->e, BASE, 4, true));
}

static void test_inflight_zeroes(void **state)
{
    (void)state;
    struct sim *s = sim_new(512);
    struct expect_tag t = {0, 9};
    sim_write(s, BASE, 2, EXPECT_GEN, 0, 8, ALL);
    assert_true(expect_begin_write(s->e, BASE, 2, EXPECT_ZERO, t, NULL));
    sim_snap(s, BASE, 2);
    memset(s->data, 0, 512);       /* block 0 zeroed already, block 1 not yet */
    memset(s->data + 512, 0, 100); /* or partly */
    assert_true(sim_check(s, BASE, 2));
    assert_true(expect_end_write(s->e, BASE, 2, true));
    memset(blk(s, BASE), 0, 512);
    assert_false(sim_read(s, BASE, 2)); /* once done, zeroes only */
    assert_bad(s, VERIFY_NONZERO, WIRE_ERR_NONZERO, 1, 1);
}

static void test_unknown_states_accept_anything(void **state)
{
    (void)state;
    struct sim *s = sim_new(4096);
    struct expect_tag t = {0, 3};
    sim_write(s, BASE + 4, 2, EXPECT_DISCARDED, 0, 1, ALL);
    assert_true(expect_begin_write(s->e, BASE + 6, 2, EXPECT_GEN, t, NULL));
    assert_true(expect_end_write(s->e, BASE + 6, 2, false)); /* FAILED */
    for (size_t i = 0; i < 8 * 4096; i++) /* UNKNOWN 0..3, DISCARDED 4..5, FAILED 6..7 */
        s->disk[i] = (uint8_t)(i * 7 + 3);
    stamp_block(s, blk(s, BASE + 5), BASE + 9, 99, 1, 1); /* even misdirected/phantom data */
    stamp_block(s, blk(s, BASE + 7), BASE + 7, 99, 1, 1);
    memset(blk(s, BASE + 1), 0, 4096);
    assert_true(sim_read(s, BASE, 8));
    assert_int_equal(expect_get(s->e, BASE + 6, &s->snap[0]), true);
    assert_int_equal(s->snap[0].state, EXPECT_FAILED);
}

static void test_class_names(void **state)
{
    (void)state;
    assert_null(verify_class_name(VERIFY_OK));
    assert_string_equal(verify_class_name(VERIFY_TORN), WIRE_ERR_TORN);
    assert_string_equal(verify_class_name(VERIFY_UNWRITTEN), "unwritten");
    assert_string_equal(verify_class_name(VERIFY_MISDIRECTED_DISK), "misdirected_disk");
    struct verify_ctx bad = {.seed = 1, .disk_tag = 1, .blk_size = 100};
    struct verify_result r;
    struct expect_snap sn = {0};
    uint8_t d[512] = {0};
    assert_false(verify_read(&bad, 0, 1, d, &sn, &r));
    assert_int_equal(r.bad_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_reads_pass),
        cmocka_unit_test(test_corrupt_payload_byte),
        cmocka_unit_test(test_corrupt_header_byte),
        cmocka_unit_test(test_corrupt_payload_with_valid_checksums),
        cmocka_unit_test(test_misdirected_other_lba),
        cmocka_unit_test(test_misdirected_other_disk),
        cmocka_unit_test(test_stale_lost_write),
        cmocka_unit_test(test_stale_with_corrupt_payload_is_corrupt),
        cmocka_unit_test(test_unwritten_other_run),
        cmocka_unit_test(test_phantom_generation),
        cmocka_unit_test(test_phantom_writer),
        cmocka_unit_test(test_torn_write),
        cmocka_unit_test(test_nonzero_after_write_zeroes),
        cmocka_unit_test(test_unwritten),
        cmocka_unit_test(test_random_bytes_are_corrupt),
        cmocka_unit_test(test_first_bad_block_and_count),
        cmocka_unit_test(test_inflight_accepts_old_new_or_mix),
        cmocka_unit_test(test_inflight_zeroes),
        cmocka_unit_test(test_unknown_states_accept_anything),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
