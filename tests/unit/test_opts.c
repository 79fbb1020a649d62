/* test_opts.c: flags of `vqhammer run` and `migrate` (tools/cli/opts.c): defaults, values, and bad
 * input named with its fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include "opts.h"

static int parse(struct vqh_opts *o, const char *cmd, const char *const *args, struct vqh_err *err)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)cmd;
    for (int i = 0; args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    opts_defaults(o, cmd);
    return opts_parse(o, argc, argv, err);
}

static void test_defaults_are_the_main_job(void **state)
{
    (void)state;
    struct vqh_opts o;
    opts_defaults(&o, "migrate");
    assert_int_equal(o.boot, BOOT_UEFI);
    assert_int_equal(o.smp, 4);
    assert_int_equal(o.queues, 8);
    assert_int_equal(o.iothreads, 1);
    assert_int_equal(o.migrations, 10);
    assert_string_equal(o.machine, "pc-q35-7.2");
}

static void test_values_are_taken(void **state)
{
    (void)state;
    struct vqh_opts o;
    struct vqh_err err;
    const char *a[] = { "--boot", "pvh", "--smp", "2", "--disk-size", "64M", "--multifd=4", "--postcopy",
                        "--gap", "10:20", "--disk", "a.img", "--disk", "b.img", "--seed", "0x10", NULL };
    assert_int_equal(parse(&o, "migrate", a, &err), 0);
    assert_int_equal(o.boot, BOOT_PVH);
    assert_int_equal(o.smp, 2);
    assert_true(o.disk_size == 64ull << 20);
    assert_int_equal(o.multifd, 4);
    assert_true(o.postcopy);
    assert_int_equal(o.min_gap_ms, 10);
    assert_int_equal(o.max_gap_ms, 20);
    assert_int_equal(o.ndisks, 2);
    assert_string_equal(o.disk[1], "b.img");
    assert_true(o.seed == 16);
    const char *b[] = { "--multifd", NULL };
    assert_int_equal(parse(&o, "migrate", b, &err), 0);
    assert_int_equal(o.multifd, 2);
}

static void expect_bad(const char *const *args, const char *needle)
{
    struct vqh_opts o;
    struct vqh_err err = {.msg = ""};
    assert_int_equal(parse(&o, "migrate", args, &err), -1);
    if (!strstr(err.msg, needle))
        fprintf(stderr, "got: %s\n", err.msg);
    assert_non_null(strstr(err.msg, needle));
}

static void test_bad_flags_are_named(void **state)
{
    (void)state;
    expect_bad((const char *[]){ "--smp", "0", NULL }, "--smp: bad value '0': expected a whole number 1..64");
    expect_bad((const char *[]){ "--queue-size", "100", NULL }, "not a power of two");
    expect_bad((const char *[]){ "--disk-size", "12Q", NULL }, "--disk-size: bad size '12Q'");
    expect_bad((const char *[]){ "--cache", "fast", NULL }, "expected one of none, writeback");
    expect_bad((const char *[]){ "--gap", "5:1", NULL }, "MIN_MS:MAX_MS");
    expect_bad((const char *[]){ "--bogus", NULL }, "unknown option '--bogus'");
    expect_bad((const char *[]){ "--smp", NULL }, "needs a value");
    expect_bad((const char *[]){ "stray", NULL }, "unexpected argument 'stray'");
    expect_bad((const char *[]){ "--seed", "-1", NULL }, "--seed: bad value '-1'");
    expect_bad((const char *[]){ "--inject", "overwrite-block=bits", NULL },
               "--inject: bad pattern 'bits': expected overwrite-block=flip|random|zeroes|other-lba|old-gen|other-disk");
    expect_bad((const char *[]){ "--reset-every", "0", NULL }, "--reset-every: bad value '0'");
}

/* args parse; opts_validate then refuses them with a message holding needle, or (NULL) accepts
 * them. The options parsed, for a look at them. */
static struct vqh_opts expect_validate(const char *const *args, const char *needle)
{
    struct vqh_opts o;
    struct vqh_err err = {.msg = ""};
    assert_int_equal(parse(&o, "migrate", args, &err), 0);
    bool ok = opts_validate(&o, &err);
    if (needle && !strstr(err.msg, needle))
        fprintf(stderr, "got: %s\n", ok ? "(accepted)" : err.msg);
    if (!needle)
        assert_true(ok);
    else
        assert_non_null(strstr(err.msg, needle));
    assert_true(ok == !needle);
    return o;
}

