/*
 * test_verify_image.c: `vqhammer verify-image` on small images built with blk_fill, against state
 * dumps built with expect_run_format: a clean image passes, every injected fault is reported with
 * its class and LBA, malformed input is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <unistd.h>

#include "blockfmt.h"
#include "expect.h"
#include "verify_image.h"

#define BS 512
#define NBLK 72
#define SEED 0x1ull
#define EPOCH 2

static char dir[64], img[128], state[128], json[128];
static uint32_t tag0, tag1;

/* The table the image is built from and the guest reports: 32..39 and 64.. are never written. */
static const struct expect_run layout[] = {
    {0, 16, EXPECT_GEN, 3, {7, 118}},
    {16, 8, EXPECT_GEN, 1, {2, 5}},
    {24, 8, EXPECT_ZERO, 0, {0, 0}},
    {40, 8, EXPECT_GEN, 2, {1, 9}},
    {48, 4, EXPECT_DISCARDED, 0, {0, 0}},
    {52, 4, EXPECT_FAILED, 0, {0, 0}},
    {56, 8, EXPECT_GEN, 5, {3, 40}},
};

/* ---- helpers ------------------------------------------------------------------------------- */

static void fill(uint8_t *b, uint64_t seed, uint32_t tag, uint64_t lba, uint32_t gen, uint16_t q,
                 uint32_t seq)
{
    struct blk_stamp st = {seed, tag, lba, gen, q, seq, EPOCH};
    assert_true(blk_fill(b, BS, &st));
}

static void put_block(uint64_t lba, const uint8_t *b)
{
    int fd = open(img, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, b, BS, (off_t)(lba * BS)), BS);
    close(fd);
}

static void get_block(uint64_t lba, uint8_t *b)
{
    int fd = open(img, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, b, BS, (off_t)(lba * BS)), BS);
    close(fd);
}

static void put_gen(uint64_t lba, uint32_t gen, uint16_t q, uint32_t seq)
{
    uint8_t b[BS];
    fill(b, SEED, tag0, lba, gen, q, seq);
    put_block(lba, b);
}

static void put_fill(uint64_t lba, uint8_t byte)
{
    uint8_t b[BS];
    memset(b, byte, BS);
    put_block(lba, b);
}

static void flip(uint64_t lba, uint32_t off)
{
    uint8_t b[BS];
    get_block(lba, b);
    b[off] ^= 0x40;
    put_block(lba, b);
}

static void make_image(uint64_t nblocks)
{
    int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(nblocks * BS)), 0);
    close(fd);
}

/* The image the guest would leave for `layout`, plus what the allowed states may hold. */
static void make_clean_image(void)
{
    uint8_t b[BS];

    make_image(NBLK);
    for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++)
        for (uint32_t k = 0; layout[i].state == EXPECT_GEN && k < layout[i].count; k++)
            put_gen(layout[i].lba + k, layout[i].gen, layout[i].tag.writer_q,
                    layout[i].tag.req_seq);
    fill(b, 0x99, tag0, 33, 1, 0, 1); /* never written this run: an earlier run's block */
    put_block(33, b);
    put_fill(49, 0xab);               /* discarded: anything */
    put_gen(53, 4, 9, 9);             /* failed write: landed half */
    flip(53, 300);
    put_fill(66, 0x5a);               /* outside the region: someone else's data */
}

/* "VQH1 <seq> <reply state>" for runs[0..n). */
static void state_line(FILE *f, unsigned seq, int disk, uint32_t tag, const struct expect_run *runs,
                       size_t n, bool last, bool merged)
{
    char text[EXPECT_RUN_TEXT_MAX], serial[16], hex[16];
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++) {
        assert_true(expect_run_format(&runs[i], text, sizeof(text)) > 0);
        json_array_append_new(arr, json_string(text));
    }
    snprintf(serial, sizeof(serial), "vqh%d", disk);
    snprintf(hex, sizeof(hex), "0x%x", tag);
    json_t *o = json_pack("{s:s,s:s,s:b,s:i,s:i,s:s,s:i,s:s,s:s,s:o,s:b}", "type", "reply", "cmd",
                          "state", "ok", 1, "epoch", 3, "disk", disk, "serial", serial, "blk_size",
                          BS, "seed", "0x1", "disk_tag", hex, "runs", arr, "last", last);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (merged)
        fprintf(f, "%u dst1 %s\n", seq, s);
    else
        fprintf(f, "VQH1 %u %s\r\n", seq, s);
    free(s);
    json_decref(o);
}

