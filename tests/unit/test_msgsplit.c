/*
 * test_msgsplit.c: a guest message to wire lines (kernel/msgsplit.c): one plain line when it fits,
 * else parts (wire.h) that each fit WIRE_LINE_MAX, parse on their own, and carry the whole JSON
 * text back, CRC and all. Every line is checked with jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "crc32c.h"
#include "msgsplit.h"

static char big[WIRE_MSG_MAX + MSG_CTL_SIZE];
static struct msg m;

/* Split, check every line's frame and part members, and return the reassembled JSON text
 * (caller frees) and how many lines it took. */
static char *split_all(struct msg_split *s, uint64_t seq0, size_t *nlines)
{
    static char line[WIRE_LINE_MAX + 1];
    size_t n, cap = s->total + 1, len = 0;
    char *text = calloc(1, cap);
    assert_non_null(text);
    *nlines = 0;
    while ((n = msg_split_next(s, seq0 + *nlines, line, sizeof(line))) > 0) {
        char head[64];
        int hn = snprintf(head, sizeof(head), "%s%llu ", WIRE_PREFIX, (unsigned long long)(seq0 + *nlines));
        assert_true(n <= WIRE_LINE_MAX - WIRE_LINE_ROOM);
        assert_int_equal(n, strlen(line));
        assert_int_equal(line[n - 1], '\n');
        assert_memory_equal(line, head, (size_t)hn);
        for (size_t i = 0; i < n - 1; i++)
            if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
                fail_msg("byte 0x%02x at %zu of line %zu", (unsigned char)line[i], i, *nlines);
        json_error_t jerr;
        json_t *j = json_loadb(line + hn, n - (size_t)hn - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (!j && *nlines == 0 && strncmp(line + hn, "{\"type\":\"part\"", 15)) {
            /* a plain line of a text that is not JSON (the splitter does not care) */
            memcpy(text, line + hn, n - (size_t)hn - 1);
            len = n - (size_t)hn - 1;
            (*nlines)++;
            continue;
        }
        if (!j)
            fail_msg("line %zu is not JSON (%s): %.200s", *nlines, jerr.text, line);
        const char *type = json_string_value(json_object_get(j, "type"));
        assert_non_null(type);
        if (strcmp(type, WIRE_MSG_PART)) {
            /* the plain line: the only one */
            assert_int_equal(*nlines, 0);
            memcpy(text, line + hn, n - (size_t)hn - 1);
            len = n - (size_t)hn - 1;
        } else {
            json_t *data = json_object_get(j, "data");
            size_t dl = json_string_length(data);
            assert_int_equal(json_integer_value(json_object_get(j, "part")), (json_int_t)*nlines);
            assert_int_equal(json_integer_value(json_object_get(j, "crc")),
                             crc32c(0, json_string_value(data), dl));
            if (*nlines == 0) {
                assert_string_equal(json_string_value(json_object_get(j, "of")), s->type);
                assert_int_equal(json_integer_value(json_object_get(j, "len")), (json_int_t)s->total);
                assert_null(json_object_get(j, "msg"));
            } else {
                assert_int_equal(json_integer_value(json_object_get(j, "msg")), (json_int_t)seq0);
            }
            assert_true(len + dl <= s->total);
            memcpy(text + len, json_string_value(data), dl);
            len += dl;
            assert_int_equal(json_is_true(json_object_get(j, "more")), len < s->total);
            assert_true(dl > 0);
        }
        json_decref(j);
        (*nlines)++;
    }
    assert_int_equal(len, s->total);
    assert_int_equal(msg_split_next(s, seq0 + *nlines, line, sizeof(line)), 0); /* stays done */
    return text;
}

/* A summary-like message of `disks` x `queues` queue objects in the big buffer. */
static void build_queues(int disks, int queues)
{
    msg_begin_buf(&m, "summary", big, sizeof(big));
    msg_u64(&m, "ops", 12345);
    msg_arr_begin(&m, "disks");
    for (int d = 0; d < disks; d++) {
        msg_obj_begin(&m, NULL);
        msg_u64(&m, "disk", (uint64_t)d);
        msg_str(&m, "serial", "vqh\"0\\");
        msg_arr_begin(&m, "queues");
        for (int q = 0; q < queues; q++) {
            msg_obj_begin(&m, NULL);
            msg_u64(&m, "q", (uint64_t)q);
            msg_u64(&m, "ops", 1000000 + (uint64_t)q);
            msg_u64(&m, "bytes", 4096ull * 1000000);
            msg_u64(&m, "avail_idx", 65535);
            msg_obj_end(&m);
        }
        msg_arr_end(&m);
        msg_obj_end(&m);
    }
    msg_arr_end(&m);
}

static void test_small_message_is_one_plain_line(void **state)
{
    (void)state;
    char want[WIRE_LINE_MAX + 32], got[WIRE_LINE_MAX + 1];
    struct msg_split s;
    msg_begin(&m, "verdict");
    msg_str(&m, "verdict", "pass");
    size_t n = msg_format_line(&m, 7, want, sizeof(want));
    msg_split_begin(&s, &m);
    assert_int_equal(msg_split_next(&s, 7, got, sizeof(got)), n);
    assert_string_equal(got, want);
    assert_int_equal(msg_split_next(&s, 8, got, sizeof(got)), 0);
    /* a big buffer changes nothing for a small message */
    msg_begin_buf(&m, "verdict", big, sizeof(big));
    msg_str(&m, "verdict", "pass");
    msg_split_begin(&s, &m);
    assert_int_equal(msg_split_next(&s, 7, got, sizeof(got)), n);
    assert_string_equal(got, want);
}

/* 3 disks x 64 queues: the issue-12 case. Every queue comes back, in parts. */
static void test_many_queues_go_out_in_parts(void **state)
{
    (void)state;
    struct msg_split s;
    size_t nlines;
    build_queues(3, 64);
    assert_false(m.truncated);
    msg_split_begin(&s, &m);
    assert_true(s.total > WIRE_LINE_MAX);
    char *text = split_all(&s, 41, &nlines);
    assert_true(nlines >= 2 && nlines <= WIRE_MSG_PARTS_MAX);
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "summary");
    json_t *disks = json_object_get(j, "disks");
    assert_int_equal(json_array_size(disks), 3);
    for (size_t d = 0; d < 3; d++) {
        json_t *qs = json_object_get(json_array_get(disks, d), "queues");
        assert_int_equal(json_array_size(qs), 64);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(qs, 63), "ops")), 1000063);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(disks, 2), "serial")), "vqh\"0\\");
    json_decref(j);
    free(text);
}

