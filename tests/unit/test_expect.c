/* test_expect.c: the expected-state table's rules (kernel/expect.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "expect.h"

#define BASE 1000
#define NBLK 64

/* Static memory, as the guest gives it: a test uses at most two tables at once. Filled with
 * garbage first, as memory a disk used before or the guest never cleared: expect_init clears
 * only what it must (the cold entries are cleared as their blocks are first written). */
static struct expect *new_table(uint64_t base, uint64_t n)
{
    static uint64_t pool[2][512];
    static int next;
    void *mem = pool[next++ % 2];
    memset(mem, 0xa5, sizeof(pool[0]));
    struct expect *e = expect_init(mem, sizeof(pool[0]), base, n);
    assert_non_null(e);
    return e;
}

static struct expect_tag tag(uint16_t q, uint32_t seq)
{
    struct expect_tag t = {q, seq};
    return t;
}

/* A write of our data over [lba, lba + n), begun and committed. */
static void write_gen(struct expect *e, uint64_t lba, uint32_t n, struct expect_tag t)
{
    assert_true(expect_begin_write(e, lba, n, EXPECT_GEN, t, NULL));
    assert_true(expect_end_write(e, lba, n, true));
}

static struct expect_snap get(const struct expect *e, uint64_t lba)
{
    struct expect_snap s;
    assert_true(expect_get(e, lba, &s));
    return s;
}

static void test_init(void **state)
{
    (void)state;
    static uint64_t mem[1024];
    memset(mem, 0x5a, sizeof(mem));
    assert_null(expect_init(mem, expect_bytes(100) - 1, 0, 100));
    assert_null(expect_init((uint8_t *)mem + 4, sizeof(mem) - 8, 0, 10));
    struct expect *e = expect_init(mem, sizeof(mem), 7, 100);
    assert_non_null(e);
    assert_int_equal(expect_base(e), 7);
    assert_int_equal(expect_nblocks(e), 100);
    assert_int_equal(expect_written_count(e), 0);
    struct expect_snap s = get(e, 7);
    assert_int_equal(s.state, EXPECT_UNKNOWN);
    assert_int_equal(s.gen, 0);
    assert_int_equal(s.tag.writer_q, 0);
    assert_int_equal(s.tag.req_seq, 0);
    assert_false(s.inflight);
    /* The first write of a block over old garbage: generation 1, its own tag. */
    uint32_t gen;
    assert_true(expect_begin_write(e, 50, 1, EXPECT_GEN, tag(3, 9), &gen));
    assert_int_equal(gen, 1);
    s = get(e, 50);
    assert_true(s.inflight);
    assert_int_equal(s.pend_tag.writer_q, 3);
    assert_int_equal(s.pend_tag.req_seq, 9);
    assert_true(expect_end_write(e, 50, 1, true));
    s = get(e, 50);
    assert_int_equal(s.gen, 1);
    assert_int_equal(s.tag.writer_q, 3);
    assert_int_equal(get(e, 51).gen, 0);
    assert_false(expect_get(e, 6, &s));
    assert_false(expect_get(e, 107, &s));
}

static void test_write_commit_and_generations(void **state)
{
    (void)state;
    struct expect *e = new_table(BASE, NBLK);
    uint32_t gens[8];

    assert_true(expect_begin_write(e, BASE + 2, 4, EXPECT_GEN, tag(1, 10), gens));
    for (int i = 0; i < 4; i++)
        assert_int_equal(gens[i], 1);
    struct expect_snap s = get(e, BASE + 3);
    assert_true(s.inflight);
    assert_int_equal(s.state, EXPECT_UNKNOWN);
    assert_int_equal(s.pend_state, EXPECT_GEN);
    assert_int_equal(s.pend_gen, 1);
    assert_int_equal(s.pend_tag.writer_q, 1);
    assert_int_equal(s.pend_tag.req_seq, 10);
    assert_int_equal(expect_written_count(e), 0); /* not before it completes */
    assert_true(expect_end_write(e, BASE + 2, 4, true));
    s = get(e, BASE + 3);
    assert_false(s.inflight);
    assert_int_equal(s.state, EXPECT_GEN);
    assert_int_equal(s.gen, 1);
    assert_int_equal(s.tag.writer_q, 1);
    assert_int_equal(s.tag.req_seq, 10);
    assert_int_equal(expect_written_count(e), 4);
    assert_int_equal(expect_checkable_count(e), 4);

    /* Overlapping the old range: each block gets its own next generation. */
    assert_true(expect_begin_write(e, BASE + 4, 4, EXPECT_GEN, tag(2, 11), gens));
    assert_int_equal(gens[0], 2);
    assert_int_equal(gens[1], 2);
    assert_int_equal(gens[2], 1);
    assert_int_equal(gens[3], 1);
    assert_true(expect_end_write(e, BASE + 4, 4, true));
    assert_int_equal(get(e, BASE + 5).gen, 2);
    assert_int_equal(get(e, BASE + 5).tag.writer_q, 2);
    assert_int_equal(get(e, BASE + 2).gen, 1);
    assert_int_equal(expect_written_count(e), 6);

    /* A double completion is refused and changes nothing. */
    assert_false(expect_end_write(e, BASE + 4, 4, true));
    assert_int_equal(get(e, BASE + 5).gen, 2);
}

