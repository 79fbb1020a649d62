/*
 * test_inject_block.c: every --inject overwrite-block pattern, applied to a simulated disk the way
 * the host applies it, is judged by the guest's own verifier (kernel/verify.c) as exactly its
 * class at exactly its LBA; and the picking rules keep a pattern off blocks where the guest would
 * rightly say something else (torn, or nothing to see).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "blockfmt.h"
#include "expect.h"
#include "inject_block.h"
#include "verify.h"
#include "wire.h"

#define BS 512
#define NBLK 64
#define SEED 0x5EEDull

struct sim {
    struct verify_ctx ctx;
    struct expect *e;
    uint64_t tbl[(32 + NBLK * 24) / 8];
    uint8_t disk[NBLK * BS];
    uint8_t other[NBLK * BS]; /* the second data disk */
    uint8_t data[NBLK * BS];
    struct expect_snap snap[NBLK];
    uint32_t seq;
};

static struct sim sim;

static void sim_write(struct sim *s, uint8_t *disk, uint32_t tag, uint64_t lba, uint32_t n, uint16_t q)
{
    uint32_t gens[NBLK];
    struct expect_tag t = {q, ++s->seq};
    bool ours = disk == s->disk;
    if (ours)
        assert_true(expect_begin_write(s->e, lba, n, EXPECT_GEN, t, gens));
    for (uint32_t i = 0; i < n; i++) {
        struct blk_stamp st = {.seed = SEED, .disk_tag = tag, .lba = lba + i,
                               .gen = ours ? gens[i] : 1, .writer_q = q, .req_seq = t.req_seq, .epoch = 0};
        assert_true(blk_fill(disk + (lba + i) * BS, BS, &st));
    }
    if (ours)
        assert_true(expect_end_write(s->e, lba, n, true));
}

/* Blocks 0..7: one write of 8; 10, 12, 14: single writes, 12 written twice; 20..23 another
 * disk's; 30..33 written on both disks. */
static int setup(void **state)
{
    (void)state;
    struct sim *s = &sim;
    memset(s, 0, sizeof(*s));
    s->ctx.seed = SEED;
    s->ctx.disk_tag = blk_disk_tag("vqh0", 4);
    s->ctx.blk_size = BS;
    s->e = expect_init(s->tbl, sizeof(s->tbl), 0, NBLK);
    if (!s->e)
        return -1;
    uint32_t tag1 = blk_disk_tag("vqh1", 4);
    sim_write(s, s->disk, s->ctx.disk_tag, 0, 8, 1);
    sim_write(s, s->disk, s->ctx.disk_tag, 10, 1, 0);
    sim_write(s, s->disk, s->ctx.disk_tag, 12, 1, 1);
    sim_write(s, s->disk, s->ctx.disk_tag, 12, 1, 2);
    sim_write(s, s->disk, s->ctx.disk_tag, 14, 1, 3);
    for (uint64_t l = 30; l < 34; l++) {
        sim_write(s, s->disk, s->ctx.disk_tag, l, 1, 0);
        sim_write(s, s->other, tag1, l, 1, 0);
    }
    return 0;
}

/* The guest's verification pass over the whole disk: every checkable run, read and judged. */
static bool sim_verify(struct sim *s, struct verify_result *first)
{
    uint64_t l = 0, f;
    uint32_t n;
    bool clean = true;
    while (expect_next_checkable(s->e, l, 16, &f, &n)) {
        struct verify_result r;
        assert_true(expect_begin_read(s->e, f, n, s->snap) >= 0);
        memcpy(s->data, s->disk + f * BS, (size_t)n * BS);
        if (!verify_read(&s->ctx, f, n, s->data, s->snap, &r) && clean) {
            *first = r;
            clean = false;
        }
        assert_true(expect_end_read(s->e, f, n, s->snap));
        l = f + n;
    }
    return clean;
}

/* Inject p over lba (it must be a candidate), check the guest's class, then restore. */
static void inject_and_judge(enum inject_pattern p, uint64_t lba, const uint8_t *donor)
{
    struct sim *s = &sim;
    uint8_t saved[BS], out[BS];
    struct verify_result r;
    assert_true(sim_verify(s, &r));
    assert_true(inject_candidate(s->disk, NBLK, (uint32_t)lba, BS, p));
    memcpy(saved, s->disk + lba * BS, BS);
    assert_true(inject_build(p, saved, donor, BS, 99, out));
    memcpy(s->disk + lba * BS, out, BS);
    assert_false(sim_verify(s, &r));
    assert_string_equal(r.class_name, inject_pattern_class(p));
    assert_int_equal(r.lba, lba);
    assert_int_equal(r.bad_count, 1);
    memcpy(s->disk + lba * BS, saved, BS);
}