static void state_end(FILE *f, unsigned seq, unsigned runs)
{
    fprintf(f, "VQH1 %u {\"type\":\"reply\",\"cmd\":\"state_end\",\"ok\":true,\"epoch\":3,"
               "\"runs\":%u}\n", seq, runs);
}

static const struct expect_run disk1_runs[] = {{0, 4, EXPECT_GEN, 1, {0, 1}}};

/* A log as the guest prints it: noise, hello, disk 0 in two messages, disk 1, state_end. */
static void write_state(bool merged)
{
    FILE *f = fopen(state, "w");
    assert_non_null(f);
    fprintf(f, "BdsDxe: loading Boot0001 \"UEFI QEMU HARDDISK\"\n");
    fprintf(f, "VQH1 1 {\"type\":\"hello\",\"wire\":1}\n");
    state_line(f, 2, 0, tag0, layout, 3, false, merged);
    state_line(f, 3, 0, tag0, layout + 3, 4, true, merged);
    state_line(f, 4, 1, tag1, disk1_runs, 1, true, merged);
    state_end(f, 5, 8);
    fclose(f);
}

/* Run the command: IMAGE --json FILE [--state FILE if with_state] extra... */
static int run(bool with_state, ...)
{
    const char *argv[32] = {"verify-image", img, "--json", json};
    int argc = 4;
    va_list ap;

    if (with_state) {
        argv[argc++] = "--state";
        argv[argc++] = state;
    }
    va_start(ap, with_state);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    unlink(json);
    return verify_image_main(argc, (char **)argv);
}

static json_t *report(void)
{
    json_error_t e;
    json_t *j = json_load_file(json, 0, &e);
    if (!j)
        fail_msg("cannot load %s: %s", json, e.text);
    return j;
}

static json_int_t jint(const json_t *o, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    if (!json_is_integer(v))
        fail_msg("no integer %s.%s", path1, path2 ? path2 : "");
    return json_integer_value(v);
}

/* Error i of the report has this class and LBA. */
static const json_t *assert_error(const json_t *j, size_t i, const char *cls, uint64_t lba)
{
    const json_t *e = json_array_get(json_object_get(j, "errors"), i);
    if (!e)
        fail_msg("no error %zu", i);
    const char *c = json_string_value(json_object_get(e, "class"));
    if (!c || strcmp(c, cls))
        fail_msg("error %zu: class %s, expected %s", i, c ? c : "(none)", cls);
    assert_int_equal(jint(e, "lba", NULL), lba);
    return e;
}

/* Run against the state; expect FAIL with `count` bad blocks, the first of class cls at lba. */
static json_t *expect_fail(const char *cls, uint64_t lba, json_int_t count)
{
    assert_int_equal(run(true, NULL), VERIFY_IMAGE_FAIL);
    json_t *j = report();
    assert_string_equal(json_string_value(json_object_get(j, "result")), "fail");
    assert_int_equal(jint(j, "bad", NULL), count);
    assert_error(j, 0, cls, lba);
    return j;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **ctx)
{
    (void)ctx;
    snprintf(dir, sizeof(dir), "/tmp/vqh-vi-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(img, sizeof(img), "%s/disk.img", dir);
    snprintf(state, sizeof(state), "%s/serial.log", dir);
    snprintf(json, sizeof(json), "%s/report.json", dir);
    tag0 = blk_disk_tag("vqh0", 4);
    tag1 = blk_disk_tag("vqh1", 4);
    make_clean_image();
    write_state(false);
    return 0;
}

static int teardown(void **ctx)
{
    (void)ctx;
    return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- against the state ---------------------------------------------------------------------- */

static void test_clean_image_passes(void **ctx)
{
    (void)ctx;
    assert_int_equal(run(true, NULL), VERIFY_IMAGE_PASS);
    json_t *j = report();
    assert_string_equal(json_string_value(json_object_get(j, "result")), "pass");
    assert_int_equal(jint(j, "checked", NULL), 48);
    assert_int_equal(jint(j, "header_checked", NULL), 24);
    assert_int_equal(jint(j, "header", "zero"), 20);
    assert_int_equal(jint(j, "header", "valid"), 1);
    assert_int_equal(jint(j, "header", "foreign"), 2);
    assert_int_equal(jint(j, "header", "bad_payload_crc"), 1);
    assert_int_equal(jint(j, "header_allowed", NULL), 1);
    assert_int_equal(jint(j, "bad", NULL), 0);
    assert_int_equal(json_array_size(json_object_get(j, "errors")), 0);
    assert_string_equal(json_string_value(json_object_get(j, "serial")), "vqh0");
    assert_int_equal(jint(j, "region_end", NULL), 64);
    json_decref(j);
}

static void test_corrupt(void **ctx)
{
    (void)ctx;
    flip(5, 100);
    json_t *j = expect_fail("corrupt", 5, 1);
    const json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_int_equal(jint(e, "offset", NULL), 100);
    assert_int_equal(jint(e, "expected", "gen"), 3);
    assert_int_equal(jint(e, "found", "gen"), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "found"), "status")),
                        "bad_payload_crc");
    assert_int_equal(jint(j, "classes", "corrupt"), 1);
    json_decref(j);
}

