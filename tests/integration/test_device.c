/*
 * test_device.c: the guest's device handling beyond plain I/O (issues 10 and 12): device and
 * queue resets mid-run on both ring formats, a reset that fails (reported), the host's
 * --reset-every, the interrupt mode in effect, merge bursts, and one vCPU owning every queue of
 * three 64-queue disks (their progress and summary in parts, every queue in them).
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

static char drive[3][700], device[3][300];

static void disk(int i, const char *name, const char *props)
{
    snprintf(drive[i], sizeof(drive[i]), "if=none,id=d%d,format=raw,cache=none,aio=threads,file=%s", i,
             harness_image(name, 64ull << 20));
    snprintf(device[i], sizeof(device[i]), "virtio-blk-pci,drive=d%d,serial=vqh%d,iothread=io0,%s", i, i, props);
}

static json_t *summary_disk(const struct boot_result *r, int i)
{
    json_t *sum = harness_find(r, WIRE_MSG_SUMMARY);
    assert_non_null(sum);
    return json_array_get(json_object_get(sum, "disks"), (size_t)i);
}

/* Resets at seeded moments (reset_ms): both kinds happen, the data survives, nothing is lost. */
static void run_resets(const char *props)
{
    disk(0, "reset.img", props);
    struct boot_spec s = {
        .boot = "pvh", .config = "seed=1\nduration=4\nreset_ms=250\nreport_ms=0\n", .timeout_ms = 120000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive[0], "-device", device[0], NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    assert_int_equal(harness_count(&r, WIRE_MSG_ERROR), 0);
    json_t *d = summary_disk(&r, 0);
    json_int_t resets = json_integer_value(json_object_get(d, "resets"));
    json_int_t qresets = json_integer_value(json_object_get(d, "queue_resets"));
    assert_true(resets > 0);
    assert_true(qresets > 0);
    assert_true(resets + qresets >= 5);
    /* every queue kept working across the resets, and the final pass read real data back */
    json_t *q;
    size_t j;
    json_array_foreach(json_object_get(d, "queues"), j, q) {
        assert_true(json_integer_value(json_object_get(q, "ops")) > 0);
        assert_true(json_integer_value(json_object_get(q, "verified")) > 0);
    }
    harness_result_free(&r);
}

static void test_resets_mid_run_split(void **state)
{
    (void)state;
    run_resets("num-queues=4,queue-size=128");
}

static void test_resets_mid_run_packed(void **state)
{
    (void)state;
    run_resets("num-queues=4,queue-size=128,packed=on");
}

/* A reset that does not bring the device back (inject=reset_fail: it stays FAILED) is a finding:
 * an error of class reset_failed naming the disk and the status read back, and the run fails. */
static void test_failed_reset_is_reported(void **state)
{
    (void)state;
    disk(0, "resetfail.img", "num-queues=2,queue-size=64");
    struct boot_spec s = {
        .boot = "pvh", .config = "seed=2\nduration=3\nreset_ms=300\nreport_ms=0\ninject=reset_fail\n",
        .timeout_ms = 120000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive[0], "-device", device[0], NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_FAIL));
    json_t *e = harness_find(&r, WIRE_MSG_ERROR);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "class")), WIRE_ERR_RESET);
    assert_int_equal(json_integer_value(json_object_get(e, "disk")), 0);
    assert_string_equal(json_string_value(json_object_get(e, "serial")), "vqh0");
    assert_true(json_integer_value(json_object_get(e, "status_after")) & 0x80); /* FAILED */
    assert_non_null(strstr(json_string_value(json_object_get(e, "detail")), "not DRIVER_OK alone"));
    assert_string_equal(json_string_value(json_object_get(harness_find(&r, WIRE_MSG_VERDICT), "verdict")), "fail");
    /* the data survived: no other class of error */
    for (int k = 0; k < r.nmsgs; k++)
        if (!strcmp(json_string_value(json_object_get(r.msgs[k], "type")), WIRE_MSG_ERROR))
            assert_string_equal(json_string_value(json_object_get(r.msgs[k], "class")), WIRE_ERR_RESET);
    harness_result_free(&r);
}

