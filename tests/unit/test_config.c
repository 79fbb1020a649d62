/* test_config.c: the key=value configuration parser and its cross-field checks (kernel/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include "config.h"
#include "msg.h"

static struct config cfg;
static struct config_error err;

static bool parse(const char *text)
{
    config_defaults(&cfg);
    memset(&err, 0x5a, sizeof(err)); /* stale garbage must not leak into an error */
    return config_parse(&cfg, text, strlen(text), &err);
}

/* Parse must fail on line `line`, naming key and value, with every fragment in the message. */
static void expect_error(const char *text, uint32_t line, const char *key, const char *value,
                         const char *frag1, const char *frag2)
{
    bool ok = parse(text);
    if (ok)
        fail_msg("accepted: %s", text);
    assert_int_equal(err.line, line);
    assert_string_equal(err.key, key);
    assert_string_equal(err.value, value);
    if (frag1 && !strstr(err.message, frag1))
        fail_msg("message '%s' lacks '%s'", err.message, frag1);
    if (frag2 && !strstr(err.message, frag2))
        fail_msg("message '%s' lacks '%s'", err.message, frag2);
    assert_true(strlen(err.message) < sizeof(err.message));
}

static void test_defaults(void **state)
{
    (void)state;
    config_defaults(&cfg);
    assert_int_equal(cfg.seed, 1);
    assert_int_equal(cfg.duration, 10);
    assert_int_equal(cfg.min_disks, 1);
    assert_string_equal(cfg.serial_prefix, "vqh");
    assert_int_equal(cfg.queues, 0);
    assert_int_equal(cfg.depth, 0);
    assert_int_equal(cfg.mix_read, 50);
    assert_int_equal(cfg.mix_write, 35);
    assert_int_equal(cfg.mix_flush, 3);
    assert_int_equal(cfg.mix_discard, 4);
    assert_int_equal(cfg.mix_write_zeroes, 8);
    assert_int_equal(cfg.min_blocks, 1);
    assert_int_equal(cfg.max_blocks, 16);
    assert_int_equal(cfg.region_start, 0);
    assert_int_equal(cfg.region_blocks, 0);
    assert_int_equal(cfg.rate, 0);
    assert_int_equal(cfg.mode, CONFIG_MODE_IRQ);
    assert_int_equal(cfg.indirect, CONFIG_AUTO);
    assert_int_equal(cfg.event_idx, CONFIG_AUTO);
    assert_int_equal(cfg.report_ms, 1000);
    assert_int_equal(cfg.watchdog_ms, 30000);
    assert_int_equal(cfg.inject, CONFIG_INJECT_NONE);
    assert_true(config_validate(&cfg, &err));
    /* empty text and pure comments change nothing */
    assert_true(parse(""));
    assert_true(parse("  \n# nothing here\n\t;;\n"));
    assert_int_equal(cfg.seed, 1);
}

static void test_every_key(void **state)
{
    (void)state;
    assert_true(parse("seed=18446744073709551615 duration=604800 min_disks=64 "
                      "serial_prefix=abcdefghijklmnopqrstuvwxyz01234 queues=1024 depth=32768 "
                      "mix_read=1 mix_write=2 mix_flush=3 mix_discard=4 mix_write_zeroes=1000 "
                      "min_blocks=2 max_blocks=256 region_start=123456789012 "
                      "region_blocks=4096 rate=10000000 mode=poll indirect=off event_idx=on "
                      "report_ms=0 watchdog_ms=100 inject=de"));
    assert_int_equal(cfg.seed, UINT64_MAX);
    assert_int_equal(cfg.duration, 604800);
    assert_int_equal(cfg.min_disks, 64);
    assert_string_equal(cfg.serial_prefix, "abcdefghijklmnopqrstuvwxyz01234");
    assert_int_equal(cfg.queues, 1024);
    assert_int_equal(cfg.depth, 32768);
    assert_int_equal(cfg.mix_read, 1);
    assert_int_equal(cfg.mix_write, 2);
    assert_int_equal(cfg.mix_flush, 3);
    assert_int_equal(cfg.mix_discard, 4);
    assert_int_equal(cfg.mix_write_zeroes, 1000);
    assert_int_equal(cfg.min_blocks, 2);
    assert_int_equal(cfg.max_blocks, 256);
    assert_int_equal(cfg.region_start, 123456789012ull);
    assert_int_equal(cfg.region_blocks, 4096);
    assert_int_equal(cfg.rate, 10000000);
    assert_int_equal(cfg.mode, CONFIG_MODE_POLL);
    assert_int_equal(cfg.indirect, CONFIG_OFF);
    assert_int_equal(cfg.event_idx, CONFIG_ON);
    assert_int_equal(cfg.report_ms, 0);
    assert_int_equal(cfg.watchdog_ms, 100);
    assert_int_equal(cfg.inject, CONFIG_INJECT_DE);
    assert_true(config_validate(&cfg, &err));
}

