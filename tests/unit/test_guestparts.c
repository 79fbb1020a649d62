/*
 * test_guestparts.c: multi-part guest messages put back together (tools/guest/guestparts.c),
 * from lines the guest's own splitter (kernel/msgsplit.c) makes; then every way a part stream can
 * go wrong: a part missing, parts out of order, two messages interleaved, a message that never
 * ends, a garbled or malformed part. Each is one error naming the message, and nothing is lost:
 * every part fed in comes back, in a whole message or with the error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crc32c.h"
#include "guestparts.h"
#include "msgsplit.h"

#define MAXP 256

struct stream {
    struct guestlog_msg *m[MAXP];
    size_t n;
};

static struct guestlog_msg *parse(const char *line, size_t n)
{
    struct guestlog_line l = { line, n, false };
    struct guestlog_msg *m = NULL;
    struct vqh_err err;
    if (guestlog_parse_line(&l, "src1", &m, &err) != GUESTLOG_MSG)
        fail_msg("line does not parse: %s", err.msg);
    return m;
}

/* A JSON message of about `size` bytes: {"type":type,"pad":"xxx..."}; caller frees. */
static char *message(const char *type, size_t size)
{
    char *t = malloc(size + 64);
    int n = snprintf(t, size + 64, "{\"type\":\"%s\",\"pad\":\"", type);
    for (size_t i = (size_t)n; i < size; i++)
        t[i] = (char)('a' + i % 26);
    memcpy(t + (size > (size_t)n ? size : (size_t)n), "\"}", 3);
    return t;
}

/* Split text into lines from seq0 on and parse each: the parts as the host receives them. */
static void split(struct stream *s, const char *type, const char *text, uint64_t seq0)
{
    struct msg_split sp;
    char line[WIRE_LINE_MAX + 1];
    size_t n;
    msg_split_text(&sp, type, text, strlen(text), NULL, 0);
    while ((n = msg_split_next(&sp, seq0++, line, sizeof(line))) > 0) {
        assert_true(s->n < MAXP);
        s->m[s->n++] = parse(line, n - 1);
    }
}

static void one_line(struct stream *s, uint64_t seq, const char *json)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "VQH1 %llu %s", (unsigned long long)seq, json);
    s->m[s->n++] = parse(line, (size_t)n);
}

struct result {
    int whole, broken, dropped;
    size_t parts_back;           /* parts handed back in BROKEN and DROPPED */
    unsigned parts_whole;        /* parts inside whole messages */
    char detail[8][400];
    char *text[8];
    uint64_t seq[8], seq_last[8];
};

static void drain(struct guestparts *p, struct result *r)
{
    struct guestparts_out o;
    while (guestparts_next(p, &o)) {
        switch (o.kind) {
        case GUESTPARTS_WHOLE:
            assert_true(r->whole < 8);
            r->text[r->whole] = strdup(o.msg->text);
            r->seq[r->whole] = o.msg->seq;
            r->seq_last[r->whole] = o.msg->seq_last;
            r->parts_whole += o.msg->parts ? o.msg->parts : 1;
            r->whole++;
            break;
        case GUESTPARTS_BROKEN:
            assert_true(r->broken < 8);
            assert_true(o.detail[0] != '\0');
            snprintf(r->detail[r->broken++], sizeof(r->detail[0]), "%s", o.detail);
            r->parts_back += o.nparts;
            break;
        case GUESTPARTS_DROPPED:
            assert_int_equal(o.nparts, 1);
            r->dropped++;
            r->parts_back++;
            break;
        }
        guestparts_out_clear(&o);
    }
}

/* Feed s[order[0]], s[order[1]], ... (all of s when order is NULL), then end the stream. */
static void run(struct stream *s, const size_t *order, size_t n, struct result *r)
{
    struct guestparts *p = guestparts_new();
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < (order ? n : s->n); i++) {
        size_t k = order ? order[i] : i;
        guestparts_add(p, s->m[k]);
        s->m[k] = NULL;
        drain(p, r);
    }
    guestparts_end(p);
    drain(p, r);
    guestparts_free(p);
    for (size_t i = 0; i < s->n; i++) /* lines left out of the order */
        guestlog_msg_free(s->m[i]);
    s->n = 0;
}

static void result_free(struct result *r)
{
    for (int i = 0; i < r->whole; i++)
        free(r->text[i]);
}