static void test_each_pattern_gets_its_class(void **state)
{
    (void)state;
    struct sim *s = &sim;
    inject_and_judge(INJECT_FLIP, 10, NULL);
    inject_and_judge(INJECT_RANDOM, 10, NULL);
    inject_and_judge(INJECT_ZEROES, 14, NULL);
    inject_and_judge(INJECT_OTHER_LBA, 10, s->disk + 14 * BS);
    inject_and_judge(INJECT_OLD_GEN, 12, NULL);
    inject_and_judge(INJECT_OTHER_DISK, 31, s->other + 31 * BS);
    assert_string_equal(inject_pattern_class(INJECT_RANDOM), WIRE_ERR_CORRUPT);
    assert_string_equal(inject_pattern_class(INJECT_ZEROES), WIRE_ERR_UNWRITTEN);
    assert_string_equal(inject_pattern_class(INJECT_OTHER_LBA), WIRE_ERR_MISDIRECTED);
    assert_string_equal(inject_pattern_class(INJECT_OLD_GEN), WIRE_ERR_STALE);
    assert_string_equal(inject_pattern_class(INJECT_OTHER_DISK), WIRE_ERR_MISDIRECTED_DISK);
}

/* The rules that keep a pattern where its class is the only right answer. */
static void test_candidates(void **state)
{
    (void)state;
    struct sim *s = &sim;
    uint8_t out[BS];
    /* a block of a multi-block write: overwriting it would read as torn (or hide in the write) */
    for (uint32_t i = 0; i < 8; i++)
        assert_false(inject_candidate(s->disk, NBLK, i, BS, INJECT_ZEROES));
    /* never written, or written only once (no older generation of ours exists) */
    assert_false(inject_candidate(s->disk, NBLK, 11, BS, INJECT_FLIP));
    assert_false(inject_candidate(s->disk, NBLK, 10, BS, INJECT_OLD_GEN));
    assert_true(inject_candidate(s->disk, NBLK, 12, BS, INJECT_OLD_GEN));
    assert_false(inject_candidate(s->disk, NBLK, NBLK, BS, INJECT_FLIP));
    /* donors that would make another class */
    assert_false(inject_build(INJECT_OTHER_LBA, s->disk + 10 * BS, s->disk + 10 * BS, BS, 1, out));
    assert_false(inject_build(INJECT_OTHER_LBA, s->disk + 10 * BS, NULL, BS, 1, out));
    assert_false(inject_build(INJECT_OTHER_DISK, s->disk + 31 * BS, s->other + 32 * BS, BS, 1, out));
    assert_false(inject_build(INJECT_OTHER_DISK, s->disk + 31 * BS, s->disk + 31 * BS, BS, 1, out));
    assert_false(inject_build(INJECT_OLD_GEN, s->disk + 10 * BS, NULL, BS, 1, out));
    /* random bytes are never ours, never zero, and follow the seed */
    uint8_t out2[BS];
    assert_true(inject_build(INJECT_RANDOM, s->disk + 10 * BS, NULL, BS, 7, out));
    assert_true(inject_build(INJECT_RANDOM, s->disk + 10 * BS, NULL, BS, 7, out2));
    assert_memory_equal(out, out2, BS);
    assert_int_equal(blk_check(out, BS, NULL), BLK_NO_HEADER);
}

/* Only blocks the guest's table says hold exactly that header: never a discarded one. */
static void test_table_holds(void **state)
{
    (void)state;
    const struct expect_run runs[] = {
        {0, 8, EXPECT_GEN, 1, {1, 1}}, {8, 2, EXPECT_DISCARDED, 0, {0, 0}}, {10, 1, EXPECT_GEN, 2, {0, 5}},
        {12, 4, EXPECT_ZERO, 0, {0, 0}}, {20, 1, EXPECT_FAILED, 0, {0, 0}},
    };
    struct blk_hdr h = {.gen = 1, .writer_q = 1, .req_seq = 1};
    assert_true(inject_table_holds(runs, 5, 0, &h));
    assert_true(inject_table_holds(runs, 5, 7, &h));
    assert_false(inject_table_holds(runs, 5, 8, &h));  /* discarded: the old header stays */
    assert_false(inject_table_holds(runs, 5, 11, &h)); /* not in the table */
    assert_false(inject_table_holds(runs, 5, 20, &h)); /* failed write */
    assert_false(inject_table_holds(runs, 5, 10, &h)); /* an older generation on disk */
    h.gen = 2, h.writer_q = 0, h.req_seq = 5;
    assert_true(inject_table_holds(runs, 5, 10, &h));
    h.req_seq = 6;
    assert_false(inject_table_holds(runs, 5, 10, &h)); /* another writer */
    assert_false(inject_table_holds(runs, 0, 0, &h));
    assert_false(inject_table_holds(runs, 5, UINT64_MAX, &h));
}

static void test_names(void **state)
{
    (void)state;
    enum inject_pattern p;
    for (int i = 0; i < INJECT_PATTERN_COUNT; i++) {
        assert_true(inject_pattern_parse(inject_pattern_name((enum inject_pattern)i), &p));
        assert_int_equal(p, i);
        assert_non_null(strstr(inject_pattern_list(), inject_pattern_name(p)));
    }
    assert_false(inject_pattern_parse("bogus", &p));
    assert_null(inject_pattern_name(INJECT_PATTERN_COUNT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_pattern_gets_its_class),
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_table_holds),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("inject_block", tests, setup, NULL);
}