static void test_write_failure_and_kinds(void **state)
{
    (void)state;
    struct expect *e = new_table(BASE, NBLK);
    uint32_t gens[4];

    write_gen(e, BASE, 4, tag(0, 1));
    assert_true(expect_begin_write(e, BASE, 2, EXPECT_GEN, tag(0, 2), gens));
    assert_int_equal(gens[0], 2);
    assert_true(expect_end_write(e, BASE, 2, false));
    struct expect_snap s = get(e, BASE);
    assert_int_equal(s.state, EXPECT_FAILED);
    assert_int_equal(s.gen, 2); /* a failed write still used its generation */
    assert_int_equal(expect_checkable_count(e), 2);
    assert_true(expect_begin_write(e, BASE, 1, EXPECT_GEN, tag(0, 3), gens));
    assert_int_equal(gens[0], 3);
    assert_true(expect_end_write(e, BASE, 1, true));
    assert_int_equal(get(e, BASE).state, EXPECT_GEN);

    assert_true(expect_begin_write(e, BASE + 2, 1, EXPECT_ZERO, tag(0, 4), NULL));
    assert_true(expect_end_write(e, BASE + 2, 1, true));
    assert_int_equal(get(e, BASE + 2).state, EXPECT_ZERO);
    assert_int_equal(get(e, BASE + 2).gen, 2);
    assert_true(expect_begin_write(e, BASE + 3, 1, EXPECT_DISCARDED, tag(0, 5), NULL));
    assert_true(expect_end_write(e, BASE + 3, 1, true));
    assert_int_equal(get(e, BASE + 3).state, EXPECT_DISCARDED);
    assert_int_equal(expect_written_count(e), 4);
    assert_int_equal(expect_checkable_count(e), 2); /* GEN at BASE, ZERO at BASE+2 */

    /* Bad kinds and ranges are refused. */
    assert_false(expect_begin_write(e, BASE, 1, EXPECT_FAILED, tag(0, 6), NULL));
    assert_false(expect_begin_write(e, BASE, 1, EXPECT_UNKNOWN, tag(0, 6), NULL));
    assert_false(expect_begin_write(e, BASE - 1, 2, EXPECT_GEN, tag(0, 6), NULL));
    assert_false(expect_begin_write(e, BASE + NBLK - 1, 2, EXPECT_GEN, tag(0, 6), NULL));
    assert_false(expect_begin_write(e, BASE, 0, EXPECT_GEN, tag(0, 6), NULL));
    assert_true(expect_begin_write(e, BASE + NBLK - 1, 1, EXPECT_GEN, tag(0, 6), NULL));
}