static void assert_detail(const struct result *r, int i, const char *want)
{
    if (!strstr(r->detail[i], want))
        fail_msg("error \"%s\" lacks \"%s\"", r->detail[i], want);
}

static void test_parts_come_back_whole(void **state)
{
    (void)state;
    struct stream s = { 0 };
    struct result r;
    char *big = message("summary", 20000);
    one_line(&s, 9, "{\"type\":\"log\",\"text\":\"before\"}");
    split(&s, "summary", big, 10);
    size_t nparts = s.n - 1;
    assert_true(nparts >= 5);
    one_line(&s, 10 + nparts, "{\"type\":\"verdict\",\"verdict\":\"pass\"}");
    run(&s, NULL, 0, &r);
    assert_int_equal(r.broken, 0);
    assert_int_equal(r.dropped, 0);
    assert_int_equal(r.whole, 3);
    assert_string_equal(r.text[1], big);
    assert_int_equal(r.seq[1], 10);
    assert_int_equal(r.seq_last[1], 10 + nparts - 1);
    assert_int_equal(r.parts_whole, nparts + 2);
    assert_string_equal(r.text[0], "{\"type\":\"log\",\"text\":\"before\"}");
    assert_int_equal(r.seq[2], 10 + nparts);
    result_free(&r);
    free(big);
}

/* A line lost in the middle (a seq gap), and a part swapped with the next. */
static void test_missing_and_out_of_order(void **state)
{
    (void)state;
    struct stream s = { 0 };
    struct result r;
    char *big = message("progress", 20000);
    split(&s, "progress", big, 1);
    size_t n = s.n, order[MAXP], k = 0;
    for (size_t i = 0; i < n; i++)
        if (i != 2)
            order[k++] = i;
    run(&s, order, k, &r);
    assert_int_equal(r.whole, 0);
    assert_int_equal(r.broken, 1);
    assert_detail(&r, 0, "multi-part progress message (seq 1..4, 3 parts) given up: part 3 came at seq 4, "
                         "not right after part 1");
    assert_int_equal(r.parts_back, n - 1); /* nothing lost */
    assert_int_equal(r.dropped, (int)n - 4);

    /* the same seqs, the data of parts 2 and 3 swapped (as if written out of order) */
    split(&s, "progress", big, 1);
    struct guestlog_msg *t = s.m[2];
    s.m[2] = s.m[3];
    s.m[3] = t;
    s.m[2]->seq = 3;
    s.m[3]->seq = 4;
    run(&s, NULL, 0, &r);
    assert_int_equal(r.whole, 0);
    assert_int_equal(r.broken, 1);
    assert_detail(&r, 0, "part 3 came at seq 3 where part 2 was due");
    assert_int_equal(r.parts_back, n);
    free(big);
}

/* Parts of two messages interleaved: both are given up, every part comes back. */
static void test_two_messages_interleaved(void **state)
{
    (void)state;
    struct stream a = { 0 }, b = { 0 }, s = { 0 };
    struct result r;
    char *ta = message("summary", 9000), *tb = message("hello", 9000);
    split(&a, "summary", ta, 100);
    split(&b, "hello", tb, 102); /* part 0 of b comes at seq 102 (its later parts name it) */
    /* a0 a1 b0 a2 b1 b2 ...: the seqs as the host would see them, in that order */
    uint64_t seq = 100;
    s.m[s.n++] = a.m[0];
    s.m[s.n++] = a.m[1];
    for (size_t i = 0; i < b.n || i + 2 < a.n; i++) {
        if (i < b.n)
            s.m[s.n++] = b.m[i];
        if (i + 2 < a.n)
            s.m[s.n++] = a.m[i + 2];
    }
    for (size_t i = 0; i < s.n; i++)
        s.m[i]->seq = seq++;
    size_t total = s.n;
    run(&s, NULL, 0, &r);
    assert_int_equal(r.whole, 0);
    assert_true(r.broken >= 2);
    assert_detail(&r, 0, "summary message (seq 100..101, 2 parts) given up: its part 2 never came: a new "
                         "hello message began at seq 102");
    assert_detail(&r, 1, "hello message (seq 102..104, 2 parts) given up: part 1 came at seq 104, not right "
                         "after part 0 (seq 102)");
    assert_int_equal(r.broken, 2);
    assert_int_equal(r.parts_back, total);
    free(ta);
    free(tb);
}

