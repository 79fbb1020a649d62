/*
 * test_stress.c: the guest's own virtio-blk driver keeps every queue busy with verified I/O, and
 * its detectors fire on faults injected through QEMU (issue: the driver and the stress engine).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "wire.h"

static char drive[700], device[200], drive2[700], device2[200];

/* The summary's per-queue ops: every queue did I/O, none reported errors. */
static void assert_all_queues_busy(const struct boot_result *r, int nqueues)
{
    json_t *sum = harness_find(r, WIRE_MSG_SUMMARY), *disk, *q;
    size_t i, j;
    int seen = 0;
    assert_non_null(sum);
    assert_int_equal(json_integer_value(json_object_get(sum, "errors")), 0);
    json_array_foreach(json_object_get(sum, "disks"), i, disk) {
        json_array_foreach(json_object_get(disk, "queues"), j, q) {
            seen++;
            assert_true(json_integer_value(json_object_get(q, "ops")) > 0);
            assert_true(json_integer_value(json_object_get(q, "reads")) > 0);
            assert_true(json_integer_value(json_object_get(q, "writes")) > 0);
            assert_int_equal(json_integer_value(json_object_get(q, "errors")), 0);
            assert_int_equal(json_integer_value(json_object_get(q, "inflight")), 0);
        }
    }
    assert_int_equal(seen, nqueues);
}

static void data_disk(const char *image, const char *extra)
{
    snprintf(drive, sizeof(drive), "if=none,id=d0,format=raw,cache=none,aio=threads,%s", image);
    snprintf(device, sizeof(device), "virtio-blk-pci,drive=d0,serial=vqh0,num-queues=8,queue-size=256,iothread=io0%s",
             extra ? extra : "");
}

static void test_eight_queues_twenty_seconds(void **state)
{
    (void)state;
    char img[600];
    snprintf(img, sizeof(img), "file=%s", harness_image("q8.img", 256ull << 20));
    data_disk(img, NULL);
    struct boot_spec s = {
        .boot = "pvh", .config = "duration=20\nreport_ms=2000\n", .timeout_ms = 120000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive, "-device", device, NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    assert_all_queues_busy(&r, 8);
    assert_int_equal(harness_count(&r, WIRE_MSG_ERROR), 0);
    assert_true(harness_count(&r, WIRE_MSG_PROGRESS) >= 5);
    /* the final verification pass compared real data */
    json_t *sum = harness_find(&r, WIRE_MSG_SUMMARY);
    json_t *q0 = json_array_get(json_object_get(json_array_get(json_object_get(sum, "disks"), 0), "queues"), 0);
    assert_true(json_integer_value(json_object_get(q0, "verified")) > 0);
    harness_result_free(&r);
}

static void test_uefi_path_hammers_too(void **state)
{
    (void)state;
    char img[600];
    snprintf(img, sizeof(img), "file=%s", harness_image("uefi.img", 64ull << 20));
    data_disk(img, NULL);
    struct boot_spec s = {
        .boot = "uefi", .config = "duration=5\nreport_ms=1000\n", .timeout_ms = 120000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive, "-device", device, NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    assert_all_queues_busy(&r, 8);
    harness_result_free(&r);
}

static void test_polling_mode_without_event_idx(void **state)
{
    (void)state;
    char img[600];
    snprintf(img, sizeof(img), "file=%s", harness_image("poll.img", 64ull << 20));
    data_disk(img, NULL);
    struct boot_spec s = {
        .boot = "pvh", .config = "duration=4\nmode=poll\nevent_idx=off\nindirect=off\n", .timeout_ms = 60000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive, "-device", device, NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    json_t *disk = json_array_get(json_object_get(harness_find(&r, WIRE_MSG_HELLO), "disks"), 0);
    assert_null(strstr(json_string_value(json_object_get(disk, "features")), "event_idx"));
    assert_null(strstr(json_string_value(json_object_get(disk, "features")), "indirect"));
    assert_all_queues_busy(&r, 8);
    harness_result_free(&r);
}

static void test_other_disks_are_left_alone(void **state)
{
    (void)state;
    char img[600];
    snprintf(img, sizeof(img), "file=%s", harness_image("data.img", 64ull << 20));
    data_disk(img, NULL);
    const char *other = harness_image("other.img", 8ull << 20);
    snprintf(drive2, sizeof(drive2), "if=none,id=d1,format=raw,file=%s", other);
    snprintf(device2, sizeof(device2), "virtio-blk-pci,drive=d1,serial=notours");
    struct boot_spec s = {
        .boot = "pvh", .config = "duration=2\n", .timeout_ms = 60000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive, "-device", device, "-drive", drive2,
                   "-device", device2, NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    json_t *d, *disks = json_object_get(harness_find(&r, WIRE_MSG_HELLO), "disks");
    size_t i;
    int ignored = 0;
    json_array_foreach(disks, i, d) {
        if (!strcmp(json_string_value(json_object_get(d, "serial")), "notours")) {
            assert_string_equal(json_string_value(json_object_get(d, "role")), "ignored");
            ignored++;
        }
    }
    assert_int_equal(ignored, 1);
    /* not one byte of the other disk was written */
    FILE *f = fopen(other, "rb");
    static unsigned char buf[1 << 20];
    size_t n, nonzero = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        for (size_t k = 0; k < n; k++)
            nonzero += buf[k] != 0;
    fclose(f);
    assert_int_equal(nonzero, 0);
    harness_result_free(&r);
}

static void test_blkdebug_write_error_is_a_completion_error(void **state)
{
    (void)state;
    char cfgpath[600], img[1400];
    snprintf(cfgpath, sizeof(cfgpath), "%s/blkdebug.conf", harness_dir());
    FILE *f = fopen(cfgpath, "w");
    fputs("[inject-error]\nevent = \"write_aio\"\nerrno = \"5\"\nonce = \"on\"\n", f);
    fclose(f);
    snprintf(img, sizeof(img), "file.driver=blkdebug,file.config=%s,file.image.filename=%s", cfgpath,
             harness_image("bd.img", 64ull << 20));
    data_disk(img, NULL);
    struct boot_spec s = {
        .boot = "pvh", .config = "duration=3\n", .timeout_ms = 60000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive, "-device", device, NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_FAIL));
    json_t *e = harness_find(&r, WIRE_MSG_ERROR);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "class")), WIRE_ERR_STATUS);
    assert_string_equal(json_string_value(json_object_get(e, "op")), "write");
    assert_int_equal(json_integer_value(json_object_get(e, "status")), 1); /* VIRTIO_BLK_S_IOERR */
    assert_non_null(json_object_get(e, "lba"));
    assert_non_null(json_object_get(e, "q"));
    assert_int_equal(harness_count(&r, WIRE_MSG_ERROR), 1); /* once = on: exactly one */
    harness_result_free(&r);
}

