/* test_guestlog.c: serial line assembly, message parsing, multi-QEMU merge, command lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guestlog.h"

/* ---- helpers ------------------------------------------------------------------------------- */

struct lines {
    char text[8][WIRE_LINE_MAX];
    size_t len[8];
    bool truncated[8];
    int n;
};

static void collect(void *arg, const struct guestlog_line *line)
{
    struct lines *l = arg;

    assert_true(l->n < 8);
    assert_int_equal(line->text[line->len], '\0');
    memcpy(l->text[l->n], line->text, line->len + 1);
    l->len[l->n] = line->len;
    l->truncated[l->n] = line->truncated;
    l->n++;
}

static enum guestlog_parse parse(const char *text, size_t len, struct guestlog_msg **m,
                                 struct vqh_err *err)
{
    struct guestlog_line line = {text, len, false};

    err->msg[0] = '\0';
    return guestlog_parse_line(&line, "src1", m, err);
}

static void assert_bad(const char *text, size_t len, const char *expect)
{
    struct guestlog_msg *m = (void *)1;
    struct vqh_err err;

    assert_int_equal(parse(text, len, &m, &err), GUESTLOG_BAD);
    assert_null(m);
    if (!strstr(err.msg, expect))
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, expect);
}

/* A message as if `source` printed line "VQH1 <seq> <json>". */
static struct guestlog_msg *msg(const char *source, unsigned seq, const char *json)
{
    char line[512];
    struct guestlog_line l = {line, 0, false};
    struct guestlog_msg *m = NULL;
    struct vqh_err err;

    l.len = (size_t)snprintf(line, sizeof(line), "VQH1 %u %s", seq, json);
    assert_int_equal(guestlog_parse_line(&l, source, &m, &err), GUESTLOG_MSG);
    return m;
}

static void expect_msg(struct guestlog_merge *mg, unsigned seq, const char *source)
{
    struct guestlog_event ev;

    assert_true(guestlog_merge_next(mg, &ev));
    assert_int_equal(ev.kind, GUESTLOG_EV_MSG);
    assert_int_equal(ev.msg->seq, seq);
    assert_string_equal(ev.msg->source, source);
    guestlog_event_clear(&ev);
}

static void expect_event(struct guestlog_merge *mg, enum guestlog_event_kind kind, unsigned first,
                         unsigned last, const char *detail_part)
{
    struct guestlog_event ev;

    assert_true(guestlog_merge_next(mg, &ev));
    assert_int_equal(ev.kind, kind);
    assert_int_equal(ev.first, first);
    assert_int_equal(ev.last, last);
    if (!strstr(ev.detail, detail_part))
        fail_msg("detail \"%s\" lacks \"%s\"", ev.detail, detail_part);
    guestlog_event_clear(&ev);
}

/* ---- parsing ------------------------------------------------------------------------------- */

static void test_parse_prefix_after_noise(void **state)
{
    const char *line = "\x1b[0m\x1b[2JBdsDxe: starting Boot0001 "
                       "VQH1 17 {\"type\":\"hello\",\"cpus\":4}";
    struct guestlog_msg *m = NULL;
    struct vqh_err err;

    (void)state;
    assert_int_equal(parse(line, strlen(line), &m, &err), GUESTLOG_MSG);
    assert_int_equal(m->seq, 17);
    assert_string_equal(m->type, "hello");
    assert_string_equal(m->source, "src1");
    assert_string_equal(m->text, "{\"type\":\"hello\",\"cpus\":4}");
    assert_int_equal(json_integer_value(json_object_get(m->obj, "cpus")), 4);
    guestlog_msg_free(m);

    /* A trailing space or tab does not count as part of the text compared for duplicates. */
    line = "VQH1 2 {\"type\":\"log\"} \t";
    assert_int_equal(parse(line, strlen(line), &m, &err), GUESTLOG_MSG);
    assert_string_equal(m->text, "{\"type\":\"log\"}");
    guestlog_msg_free(m);
}