/* A real device-side refusal: the destination's disks demand VIRTIO_F_ACCESS_PLATFORM
 * (--inject refuse-features), which the guest negotiated without on the source; QEMU migrates the
 * device, then refuses FEATURES_OK at the guest's reset (--reset-every 1). The run fails with
 * reset_failed naming the disk, from the host and from the guest. */
static void test_device_refusing_features_after_migration(void **state)
{
    (void)state;
    char out[600], json[600];
    snprintf(out, sizeof(out), "%s/refuse.out", harness_dir());
    snprintf(json, sizeof(json), "%s/refuse.json", harness_dir());
    const char *args[] = { "migrate", "--boot", "pvh", "--accel", "tcg", "--migrations", "1", "--queues", "2",
                           "--reset-every", "1", "--inject", "refuse-features", "--seed", "1", "--json", json, NULL };
    int rc = harness_tool(args, out, 300000);
    char *text = harness_slurp(out);
    if (rc != 1 && text)
        fprintf(stderr, "--- vqhammer output ---\n%s\n", text);
    assert_int_equal(rc, 1); /* FAIL */
    assert_non_null(text);
    assert_non_null(strstr(text, "hop 1: the guest's reset of disk vqh0 failed (reset_failed)"));
    assert_non_null(strstr(text, "refused our feature subset"));
    json_t *doc = json_load_file(json, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "verdict")), "FAIL");
    assert_non_null(strstr(json_string_value(json_object_get(doc, "reason")), "reset_failed"));
    /* the guest's own report: an error of class reset_failed on disk 0, from the device's refusal */
    char merged[700];
    snprintf(merged, sizeof(merged), "%s/serial-merged.log", json_string_value(json_object_get(doc, "rundir")));
    json_decref(doc);
    char *log = harness_slurp(merged);
    assert_non_null(log);
    json_t *e = NULL;
    for (char *line = strtok(log, "\n"); line && !e; line = strtok(NULL, "\n")) {
        char *obj = strchr(line, '{');
        if (obj && strstr(obj, "\"type\":\"error\""))
            e = json_loads(obj, 0, NULL);
    }
    free(log);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "class")), WIRE_ERR_RESET);
    assert_int_equal(json_integer_value(json_object_get(e, "disk")), 0);
    assert_string_equal(json_string_value(json_object_get(e, "serial")), "vqh0");
    assert_non_null(strstr(json_string_value(json_object_get(e, "detail")), "refused our feature subset"));
    json_decref(e);
    free(text);
    assert_true(harness_no_qemu_left());
}

/* The host's --reset-every: the guest resets at every hop's checks, QEMU sees healthy devices. */
static void test_host_reset_every_hop(void **state)
{
    (void)state;
    char out[600], json[600];
    snprintf(out, sizeof(out), "%s/reset.out", harness_dir());
    snprintf(json, sizeof(json), "%s/reset.json", harness_dir());
    const char *args[] = { "migrate", "--boot", "pvh", "--accel", "tcg", "--migrations", "2", "--queues", "4",
                           "--disk-opts", "packed=on", "--reset-every", "1", "--seed", "1", "--json", json, NULL };
    int rc = harness_tool(args, out, 300000);
    char *text = harness_slurp(out);
    if (rc != 0 && text)
        fprintf(stderr, "--- vqhammer output ---\n%s\n", text);
    assert_int_equal(rc, 0);
    assert_non_null(text);
    assert_non_null(strstr(text, "hop 1: every data disk reset and renegotiated"));
    assert_non_null(strstr(text, "hop 2: every data disk reset and renegotiated"));
    json_t *doc = json_load_file(json, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "config"), "reset_every")), 1);
    json_decref(doc);
    free(text);
    assert_true(harness_no_qemu_left());
}

