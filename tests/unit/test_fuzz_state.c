/*
 * test_fuzz_state.c: `vqhammer verify-image --state FILE` reads the guest's final state from a
 * serial log, a file from outside. Logs made from a valid dump, fuzzed byte-wise and member-wise
 * (tests/unit/fuzz.h): no crash, and either a state that keeps the promises verify-image relies on
 * (runs ascending, not overlapping, in the region, of a known state) or an error that names the
 * file. Now and then the whole check runs on a small image with it: PASS, FAIL or ERROR with a
 * reason, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockfmt.h"
#include "expect.h"
#include "fuzz.h"
#include "verify_image.h"

static char dir[64], img[128], state[128];

static const char base_log[] =
    "BdsDxe: loading Boot0001 \"UEFI QEMU HARDDISK\"\n"
    "VQH1 1 {\"type\":\"hello\",\"wire\":1}\n"
    "VQH1 2 {\"type\":\"reply\",\"cmd\":\"state\",\"ok\":true,\"epoch\":3,\"disk\":0,\"serial\":\"vqh0\","
    "\"blk_size\":512,\"seed\":\"0x1\",\"disk_tag\":\"0x%x\",\"runs\":[\"0+4:g:1:0:1\",\"4+2:z\",\"8+3:g:2:1:7\"],"
    "\"last\":false}\n"
    "VQH1 3 {\"type\":\"reply\",\"cmd\":\"state\",\"ok\":true,\"epoch\":3,\"disk\":0,\"serial\":\"vqh0\","
    "\"blk_size\":512,\"seed\":\"0x1\",\"disk_tag\":\"0x%x\",\"runs\":[\"12+1:d\",\"13+2:f\",\"20+8:g:1:3:9\"],"
    "\"last\":true}\n"
    "VQH1 4 {\"type\":\"reply\",\"cmd\":\"state\",\"ok\":true,\"epoch\":3,\"disk\":1,\"serial\":\"vqh1\","
    "\"blk_size\":512,\"seed\":\"0x1\",\"disk_tag\":\"0x%x\",\"runs\":[\"0+4:g:1:0:1\"],\"last\":true}\n"
    "VQH1 5 {\"type\":\"reply\",\"cmd\":\"state_end\",\"ok\":true,\"epoch\":3,\"runs\":7}\n";

static const char *const dict[] = {
    "\"runs\":[]", "\"last\":true", "\"last\":false", "\"disk\":-1", "\"disk\":\"0\"", "\"blk_size\":513",
    "\"blk_size\":0", "\"seed\":5", "\"seed\":\"0x\"", "0+0:g", "18446744073709551615+1:z", "+4294967295:g:1:0:1",
    ":g:4294967296:0:1", ":q", "\"state_end\"", "\"state\"", "VQH1 ", "\n", "{", "}", "[", "]", "null", NULL,
};

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof(dir), "/tmp/vqh-fuzz-state-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(img, sizeof(img), "%s/disk.img", dir);
    snprintf(state, sizeof(state), "%s/serial.log", dir);
    /* the image the state describes, blocks 0..3 and 8..10 and 20..27 written as it says */
    FILE *f = fopen(img, "w");
    if (!f)
        return -1;
    uint8_t b[512];
    uint32_t tag = blk_disk_tag("vqh0", 4);
    for (uint64_t l = 0; l < 32; l++) {
        memset(b, 0, sizeof(b));
        struct blk_stamp s = { .seed = 1, .disk_tag = tag, .lba = l, .gen = 1 };
        if (l < 4)
            s.req_seq = 1;
        if (l >= 8 && l < 11)
            s.gen = 2, s.writer_q = 1, s.req_seq = 7;
        if (l >= 20 && l < 28)
            s.writer_q = 3, s.req_seq = 9;
        if (l < 4 || (l >= 8 && l < 11) || (l >= 20 && l < 28))
            blk_fill(b, sizeof(b), &s);
        fwrite(b, 1, sizeof(b), f);
    }
    fclose(f);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    unlink(img);
    unlink(state);
    return rmdir(dir);
}

static void write_file(const void *p, size_t n)
{
    FILE *f = fopen(state, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void check_state(const struct verify_image_state *st)
{
    uint64_t next = 0;
    assert_true(st->nruns == 0 || st->runs);
    for (size_t i = 0; i < st->nruns; i++) {
        const struct expect_run *r = &st->runs[i];
        assert_true(r->count > 0);
        assert_true(r->lba >= next);
        assert_true(r->lba + r->count > r->lba); /* no wrap */
        assert_true(r->state == EXPECT_GEN || r->state == EXPECT_ZERO || r->state == EXPECT_DISCARDED ||
                    r->state == EXPECT_FAILED);
        next = r->lba + r->count;
    }
    assert_true(st->end_lba == next);
}

static void test_state_logs(void **state_)
{
    (void)state_;
    struct fuzz f = { fuzz_seed() };
    static uint8_t valid[4096], buf[16384];
    uint32_t t0 = blk_disk_tag("vqh0", 4), t1 = blk_disk_tag("vqh1", 4);
    int n0 = snprintf((char *)valid, sizeof(valid), base_log, t0, t0, t1);
    assert_true(n0 > 0 && (size_t)n0 < sizeof(valid));
    unsigned long loaded = 0, refused = 0, runs = 0;

    /* the unmutated log loads and checks clean */
    write_file(valid, (size_t)n0);
    struct verify_image_opts o;
    struct vqh_err err = {0};
    verify_image_defaults(&o);
    o.image = img;
    o.state_path = state;
    assert_int_equal(verify_image_run(&o, NULL, &err), VERIFY_IMAGE_PASS);

    for (int iter = 0; iter < 4000; iter++) {
        size_t n = (size_t)n0;
        memcpy(buf, valid, n);
        n = fuzz_mutate(&f, buf, n, sizeof(buf), dict);
        write_file(buf, n);
        struct verify_image_state st;
        const char *serial = fuzz_below(&f, 3) == 0 ? "vqh1" : NULL;
        int disk = serial ? -1 : (int)fuzz_below(&f, 3) - 1;
        memset(&err, 0, sizeof(err));
        if (verify_image_load_state(state, serial, disk, &st, &err)) {
            loaded++;
            check_state(&st);
            verify_image_state_free(&st);
        } else {
            refused++;
            assert_non_null(strstr(err.msg, state));
        }
        if (iter % 40 == 0) {
            memset(&err, 0, sizeof(err));
            int r = verify_image_run(&o, NULL, &err);
            runs++;
            assert_true(r == VERIFY_IMAGE_PASS || r == VERIFY_IMAGE_FAIL || r == VERIFY_IMAGE_ERROR);
            if (r == VERIFY_IMAGE_ERROR)
                assert_true(err.msg[0] != '\0');
        }
    }
    if (!(loaded > 60 && refused > 500 && runs > 60))
        fail_msg("loaded %lu refused %lu runs %lu", loaded, refused, runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_logs),
    };
    return cmocka_run_group_tests_name("fuzz_state", tests, setup, teardown);
}