static void test_overlap_refused(void **state)
{
    (void)state;
    struct expect *e = new_table(BASE, NBLK);
    struct expect_snap snap[8];
    uint32_t gens[8];

    /* write vs write */
    assert_true(expect_begin_write(e, BASE + 10, 4, EXPECT_GEN, tag(0, 1), NULL));
    assert_false(expect_begin_write(e, BASE + 13, 4, EXPECT_GEN, tag(1, 1), gens));
    assert_false(expect_begin_write(e, BASE + 8, 3, EXPECT_ZERO, tag(1, 1), gens));
    assert_false(get(e, BASE + 16).inflight); /* the refused write left no trace */
    assert_false(get(e, BASE + 8).inflight);
    assert_true(expect_begin_write(e, BASE + 14, 4, EXPECT_GEN, tag(1, 1), NULL));
    assert_true(expect_end_write(e, BASE + 10, 4, true));
    assert_true(expect_begin_write(e, BASE + 10, 4, EXPECT_GEN, tag(0, 2), gens));
    assert_int_equal(gens[0], 2);
    assert_true(expect_end_write(e, BASE + 10, 4, true));
    assert_true(expect_end_write(e, BASE + 14, 4, true));

    /* write vs read: no write may start under a read that judges the block */
    struct expect_snap snap2[4];
    write_gen(e, BASE + 19, 8, tag(0, 3));
    assert_int_equal(expect_begin_read(e, BASE + 20, 4, snap), 4);
    assert_int_equal(snap[0].state, EXPECT_GEN);
    assert_false(expect_begin_write(e, BASE + 23, 2, EXPECT_GEN, tag(0, 4), NULL));
    assert_false(expect_begin_write(e, BASE + 19, 1 + 4 + 1, EXPECT_DISCARDED, tag(0, 4), NULL));
    assert_int_equal(expect_begin_read(e, BASE + 22, 4, snap2), 4); /* reads overlap reads */
    assert_true(expect_end_read(e, BASE + 20, 4, snap));
    assert_false(expect_begin_write(e, BASE + 23, 2, EXPECT_GEN, tag(0, 4), NULL));
    assert_true(expect_begin_write(e, BASE + 20, 2, EXPECT_GEN, tag(0, 4), NULL));
    assert_true(expect_end_read(e, BASE + 22, 4, snap2));
    assert_false(expect_end_read(e, BASE + 22, 4, snap2)); /* no read left to end */
    assert_true(expect_begin_write(e, BASE + 23, 2, EXPECT_GEN, tag(0, 5), NULL));
}

/* A read judges only blocks committed GEN or ZERO, so only those hold writes off. */
static void test_read_holds_off_only_what_it_judges(void **state)
{
    (void)state;
    struct expect *e = new_table(BASE, NBLK);
    struct expect_snap snap[4];

    /* BASE+1 written, BASE+0 and BASE+2..3 never: the read counts itself on BASE+1 alone. */
    write_gen(e, BASE + 1, 1, tag(0, 1));
    assert_int_equal(expect_begin_read(e, BASE, 4, snap), 1);
    assert_int_equal(snap[0].state, EXPECT_UNKNOWN);
    assert_int_equal(snap[1].state, EXPECT_GEN);
    assert_false(expect_begin_write(e, BASE + 1, 1, EXPECT_GEN, tag(0, 2), NULL));
    /* A write starts and commits under the read where it judges nothing. */
    write_gen(e, BASE + 2, 2, tag(0, 3));
    assert_int_equal(get(e, BASE + 2).state, EXPECT_GEN);
    assert_int_equal(snap[2].state, EXPECT_UNKNOWN); /* the read's snapshot stays what it was */
    /* Its end uncounts what its start counted, though BASE+2 is GEN by now. */
    assert_true(expect_end_read(e, BASE, 4, snap));
    write_gen(e, BASE + 1, 1, tag(0, 4));
    /* A second end finds nothing counted on BASE+1 any more: refused, nothing changed. */
    assert_false(expect_end_read(e, BASE, 4, snap));
    /* A read of never-written blocks alone counts nothing and writes no snapshot. */
    struct expect_snap un[2] = {{.state = EXPECT_GEN, .inflight = true}, {.state = EXPECT_GEN}};
    assert_int_equal(expect_begin_read(e, BASE + 10, 2, un), 0);
    assert_int_equal(un[0].state, EXPECT_GEN);
    assert_true(un[0].inflight);
}

/* A read of blocks no write ever began on answers from the bitmap; one written block anywhere in
 * its range, on either side of a 64-bit word boundary, sends it to the table. */