static void test_misdirected(void **ctx)
{
    uint8_t b[BS];
    (void)ctx;
    get_block(3, b);
    put_block(10, b);
    json_t *j = expect_fail("misdirected", 10, 1);
    const json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_int_equal(jint(e, "found", "lba"), 3);
    assert_int_equal(jint(e, "offset", NULL), 16); /* the header's lba field */
    json_decref(j);
}

static void test_stale_whole_write(void **ctx)
{
    (void)ctx;
    for (uint64_t l = 40; l < 48; l++)
        put_gen(l, 1, 1, 8); /* the write of gen 2 was lost entirely */
    json_t *j = expect_fail("stale", 40, 8);
    const json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_int_equal(jint(e, "expected", "gen"), 2);
    assert_int_equal(jint(e, "found", "gen"), 1);
    assert_int_equal(jint(j, "classes", "stale"), 8);
    assert_int_equal(jint(j, "classes", "torn"), 0);
    json_decref(j);
}

static void test_torn(void **ctx)
{
    (void)ctx;
    put_gen(44, 1, 1, 8); /* the rest of the gen-2 write (40..47) landed */
    json_t *j = expect_fail("torn", 44, 1);
    const json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_int_equal(jint(e, "torn_peer_lba", NULL), 40);
    assert_int_equal(jint(j, "classes", "stale"), 0);
    json_decref(j);
}

static void test_phantom(void **ctx)
{
    (void)ctx;
    put_gen(58, 6, 3, 41); /* a generation never written */
    put_gen(60, 5, 4, 40); /* the expected generation by a writer that never wrote it */
    json_t *j = expect_fail("phantom", 58, 2);
    assert_error(j, 1, "phantom", 60);
    assert_int_equal(jint(j, "classes", "phantom"), 2);
    json_decref(j);
}

static void test_nonzero(void **ctx)
{
    (void)ctx;
    put_gen(26, 1, 0, 1);
    json_t *j = expect_fail("nonzero", 26, 1);
    json_decref(j);
}

static void test_unwritten(void **ctx)
{
    (void)ctx;
    put_fill(12, 0);
    put_fill(20, 0x77); /* garbage is not unwritten: a fresh disk holds zeroes */
    json_t *j = expect_fail("unwritten", 12, 2);
    assert_error(j, 1, "corrupt", 20);
    json_decref(j);
}

static void test_unknown_block_gets_header_check(void **ctx)
{
    (void)ctx;
    put_gen(35, 1, 0, 1);
    flip(35, 200);
    json_t *j = expect_fail("bad_payload_crc", 35, 1);
    const json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "check")), "header");
    assert_int_equal(jint(e, "offset", NULL), 200);
    json_decref(j);
}