/* irq mode must really take interrupts on every queue; poll mode none; both say which in hello. */
static void run_mode(const char *mode, bool irq)
{
    char cfg[128];
    disk(0, "mode.img", "num-queues=4,queue-size=64");
    snprintf(cfg, sizeof(cfg), "duration=3\nmode=%s\nreport_ms=0\n", mode);
    struct boot_spec s = {
        .boot = "pvh", .config = cfg, .timeout_ms = 120000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive[0], "-device", device[0], NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    json_t *hello = harness_find(&r, WIRE_MSG_HELLO), *hd = NULL, *x;
    size_t i;
    json_array_foreach(json_object_get(hello, "disks"), i, x)
        if (!strcmp(json_string_value(json_object_get(x, "role")), "data"))
            hd = x;
    assert_non_null(hd);
    assert_string_equal(json_string_value(json_object_get(hd, "mode")), irq ? "irq" : "poll");
    json_t *d = summary_disk(&r, 0), *q;
    assert_string_equal(json_string_value(json_object_get(d, "mode")), irq ? "irq" : "poll");
    json_array_foreach(json_object_get(d, "queues"), i, q) {
        json_int_t irqs = json_integer_value(json_object_get(q, "irqs"));
        if (irq)
            assert_true(irqs > 0);
        else
            assert_int_equal(irqs, 0);
    }
    harness_result_free(&r);
}

static void test_irq_mode_takes_interrupts(void **state)
{
    (void)state;
    run_mode("irq", true);
    run_mode("poll", false);
}

/* burst=N: whole merge bursts complete and verify like every other request. */
static void test_merge_bursts_complete_and_verify(void **state)
{
    (void)state;
    disk(0, "burst.img", "num-queues=2,queue-size=256");
    struct boot_spec s = {
        .boot = "pvh", .config = "seed=3\nduration=4\nburst=96\nreport_ms=0\n", .timeout_ms = 120000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive[0], "-device", device[0], NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    assert_int_equal(harness_count(&r, WIRE_MSG_ERROR), 0);
    json_int_t bursts = 0;
    json_t *q;
    size_t j;
    json_array_foreach(json_object_get(summary_disk(&r, 0), "queues"), j, q) {
        bursts += json_integer_value(json_object_get(q, "bursts"));
        assert_true(json_integer_value(json_object_get(q, "verified")) > 0);
    }
    assert_true(bursts > 0);
    harness_result_free(&r);
}

/* Every queue of every disk in a per-queue message, in order, with its counters. */
static void assert_all_queues(const json_t *msg, const char *what, bool ops)
{
    json_t *d, *q;
    size_t i, j;
    json_int_t sum = 0;
    assert_false(json_is_true(json_object_get(msg, "truncated")));
    assert_int_equal(json_array_size(json_object_get(msg, "disks")), 3);
    json_array_foreach(json_object_get(msg, "disks"), i, d) {
        assert_int_equal(json_integer_value(json_object_get(d, "disk")), (json_int_t)i);
        if (json_array_size(json_object_get(d, "queues")) != 64)
            fail_msg("%s: disk %zu lists %zu queues, not 64", what, i, json_array_size(json_object_get(d, "queues")));
        json_array_foreach(json_object_get(d, "queues"), j, q) {
            assert_int_equal(json_integer_value(json_object_get(q, "q")), (json_int_t)j);
            assert_int_equal(json_integer_value(json_object_get(q, "cpu")), 0);
            assert_int_equal(json_integer_value(json_object_get(q, "errors")), 0);
            if (!json_is_integer(json_object_get(q, "ops")) || (ops && json_integer_value(json_object_get(q, "ops")) <= 0))
                fail_msg("%s: disk %zu queue %zu has no ops", what, i, j);
            sum += json_integer_value(json_object_get(q, "ops"));
        }
    }
    if (json_object_get(msg, "ops"))
        assert_int_equal(json_integer_value(json_object_get(msg, "ops")), sum);
}

/* One vCPU owns 3 x 64 queues: more than the per-CPU table once held, and progress and summary
 * messages longer than a line, which go out in parts and come back whole (issue 12). */
static void test_one_cpu_owns_every_queue_of_three_disks(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "many%d.img", i);
        disk(i, name, "num-queues=64,queue-size=16");
    }
    struct boot_spec s = {
        .boot = "pvh", .smp = 1, .config = "duration=3\nqueues=64\ndepth=2\nmax_blocks=4\nreport_ms=1000\n",
        .timeout_ms = 120000,
        .extra = { "-object", "iothread,id=io0", "-drive", drive[0], "-device", device[0], "-drive", drive[1],
                   "-device", device[1], "-drive", drive[2], "-device", device[2], NULL },
    };
    struct boot_result r;
    assert_true(harness_boot(&s, &r));
    assert_int_equal(r.exit_status, WIRE_EXIT_STATUS(WIRE_VERDICT_PASS));
    assert_int_equal(r.broken_msgs, 0);
    /* hello lists three data disks of 64 queues */
    json_t *x;
    size_t i;
    int data = 0, progress = 0;
    json_array_foreach(json_object_get(harness_find(&r, WIRE_MSG_HELLO), "disks"), i, x) {
        if (!strcmp(json_string_value(json_object_get(x, "role")), "data")) {
            data++;
            assert_int_equal(json_integer_value(json_object_get(x, "num_queues")), 64);
        }
    }
    assert_int_equal(data, 3);
    /* every progress message and the summary name all 192 queues; by the summary each has worked */
    for (int k = 0; k < r.nmsgs; k++) {
        const char *t = json_string_value(json_object_get(r.msgs[k], "type"));
        assert_string_not_equal(t, WIRE_MSG_PART);
        if (!strcmp(t, WIRE_MSG_PROGRESS)) {
            assert_all_queues(r.msgs[k], "progress", false);
            progress++;
        }
    }
    assert_true(progress > 0);
    json_t *sum = harness_find(&r, WIRE_MSG_SUMMARY);
    assert_non_null(sum);
    assert_int_equal(json_integer_value(json_object_get(sum, "errors")), 0);
    assert_all_queues(sum, "summary", true);
    harness_result_free(&r);
}