static void test_untouched_blocks(void **state)
{
    (void)state;
    struct expect_snap snap[70];

    for (uint64_t w = 60; w < 70; w++) {
        struct expect *e = new_table(BASE, 180);
        assert_true(expect_begin_write(e, BASE + w, 1, EXPECT_GEN, tag(1, (uint32_t)w), NULL));
        /* In flight: the read sees the pending write. */
        assert_int_equal(expect_begin_read(e, BASE + w - 2, 4, snap), 0); /* UNKNOWN: not judged */
        assert_true(snap[2].inflight);
        assert_false(snap[1].inflight);
        assert_true(expect_end_read(e, BASE + w - 2, 4, snap));
        assert_true(expect_end_write(e, BASE + w, 1, true));
        /* Every range over w judges it; every range beside it is all UNKNOWN. */
        for (uint64_t start = 0; start < 100; start += 7) {
            uint32_t n = start < 50 ? 70 : 5;
            bool covers = start <= w && w < start + n;
            for (uint32_t i = 0; i < n; i++) /* poison: an untouched range leaves it */
                snap[i] = (struct expect_snap){.state = EXPECT_DISCARDED, .inflight = true};
            assert_int_equal(expect_begin_read(e, BASE + start, n, snap), covers ? 1 : 0);
            for (uint32_t i = 0; i < n; i++) {
                bool is_w = start + i == w;
                assert_int_equal(get(e, BASE + start + i).state, is_w ? EXPECT_GEN : EXPECT_UNKNOWN);
                if (covers) {
                    assert_int_equal(snap[i].state, is_w ? EXPECT_GEN : EXPECT_UNKNOWN);
                    assert_false(snap[i].inflight);
                } else {
                    assert_int_equal(snap[i].state, EXPECT_DISCARDED);
                }
            }
            /* A judging read holds writes off w; any other read holds nothing off. */
            assert_int_equal(expect_begin_write(e, BASE + w, 1, EXPECT_GEN, tag(2, 1), NULL), !covers);
            if (!covers)
                assert_true(expect_end_write(e, BASE + w, 1, true));
            else
                assert_true(expect_end_read(e, BASE + start, n, snap));
        }
    }
}

/* A range over three bitmap words: the middle word is looked at whole, the end words masked. */
static void test_untouched_three_words(void **state)
{
    (void)state;
    struct expect_snap snap[180];
    static const uint64_t mid[] = {64, 100, 127};
    for (int k = 0; k < 3; k++) {
        struct expect *e = new_table(BASE, 180);
        write_gen(e, BASE + mid[k], 1, tag(1, 1));
        assert_int_equal(expect_begin_read(e, BASE + 3, 174, snap), 1);
        assert_int_equal(snap[mid[k] - 3].state, EXPECT_GEN);
        assert_true(expect_end_read(e, BASE + 3, 174, snap));
        assert_int_equal(expect_begin_read(e, BASE, (uint32_t)mid[k], snap), 0);
        assert_int_equal(expect_begin_read(e, BASE + mid[k] + 1, (uint32_t)(179 - mid[k]), snap), 0);
    }
    /* Touched just outside both ends of a three-word range: nothing in it is. */
    struct expect *e = new_table(BASE, 180);
    assert_true(expect_begin_write(e, BASE + 2, 1, EXPECT_GEN, tag(1, 2), NULL));
    assert_true(expect_begin_write(e, BASE + 177, 1, EXPECT_GEN, tag(1, 3), NULL));
    assert_int_equal(expect_begin_read(e, BASE + 3, 174, snap), 0);
    assert_int_equal(expect_begin_read(e, BASE + 2, 176, snap), 0); /* in flight: not judged */
    assert_true(snap[0].inflight && snap[175].inflight && !snap[1].inflight);
}

/* The read count saturates: the 65536th read of a judged block is refused, changing nothing. */
static void test_read_count_limit(void **state)
{
    (void)state;
    struct expect *e = new_table(BASE, NBLK);
    struct expect_snap snap[3];

    write_gen(e, BASE + 1, 1, tag(0, 1));
    for (uint32_t i = 0; i < UINT16_MAX; i++)
        assert_int_equal(expect_begin_read(e, BASE + 1, 1, snap), 1);
    assert_int_equal(expect_begin_read(e, BASE, 3, snap), -1);
    assert_true(expect_end_read(e, BASE + 1, 1, snap));
    assert_int_equal(expect_begin_read(e, BASE, 3, snap), 1);
    assert_int_equal(snap[1].state, EXPECT_GEN);
}

