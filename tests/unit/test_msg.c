/* test_msg.c: the guest message builder (kernel/msg.c); every line is checked with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "msg.h"

static struct msg m;
static char line[WIRE_LINE_MAX + 32];

/* Format with sequence number seq, check the frame, and return the parsed object (caller frees). */
static json_t *finish_flags(uint64_t seq, size_t flags)
{
    char head[64];
    json_error_t jerr;
    size_t n = msg_format_line(&m, seq, line, sizeof(line));
    assert_true(n > 0);
    assert_int_equal(n, strlen(line));
    assert_true(n <= WIRE_LINE_MAX);
    assert_int_equal(line[n - 1], '\n');
    assert_null(memchr(line, '\n', n - 1));
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] >= 0x80 || ((unsigned char)line[i] < 0x20 && line[i] != '\n'))
            fail_msg("non-ASCII or control byte 0x%02x at %zu", (unsigned char)line[i], i);
    int hn = snprintf(head, sizeof(head), "%s%llu ", WIRE_PREFIX, (unsigned long long)seq);
    assert_memory_equal(line, head, (size_t)hn);
    assert_true(n - (size_t)hn - 1 <= MSG_BODY_MAX); /* the JSON alone fits the body */
    json_t *j = json_loadb(line + hn, n - (size_t)hn, flags, &jerr);
    if (!j)
        fail_msg("invalid JSON (%s at %d): %s", jerr.text, jerr.position, line);
    assert_true(json_is_object(j));
    return j;
}

static json_t *finish_seq(uint64_t seq)
{
    return finish_flags(seq, 0);
}

static json_t *finish(void)
{
    return finish_seq(1);
}

/* The JSON text of the line, without prefix and newline, for exact comparisons. */
static const char *json_text(void)
{
    char *sp = strchr(line + strlen(WIRE_PREFIX), ' ');
    line[strlen(line) - 1] = '\0';
    return sp + 1;
}

static void test_types(void **state)
{
    (void)state;
    msg_begin(&m, "hello");
    msg_u64(&m, "zero", 0);
    msg_u64(&m, "max", INT64_MAX);
    msg_i64(&m, "neg", -42);
    msg_i64(&m, "min", INT64_MIN);
    msg_i64(&m, "imax", INT64_MAX);
    msg_hex(&m, "h0", 0);
    msg_hex(&m, "h", 0xDEADbeef);
    msg_hex(&m, "hmax", UINT64_MAX);
    msg_bool(&m, "t", true);
    msg_bool(&m, "f", false);
    msg_str(&m, "s", "vqh0");
    msg_str(&m, "empty", "");
    msg_str(&m, "nul", NULL);
    msg_strn(&m, "sn", "serialXYZ", 6);
    msg_strn(&m, "padded", "ab\0\0\0", 5);
    static const uint8_t bytes[] = { 0x00, 0x0f, 0xa5, 0xff };
    msg_hexdump(&m, "dump", bytes, sizeof(bytes));
    msg_hexdump(&m, "nodump", NULL, 0);
    json_t *j = finish();
    assert_false(m.truncated);
    assert_string_equal(json_text(),
                        "{\"type\":\"hello\",\"zero\":0,\"max\":9223372036854775807,\"neg\":-42,"
                        "\"min\":-9223372036854775808,\"imax\":9223372036854775807,"
                        "\"h0\":\"0x0\",\"h\":\"0xdeadbeef\",\"hmax\":\"0xffffffffffffffff\","
                        "\"t\":true,\"f\":false,\"s\":\"vqh0\",\"empty\":\"\",\"nul\":null,"
                        "\"sn\":\"serial\",\"padded\":\"ab\",\"dump\":\"000fa5ff\","
                        "\"nodump\":\"\"}");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "hello");
    assert_true(json_integer_value(json_object_get(j, "neg")) == -42);
    assert_true(json_integer_value(json_object_get(j, "min")) == INT64_MIN);
    assert_null(json_object_get(j, "truncated"));
    json_decref(j);
}