static void test_dump_dir_and_max_errors(void **ctx)
{
    char dump[160], path[200];
    uint8_t clean[BS], got[BS], b[BS];
    (void)ctx;
    snprintf(dump, sizeof(dump), "%s/dumps", dir);
    get_block(5, clean);
    flip(5, 100);
    flip(6, 101);
    flip(7, 102);
    get_block(5, b);
    assert_int_equal(run(true, "--dump-dir", dump, "--max-errors", "2", NULL), VERIFY_IMAGE_FAIL);
    json_t *j = report();
    assert_int_equal(jint(j, "bad", NULL), 3);
    assert_int_equal(json_array_size(json_object_get(j, "errors")), 2);
    json_decref(j);
    snprintf(path, sizeof(path), "%s/lba-5.expected", dump);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(got, 1, BS, f), BS);
    fclose(f);
    assert_memory_equal(got, clean, BS);
    snprintf(path, sizeof(path), "%s/lba-5.found", dump);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(got, 1, BS, f), BS);
    fclose(f);
    assert_memory_equal(got, b, BS);
    snprintf(path, sizeof(path), "%s/lba-6.found", dump);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/lba-7.found", dump); /* beyond --max-errors */
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_merged_log(void **ctx)
{
    (void)ctx;
    write_state(true);
    assert_int_equal(run(true, NULL), VERIFY_IMAGE_PASS);
    flip(0, 64);
    json_t *j = expect_fail("corrupt", 0, 1);
    json_decref(j);
}

static void test_repeated_lines_are_skipped(void **ctx)
{
    (void)ctx;
    FILE *f = fopen(state, "w");
    assert_non_null(f);
    state_line(f, 2, 0, tag0, layout, 3, false, false);
    state_line(f, 2, 0, tag0, layout, 3, false, false); /* two QEMUs' logs overlap */
    state_line(f, 3, 0, tag0, layout + 3, 4, true, false);
    state_end(f, 4, 7);
    fclose(f);
    assert_int_equal(run(true, NULL), VERIFY_IMAGE_PASS);
}

static void test_disk_selection(void **ctx)
{
    (void)ctx;
    /* disk 1's state against disk 0's image: every block carries the other disk's tag */
    json_t *j;
    assert_int_equal(run(true, "--serial", "vqh1", NULL), VERIFY_IMAGE_FAIL);
    j = report();
    assert_int_equal(jint(j, "classes", "misdirected_disk"), 4);
    assert_int_equal(jint(j, "disk", NULL), 1);
    json_decref(j);
    assert_int_equal(run(true, "--disk", "1", NULL), VERIFY_IMAGE_FAIL);
    assert_int_equal(run(true, "--disk", "0", NULL), VERIFY_IMAGE_PASS);
    assert_int_equal(run(true, "--serial", "vqh9", NULL), VERIFY_IMAGE_ERROR);
}

/* The last complete dump is the final state. */
static void test_last_dump_wins(void **ctx)
{
    (void)ctx;
    const struct expect_run old[] = {{0, 4, EXPECT_ZERO, 0, {0, 0}}};
    FILE *f = fopen(state, "w");
    assert_non_null(f);
    state_line(f, 2, 0, tag0, old, 1, true, false);
    state_end(f, 3, 1);
    state_line(f, 4, 0, tag0, layout, 7, true, false);
    state_end(f, 5, 7);
    fclose(f);
    assert_int_equal(run(true, NULL), VERIFY_IMAGE_PASS);
}

/* A write across the 4 MiB read chunk (8192 blocks of 512) still has its torn peer. */
static void test_torn_across_chunks(void **ctx)
{
    (void)ctx;
    const struct expect_run big[] = {{8188, 8, EXPECT_GEN, 1, {5, 77}}};
    make_image(8200);
    /* Only the blocks before the boundary landed: without them the rest would be just stale. */
    for (uint64_t l = 8188; l < 8192; l++)
        put_gen(l, 1, 5, 77);
    for (uint64_t l = 8193; l < 8196; l++)
        put_gen(l, 0, 5, 70); /* generation 0 < 1: an older write */
    FILE *f = fopen(state, "w");
    assert_non_null(f);
    state_line(f, 2, 0, tag0, big, 1, true, false);
    state_end(f, 3, 1);
    fclose(f);
    json_t *j = expect_fail("unwritten", 8192, 4);
    assert_int_equal(jint(j, "classes", "torn"), 3);
    const json_t *e = assert_error(j, 1, "torn", 8193);
    assert_int_equal(jint(e, "torn_peer_lba", NULL), 8188);
    json_decref(j);
}

/* ---- malformed state and bad arguments ------------------------------------------------------- */

static void write_lines(const char *first, const char *second)
{
    FILE *f = fopen(state, "w");
    assert_non_null(f);
    fprintf(f, "noise\n");
    state_line(f, 2, 0, tag0, layout, 2, false, false);
    fprintf(f, "%s\n%s\n", first, second);
    fclose(f);
}