static void test_parse_noise(void **state)
{
    struct guestlog_msg *m = NULL;
    struct vqh_err err;

    (void)state;
    assert_int_equal(parse("", 0, &m, &err), GUESTLOG_NOISE);
    assert_int_equal(parse("BdsDxe: loading Boot0001", 24, &m, &err), GUESTLOG_NOISE);
    assert_int_equal(parse("VQH1{\"type\":\"x\"}", 16, &m, &err), GUESTLOG_NOISE);
    assert_int_equal(parse("VQH2 1 {\"type\":\"x\"}", 19, &m, &err), GUESTLOG_NOISE);
    assert_null(m);
}

static void test_parse_bad_lines(void **state)
{
    (void)state;
    assert_bad("VQH1 x {\"type\":\"a\"}", 19, "no sequence number");
    assert_bad("VQH1  5 {\"type\":\"a\"}", 20, "no sequence number");
    assert_bad("VQH1 5{\"type\":\"a\"}", 18, "expected a space");
    assert_bad("VQH1 5", 6, "expected a space");
    assert_bad("VQH1 0 {\"type\":\"a\"}", 19, "sequence number 0");
    assert_bad("VQH1 99999999999999999999999 {\"type\":\"a\"}", 42, "out of range");
    assert_bad("VQH1 5 {\"type\":\"a\"", 18, "bad JSON");
    assert_bad("VQH1 5 {\"type\":\"a\"} junk", 24, "bad JSON");
    assert_bad("VQH1 5 ", 7, "bad JSON");
    assert_bad("VQH1 5 {\"type\":\"a\",\"type\":\"b\"}", 30, "bad JSON");
    assert_bad("VQH1 5 [\"type\"]", 15, "not an object");
    assert_bad("VQH1 5 {\"cpus\":4}", 17, "no \"type\" string");
    assert_bad("VQH1 5 {\"type\":4}", 17, "no \"type\" string");
    assert_bad("VQH1 5 {\"type\":\"\"}", 18, "no \"type\" string");
    assert_bad("VQH1 5 {\"type\":\"a\0b\"}", 21, "byte 0x00 at offset 17");
    assert_bad("VQH1 5 {\"type\":\"\xc3\xa9\"}", 20, "byte 0xc3");
    /* The error quotes the line, escaped. */
    assert_bad("\x01VQH1 5 {\"type\":4}", 18, ": \"\\x01VQH1 5 {\"type\":4}\"");
}

static void test_parse_truncated_line(void **state)
{
    struct guestlog_line line = {"VQH1 5 {\"type\":\"log\",\"text\":\"aaaa", 33, true};
    struct guestlog_msg *m = NULL;
    struct vqh_err err;

    (void)state;
    assert_int_equal(guestlog_parse_line(&line, "dst1", &m, &err), GUESTLOG_BAD);
    assert_non_null(strstr(err.msg, "longer than WIRE_LINE_MAX"));
    line.text = "firmware noise without the prefix";
    line.len = strlen(line.text);
    assert_int_equal(guestlog_parse_line(&line, "dst1", &m, &err), GUESTLOG_NOISE);
}

/* Random bytes around the prefix: never a crash, and BAD always explains itself. */
static void test_parse_garbage(void **state)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char line[300];

    (void)state;
    for (int i = 0; i < 20000; i++) {
        size_t len = 0, n;
        struct guestlog_msg *m = NULL;
        struct vqh_err err;
        enum guestlog_parse r;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        n = x % 200;
        if (x & 1) {
            memcpy(line, "VQH1 ", 5);
            len = 5;
        }
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* Mostly JSON-ish characters so that some lines get deep into the parser. */
            line[len++] = (x & 3) ? "{}[]\":,0123456789 typeab\\"[x % 25] : (char)(x >> 8);
        }
        r = parse(line, len, &m, &err);
        if (r == GUESTLOG_BAD)
            assert_true(strncmp(err.msg, "bad guest message: ", 19) == 0);
        if (r == GUESTLOG_MSG)
            assert_non_null(m->type);
        guestlog_msg_free(m);
    }
}