static void test_enums(void **state)
{
    static const char *const injects[] = { "none", "ud", "gp", "pf", "de" };
    static const char *const toggles[] = { "auto", "on", "off" };
    char text[64];
    (void)state;
    for (uint32_t i = 0; i < 5; i++) {
        snprintf(text, sizeof(text), "inject=%s", injects[i]);
        assert_true(parse(text));
        assert_int_equal(cfg.inject, i);
        assert_string_equal(config_inject_name(i), injects[i]);
    }
    for (uint32_t i = 0; i < 3; i++) {
        snprintf(text, sizeof(text), "indirect=%s event_idx=%s", toggles[i], toggles[i]);
        assert_true(parse(text));
        assert_int_equal(cfg.indirect, i);
        assert_int_equal(cfg.event_idx, i);
        assert_string_equal(config_toggle_name(i), toggles[i]);
    }
    assert_true(parse("mode=irq"));
    assert_int_equal(cfg.mode, CONFIG_MODE_IRQ);
    assert_string_equal(config_mode_name(CONFIG_MODE_IRQ), "irq");
    assert_string_equal(config_mode_name(CONFIG_MODE_POLL), "poll");
    assert_string_equal(config_mode_name(2), "unknown");
    assert_string_equal(config_toggle_name(3), "unknown");
    assert_string_equal(config_inject_name(99), "unknown");
}

static void test_hex(void **state)
{
    (void)state;
    assert_true(parse("seed=0xDEADbeef01234567 depth=0x8000 region_start=0X10 rate=0x0"));
    assert_int_equal(cfg.seed, 0xdeadbeef01234567ull);
    assert_int_equal(cfg.depth, 0x8000);
    assert_int_equal(cfg.region_start, 16);
    assert_int_equal(cfg.rate, 0);
    assert_true(parse("seed=0xffffffffffffffff queues=007"));
    assert_int_equal(cfg.seed, UINT64_MAX);
    assert_int_equal(cfg.queues, 7); /* leading zeros are decimal, not octal */
}

static void test_separators(void **state)
{
    (void)state;
    assert_true(parse("depth=4\nqueues=2;rate=3 \t seed=5;;\r\nmode=poll # a comment=junk\n"
                      "#whole line comment x=y\n  duration=7#no space before comment\r\n"));
    assert_int_equal(cfg.depth, 4);
    assert_int_equal(cfg.queues, 2);
    assert_int_equal(cfg.rate, 3);
    assert_int_equal(cfg.seed, 5);
    assert_int_equal(cfg.mode, CONFIG_MODE_POLL);
    assert_int_equal(cfg.duration, 7);

    /* fw_cfg data may carry NUL padding after the text */
    static const char padded[] = "depth=9\n\0\0\0";
    config_defaults(&cfg);
    assert_true(config_parse(&cfg, padded, sizeof(padded), &err));
    assert_int_equal(cfg.depth, 9);

    /* len is honoured: bytes after it are not read */
    config_defaults(&cfg);
    assert_true(config_parse(&cfg, "depth=12345", 7, &err));
    assert_int_equal(cfg.depth, 1);

    /* a NUL in the middle is corruption, not the end of the text */
    static const char embedded[] = "depth=9\0queues=3";
    config_defaults(&cfg);
    assert_false(config_parse(&cfg, embedded, sizeof(embedded), &err));
    assert_non_null(strstr(err.message, "NUL"));
}