/*
 * JSON allows any integer, but jansson's json_int_t is 64-bit signed: it rejects the whole line
 * when a member is above INT64_MAX. The text is exact; the host must decode such lines specially.
 */
/* Past INT64_MAX a u64 goes out as a hex string: the host's parser (jansson, default flags)
 * would refuse the whole line for such a number, and the message (a data error's report, seen
 * with a block of random bytes) would be lost. */
static void test_u64_above_int64(void **state)
{
    (void)state;
    msg_begin(&m, "x");
    msg_u64(&m, "max", UINT64_MAX);
    msg_u64(&m, "edge", (uint64_t)INT64_MAX + 1);
    msg_u64(&m, "top", (uint64_t)INT64_MAX);
    json_t *j = finish_flags(1, 0);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "max")), "0xffffffffffffffff");
    assert_string_equal(json_string_value(json_object_get(j, "edge")), "0x8000000000000000");
    assert_true(json_integer_value(json_object_get(j, "top")) == INT64_MAX);
    json_decref(j);
}

static void test_escaping(void **state)
{
    char all[256];
    (void)state;
    for (int i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    all[255] = '\0';

    msg_begin(&m, "log");
    msg_str(&m, "q", "say \"hi\" \\ back/slash");
    msg_str(&m, "c", "a\nb\tc\rd\be\ff\x01g\x1fh\x7f");
    msg_str(&m, "hi", "caf\xc3\xa9 \xff");
    msg_str(&m, "k\"ey\n", "v");
    msg_str(&m, "all", all);
    json_t *j = finish();
    const char *t = json_text();
    assert_non_null(strstr(t, "\"q\":\"say \\\"hi\\\" \\\\ back/slash\""));
    assert_non_null(strstr(t, "\"c\":\"a\\nb\\tc\\rd\\be\\ff\\u0001g\\u001fh\\u007f\""));
    assert_non_null(strstr(t, "\"hi\":\"caf\\u00c3\\u00a9 \\u00ff\""));
    assert_non_null(strstr(t, "\"k\\\"ey\\n\":\"v\""));
    /* jansson decodes every escape back to the code point of the byte */
    assert_string_equal(json_string_value(json_object_get(j, "q")), "say \"hi\" \\ back/slash");
    assert_string_equal(json_string_value(json_object_get(j, "c")),
                        "a\nb\tc\rd\be\ff\x01g\x1fh\x7f");
    assert_string_equal(json_string_value(json_object_get(j, "hi")),
                        "caf\xc3\x83\xc2\xa9 \xc3\xbf"); /* U+00C3 U+00A9 U+00FF in UTF-8 */
    assert_non_null(json_object_get(j, "k\"ey\n"));
    const char *a = json_string_value(json_object_get(j, "all"));
    assert_non_null(a);
    assert_memory_equal(a, all, 127); /* bytes 1..127 round-trip as themselves */
    json_decref(j);
}

static void test_nesting(void **state)
{
    (void)state;
    msg_begin(&m, "progress");
    msg_u64(&m, "t_ms", 5);
    msg_arr_begin(&m, "disks");
    for (int d = 0; d < 2; d++) {
        msg_obj_begin(&m, NULL);
        msg_u64(&m, "disk", (uint64_t)d);
        msg_arr_begin(&m, "queues");
        for (int q = 0; q < 3; q++)
            msg_u64(&m, NULL, (uint64_t)q);
        msg_arr_end(&m);
        msg_obj_begin(&m, "empty");
        msg_obj_end(&m);
        msg_arr_begin(&m, "none");
        msg_arr_end(&m);
        msg_obj_end(&m);
    }
    msg_arr_end(&m);
    msg_bool(&m, "after", true);
    json_t *j = finish();
    assert_false(m.truncated);
    assert_string_equal(json_text(),
                        "{\"type\":\"progress\",\"t_ms\":5,\"disks\":["
                        "{\"disk\":0,\"queues\":[0,1,2],\"empty\":{},\"none\":[]},"
                        "{\"disk\":1,\"queues\":[0,1,2],\"empty\":{},\"none\":[]}],"
                        "\"after\":true}");
    json_decref(j);
}

/* Containers left open are closed by msg_format_line with the right brackets. */
static void test_auto_close(void **state)
{
    (void)state;
    msg_begin(&m, "x");
    msg_arr_begin(&m, "a");
    msg_obj_begin(&m, NULL);
    msg_arr_begin(&m, "b");
    msg_u64(&m, NULL, 1);
    json_t *j = finish();
    assert_string_equal(json_text(), "{\"type\":\"x\",\"a\":[{\"b\":[1]}]}");
    json_decref(j);

    /* a mismatched end still writes the bracket its container opened with; extra ends are no-ops */
    msg_begin(&m, "x");
    msg_arr_begin(&m, "a");
    msg_obj_end(&m);
    msg_obj_end(&m);
    msg_arr_end(&m);
    msg_u64(&m, "b", 2);
    j = finish();
    assert_string_equal(json_text(), "{\"type\":\"x\",\"a\":[],\"b\":2}");
    json_decref(j);

    /* keys inside arrays are ignored; a missing key inside an object still gives valid JSON */
    msg_begin(&m, "x");
    msg_arr_begin(&m, "a");
    msg_u64(&m, "ignored", 1);
    msg_arr_end(&m);
    msg_u64(&m, NULL, 2);
    j = finish();
    assert_string_equal(json_text(), "{\"type\":\"x\",\"a\":[1],\"\":2}");
    json_decref(j);
}

static void test_depth_overflow(void **state)
{
    (void)state;
    msg_begin(&m, "deep");
    for (int i = 1; i < MSG_DEPTH_MAX; i++)
        msg_obj_begin(&m, "o");
    msg_u64(&m, "deepest", 7); /* depth MSG_DEPTH_MAX: still fits */
    msg_arr_begin(&m, "too_deep");
    msg_u64(&m, NULL, 1);
    msg_obj_begin(&m, NULL);
    msg_u64(&m, "lost", 2);
    msg_obj_end(&m);
    msg_arr_end(&m);
    msg_u64(&m, "back", 3); /* the ignored container's ends must not close real ones */
    for (int i = 1; i < MSG_DEPTH_MAX; i++)
        msg_obj_end(&m);
    msg_u64(&m, "top", 4);
    assert_true(m.truncated);
    json_t *j = finish();
    json_t *o = j;
    for (int i = 1; i < MSG_DEPTH_MAX; i++)
        o = json_object_get(o, "o");
    assert_true(json_is_object(o));
    assert_int_equal(json_integer_value(json_object_get(o, "deepest")), 7);
    assert_int_equal(json_integer_value(json_object_get(o, "back")), 3);
    assert_null(json_object_get(o, "too_deep"));
    assert_int_equal(json_integer_value(json_object_get(j, "top")), 4);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_null(strstr(line, "lost"));
    json_decref(j);
}

/* Fill with strings until the body is full, at every nesting shape; the line must stay valid. */
static void fill_and_check(int nest, size_t chunk)
{
    char s[600];
    memset(s, 'a', chunk);
    s[chunk] = '\0';
    msg_begin(&m, "fill");
    for (int i = 0; i < nest; i++) {
        if (i & 1)
            msg_obj_begin(&m, "o");
        else
            msg_arr_begin(&m, "a");
    }
    size_t members = 0;
    for (int i = 0; i < 5000 && !m.truncated; i++) {
        if (nest & 1)
            msg_str(&m, NULL, s);
        else
            msg_str(&m, "k", s);
        members += !m.truncated;
    }
    assert_true(m.truncated);
    /* once sealed, nothing more is added even if it would fit: the output is a prefix */
    size_t len = m.len;
    msg_u64(&m, "small", 1);
    msg_obj_begin(&m, "late");
    msg_u64(&m, "x", 1);
    msg_obj_end(&m);
    assert_int_equal(m.len, len);
    /* real containers still close after the seal, with the room reserved for them */
    for (int i = 0; i < nest / 2; i++)
        msg_arr_end(&m);
    assert_int_equal(m.depth, 1 + nest - nest / 2);
    json_t *j = finish_seq(UINT64_MAX); /* the longest prefix */
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_null(strstr(line, "small"));
    assert_null(strstr(line, "late"));
    assert_true(members > 0);
    json_decref(j);
}

static void test_truncation(void **state)
{
    (void)state;
    for (int nest = 0; nest < MSG_DEPTH_MAX; nest++)
        for (size_t chunk = 0; chunk < 600; chunk += (chunk < 40 ? 1 : 37))
            fill_and_check(nest, chunk);

    /* one member bigger than the whole body: dropped, the rest kept */
    static char big[MSG_BODY_MAX + 10];
    memset(big, 'b', sizeof(big) - 1);
    msg_begin(&m, "log");
    msg_str(&m, "level", "info");
    msg_str(&m, "text", big);
    msg_hexdump(&m, "dump", big, sizeof(big));
    json_t *j = finish();
    assert_string_equal(json_text(), "{\"type\":\"log\",\"level\":\"info\",\"truncated\":true}");
    json_decref(j);

    /* escapes count: a string of quotes doubles in size, and must still be cut cleanly */
    static char quotes[MSG_BODY_MAX / 2 + 50];
    memset(quotes, '"', sizeof(quotes) - 1);
    msg_begin(&m, "log");
    msg_obj_begin(&m, "o");
    msg_str(&m, "q1", quotes + 200); /* 1881 quotes, 3762 bytes escaped: fits */
    msg_str(&m, "q2", quotes + 200); /* no room left */
    j = finish();
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_int_equal(strlen(json_string_value(json_object_get(json_object_get(j, "o"), "q1"))),
                     sizeof(quotes) - 1 - 200);
    assert_null(json_object_get(json_object_get(j, "o"), "q2"));
    json_decref(j);
}

/* A message exactly at the limit without truncation has room for nothing else. */
static void test_near_limit_no_truncation(void **state)
{
    (void)state;
    static char s[MSG_BODY_MAX];
    for (size_t n = MSG_BODY_MAX - 80; n < MSG_BODY_MAX - 20; n++) {
        memset(s, 'c', n);
        s[n] = '\0';
        msg_begin(&m, "x");
        msg_str(&m, "s", s);
        json_t *j = finish();
        if (!m.truncated)
            assert_int_equal(strlen(json_string_value(json_object_get(j, "s"))), n);
        json_decref(j);
    }
}

static void test_line_frame(void **state)
{
    (void)state;
    msg_begin(&m, "verdict");
    msg_str(&m, "verdict", "pass");
    json_t *j = finish_seq(UINT64_MAX);
    assert_memory_equal(line, "VQH1 18446744073709551615 {", 27);
    json_decref(j);

    j = finish_seq(0);
    json_decref(j);
    size_t n = msg_format_line(&m, 42, line, sizeof(line));
    assert_string_equal(line, "VQH1 42 {\"type\":\"verdict\",\"verdict\":\"pass\"}\n");
    assert_int_equal(n, strlen(line));

    /* formatting does not consume the message: retry with a bigger buffer after a failure */
    char small[64];
    size_t need = n + 1;
    memset(small, 'z', sizeof(small));
    assert_int_equal(msg_format_line(&m, 42, small, need - 1), 0);
    assert_int_equal(small[0], '\0');
    assert_int_equal(msg_format_line(&m, 42, small, 0), 0);
    assert_int_equal(small[0], '\0');
    assert_int_equal(msg_format_line(&m, 42, small, need), n);
    assert_string_equal(small, line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_u64_above_int64),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_auto_close),
        cmocka_unit_test(test_depth_overflow),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_near_limit_no_truncation),
        cmocka_unit_test(test_line_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