/* ---- line assembly ------------------------------------------------------------------------- */

static void test_asm_chunks(void **state)
{
    static const char stream[] = "BdsDxe: x\r\nVQH1 1 {\"type\":\"hello\"}\n"
                                 "VQH1 2 {\"type\":\"log\"}\r\na\0b\ntail";
    size_t total = sizeof(stream) - 1;
    struct lines whole = {.n = 0}, bytewise = {.n = 0};
    struct guestlog_asm a;

    (void)state;
    guestlog_asm_init(&a);
    guestlog_asm_feed(&a, stream, total, collect, &whole);
    assert_int_equal(whole.n, 4); /* "tail" waits for its newline */
    guestlog_asm_finish(&a, collect, &whole);
    assert_int_equal(whole.n, 5);
    assert_string_equal(whole.text[0], "BdsDxe: x");
    assert_string_equal(whole.text[1], "VQH1 1 {\"type\":\"hello\"}");
    assert_string_equal(whole.text[2], "VQH1 2 {\"type\":\"log\"}");
    assert_int_equal(whole.len[3], 3);
    assert_memory_equal(whole.text[3], "a\0b", 3);
    assert_string_equal(whole.text[4], "tail");
    guestlog_asm_finish(&a, collect, &whole);
    assert_int_equal(whole.n, 5); /* nothing left */

    /* One byte at a time, "\r" and "\n" split across feeds, gives the same lines. */
    guestlog_asm_init(&a);
    for (size_t i = 0; i < total; i++)
        guestlog_asm_feed(&a, stream + i, 1, collect, &bytewise);
    guestlog_asm_finish(&a, collect, &bytewise);
    assert_int_equal(bytewise.n, whole.n);
    for (int i = 0; i < whole.n; i++) {
        assert_int_equal(bytewise.len[i], whole.len[i]);
        assert_memory_equal(bytewise.text[i], whole.text[i], whole.len[i]);
        assert_false(bytewise.truncated[i]);
    }
}

static void test_asm_overlong(void **state)
{
    static char big[WIRE_LINE_MAX + 200];
    struct lines l = {.n = 0};
    struct guestlog_asm a;

    (void)state;
    memset(big, 'a', sizeof(big));
    guestlog_asm_init(&a);
    /* Exactly the longest allowed line, with "\r\n": intact. */
    guestlog_asm_feed(&a, big, WIRE_LINE_MAX - 1, collect, &l);
    guestlog_asm_feed(&a, "\r\n", 2, collect, &l);
    /* One byte more: truncated and flagged. */
    guestlog_asm_feed(&a, big, WIRE_LINE_MAX, collect, &l);
    guestlog_asm_feed(&a, "\n", 1, collect, &l);
    /* Far too long, in pieces; the next line is unaffected. */
    guestlog_asm_feed(&a, big, sizeof(big), collect, &l);
    guestlog_asm_feed(&a, big, sizeof(big), collect, &l);
    guestlog_asm_feed(&a, "\nnext\n", 6, collect, &l);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.len[0], WIRE_LINE_MAX - 1);
    assert_false(l.truncated[0]);
    assert_int_equal(l.len[1], WIRE_LINE_MAX - 1);
    assert_true(l.truncated[1]);
    assert_int_equal(l.len[2], WIRE_LINE_MAX - 1);
    assert_true(l.truncated[2]);
    assert_string_equal(l.text[3], "next");
    assert_false(l.truncated[3]);
}

static void feed_str(struct guestlog_asm *a, const char *s, struct lines *l)
{
    guestlog_asm_feed(a, s, strlen(s), collect, l);
}