static void test_unknown_key(void **state)
{
    (void)state;
    expect_error("seed=3\ndept=4", 2, "dept", "4", "unknown key 'dept'", "known keys: seed, ");
    assert_non_null(strstr(err.message, "did you mean 'depth'"));
    expect_error("bogus_key_nobody_would_type=1", 1, "bogus_key_nobody_would_type", "1",
                 "unknown key 'bogus_key_nobody_would_type'", "known keys");
    assert_null(strstr(err.message, "did you mean"));
    /* a key longer than err.key is cut with a marker, never overflowing */
    expect_error("a_really_long_key_that_does_not_fit_in_the_field=1", 1,
                 "a_really_long_key_that_does_...", "1", "unknown key", NULL);
    /* keys are case-sensitive */
    expect_error("SEED=1", 1, "SEED", "1", "unknown key 'SEED'", NULL);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("seed=1\n\nqueues 4", 3, "queues", "", "missing '=' in 'queues'",
                 "expected key=value");
    expect_error("seed = 4", 1, "seed", "", "missing '='", "no spaces around '='");
    expect_error("=4", 1, "", "4", "missing key", "expected key=value");
    expect_error("depth=", 1, "depth", "", "bad value '' for 'depth' (empty)",
                 "expected a number 0..32768");
    expect_error("serial_prefix=;", 1, "serial_prefix", "", "(empty)", "1 to 31 printable ASCII characters");
}

static void test_bad_numbers(void **state)
{
    (void)state;
    expect_error("depth=70000", 1, "depth", "70000",
                 "bad value '70000' for 'depth' (out of range)", "expected a number 0..32768");
    expect_error("seed=18446744073709551616", 1, "seed", "18446744073709551616", "too large",
                 "0..18446744073709551615");
    expect_error("seed=0x10000000000000000", 1, "seed", "0x10000000000000000", "too large", NULL);
    /* fits in 64 bits but not in the 32-bit field's range */
    expect_error("rate=4294967296", 1, "rate", "4294967296", "out of range", "0..10000000");
    expect_error("depth=12abc", 1, "depth", "12abc", "junk after number", NULL);
    expect_error("depth=0x1g", 1, "depth", "0x1g", "junk after number", NULL);
    expect_error("depth=0x", 1, "depth", "0x", "no digits", NULL);
    expect_error("depth=-1", 1, "depth", "-1", "negative", NULL);
    expect_error("depth=+1", 1, "depth", "+1", "not a number", NULL);
    expect_error("depth=abc", 1, "depth", "abc", "not a number", NULL);
    expect_error("queues=1025", 1, "queues", "1025", "out of range", "0..1024");
    expect_error("min_blocks=0", 1, "min_blocks", "0", "out of range", "1..256");
    expect_error("max_blocks=257", 1, "max_blocks", "257", "out of range", "1..256");
    expect_error("report_ms=3600001", 1, "report_ms", "3600001", "out of range", "0..3600000");
    expect_error("watchdog_ms=99", 1, "watchdog_ms", "99", "out of range", "100..3600000");
    expect_error("mix_flush=1001", 1, "mix_flush", "1001", "out of range", "0..1000");
    expect_error("duration=604801", 1, "duration", "604801", "out of range", "0..604800");
    expect_error("rate=10000001", 1, "rate", "10000001", "out of range", "0..10000000");
    expect_error("min_disks=65", 1, "min_disks", "65", "out of range", "0..64");
}

