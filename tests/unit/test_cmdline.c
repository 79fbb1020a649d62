/* test_cmdline.c: host command lines the guest accepts (kernel/cmdline.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include "cmdline.h"

static void test_word_and_arguments(void **state)
{
    (void)state;
    struct cmdline c;
    const char *why = NULL;
    uint64_t v = 0;
    assert_true(cmdline_parse("  verify sample=16  ", &c, &why));
    assert_string_equal(c.word, "verify");
    assert_int_equal(c.nargs, 1);
    assert_true(cmdline_u64(&c, "sample", &v));
    assert_int_equal(v, 16);
    assert_false(cmdline_u64(&c, "missing", &v));
    assert_true(cmdline_parse("epoch epoch=0x1f", &c, &why));
    assert_true(cmdline_u64(&c, "epoch", &v));
    assert_int_equal(v, 31);
    assert_true(cmdline_parse("quiesce", &c, &why));
    assert_int_equal(c.nargs, 0);
}

static void test_bad_lines_are_refused_with_a_reason(void **state)
{
    (void)state;
    struct cmdline c;
    const char *why = NULL;
    assert_false(cmdline_parse("", &c, &why));
    assert_string_equal(why, "empty command");
    assert_false(cmdline_parse("verify sample", &c, &why));
    assert_string_equal(why, "argument is not key=value");
    assert_false(cmdline_parse("verify =3", &c, &why));
    assert_false(cmdline_parse("verify a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9", &c, &why));
    assert_string_equal(why, "more than 8 arguments");
    assert_false(cmdline_parse("averyveryveryverylongcommandwordthatdoesnotfit", &c, &why));
    assert_string_equal(why, "token longer than 31 characters");
}

static void test_numbers_reject_junk_and_overflow(void **state)
{
    (void)state;
    struct cmdline c;
    const char *why;
    uint64_t v;
    assert_true(cmdline_parse("verify sample=12x", &c, &why));
    assert_false(cmdline_u64(&c, "sample", &v));
    assert_true(cmdline_parse("verify sample=18446744073709551616", &c, &why));
    assert_false(cmdline_u64(&c, "sample", &v));
    assert_true(cmdline_parse("verify sample=18446744073709551615", &c, &why));
    assert_true(cmdline_u64(&c, "sample", &v));
    assert_true(v == UINT64_MAX);
    assert_true(cmdline_parse("verify sample=0x", &c, &why));
    assert_false(cmdline_u64(&c, "sample", &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word_and_arguments),
        cmocka_unit_test(test_bad_lines_are_refused_with_a_reason),
        cmocka_unit_test(test_numbers_reject_junk_and_overflow),
    };
    return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