/* A line split by a migration: the source printed its start, the destination the rest. */
static void test_asm_handoff(void **state)
{
    struct lines src_lines = {.n = 0}, dst_lines = {.n = 0};
    struct guestlog_asm src, dst;
    static char big[WIRE_LINE_MAX];

    (void)state;
    guestlog_asm_init(&src);
    guestlog_asm_init(&dst);
    feed_str(&src, "VQH1 1 {\"type\":\"hello\"}\nVQH1 2 {\"ty", &src_lines);
    feed_str(&dst, "pe\":\"log\"}", &dst_lines); /* read before the source's stream ended */
    guestlog_asm_handoff(&src, &dst);
    guestlog_asm_finish(&src, collect, &src_lines);
    feed_str(&dst, "\r\nVQH1 3 {\"type\":\"log\"}\n", &dst_lines);
    assert_int_equal(src_lines.n, 1);
    assert_int_equal(dst_lines.n, 2);
    assert_string_equal(dst_lines.text[0], "VQH1 2 {\"type\":\"log\"}");
    assert_string_equal(dst_lines.text[1], "VQH1 3 {\"type\":\"log\"}");

    /* Together too long: cut and flagged, never overrun. */
    memset(big, 'b', sizeof(big));
    guestlog_asm_feed(&src, big, 3000, collect, &src_lines);
    guestlog_asm_feed(&dst, big, 3000, collect, &dst_lines);
    guestlog_asm_handoff(&src, &dst);
    guestlog_asm_finish(&dst, collect, &dst_lines);
    assert_int_equal(dst_lines.n, 3);
    assert_int_equal(dst_lines.len[2], WIRE_LINE_MAX - 1);
    assert_true(dst_lines.truncated[2]);
}

/* ---- merging ------------------------------------------------------------------------------- */

static void test_merge_orders_across_sources(void **state)
{
    struct guestlog_merge *mg = guestlog_merge_new(1);
    struct guestlog_event ev;

    (void)state;
    guestlog_merge_add(mg, msg("src1", 1, "{\"type\":\"hello\"}"));
    guestlog_merge_add(mg, msg("src1", 2, "{\"type\":\"log\"}"));
    guestlog_merge_open(mg, "dst1");
    /* dst1's 4 overtakes 3, which src1 still had in flight when the migration ended. */
    guestlog_merge_add(mg, msg("dst1", 4, "{\"type\":\"progress\"}"));
    expect_msg(mg, 1, "src1");
    expect_msg(mg, 2, "src1");
    assert_false(guestlog_merge_next(mg, &ev));
    guestlog_merge_add(mg, msg("src1", 3, "{\"type\":\"log\"}"));
    guestlog_merge_close(mg, "src1");
    expect_msg(mg, 3, "src1");
    expect_msg(mg, 4, "dst1");
    guestlog_merge_add(mg, msg("dst1", 5, "{\"type\":\"verdict\"}"));
    expect_msg(mg, 5, "dst1");
    assert_false(guestlog_merge_next(mg, &ev));
    guestlog_merge_free(mg);
}