static void test_bad_strings_and_enums(void **state)
{
    (void)state;
    expect_error("serial_prefix=abcdefghijklmnopqrstuvwxyz012345", 1, "serial_prefix",
                 "abcdefghijklmnopqrstuvwxyz012345", "too long", "1 to 31 printable ASCII characters");
    assert_string_equal(cfg.serial_prefix, "vqh");
    expect_error("mode=fast", 1, "mode", "fast", "bad value 'fast' for 'mode'",
                 "expected one of irq|poll");
    expect_error("indirect=yes", 1, "indirect", "yes", "expected one of auto|on|off", NULL);
    expect_error("event_idx=ON", 1, "event_idx", "ON", "auto|on|off", NULL);
    expect_error("inject=segv", 1, "inject", "segv", "expected one of none|ud|gp|pf|de", NULL);
    /* found by test_fuzz_config: bytes hello cannot print as they are (it prints pure ASCII) */
    expect_error("serial_prefix=lab\xa8", 1, "serial_prefix", "lab\xa8", "not printable ASCII",
                 "1 to 31 printable ASCII characters");
    expect_error("serial_prefix=a\x01b", 1, "serial_prefix", "a\x01b", "not printable ASCII", NULL);
    assert_string_equal(cfg.serial_prefix, "vqh");

    /* a value longer than err.value is cut with a marker; the message quotes a short prefix */
    char text[200] = "serial_prefix=";
    memset(text + strlen(text), 'x', 100);
    assert_false(parse(text));
    assert_int_equal(strlen(err.value), sizeof(err.value) - 1);
    assert_memory_equal(err.value + sizeof(err.value) - 4, "...", 3);
    assert_non_null(strstr(err.message, "too long"));
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_error("depth=4\n# x\nqueues=1;depth=8", 3, "depth", "8", "duplicate key 'depth'",
                 "first set on line 1");
    /* even the same value twice is flagged: the matrix probably meant another key */
    expect_error("mode=poll mode=poll", 1, "mode", "poll", "duplicate key 'mode'", NULL);
}

static void test_line_numbers(void **state)
{
    (void)state;
    expect_error("seed=1\r\n# comment\r\n\r\nrate=2;mode=x\r\n", 4, "mode", "x", NULL, NULL);
    expect_error("\n\n\n\n\ndepth=x", 6, "depth", "x", NULL, NULL);
    expect_error("# comment with depth=x\ndepth=y", 2, "depth", "y", NULL, NULL);
}

static void test_validate(void **state)
{
    (void)state;
    assert_true(parse("min_blocks=32 max_blocks=8"));
    assert_false(config_validate(&cfg, &err));
    assert_string_equal(err.key, "min_blocks");
    assert_string_equal(err.value, "32");
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.message, "min_blocks 32 is above max_blocks 8"));
    assert_non_null(strstr(err.message, "expected min_blocks <= max_blocks"));

    assert_true(parse("min_blocks=8 max_blocks=8"));
    assert_true(config_validate(&cfg, &err));

    assert_true(parse("mix_read=0 mix_write=0 mix_flush=0 mix_discard=0 mix_write_zeroes=0"));
    assert_false(config_validate(&cfg, &err));
    assert_non_null(strstr(err.message, "every other mix weight is 0"));
    assert_non_null(strstr(err.message, "expected some of mix_read"));
    assert_true(parse("mix_read=0 mix_write=0 mix_flush=0 mix_discard=0 mix_write_zeroes=1"));
    assert_true(config_validate(&cfg, &err));

    assert_true(parse("region_blocks=15"));
    assert_false(config_validate(&cfg, &err));
    assert_string_equal(err.key, "region_blocks");
    assert_non_null(strstr(err.message, "region_blocks 15 is below max_blocks 16"));
    assert_true(parse("region_blocks=16"));
    assert_true(config_validate(&cfg, &err));
    assert_true(parse("region_blocks=0 max_blocks=256"));
    assert_true(config_validate(&cfg, &err));

    assert_true(parse("region_start=0xffffffffffffff00 region_blocks=0x100"));
    assert_false(config_validate(&cfg, &err));
    assert_non_null(strstr(err.message, "overflows"));

    /* a config built in code gets the table's ranges checked too */
    config_defaults(&cfg);
    cfg.depth = 40000;
    assert_false(config_validate(&cfg, &err));
    assert_string_equal(err.key, "depth");
    assert_non_null(strstr(err.message, "0..32768"));
    config_defaults(&cfg);
    cfg.mode = 7;
    assert_false(config_validate(&cfg, &err));
    assert_string_equal(err.key, "mode");
    config_defaults(&cfg);
    cfg.serial_prefix[0] = '\0';
    assert_false(config_validate(&cfg, &err));
    assert_string_equal(err.key, "serial_prefix");
}