static void test_validate_catches_combinations(void **state)
{
    (void)state;
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/nonexistent/kernel.elf", NULL }, "--kernel");
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--postcopy", "--multifd", NULL },
                    "cannot be combined");
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--inject", "refuse-features", NULL },
                    "--inject refuse-features shows only at a reset: add --reset-every N");
    /* the cancel faults need the hop to cancel: late-cancel hops only, or a --cancel-every hop */
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--inject", "slow-cancel",
                                      "--hop-actions", "late-cancel,paused", NULL },
                    "--inject slow-cancel acts at a hop's cancel: add --hop-actions late-cancel (alone), or "
                    "--cancel-every K with --inject-hop 1 a multiple of K");
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--inject", "crash-after-cancel",
                                      NULL },
                    "--inject crash-after-cancel acts at a hop's cancel");
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--inject", "crash-after-cancel",
                                      "--hop-actions", "late-cancel", NULL },
                    NULL);
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--inject", "crash-after-cancel",
                                      "--cancel-every", "2", "--inject-hop", "3", NULL },
                    "--inject-hop 3 a multiple of K");
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--inject", "crash-after-cancel",
                                      "--cancel-every", "2", "--inject-hop", "4", NULL },
                    NULL);
    /* --guest-config goes through the guest's parser before anything boots */
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--guest-config", "rate=5;bogus=1",
                                      NULL },
                    "--guest-config 'rate=5;bogus=1': unknown key 'bogus'");
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--guest-config",
                                      "min_blocks=9;max_blocks=2", NULL },
                    "min_blocks");
    expect_validate((const char *[]){ "--boot", "pvh", "--kernel", "/etc/hostname", "--guest-config",
                                      "min_blocks=2;max_blocks=9 mix_discard=0", NULL },
                    NULL);
    /* UEFI: the ESP is the guest's eighth virtio-blk disk, so 8 data disks cannot all be seen */
    const char *c[] = { "--boot", "uefi", "--esp", "/etc/hostname", "--ovmf-code", "/etc/hostname",
                        "--ovmf-vars", "/etc/hostname", "--disk", "a", "--disk", "b", "--disk", "c",
                        "--disk", "d", "--disk", "e", "--disk", "f", "--disk", "g", "--disk", "h", NULL };
    expect_validate(c, "with --boot uefi at most 7 data disks");
    c[1] = "pvh";
    c[2] = "--kernel"; /* PVH: all 8 are data disks */
    assert_int_equal(expect_validate(c, NULL).ndisks, 8);
}

static void test_reproducer_repeats_the_run(void **state)
{
    (void)state;
    struct vqh_opts o, again;
    struct vqh_err err;
    char line[2048], *argv[64], *save;
    const char *a[] = { "--boot", "pvh", "--kernel", "/etc/hostname", "--seed", "99", "--cancel-every", "3",
                        "--reset-every", "2", "--guest-config", "rate=5;mode=poll", "--inject", "overwrite-block=old-gen",
                        "--disk-prealloc", NULL };
    assert_int_equal(parse(&o, "migrate", a, &err), 0);
    assert_true(opts_validate(&o, &err));
    opts_reproducer(&o, line, sizeof(line));
    assert_non_null(strstr(line, "--seed 0x63"));
    assert_non_null(strstr(line, "--cancel-every 3"));
    assert_int_equal(o.reset_every, 2);
    assert_non_null(strstr(line, "--reset-every 2"));
    assert_non_null(strstr(line, "--disk-prealloc"));
    /* parse it back (no quoting is needed for these values) */
    int argc = 0;
    for (char *t = strtok_r(line, " '", &save); t && argc < 63; t = strtok_r(NULL, " '", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    assert_string_equal(argv[0], "vqhammer");
    opts_defaults(&again, "migrate");
    assert_int_equal(opts_parse(&again, argc - 1, argv + 1, &err), 0);
    assert_true(again.seed == 99);
    assert_int_equal(again.cancel_every, 3);
    assert_int_equal(again.boot, BOOT_PVH);
    assert_string_equal(again.guest_config, "rate=5;mode=poll");
    assert_string_equal(again.inject, "overwrite-block");
    assert_string_equal(again.inject_pattern, "old-gen");
    assert_true(again.disk_prealloc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_main_job),
        cmocka_unit_test(test_values_are_taken),
        cmocka_unit_test(test_bad_flags_are_named),
        cmocka_unit_test(test_validate_catches_combinations),
        cmocka_unit_test(test_reproducer_repeats_the_run),
    };
    return cmocka_run_group_tests_name("opts", tests, NULL, NULL);
}
