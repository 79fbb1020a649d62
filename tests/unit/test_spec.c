/* test_spec.c: --disk-graph (tools/blockgraph/spec.c) and the -blockdev/-device arguments each
 * choice builds (blockgraph.c, device.c): values taken, every bad value named with its fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "blockgraph.h"
#include "opts.h"
#include "qemu_cmd.h"
#include "spec.h"

static void test_default_is_raw_on_file(void **state)
{
    (void)state;
    struct vqh_opts o;
    struct bg_spec s;
    opts_defaults(&o, "migrate");
    bg_spec_of(&o, 0, &s);
    assert_false(s.qcow2);
    assert_false(s.nbd);
    assert_int_equal(s.align, 0);
    assert_string_equal(s.group, "");
    assert_int_equal(s.iothread, -1);
}

static void test_every_item_is_taken(void **state)
{
    (void)state;
    struct bg_spec s;
    struct vqh_err err;
    assert_true(bg_spec_parse("qcow2,l2-cache-size=1M,cache-clean-interval=5", &s, &err));
    assert_true(s.qcow2);
    assert_true(s.l2_cache_size == 1u << 20);
    assert_int_equal(s.cache_clean_interval, 5);
    assert_true(bg_spec_parse("raw,align=4096", &s, &err));
    assert_int_equal(s.align, 4096);
    assert_true(bg_spec_parse("nbd,reconnect-delay=7", &s, &err));
    assert_true(s.nbd);
    assert_int_equal(s.reconnect_delay, 7);
    assert_true(bg_spec_parse("throttle=group0:iops=2000:bps=10M", &s, &err));
    assert_string_equal(s.group, "group0");
    assert_true(s.iops == 2000 && s.bps == 10u << 20);
    assert_true(bg_spec_parse("iothread=1", &s, &err));
    assert_int_equal(s.iothread, 1);
    assert_true(bg_spec_parse("vq-iothreads=2", &s, &err));
    assert_int_equal(s.vq_iothreads, 2);
    assert_true(bg_spec_parse("nbd", &s, &err));
    assert_int_equal(s.nbd_server, BG_NBD_QSD);
    assert_true(bg_spec_parse("nbd,server=qemu-nbd", &s, &err));
    assert_int_equal(s.nbd_server, BG_NBD_QEMU_NBD);
    assert_true(bg_spec_parse("nbd,server=qemu-storage-daemon", &s, &err));
    assert_int_equal(s.nbd_server, BG_NBD_QSD);
}

static void bad(const char *spec, const char *want)
{
    struct bg_spec s;
    struct vqh_err err = {0};
    assert_false(bg_spec_parse(spec, &s, &err));
    if (!strstr(err.msg, want) || !strstr(err.msg, "--disk-graph"))
        fail_msg("'%s': error '%s' lacks '%s'", spec, err.msg, want);
}

static void test_bad_values_are_named_with_the_fix(void **state)
{
    (void)state;
    bad("", "e.g. qcow2");
    bad("vmdk", "unknown item 'vmdk': expected raw, qcow2");
    bad("qcow2,l2-cache-size=lots", "l2-cache-size=lots: expected a number of bytes");
    bad("raw,l2-cache-size=1M", "qcow2 options: add qcow2");
    bad("reconnect-delay=5", "nbd option: add nbd");
    bad("nbd,reconnect-delay=0", "reconnect-delay=0: expected a whole number 1..3600");
    bad("align=3000", "align=3000 is not a power of two");
    bad("align=256", "align=256: expected a whole number 512");
    bad("throttle=g0", "has no limit: expected throttle=GROUP:iops=N");
    bad("throttle=g0:iosp=5", "unknown throttle limit 'iosp'");
    bad("throttle=:iops=5", "bad throttle group name");
    bad("throttle=g0:iops=-1", "iops=-1");
    bad("iothread=1,vq-iothreads=2", "exclude each other");
    bad("vq-iothreads=0", "vq-iothreads=0: expected a whole number 1..16");
    bad("nbd,server=nbdkit", "server=nbdkit: expected server=qemu-storage-daemon or server=qemu-nbd");
    bad("server=qemu-nbd", "server= is an nbd option: add nbd");
}

static void opts_with(struct vqh_opts *o, int n, const char *const *specs)
{
    opts_defaults(o, "migrate");
    o->ndisk_graphs = n;
    for (int i = 0; i < n; i++)
        snprintf(o->disk_graph[i], sizeof(o->disk_graph[i]), "%s", specs[i]);
}

static void test_run_wide_checks(void **state)
{
    (void)state;
    struct vqh_opts o;
    struct vqh_err err = {0};
    const char *two[] = { "qcow2", "raw" };
    opts_with(&o, 2, two);
    assert_false(bg_spec_validate(&o, 3, &err));
    assert_non_null(strstr(err.msg, "given 2 times for 3 data disk(s)"));
    assert_true(bg_spec_validate(&o, 2, &err));
    const char *groups[] = { "throttle=g:iops=100", "throttle=g:iops=200" };
    opts_with(&o, 2, groups);
    assert_false(bg_spec_validate(&o, 2, &err));
    assert_non_null(strstr(err.msg, "throttle group g has different limits on disks 0 and 1"));
    const char *vq[] = { "vq-iothreads=2" };
    opts_with(&o, 1, vq);
    assert_false(bg_spec_validate(&o, 1, &err));
    assert_non_null(strstr(err.msg, "needs 2 iothread(s) but --iothreads is 1: raise --iothreads"));
    const char *nbd[] = { "nbd,reconnect-delay=3" };
    opts_with(&o, 1, nbd);
    o.nbd_chaos_min_ms = 4000, o.nbd_chaos_max_ms = 5000;
    assert_false(bg_spec_validate(&o, 1, &err));
    assert_non_null(strstr(err.msg, "reconnect-delay=5 or more"));
    const char *mixed[] = { "nbd,server=qemu-nbd", "nbd" };
    opts_with(&o, 2, mixed);
    assert_false(bg_spec_validate(&o, 2, &err));
    assert_non_null(strstr(err.msg, "disks 0 and 1 name different NBD servers (qemu-nbd, qemu-storage-daemon)"));
    const char *mixed_ok[] = { "nbd,server=qemu-nbd", "raw" };
    opts_with(&o, 2, mixed_ok);
    assert_true(bg_spec_validate(&o, 2, &err));
    assert_int_equal(bg_spec_nbd_server(&o, 2), BG_NBD_QEMU_NBD);
    const char *file[] = { "raw" };
    opts_with(&o, 1, file);
    o.nbd_chaos_min_ms = 4000, o.nbd_chaos_max_ms = 5000;
    assert_false(bg_spec_validate(&o, 1, &err));
    assert_non_null(strstr(err.msg, "add --disk-graph nbd"));
    /* --disk-prealloc writes raw files; qcow2 images are qemu-img's. */
    const char *q2[] = { "raw", "qcow2" };
    opts_with(&o, 2, q2);
    o.disk_prealloc = true;
    assert_false(bg_spec_validate(&o, 2, &err));
    assert_non_null(strstr(err.msg, "--disk-prealloc writes raw images in full; disk 1's graph is qcow2"));
    const char *rawnbd[] = { "raw", "nbd" };
    opts_with(&o, 2, rawnbd);
    o.disk_prealloc = true;
    assert_true(bg_spec_validate(&o, 2, &err));
}