static void test_null_err(void **state)
{
    (void)state;
    config_defaults(&cfg);
    assert_false(config_parse(&cfg, "x=1", 3, NULL));
    cfg.min_blocks = 100;
    cfg.max_blocks = 10;
    assert_false(config_validate(&cfg, NULL));
}

/* hello's "config" object: every key of the table, with the value in effect. */
static void test_config_to_msg_lists_every_key(void **state)
{
    (void)state;
    struct config c;
    struct config_error err;
    struct msg m;
    char line[WIRE_LINE_MAX + 32];
    config_defaults(&c);
    const char *text = "seed=0xdeadbeefdeadbeef\nmode=poll\nserial_prefix=lab\nhuge_pages=on\n";
    assert_true(config_parse(&c, text, strlen(text), &err));
    msg_begin(&m, "hello");
    config_to_msg(&c, &m, "config");
    assert_true(msg_format_line(&m, 1, line, sizeof(line)) > 0);
    json_t *obj = json_loads(strchr(line, '{'), 0, NULL);
    assert_non_null(obj);
    json_t *cfg = json_object_get(obj, "config");
    assert_string_equal(json_string_value(json_object_get(cfg, "seed")), "0xdeadbeefdeadbeef");
    assert_string_equal(json_string_value(json_object_get(cfg, "mode")), "poll");
    assert_string_equal(json_string_value(json_object_get(cfg, "serial_prefix")), "lab");
    assert_string_equal(json_string_value(json_object_get(cfg, "huge_pages")), "on");
    assert_int_equal(json_integer_value(json_object_get(cfg, "max_blocks")), 16);
    assert_string_equal(json_string_value(json_object_get(cfg, "tlb_refresh")), "auto");
    assert_int_equal(json_integer_value(json_object_get(cfg, "reset_ms")), 0);
    assert_string_equal(json_string_value(json_object_get(cfg, "packed")), "auto");
    assert_int_equal(json_integer_value(json_object_get(cfg, "burst")), 0);
    assert_int_equal(json_integer_value(json_object_get(cfg, "max_request")), 0);
    assert_string_equal(json_string_value(json_object_get(cfg, "hotplug")), "on");
    assert_int_equal(json_integer_value(json_object_get(cfg, "hotplug_drain_ms")), 5000);
    assert_int_equal(json_object_size(cfg), 32); /* every key of the table */
    json_decref(obj);
}

/* max_request: off, bytes in 4 KiB steps, or the word "device" (printed back as the word). */
static void test_max_request(void **state)
{
    (void)state;
    config_defaults(&cfg);
    assert_int_equal(cfg.max_request, 0);
    assert_int_equal(cfg.max_request_share, 10);
    assert_true(parse("max_request=device max_request_share=25"));
    assert_int_equal(cfg.max_request, CONFIG_MAX_REQUEST_DEVICE);
    assert_int_equal(cfg.max_request_share, 25);
    assert_true(config_validate(&cfg, &err));
    struct msg m;
    char line[WIRE_LINE_MAX + 32];
    msg_begin(&m, "hello");
    config_to_msg(&cfg, &m, "config");
    assert_true(msg_format_line(&m, 1, line, sizeof(line)) > 0);
    assert_non_null(strstr(line, "\"max_request\":\"device\""));

    assert_true(parse("max_request=1048576"));
    assert_int_equal(cfg.max_request, 1048576);
    assert_true(config_validate(&cfg, &err));
    assert_true(parse("max_request=5000"));
    assert_false(config_validate(&cfg, &err));
    assert_string_equal(err.key, "max_request");
    assert_non_null(strstr(err.message, "multiple of 4096"));
    expect_error("max_request=devices", 1, "max_request", "devices", "or device", NULL);
    expect_error("max_request=67112960", 1, "max_request", "67112960", "out of range", "0..67108864");
    expect_error("max_request_share=0", 1, "max_request_share", "0", "1..100", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_bad_strings_and_enums),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_line_numbers),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_null_err),
        cmocka_unit_test(test_config_to_msg_lists_every_key),
        cmocka_unit_test(test_max_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