/* A request the device sits on is named by the watchdog: queue, head, op, LBA and age. QEMU's
 * throttling (2 requests a second) holds requests far longer than watchdog_ms. */
static void test_watchdog_names_a_stuck_request(void **state)
{
    (void)state;
    char img[700];
    snprintf(img, sizeof(img), "file=%s,throttling.iops-total=2", harness_image("slow.img", 16ull << 20));
    data_disk(img, NULL);
    struct boot_spec s = {
        .boot = "pvh", .config = "duration=2\nqueues=1\ndepth=2\nwatchdog_ms=400\nmix_flush=0\n",
        .timeout_ms = 60000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive, "-device", device, NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_FAIL));
    json_t *e = NULL;
    for (int i = 0; i < r.nmsgs && !e; i++)
        if (!strcmp(json_string_value(json_object_get(r.msgs[i], "class")) ?: "", WIRE_ERR_TIMEOUT))
            e = r.msgs[i];
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "q")), 0);
    assert_non_null(json_object_get(e, "head"));
    assert_non_null(json_object_get(e, "op"));
    assert_non_null(json_object_get(e, "lba"));
    assert_true(json_integer_value(json_object_get(e, "age_ms")) >= 400);
    assert_int_equal(json_integer_value(json_object_get(e, "limit_ms")), 400);
    harness_result_free(&r);
}

/* QMP stop, overwrite a written block on the host, cont, full verification: the guest names it. */
static void test_host_overwrite_is_reported_with_lba_and_class(void **state)
{
    (void)state;
    char out[600], json[600];
    snprintf(out, sizeof(out), "%s/overwrite.out", harness_dir());
    snprintf(json, sizeof(json), "%s/overwrite.json", harness_dir());
    const char *args[] = { "migrate", "--boot", "pvh", "--accel", "tcg", "--migrations", "1", "--inject",
                           "overwrite-block", "--json", json, "--seed", "7", NULL };
    assert_int_equal(harness_tool(args, out, 300000), 1);
    char *text = harness_slurp(out);
    unsigned long long lba = 0;
    const char *at = strstr(text, "corrupted block ");
    assert_non_null(at);
    assert_int_equal(sscanf(at, "corrupted block %llu", &lba), 1);
    json_t *doc = json_load_file(json, 0, NULL);
    assert_non_null(doc);
    const char *reason = json_string_value(json_object_get(doc, "reason"));
    char want[64];
    snprintf(want, sizeof(want), "\"bad_lba\":%llu", lba);
    assert_non_null(strstr(reason, want));
    assert_non_null(strstr(reason, "\"class\":\"corrupt\""));
    assert_string_equal(json_string_value(json_object_get(doc, "verdict")), "FAIL");
    json_decref(doc);
    free(text);
    assert_true(harness_no_qemu_left());
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eight_queues_twenty_seconds),
        cmocka_unit_test(test_uefi_path_hammers_too),
        cmocka_unit_test(test_polling_mode_without_event_idx),
        cmocka_unit_test(test_other_disks_are_left_alone),
        cmocka_unit_test(test_blkdebug_write_error_is_a_completion_error),
        cmocka_unit_test(test_watchdog_names_a_stuck_request),
        cmocka_unit_test(test_host_overwrite_is_reported_with_lba_and_class),
    };
    return cmocka_run_group_tests_name("stress", tests, NULL, teardown);
}