/* The whole command line as one string, to look for arguments in. */
static char *cmdline(const struct vqh_opts *o, int ndisks)
{
    static const char *disks[] = { "/i/d0.img", "/i/d1.img" };
    struct qemu_inst in = { .label = "vm1", .binary = "qemu", .qmp_sock = "/q", .serial_sock = "/s",
                            .vars = "/v", .config_file = "/c", .disks = disks, .ndisks = ndisks, .accel = "tcg" };
    struct qemu_cmd c;
    struct vqh_err err;
    assert_true(qemu_cmd_build(&c, o, &in, &err));
    char *s = qemu_cmd_string(&c);
    qemu_cmd_free(&c);
    return s;
}

static void test_each_layer_is_built(void **state)
{
    (void)state;
    struct vqh_opts o;
    const char *spec[] = { "qcow2,nbd,align=4096,l2-cache-size=1M,throttle=tg:iops=300" };
    opts_with(&o, 1, spec);
    o.ndisks = 2;
    blockgraph_set_nbd_socket("/run/nbd.sock", false);
    char *s = cmdline(&o, 2);
    blockgraph_set_nbd_socket("/run/nbd.sock", true); /* qemu-nbd: a server per export */
    char *per = cmdline(&o, 2);
    blockgraph_set_nbd_socket(NULL, false);
    assert_non_null(strstr(per, "server.path=/run/nbd.sock-vqh1,export=vqh1,"));
    assert_non_null(strstr(per, "server.path=/run/nbd.sock-vqh0,export=vqh0,"));
    free(per);
    assert_non_null(strstr(s, "-object throttle-group,id=vqhtg-tg,x-iops-total=300 "));
    assert_null(strstr(strstr(s, "throttle-group,id") + 1, "throttle-group,id")); /* one group object */
    assert_non_null(strstr(s, "driver=nbd,node-name=vqhproto1,server.type=unix,server.path=/run/nbd.sock,export=vqh1,"
                              "reconnect-delay=10,open-timeout=10"));
    assert_non_null(strstr(s, "driver=blkdebug,node-name=vqhalign0,align=4096,image=vqhproto0"));
    assert_non_null(strstr(s, "driver=qcow2,node-name=vqhfmt0,file=vqhalign0,"));
    assert_non_null(strstr(s, "l2-cache-size=1048576"));
    assert_non_null(strstr(s, "driver=throttle,node-name=vqhthr1,throttle-group=vqhtg-tg,file=vqhfmt1"));
    assert_non_null(strstr(s, "virtio-blk-pci,drive=vqhthr0,id=vqhdisk0"));
    free(s);
}