/* The orchestrator end to end with 3 x 64 queues on 2 vCPUs: every queue's ops over the hop reach
 * --json (the guest's progress in parts, reassembled across the migration). */
static void test_every_queue_reaches_the_json(void **state)
{
    (void)state;
    char out[600], json[600], d[3][600];
    snprintf(out, sizeof(out), "%s/many.out", harness_dir());
    snprintf(json, sizeof(json), "%s/many.json", harness_dir());
    for (int i = 0; i < 3; i++)
        snprintf(d[i], sizeof(d[i]), "%s/many-tool%d.img", harness_dir(), i);
    const char *args[] = { "migrate", "--boot", "pvh", "--accel", "tcg", "--smp", "2", "--disk", d[0], "--disk", d[1],
                           "--disk", d[2], "--disk-size", "64M", "--queues", "64", "--queue-size", "64",
                           "--guest-config", "depth=2;max_blocks=4", "--migrations", "1", "--seed", "1",
                           "--json", json, NULL };
    int rc = harness_tool(args, out, 300000);
    char *text = harness_slurp(out);
    if (rc != 0 && text)
        fprintf(stderr, "--- vqhammer output ---\n%s\n", text);
    free(text);
    assert_int_equal(rc, 0);
    json_t *doc = json_load_file(json, 0, NULL);
    assert_non_null(doc);
    json_t *ops = json_object_get(json_array_get(json_object_get(doc, "hops"), 0), "queue_ops"), *q;
    size_t i;
    assert_int_equal(json_array_size(ops), 3 * 64);
    json_array_foreach(ops, i, q)
        if (json_integer_value(q) <= 0)
            fail_msg("queue %zu (disk %zu, queue %zu) did no work over the hop", i, i / 64, i % 64);
    json_decref(doc);
    assert_true(harness_no_qemu_left());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resets_mid_run_split),
        cmocka_unit_test(test_resets_mid_run_packed),
        cmocka_unit_test(test_failed_reset_is_reported),
        cmocka_unit_test(test_device_refusing_features_after_migration),
        cmocka_unit_test(test_host_reset_every_hop),
        cmocka_unit_test(test_irq_mode_takes_interrupts),
        cmocka_unit_test(test_merge_bursts_complete_and_verify),
        cmocka_unit_test(test_one_cpu_owns_every_queue_of_three_disks),
        cmocka_unit_test(test_every_queue_reaches_the_json),
    };
    if (getenv("VQH_TEST_FILTER")) /* e.g. VQH_TEST_FILTER='*three_disks' to run one test */
        cmocka_set_test_filter(getenv("VQH_TEST_FILTER"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