/* A message that never ends: more parts than announced, the stream ending, WIRE_MSG_PARTS_MAX. */
static void test_never_ending(void **state)
{
    (void)state;
    struct stream s = { 0 };
    struct result r;
    char *big = message("summary", 12000);
    split(&s, "summary", big, 1);
    size_t n = s.n;

    /* the stream ends before the last part */
    size_t order[MAXP];
    for (size_t i = 0; i + 1 < n; i++)
        order[i] = i;
    run(&s, order, n - 1, &r);
    assert_int_equal(r.broken, 1);
    assert_detail(&r, 0, "the stream ended after its part");
    assert_int_equal(r.parts_back, n - 1);

    /* a part that says more=true after the announced length: hand-made lines, CRCs right */
    char line[600];
    struct stream h = { 0 };
    int ln = snprintf(line, sizeof(line), "VQH1 1 {\"type\":\"part\",\"part\":0,\"more\":true,\"of\":\"x\","
                      "\"len\":6,\"crc\":%u,\"data\":\"{\\\"type\"}", crc32c(0, "{\"type", 6));
    h.m[h.n++] = parse(line, (size_t)ln);
    for (int i = 1; i < 4; i++) {
        ln = snprintf(line, sizeof(line), "VQH1 %d {\"type\":\"part\",\"part\":%d,\"more\":true,\"msg\":1,"
                      "\"crc\":%u,\"data\":\"zz\"}", i + 1, i, crc32c(0, "zz", 2));
        h.m[h.n++] = parse(line, (size_t)ln);
    }
    run(&h, NULL, 0, &r);
    assert_int_equal(r.broken, 1);
    assert_detail(&r, 0, "part 1 at seq 2 takes it past the 6 bytes part 0 announced");
    assert_int_equal(r.dropped, 2);
    assert_int_equal(r.parts_back, 4);

    /* announced longer than WIRE_MSG_MAX: refused at part 0 */
    ln = snprintf(line, sizeof(line), "VQH1 1 {\"type\":\"part\",\"part\":0,\"more\":true,\"of\":\"x\","
                  "\"len\":%d,\"crc\":%u,\"data\":\"z\"}", WIRE_MSG_MAX + 1, crc32c(0, "z", 1));
    h.m[h.n++] = parse(line, (size_t)ln);
    run(&h, NULL, 0, &r);
    assert_int_equal(r.broken, 1);
    assert_detail(&r, 0, "\"len\" is not a length from 1 to WIRE_MSG_MAX");

    /* one more part than WIRE_MSG_PARTS_MAX allows, each a byte: refused at the limit */
    struct guestparts *p = guestparts_new();
    memset(&r, 0, sizeof(r));
    ln = snprintf(line, sizeof(line), "VQH1 1 {\"type\":\"part\",\"part\":0,\"more\":true,\"of\":\"x\","
                  "\"len\":%d,\"crc\":%u,\"data\":\"z\"}", WIRE_MSG_MAX, crc32c(0, "z", 1));
    guestparts_add(p, parse(line, (size_t)ln));
    for (int i = 1; i <= WIRE_MSG_PARTS_MAX + 3; i++) {
        ln = snprintf(line, sizeof(line), "VQH1 %d {\"type\":\"part\",\"part\":%d,\"more\":true,\"msg\":1,"
                      "\"crc\":%u,\"data\":\"z\"}", i + 1, i, crc32c(0, "z", 1));
        guestparts_add(p, parse(line, (size_t)ln));
        drain(p, &r);
    }
    guestparts_end(p);
    drain(p, &r);
    guestparts_free(p);
    assert_int_equal(r.broken, 1); /* at the limit; the parts past it are dropped quietly */
    assert_detail(&r, 0, "part 1023 at seq 1024 is not the last, and a message has at most "
                         "WIRE_MSG_PARTS_MAX (1024) parts");
    assert_int_equal(r.dropped, 4);
    assert_int_equal(r.parts_back, WIRE_MSG_PARTS_MAX + 4);
    free(big);
}