static void test_read_over_inflight_write(void **state)
{
    (void)state;
    struct expect *e = new_table(BASE, NBLK);
    struct expect_snap snap[4];

    write_gen(e, BASE, 4, tag(2, 5));
    assert_true(expect_begin_write(e, BASE + 1, 2, EXPECT_ZERO, tag(3, 9), NULL));
    assert_int_equal(expect_begin_read(e, BASE, 4, snap), 4); /* allowed */
    assert_false(snap[0].inflight);
    assert_int_equal(snap[0].state, EXPECT_GEN);
    assert_int_equal(snap[0].gen, 1);
    assert_int_equal(snap[0].pend_gen, 0);
    assert_true(snap[1].inflight);
    assert_int_equal(snap[1].state, EXPECT_GEN);
    assert_int_equal(snap[1].gen, 1);
    assert_int_equal(snap[1].tag.writer_q, 2);
    assert_int_equal(snap[1].tag.req_seq, 5);
    assert_int_equal(snap[1].pend_state, EXPECT_ZERO);
    assert_int_equal(snap[1].pend_gen, 2);
    assert_int_equal(snap[1].pend_tag.writer_q, 3);
    assert_int_equal(snap[1].pend_tag.req_seq, 9);
    assert_true(snap[2].inflight);
    assert_false(snap[3].inflight);
    /* A block anything may read back from: its state (and whether a write is in flight) only. */
    struct expect_snap un;
    assert_int_equal(expect_begin_read(e, BASE + 9, 1, &un), 0);
    assert_int_equal(un.state, EXPECT_UNKNOWN);
    assert_false(un.inflight);
    assert_true(expect_end_read(e, BASE + 9, 1, &un));
    /* The write completes under the read; the read's snapshot stays what it was. */
    assert_true(expect_end_write(e, BASE + 1, 2, true));
    assert_int_equal(get(e, BASE + 1).state, EXPECT_ZERO);
    assert_true(snap[1].inflight);
    assert_true(expect_end_read(e, BASE, 4, snap));
}

static void test_next_checkable(void **state)
{
    (void)state;
    struct expect *e = new_table(BASE, NBLK);
    uint64_t first;
    uint32_t n;

    assert_false(expect_next_checkable(e, BASE, 8, &first, &n));
    expect_begin_write(e, BASE + 5, 6, EXPECT_GEN, tag(0, 1), NULL);
    expect_end_write(e, BASE + 5, 6, true);
    expect_begin_write(e, BASE + 11, 2, EXPECT_ZERO, tag(0, 2), NULL);
    expect_end_write(e, BASE + 11, 2, true);
    expect_begin_write(e, BASE + 13, 1, EXPECT_DISCARDED, tag(0, 3), NULL);
    expect_end_write(e, BASE + 13, 1, true);
    expect_begin_write(e, BASE + 14, 2, EXPECT_GEN, tag(0, 4), NULL);
    expect_end_write(e, BASE + 14, 2, true);
    expect_begin_write(e, BASE + 8, 1, EXPECT_GEN, tag(0, 5), NULL); /* in flight: skipped */

    uint64_t got[8][2];
    int runs = 0;
    for (uint64_t l = 0; expect_next_checkable(e, l, 4, &first, &n); l = first + n) {
        assert_true(runs < 8);
        got[runs][0] = first;
        got[runs][1] = n;
        runs++;
    }
    uint64_t want[][2] = {{BASE + 5, 3}, {BASE + 9, 4}, {BASE + 14, 2}};
    assert_int_equal(runs, 3);
    assert_memory_equal(got, want, sizeof(want));
}

static bool snaps_equal_for_verify(struct expect_snap a, struct expect_snap b)
{
    if (a.state != b.state)
        return false;
    if (a.state != EXPECT_GEN)
        return true;
    return a.gen == b.gen && a.tag.writer_q == b.tag.writer_q && a.tag.req_seq == b.tag.req_seq;
}