static void test_iothreads_per_disk(void **state)
{
    (void)state;
    struct vqh_opts o;
    const char *spec[] = { "iothread=1", "vq-iothreads=2" };
    opts_with(&o, 2, spec);
    o.iothreads = 2;
    snprintf(o.disk_extra, sizeof(o.disk_extra), "packed=on,seg-max-adjust=off,queue-size=64");
    char *s = cmdline(&o, 2);
    assert_non_null(strstr(s, "drive=vqhfmt0,id=vqhdisk0,serial=vqh0,num-queues=8,queue-size=256,iothread=iothread1"));
    /* JSON -device: typed values, the mapping as a list */
    assert_non_null(strstr(s, "\"iothread-vq-mapping\":[{\"iothread\":\"iothread0\"},{\"iothread\":\"iothread1\"}]"));
    assert_non_null(strstr(s, "\"packed\":true"));
    assert_non_null(strstr(s, "\"queue-size\":64"));
    assert_non_null(strstr(s, "\"num-queues\":8"));
    free(s);
}

static void parse_fails(const char *flag, const char *val, const char *want)
{
    struct vqh_opts o;
    struct vqh_err err = {0};
    char *argv[] = { "migrate", (char *)flag, (char *)val, NULL };
    opts_defaults(&o, "migrate");
    assert_int_equal(opts_parse(&o, 3, argv, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("%s %s: error '%s' lacks '%s'", flag, val, err.msg, want);
}

static void test_flags(void **state)
{
    (void)state;
    struct vqh_opts o;
    struct vqh_err err;
    char *argv[] = { "migrate", "--disk-graph", "nbd", "--nbd-chaos", "4000:8000", NULL };
    opts_defaults(&o, "migrate");
    assert_int_equal(opts_parse(&o, 5, argv, &err), 0);
    assert_int_equal(o.ndisk_graphs, 1);
    assert_int_equal(o.nbd_chaos_min_ms, 4000);
    assert_int_equal(o.nbd_chaos_max_ms, 8000);
    char repro[2048];
    opts_reproducer(&o, repro, sizeof(repro));
    assert_non_null(strstr(repro, " --disk-graph nbd --nbd-chaos 4000:8000"));
    parse_fails("--disk-graph", "qcow3", "--disk-graph 'qcow3': unknown item 'qcow3'");
    parse_fails("--nbd-chaos", "fast", "--nbd-chaos: bad value 'fast': expected MIN_MS:MAX_MS");
    parse_fails("--nbd-chaos", "9000:8000", "expected MIN_MS:MAX_MS");
    parse_fails("--nbd-chaos", "1000:2000", "MIN must be 4000 ms or more");
}

/* Raw images: sparse by default; --disk-prealloc writes every byte (no holes), and a fresh
 * image replaces what was there. */
static void test_raw_image_prealloc(void **state)
{
    (void)state;
    char dir[] = "/tmp/vqh-test-spec.XXXXXX", path[64];
    struct vqh_opts o;
    struct vqh_err err = {0};
    struct stat st;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/d.img", dir);
    opts_defaults(&o, "run");
    o.disk_size = 4 << 20;
    assert_true(blockgraph_create_raw(&o, path, false, "the data disk", &err));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4 << 20);
    assert_true((uint64_t)st.st_blocks * 512 < (1u << 20)); /* sparse */
    o.disk_prealloc = true;
    assert_true(blockgraph_create_raw(&o, path, true, "the data disk", &err));
    assert_int_equal(stat(path, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 >= (4u << 20)); /* every block allocated */
    unlink(path);
    snprintf(path, sizeof(path), "%s/no/such/dir.img", dir);
    assert_false(blockgraph_create_raw(&o, path, false, "the data disk", &err));
    assert_non_null(strstr(err.msg, "cannot create the data disk"));
    assert_non_null(strstr(err.msg, "written in full for --disk-prealloc"));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_raw_on_file),
        cmocka_unit_test(test_every_item_is_taken),
        cmocka_unit_test(test_bad_values_are_named_with_the_fix),
        cmocka_unit_test(test_run_wide_checks),
        cmocka_unit_test(test_each_layer_is_built),
        cmocka_unit_test(test_iothreads_per_disk),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_raw_image_prealloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