/* A garbled part (data changed, the line still valid JSON) and a malformed one. */
static void test_garbled_and_malformed(void **state)
{
    (void)state;
    struct stream s = { 0 };
    struct result r;
    char *big = message("summary", 12000), *bad;
    split(&s, "summary", big, 5);
    size_t n = s.n;
    /* flip one letter of part 1's data: re-parse the edited text as its line */
    bad = strdup(s.m[1]->text);
    char *d = strstr(bad, "\"data\":\"") + 20;
    *d = *d == 'q' ? 'r' : 'q';
    char line[WIRE_LINE_MAX + 64];
    int ln = snprintf(line, sizeof(line), "VQH1 6 %s", bad);
    guestlog_msg_free(s.m[1]);
    s.m[1] = parse(line, (size_t)ln);
    free(bad);
    run(&s, NULL, 0, &r);
    assert_int_equal(r.whole, 0);
    assert_int_equal(r.broken, 1);
    assert_detail(&r, 0, "part 1 at seq 6 is garbled: the CRC-32C of its");
    assert_int_equal(r.parts_back, n);

    /* malformed: "more" a string; then a part 0 without "of" */
    one_line(&s, 1, "{\"type\":\"part\",\"part\":0,\"more\":\"yes\",\"of\":\"x\",\"len\":1,\"crc\":0,\"data\":\"\"}");
    one_line(&s, 2, "{\"type\":\"part\",\"part\":0,\"more\":false,\"len\":1,\"crc\":0,\"data\":\"\"}");
    one_line(&s, 3, "{\"type\":\"part\",\"part\":1,\"more\":false,\"crc\":0,\"data\":\"\"}");
    run(&s, NULL, 0, &r);
    assert_int_equal(r.broken, 3);
    assert_detail(&r, 0, "the part at seq 1 is malformed: \"more\" is not true or false");
    assert_detail(&r, 1, "part 0 has no \"of\"");
    assert_detail(&r, 2, "part 1 has no \"msg\"");

    /* the parts are right but the text they carry is not the announced message */
    struct msg_split sp;
    char l2[WIRE_LINE_MAX + 1];
    const char *texts[] = { "{\"type\":\"hello\"}", "not json at all", "{\"type\":\"part\"}" };
    const char *want[] = { "is a \"hello\", part 0 announced a \"summary\"", "is not a message: bad guest "
                           "message: bad JSON", "part 0 has no \"of\"" };
    for (int i = 0; i < 3; i++) {
        /* hand-made: one part 0 with more=false (the splitter would send these texts as one line) */
        msg_split_text(&sp, i == 2 ? "part" : "summary", texts[i], strlen(texts[i]), NULL, 0);
        ln = snprintf(l2, sizeof(l2), "VQH1 1 {\"type\":\"part\",\"part\":0,\"more\":false,\"of\":\"%s\","
                      "\"len\":%zu,\"crc\":%u,\"data\":\"", sp.type, strlen(texts[i]), crc32c(0, texts[i], strlen(texts[i])));
        for (const char *c = texts[i]; *c; c++) {
            if (*c == '"')
                l2[ln++] = '\\';
            l2[ln++] = *c;
        }
        ln += snprintf(l2 + ln, sizeof(l2) - (size_t)ln, "\"}");
        s.m[s.n++] = parse(l2, (size_t)ln);
        run(&s, NULL, 0, &r);
        assert_int_equal(r.whole, 0);
        assert_int_equal(r.broken, 1);
        assert_detail(&r, 0, want[i]);
    }
    free(big);
}

/* An error report lost in parts is named as one: the host counts it (chan.c). */
static void test_broken_names_its_type(void **state)
{
    (void)state;
    struct stream s = { 0 };
    char *big = message("error", 9000);
    split(&s, "error", big, 1);
    struct guestparts *p = guestparts_new();
    guestparts_add(p, s.m[0]);
    guestparts_end(p);
    struct guestparts_out o;
    assert_true(guestparts_next(p, &o));
    assert_int_equal(o.kind, GUESTPARTS_BROKEN);
    assert_string_equal(o.of, "error");
    assert_int_equal(o.nparts, 1);
    guestparts_out_clear(&o);
    assert_false(guestparts_next(p, &o));
    guestparts_free(p);
    for (size_t i = 1; i < s.n; i++)
        guestlog_msg_free(s.m[i]);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_come_back_whole),
        cmocka_unit_test(test_missing_and_out_of_order),
        cmocka_unit_test(test_two_messages_interleaved),
        cmocka_unit_test(test_never_ending),
        cmocka_unit_test(test_garbled_and_malformed),
        cmocka_unit_test(test_broken_names_its_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