/* The largest message: cut at WIRE_MSG_MAX (truncated, valid), in at most WIRE_MSG_PARTS_MAX. */
static void test_message_bounded_by_wire_msg_max(void **state)
{
    (void)state;
    struct msg_split s;
    size_t nlines;
    build_queues(8, 2000);
    assert_true(m.truncated);
    msg_split_begin(&s, &m);
    assert_true(s.total <= WIRE_MSG_MAX);
    assert_true(s.total > WIRE_MSG_MAX - 200);
    char *text = split_all(&s, UINT64_MAX / 2, &nlines); /* long seqs: the header's worst case */
    assert_true(nlines <= WIRE_MSG_PARTS_MAX);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);
    free(text);
}

/* Text that doubles when escaped, and bytes msg.c never writes, at every size around a line. */
static void test_any_text_any_size(void **state)
{
    (void)state;
    static char text[3 * WIRE_LINE_MAX];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = "ab\"\\{}"[i % 6];
    for (size_t total = WIRE_LINE_MAX - WIRE_LINE_ROOM - 60; total < WIRE_LINE_MAX - WIRE_LINE_ROOM + 40; total++) {
        for (int esc = 0; esc < 2; esc++) {
            static char plain[3 * WIRE_LINE_MAX];
            const char *src = text;
            if (!esc) {
                memset(plain, 'p', total);
                src = plain;
            }
            struct msg_split s;
            size_t nlines;
            msg_split_text(&s, "x\"y", src, total - 3, "}]}", 3);
            char *back = split_all(&s, 1, &nlines);
            assert_memory_equal(back, src, total - 3);
            assert_memory_equal(back + total - 3, "}]}", 3);
            free(back);
        }
    }
    /* bytes msg.c never writes still make valid, printable parts (6 bytes each escaped) */
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)(i % 2 ? 0x01 : 0x7f);
    struct msg_split s;
    size_t nlines;
    msg_split_text(&s, "raw", text, sizeof(text), NULL, 0);
    char *back = split_all(&s, 1, &nlines);
    assert_memory_equal(back, text, sizeof(text));
    assert_true(nlines >= 6 * sizeof(text) / WIRE_LINE_MAX);
    free(back);
}

/* A line buffer too small for a part's header: no output, never an overflow. */
static void test_small_buffer(void **state)
{
    (void)state;
    char tiny[64];
    struct msg_split s;
    build_queues(3, 64);
    msg_split_begin(&s, &m);
    memset(tiny, 'z', sizeof(tiny));
    assert_int_equal(msg_split_next(&s, 1, tiny, sizeof(tiny)), 0);
    assert_int_equal(tiny[0], '\0');
    assert_int_equal(msg_split_next(&s, 1, tiny, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_message_is_one_plain_line),
        cmocka_unit_test(test_many_queues_go_out_in_parts),
        cmocka_unit_test(test_message_bounded_by_wire_msg_max),
        cmocka_unit_test(test_any_text_any_size),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
