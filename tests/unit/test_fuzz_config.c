/*
 * test_fuzz_config.c: the guest configuration parser (kernel/config.c; the guest reads it from
 * fw_cfg, the host checks --guest-config with it), fuzzed from valid texts (tests/unit/fuzz.h).
 * Whatever the text: no crash, and either a configuration whose every value hello can print as
 * JSON, or an error with a line number and a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "msg.h"

static const char *const texts[] = {
    "seed=0xdeadbeefdeadbeef\nmode=poll\nserial_prefix=lab\nhuge_pages=on\n",
    "duration=20;queues=4;depth=32 mix_read=50 mix_write=35 # comment\nmin_blocks=1\nmax_blocks=256\n",
    "region_start=0x100000;region_blocks=4096;rate=1000;report_ms=0;watchdog_ms=400;inject=gp\n",
    "indirect=off\nevent_idx=on\ntlb_refresh=auto\nfinal_state=on\nmin_disks=0\n",
    "",
};

static const char *const dict[] = { "=", ";", "#", "\n", " ", "seed", "mode", "serial_prefix", "max_blocks",
                                    "min_blocks", "0x", "18446744073709551616", "-1", "on", "off", "poll",
                                    "mix_read=0;mix_write=0;mix_flush=0;mix_discard=0;mix_write_zeroes=0",
                                    "\0", NULL };

static void test_config_texts(void **state)
{
    (void)state;
    struct fuzz f = { fuzz_seed() };
    uint8_t buf[2048];
    unsigned long accepted = 0, refused = 0;
    for (int iter = 0; iter < 100000; iter++) {
        const char *t = texts[fuzz_below(&f, sizeof(texts) / sizeof(texts[0]))];
        size_t n = strlen(t);
        memcpy(buf, t, n);
        n = fuzz_mutate(&f, buf, n, sizeof(buf), dict);
        struct config cfg;
        struct config_error err;
        config_defaults(&cfg);
        memset(&err, 0x5a, sizeof(err));
        if (!config_parse(&cfg, (const char *)buf, n, &err) || !config_validate(&cfg, &err)) {
            refused++;
            assert_non_null(memchr(err.message, 0, sizeof(err.message)));
            assert_non_null(memchr(err.key, 0, sizeof(err.key)));
            assert_non_null(memchr(err.value, 0, sizeof(err.value)));
            assert_true(err.message[0] != '\0');
            uint32_t lines = 1;
            for (size_t i = 0; i < n; i++)
                lines += buf[i] == '\n';
            assert_true(err.line <= lines); /* 0: a cross-field check */
            continue;
        }
        accepted++;
        /* hello prints it: one valid JSON line within the wire's limit */
        struct msg m;
        char line[WIRE_LINE_MAX + 32];
        msg_begin(&m, "hello");
        config_to_msg(&cfg, &m, "config");
        size_t len = msg_format_line(&m, 1, line, sizeof(line));
        assert_true(len > 0 && len <= WIRE_LINE_MAX);
        json_t *obj = json_loads(strchr(line, '{'), 0, NULL);
        assert_non_null(obj);
        assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "config"), "serial_prefix")),
                            cfg.serial_prefix);
        json_decref(obj);
    }
    assert_true(accepted > 1000 && refused > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_texts),
    };
    return cmocka_run_group_tests_name("fuzz_config", tests, NULL, NULL);
}