static void assert_bad_state(const char *want)
{
    struct verify_image_state st;
    struct vqh_err err = {.msg = ""};

    assert_int_equal(run(true, NULL), VERIFY_IMAGE_ERROR);
    assert_false(verify_image_load_state(state, NULL, -1, &st, &err));
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, want);
}

#define STATE_HEAD "VQH1 3 {\"type\":\"reply\",\"cmd\":\"state\",\"ok\":true,\"disk\":0," \
    "\"serial\":\"vqh0\",\"blk_size\":512,\"seed\":\"0x1\",\"disk_tag\":\"0x%x\",\"runs\":[%s]," \
    "\"last\":true}"

static void test_bad_state(void **ctx)
{
    char line[512];
    (void)ctx;

    snprintf(line, sizeof(line), STATE_HEAD, tag0, "\"24+8:x\"");
    write_lines(line, "VQH1 4 {\"type\":\"reply\",\"cmd\":\"state_end\",\"ok\":true,\"runs\":3}");
    assert_bad_state("line 3: run 0 \"24+8:x\" is not");

    snprintf(line, sizeof(line), STATE_HEAD, tag0, "\"20+8:z\"");
    write_lines(line, "VQH1 4 {\"type\":\"reply\",\"cmd\":\"state_end\",\"ok\":true,\"runs\":3}");
    assert_bad_state("line 3: run \"20+8:z\" of disk 0 overlaps");

    snprintf(line, sizeof(line), STATE_HEAD, tag0, "\"24+8:z\"");
    write_lines(line, "VQH1 4 {\"type\":\"reply\",\"cmd\":\"state_end\",\"ok\":true,\"runs\":4}");
    assert_bad_state("line 4: state_end counts 4 runs but 3 were read since line 2");

    write_lines(line, "more noise");
    assert_bad_state("line 2: this state dump has no state_end");

    snprintf(line, sizeof(line), STATE_HEAD, tag0 + 1, "\"24+8:z\"");
    write_lines(line, "VQH1 4 {\"type\":\"reply\",\"cmd\":\"state_end\",\"ok\":true,\"runs\":3}");
    assert_bad_state("line 3: disk 0 (vqh0) is described differently than at line 2");

    write_lines("VQH1 3 {\"type\":\"reply\",\"cmd\":\"state\",\"ok\":true}", "");
    assert_bad_state("line 3: a state reply needs");

    FILE *f = fopen(state, "w");
    fprintf(f, "VQH1 1 {\"type\":\"hello\"}\n");
    fclose(f);
    assert_bad_state("holds no state dump");
}

static void test_bad_arguments(void **ctx)
{
    char path[160];
    (void)ctx;

    assert_int_equal(run(true, "--bogus", NULL), VERIFY_IMAGE_ERROR);
    assert_int_equal(run(true, "--blk-size", "1000", NULL), VERIFY_IMAGE_ERROR);
    assert_int_equal(run(true, "--blk-size", "4096", NULL), VERIFY_IMAGE_ERROR); /* not the state's */
    assert_int_equal(run(true, "--seed", "7", NULL), VERIFY_IMAGE_ERROR);
    assert_int_equal(run(true, "--disk", "x", NULL), VERIFY_IMAGE_ERROR);
    assert_int_equal(run(true, "--region-start", "8", NULL), VERIFY_IMAGE_ERROR); /* run at 0 */
    assert_int_equal(run(false, "--disk", "0", NULL), VERIFY_IMAGE_ERROR); /* needs --state */
    assert_int_equal(run(true, "extra", NULL), VERIFY_IMAGE_ERROR);
    assert_int_equal(run(true, "--max-errors", NULL), VERIFY_IMAGE_ERROR);
    snprintf(path, sizeof(path), "%s/none.log", dir);
    assert_int_equal(run(false, "--state", path, NULL), VERIFY_IMAGE_ERROR);

    make_image(40); /* smaller than the state's 64 blocks */
    assert_int_equal(run(true, NULL), VERIFY_IMAGE_ERROR);
    assert_int_equal(truncate(img, 40 * BS + 100), 0);
    assert_int_equal(run(false, NULL), VERIFY_IMAGE_ERROR);
    unlink(img);
    assert_int_equal(run(false, NULL), VERIFY_IMAGE_ERROR);
    assert_int_equal(run(true, NULL), VERIFY_IMAGE_ERROR);
}