static void test_run_encoding_round_trip(void **state)
{
    (void)state;
    struct expect *e = new_table(BASE, NBLK);
    struct expect *r = new_table(BASE, NBLK);

    expect_begin_write(e, BASE + 0, 8, EXPECT_GEN, tag(1, 1), NULL);
    expect_end_write(e, BASE + 0, 8, true);
    expect_begin_write(e, BASE + 2, 2, EXPECT_GEN, tag(1, 2), NULL); /* gen 2 inside gen 1 */
    expect_end_write(e, BASE + 2, 2, true);
    expect_begin_write(e, BASE + 10, 3, EXPECT_ZERO, tag(2, 1), NULL);
    expect_end_write(e, BASE + 10, 3, true);
    expect_begin_write(e, BASE + 13, 3, EXPECT_DISCARDED, tag(2, 2), NULL);
    expect_end_write(e, BASE + 13, 3, true);
    expect_begin_write(e, BASE + 16, 2, EXPECT_GEN, tag(3, 1), NULL);
    expect_end_write(e, BASE + 16, 2, false);
    expect_begin_write(e, BASE + 30, 5, EXPECT_GEN, tag(3, 4000000000u), NULL);
    expect_end_write(e, BASE + 30, 5, true);
    expect_begin_write(e, BASE + 63, 1, EXPECT_GEN, tag(65535, 7), NULL); /* still in flight */

    char text[16][EXPECT_RUN_TEXT_MAX];
    struct expect_run run;
    int runs = 0;
    uint64_t cur = expect_base(e);
    while (expect_encode_run(e, &cur, &run)) {
        assert_true(runs < 16);
        size_t len = expect_run_format(&run, text[runs], EXPECT_RUN_TEXT_MAX);
        assert_true(len > 0);
        struct expect_run back;
        assert_true(expect_run_parse(text[runs], len, &back));
        assert_memory_equal(&back.lba, &run.lba, sizeof(run.lba));
        assert_int_equal(back.count, run.count);
        assert_int_equal(back.state, run.state);
        assert_int_equal(back.gen, run.gen);
        assert_int_equal(back.tag.writer_q, run.tag.writer_q);
        assert_int_equal(back.tag.req_seq, run.tag.req_seq);
        assert_true(expect_apply_run(r, &back));
        runs++;
    }
    const char *want[] = {"1000+2:g:1:1:1", "1002+2:g:2:1:2", "1004+4:g:1:1:1", "1010+3:z",
                          "1013+3:d", "1016+2:f", "1030+5:g:1:3:4000000000", "1063+1:f"};
    assert_int_equal(runs, 8);
    for (int i = 0; i < runs; i++)
        assert_string_equal(text[i], want[i]);

    for (uint64_t l = BASE; l < BASE + NBLK; l++) {
        struct expect_snap a = get(e, l), b = get(r, l);
        if (a.inflight)
            a.state = EXPECT_FAILED;
        assert_true(snaps_equal_for_verify(a, b));
    }
    assert_int_equal(expect_written_count(r), expect_written_count(e) + 1);
}

static void test_run_parse_rejects(void **state)
{
    (void)state;
    struct expect_run r;
    const char *bad[] = {"", "1+2", "1+0:z", "x+1:z", "1+1:q", "1+1:g", "1+1:g:1:2",
                         "1+1:g:1:65536:3", "1+1:z:1", "1+4294967296:z", "1+1:z ",
                         "18446744073709551616+1:z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(expect_run_parse(bad[i], strlen(bad[i]), &r));
    assert_true(expect_run_parse("18446744073709551615+1:f", 24, &r));
    assert_true(r.lba == UINT64_MAX);
    char small[12];
    r.lba = 1000000;
    r.count = 1;
    r.state = EXPECT_ZERO;
    assert_int_equal(expect_run_format(&r, small, 11), 0); /* no room for the NUL */
    assert_int_equal(expect_run_format(&r, small, sizeof(small)), 11);
    assert_string_equal(small, "1000000+1:z");

    /* apply_run refuses runs it cannot hold */
    static uint64_t mem[64];
    struct expect *e = expect_init(mem, sizeof(mem), 0, 8);
    struct expect_run out = {.lba = 6, .count = 3, .state = EXPECT_GEN, .gen = 1};
    assert_false(expect_apply_run(e, &out));
    out.count = 2;
    out.state = EXPECT_UNKNOWN;
    assert_false(expect_apply_run(e, &out));
    assert_string_equal(expect_state_name(EXPECT_DISCARDED), "discarded");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_write_commit_and_generations),
        cmocka_unit_test(test_write_failure_and_kinds),
        cmocka_unit_test(test_overlap_refused),
        cmocka_unit_test(test_read_over_inflight_write),
        cmocka_unit_test(test_read_holds_off_only_what_it_judges),
        cmocka_unit_test(test_read_count_limit),
        cmocka_unit_test(test_untouched_blocks),
        cmocka_unit_test(test_untouched_three_words),
        cmocka_unit_test(test_next_checkable),
        cmocka_unit_test(test_run_encoding_round_trip),
        cmocka_unit_test(test_run_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