static void test_merge_gaps(void **state)
{
    struct guestlog_merge *mg = guestlog_merge_new(1);
    struct guestlog_event ev;

    (void)state;
    guestlog_merge_add(mg, msg("src1", 1, "{\"type\":\"hello\"}"));
    guestlog_merge_add(mg, msg("src1", 3, "{\"type\":\"log\"}"));
    /* Only source so far, and it is past 2: 2 is lost. */
    expect_msg(mg, 1, "src1");
    expect_event(mg, GUESTLOG_EV_GAP, 2, 2, "seq 2..2 never arrived (src1 sent 3 next)");
    expect_msg(mg, 3, "src1");

    /* An open source that has delivered nothing yet may still deliver 4: no verdict yet. */
    guestlog_merge_open(mg, "dst1");
    guestlog_merge_add(mg, msg("src1", 6, "{\"type\":\"log\"}"));
    assert_false(guestlog_merge_next(mg, &ev));
    guestlog_merge_add(mg, msg("dst1", 7, "{\"type\":\"log\"}"));
    expect_event(mg, GUESTLOG_EV_GAP, 4, 5, "seq 4..5 never arrived");
    expect_msg(mg, 6, "src1");
    expect_msg(mg, 7, "dst1");

    /* A lost line after which a source closes: closing settles it. */
    guestlog_merge_open(mg, "dst2");
    guestlog_merge_add(mg, msg("dst2", 10, "{\"type\":\"log\"}"));
    assert_false(guestlog_merge_next(mg, &ev));
    guestlog_merge_close(mg, "dst1");
    guestlog_merge_close(mg, "src1");
    expect_event(mg, GUESTLOG_EV_GAP, 8, 9, "never arrived");
    expect_msg(mg, 10, "dst2");

    /* A line reported missing that turns up after all. */
    guestlog_merge_add(mg, msg("dst1", 5, "{\"type\":\"log\"}"));
    expect_event(mg, GUESTLOG_EV_LATE, 5, 5,
                 "seq 5 from dst1 arrived after it was reported missing");
    assert_false(guestlog_merge_next(mg, &ev));
    guestlog_merge_free(mg);
}

static void test_merge_duplicates(void **state)
{
    struct guestlog_merge *mg = guestlog_merge_new(1);
    struct guestlog_event ev;

    (void)state;
    guestlog_merge_add(mg, msg("src1", 1, "{\"type\":\"hello\"}"));
    guestlog_merge_add(mg, msg("src1", 2, "{\"type\":\"log\",\"text\":\"a\"}"));
    guestlog_merge_add(mg, msg("src1", 3, "{\"type\":\"log\",\"text\":\"b\"}"));
    expect_msg(mg, 1, "src1");
    expect_msg(mg, 2, "src1");
    expect_msg(mg, 3, "src1");

    /* The same line printed again by the destination. */
    guestlog_merge_add(mg, msg("dst1", 3, "{\"type\":\"log\",\"text\":\"b\"}"));
    assert_true(guestlog_merge_next(mg, &ev));
    assert_int_equal(ev.kind, GUESTLOG_EV_DUP);
    assert_int_equal(ev.msg->seq, 3);
    assert_string_equal(ev.msg->source, "dst1");
    assert_string_equal(ev.other_source, "src1");
    assert_null(ev.other_text);
    assert_string_equal(ev.detail, "seq 3 from dst1 repeats (identical text) the copy from src1");
    guestlog_event_clear(&ev);

    /* Same seq, other text: the guest ran the step twice. */
    guestlog_merge_add(mg, msg("dst1", 2, "{\"type\":\"log\",\"text\":\"X\"}"));
    assert_true(guestlog_merge_next(mg, &ev));
    assert_int_equal(ev.kind, GUESTLOG_EV_CONFLICT);
    assert_string_equal(ev.other_source, "src1");
    assert_string_equal(ev.other_text, "{\"type\":\"log\",\"text\":\"a\"}");
    assert_string_equal(ev.msg->text, "{\"type\":\"log\",\"text\":\"X\"}");
    assert_string_equal(ev.detail, "seq 2 from dst1 differs from the copy from src1");
    guestlog_event_clear(&ev);

    /* A conflict with a line still waiting for its predecessor. */
    guestlog_merge_open(mg, "dst1");
    guestlog_merge_add(mg, msg("src1", 5, "{\"type\":\"log\",\"text\":\"c\"}"));
    guestlog_merge_add(mg, msg("dst1", 5, "{\"type\":\"log\",\"text\":\"d\"}"));
    expect_event(mg, GUESTLOG_EV_CONFLICT, 5, 5, "seq 5 from dst1 differs from the copy from src1");
    guestlog_merge_add(mg, msg("src1", 4, "{\"type\":\"log\"}"));
    expect_msg(mg, 4, "src1");
    expect_msg(mg, 5, "src1");
    assert_false(guestlog_merge_next(mg, &ev));

    /* Pending messages and queued events are freed with the merger (ASan checks). */
    guestlog_merge_add(mg, msg("src1", 9, "{\"type\":\"log\"}"));
    guestlog_merge_add(mg, msg("src1", 1, "{\"type\":\"hello\"}"));
    guestlog_merge_free(mg);
}