static void test_region_start(void **ctx)
{
    (void)ctx;
    const struct expect_run runs[] = {{40, 8, EXPECT_GEN, 2, {1, 9}}};
    put_fill(53, 0); /* the half-landed failed write would now be outside the table */
    FILE *f = fopen(state, "w");
    assert_non_null(f);
    state_line(f, 2, 0, tag0, runs, 1, true, false);
    state_end(f, 3, 1);
    fclose(f);
    assert_int_equal(run(true, "--region-start", "40", NULL), VERIFY_IMAGE_PASS);
    json_t *j = report();
    assert_int_equal(jint(j, "checked", NULL), 8);
    json_decref(j);
    assert_int_equal(run(true, "--region-start", "41", NULL), VERIFY_IMAGE_ERROR);
}

/* ---- header only ------------------------------------------------------------------------------ */

/* 0..9 valid, 10..17 zero, 18..20 foreign, then the faults asked for. */
static void make_header_image(bool faults)
{
    uint8_t b[BS];

    make_image(32);
    for (uint64_t l = 0; l < 10; l++)
        put_gen(l, 1, 0, (uint32_t)l);
    for (uint64_t l = 18; l < 21; l++)
        put_fill(l, 0xee);
    if (!faults)
        return;
    for (uint64_t l = 21; l < 23; l++) {
        put_gen(l, 1, 0, 1);
        flip(l, 24); /* the gen field: header checksum */
    }
    for (uint64_t l = 23; l < 27; l++) {
        put_gen(l, 1, 0, 1);
        flip(l, 400);
    }
    for (uint64_t l = 27; l < 32; l++) {
        fill(b, SEED, tag0, l + 100, 1, 0, 1);
        put_block(l, b);
    }
}

static void test_header_counts(void **ctx)
{
    (void)ctx;
    make_header_image(true);
    assert_int_equal(run(false, NULL), VERIFY_IMAGE_FAIL);
    json_t *j = report();
    assert_string_equal(json_string_value(json_object_get(j, "mode")), "header");
    assert_int_equal(jint(j, "header_checked", NULL), 32);
    assert_int_equal(jint(j, "header", "valid"), 10);
    assert_int_equal(jint(j, "header", "zero"), 8);
    assert_int_equal(jint(j, "header", "foreign"), 3);
    assert_int_equal(jint(j, "header", "bad_header_crc"), 2);
    assert_int_equal(jint(j, "header", "bad_payload_crc"), 4);
    assert_int_equal(jint(j, "header", "misdirected"), 5);
    assert_int_equal(jint(j, "bad", NULL), 11);
    assert_error(j, 0, "bad_header_crc", 21);
    assert_error(j, 2, "bad_payload_crc", 23);
    const json_t *e = assert_error(j, 6, "misdirected", 27);
    assert_int_equal(jint(e, "found", "lba"), 127);
    json_decref(j);
}

static void test_header_seed_and_disk(void **ctx)
{
    (void)ctx;
    make_header_image(false);
    assert_int_equal(run(false, NULL), VERIFY_IMAGE_PASS);
    assert_int_equal(run(false, "--seed", "0x1", "--serial", "vqh0", NULL), VERIFY_IMAGE_PASS);
    assert_int_equal(run(false, "--seed", "2", NULL), VERIFY_IMAGE_FAIL);
    json_t *j = report();
    assert_int_equal(jint(j, "header", "wrong_seed"), 10);
    assert_error(j, 0, "wrong_seed", 0);
    json_decref(j);
    assert_int_equal(run(false, "--serial", "vqh1", NULL), VERIFY_IMAGE_FAIL);
    j = report();
    assert_int_equal(jint(j, "header", "wrong_disk"), 10);
    json_decref(j);
    /* the wrong block size: every 4096-byte block's header says so */
    assert_int_equal(run(false, "--blk-size", "4096", NULL), VERIFY_IMAGE_FAIL);
    j = report();
    assert_int_equal(jint(j, "header", "bad_format"), 2);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_image_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misdirected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_whole_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phantom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonzero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_block_gets_header_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_dir_and_max_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merged_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_lines_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_dump_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_across_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_seed_and_disk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
