/* test_reqsize.c: the size and segments of a large request (kernel/reqsize.c, max_request). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "reqsize.h"

/* QEMU's virtio-blk as Debian's 7.2 and 10.0.2 offer it: seg_max = queue-size - 2, no size_max. */
static struct reqsize_limits qemu_like(void)
{
    return (struct reqsize_limits){
        .seg_max = 254, .size_max = 0, .queue_size = 256, .table_segs = 256, .blk_size = 512,
        .want = REQSIZE_DEVICE, .mem_bytes = 64u << 20, .region_blocks = 1u << 20,
    };
}

/* Every segment but the last is seg_bytes, none is empty, together they are the request. */
static void check_segments(const struct reqsize_plan *p, const struct reqsize_limits *l)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < p->segs; i++) {
        uint32_t len = reqsize_seg_len(p, i);
        assert_true(len > 0 && len % 512 == 0);
        assert_true(len <= p->seg_bytes);
        if (l->size_max)
            assert_true(len <= l->size_max);
        sum += len;
    }
    assert_int_equal(reqsize_seg_len(p, p->segs), 0);
    assert_int_equal(sum, p->bytes);
    assert_int_equal(p->bytes % l->blk_size, 0);
    assert_int_equal(p->blocks, p->bytes / l->blk_size);
    assert_true(p->segs <= l->seg_max && p->segs + 2 <= l->queue_size && p->segs <= l->table_segs);
}

static void plan_ok(const struct reqsize_limits *l, struct reqsize_plan *p)
{
    const char *why = NULL;
    if (!reqsize_plan(l, p, &why))
        fail_msg("no plan: %s", why);
    check_segments(p, l);
}

static void test_device_without_size_max_uses_every_segment(void **state)
{
    (void)state;
    struct reqsize_limits l = qemu_like();
    struct reqsize_plan p;
    plan_ok(&l, &p);
    assert_int_equal(p.segs, 254);
    assert_string_equal(p.segs_bound, "seg_max");
    /* no size_max: our own cap, 4 MiB, cut into 254 equal whole-sector segments */
    assert_string_equal(p.bytes_bound, "default cap");
    assert_int_equal(p.seg_bytes, 16384);
    assert_int_equal(p.bytes, 254 * 16384);
}

static void test_seg_max_times_size_max(void **state)
{
    (void)state;
    struct reqsize_limits l = qemu_like();
    struct reqsize_plan p;
    l.seg_max = 32;
    l.size_max = 4096;
    plan_ok(&l, &p);
    assert_int_equal(p.segs, 32);
    assert_int_equal(p.seg_bytes, 4096);
    assert_int_equal(p.bytes, 32 * 4096);
    assert_string_equal(p.bytes_bound, "seg_max*size_max");
    /* a size_max that is not whole sectors: segments round down to whole sectors */
    l.size_max = 4000;
    plan_ok(&l, &p);
    assert_int_equal(p.seg_bytes, 3584);
    assert_int_equal(p.bytes, 32 * 3584);
    l.size_max = 100;
    const char *why = NULL;
    assert_false(reqsize_plan(&l, &p, &why));
    assert_non_null(strstr(why, "size_max"));
}

static void test_queue_size_and_driver_bound_segments(void **state)
{
    (void)state;
    struct reqsize_limits l = qemu_like();
    struct reqsize_plan p;
    /* seg-max-adjust=off style: seg_max 126 on a 64-entry queue: the chain must fit the queue */
    l.seg_max = 126;
    l.queue_size = 64;
    plan_ok(&l, &p);
    assert_int_equal(p.segs, 62);
    assert_string_equal(p.segs_bound, "queue_size");
    /* queue-size 1024: seg_max 1022, but the driver's tables hold 256 */
    l.seg_max = 1022;
    l.queue_size = 1024;
    plan_ok(&l, &p);
    assert_int_equal(p.segs, 256);
    assert_string_equal(p.segs_bound, "driver");
    /* no VIRTIO_BLK_F_SEG_MAX: one segment */
    l.seg_max = 1;
    plan_ok(&l, &p);
    assert_int_equal(p.segs, 1);
    assert_int_equal(p.bytes, 4u << 20);
    l.queue_size = 2;
    const char *why = NULL;
    assert_false(reqsize_plan(&l, &p, &why));
    assert_non_null(strstr(why, "queue size"));
}

static void test_memory_region_and_max_request_bound_bytes(void **state)
{
    (void)state;
    struct reqsize_limits l = qemu_like();
    struct reqsize_plan p;
    l.want = 1u << 20;
    plan_ok(&l, &p);
    assert_string_equal(p.bytes_bound, "max_request");
    assert_int_equal(p.segs, 254);
    assert_int_equal(p.seg_bytes, 4096);
    assert_int_equal(p.bytes, 254 * 4096);
    /* max_request above the default cap: taken when the memory allows */
    l.want = 16u << 20;
    plan_ok(&l, &p);
    assert_true(p.bytes > (15u << 20));
    l.mem_bytes = 2u << 20;
    plan_ok(&l, &p);
    assert_string_equal(p.bytes_bound, "memory");
    assert_true(p.bytes <= (2u << 20));
    /* a small region: a quarter of it */
    l.region_blocks = 2048;
    plan_ok(&l, &p);
    assert_string_equal(p.bytes_bound, "region");
    assert_true(p.blocks <= 512);
    /* a small request over many segments: 512-byte segments, fewer of them */
    l.region_blocks = 1u << 20;
    l.want = 64u << 10;
    plan_ok(&l, &p);
    assert_int_equal(p.seg_bytes, 512);
    assert_int_equal(p.segs, 128);
    assert_string_equal(p.segs_bound, "bytes");
    /* 4 KiB blocks: whole blocks, the last segment shorter */
    l.want = REQSIZE_DEVICE;
    l.mem_bytes = 64u << 20;
    l.blk_size = 4096;
    l.seg_max = 100;
    l.size_max = 4608;
    plan_ok(&l, &p);
    assert_int_equal(p.bytes, 112 * 4096); /* 100 * 4608 = 460800, down to whole 4 KiB blocks */
    assert_int_equal(p.segs, 100);
    assert_int_equal(reqsize_seg_len(&p, 99), 112 * 4096 - 99 * 4608);
    /* less than a block fits */
    l.mem_bytes = 2048;
    const char *why = NULL;
    assert_false(reqsize_plan(&l, &p, &why));
    assert_non_null(strstr(why, "not one block"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_without_size_max_uses_every_segment),
        cmocka_unit_test(test_seg_max_times_size_max),
        cmocka_unit_test(test_queue_size_and_driver_bound_segments),
        cmocka_unit_test(test_memory_region_and_max_request_bound_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