/* Past GUESTLOG_HISTORY the first copy is gone: the repeat is reported as late, not judged. */
static void test_merge_old_repeat(void **state)
{
    struct guestlog_merge *mg = guestlog_merge_new(1);
    struct guestlog_event ev;

    (void)state;
    for (unsigned i = 1; i <= GUESTLOG_HISTORY + 5; i++) {
        guestlog_merge_add(mg, msg("src1", i, "{\"type\":\"log\"}"));
        expect_msg(mg, i, "src1");
    }
    guestlog_merge_add(mg, msg("dst1", 2, "{\"type\":\"log\"}"));
    expect_event(mg, GUESTLOG_EV_LATE, 2, 2, "too late to compare");
    guestlog_merge_add(mg, msg("dst1", GUESTLOG_HISTORY, "{\"type\":\"log\"}"));
    expect_event(mg, GUESTLOG_EV_DUP, GUESTLOG_HISTORY, GUESTLOG_HISTORY, "identical");
    assert_false(guestlog_merge_next(mg, &ev));
    guestlog_merge_free(mg);
}

/* ---- commands ------------------------------------------------------------------------------ */

static void test_cmd_format(void **state)
{
    char buf[64];
    struct vqh_err err;

    (void)state;
    assert_int_equal(guestlog_cmd_format(buf, sizeof(buf), &err, WIRE_CMD_EPOCH, "epoch=%u", 3),
                     14);
    assert_string_equal(buf, "epoch epoch=3\n");
    assert_int_equal(guestlog_cmd_format(buf, sizeof(buf), &err, WIRE_CMD_REPORT, NULL), 7);
    assert_string_equal(buf, "report\n");
    assert_int_equal(guestlog_cmd_format(buf, sizeof(buf), &err, WIRE_CMD_VERIFY, "sample=%d x=%s",
                                         16, "y"), 21);
    assert_string_equal(buf, "verify sample=16 x=y\n");

    assert_int_equal(guestlog_cmd_format(buf, sizeof(buf), &err, "Epoch", NULL), 0);
    assert_string_equal(err.msg, "guest command \"Epoch\" is not a lowercase word");
    assert_int_equal(guestlog_cmd_format(buf, sizeof(buf), &err, "", NULL), 0);
    assert_int_equal(
        guestlog_cmd_format(buf, sizeof(buf), &err, "verify", "sample=%s", "1\nfinish"), 0);
    assert_non_null(strstr(err.msg, "not printable ASCII (0x0a)"));
    assert_int_equal(guestlog_cmd_format(buf, sizeof(buf), &err, "verify", "%s", "fast"), 0);
    assert_string_equal(err.msg, "guest command argument \"fast\" is not key=value");
    assert_int_equal(guestlog_cmd_format(buf, sizeof(buf), &err, "verify", "%s", "=1"), 0);
    assert_int_equal(guestlog_cmd_format(buf, 8, &err, "verify", "sample=1"), 0);
    assert_non_null(strstr(err.msg, "exceeds the buffer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_prefix_after_noise),
        cmocka_unit_test(test_parse_noise),
        cmocka_unit_test(test_parse_bad_lines),
        cmocka_unit_test(test_parse_truncated_line),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_asm_chunks),
        cmocka_unit_test(test_asm_overlong),
        cmocka_unit_test(test_asm_handoff),
        cmocka_unit_test(test_merge_orders_across_sources),
        cmocka_unit_test(test_merge_gaps),
        cmocka_unit_test(test_merge_duplicates),
        cmocka_unit_test(test_merge_old_repeat),
        cmocka_unit_test(test_cmd_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
