/*
 * test_fuzz_guestlog.c: the guest's serial lines, fuzzed (tests/unit/fuzz.h). Two QEMUs carry one
 * guest (overlapping at the migration); between its messages come garbage lines, cut copies of
 * messages, oversized lines, NULs and firmware noise before the prefix; everything arrives in
 * random chunks, the two streams interleaved. Nothing may crash, and every intact message must come
 * out of the merger exactly once, in order, with its text: nothing lost, nothing invented. Some
 * messages are longer than a line and go out in parts (kernel/msgsplit.c), which the reassembler
 * (tools/guest/guestparts.c) must put back whole, a migration falling anywhere among them.
 * Then single lines, mutated: the parser either returns a message (an object with a string type)
 * or a clear error. Then part streams broken at random (lines lost, moved, garbled, the stream cut):
 * every part fed comes back, whole or with an error, and no message comes back other than sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "guestlog.h"
#include "guestparts.h"
#include "msgsplit.h"

#define NMSG 40
#define STREAM_MAX (1 << 20)

struct sink {
    struct guestlog_merge *m;
    const char *source;
    unsigned long bad, msgs;
};

static void sink_line(void *arg, const struct guestlog_line *line)
{
    struct sink *k = arg;
    struct guestlog_msg *msg = NULL;
    struct vqh_err err = {0};
    switch (guestlog_parse_line(line, k->source, &msg, &err)) {
    case GUESTLOG_MSG:
        assert_non_null(msg);
        assert_true(json_is_object(msg->obj));
        assert_non_null(msg->type);
        k->msgs++;
        guestlog_merge_add(k->m, msg);
        break;
    case GUESTLOG_BAD:
        assert_true(err.msg[0] != '\0');
        k->bad++;
        break;
    case GUESTLOG_NOISE:
        break;
    }
}

struct stream {
    uint8_t *buf;
    size_t len, pos;
};

static void put(struct stream *s, const void *p, size_t n)
{
    assert_true(s->len + n <= STREAM_MAX);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

#define LONG_MAX_TEXT 9000 /* a long message: up to 3 parts */

static void message_text(unsigned n, char *out, size_t cap)
{
    snprintf(out, cap, "{\"type\":\"progress\",\"n\":%u,\"s\":\"m%u\\u0041\",\"a\":[1,{\"b\":null}]}", n,
             n * 7);
}

/* The guest's output of one iteration: NMSG messages, some long (in parts), as numbered lines. */
struct guest_out {
    char text[NMSG + 1][LONG_MAX_TEXT + 64];  /* message n's JSON */
    char *line[NMSG * 8 + 1];                 /* line seq's text, "VQH1 <seq> ..." without '\n' */
    unsigned nlines;
};

/* long_ones: some messages are longer than a line (they cost time: not in every iteration) */
static void guest_out_make(struct fuzz *f, struct guest_out *g, bool long_ones)
{
    for (unsigned i = 1; i <= g->nlines; i++)
        free(g->line[i]);
    g->nlines = 0;
    for (unsigned n = 1; n <= NMSG; n++) {
        if (!long_ones || fuzz_below(f, 8)) {
            message_text(n, g->text[n], sizeof(g->text[n]));
        } else {
            size_t len = 3000 + fuzz_below(f, LONG_MAX_TEXT - 3000), o;
            o = (size_t)snprintf(g->text[n], sizeof(g->text[n]), "{\"type\":\"summary\",\"n\":%u,\"pad\":\"", n);
            while (o < len) /* letters, and escaped quotes and backslashes that double in a part */
                o += (size_t)snprintf(g->text[n] + o, sizeof(g->text[n]) - o, "%s",
                                      fuzz_below(f, 8) ? "abc" : fuzz_below(f, 2) ? "\\\"" : "\\\\");
            snprintf(g->text[n] + o, sizeof(g->text[n]) - o, "\"}");
        }
        struct msg_split sp;
        char buf[WIRE_LINE_MAX + 1];
        size_t len;
        msg_split_text(&sp, strstr(g->text[n], "summary") ? "summary" : "progress", g->text[n],
                       strlen(g->text[n]), NULL, 0);
        while ((len = msg_split_next(&sp, g->nlines + 1, buf, sizeof(buf))) > 0) {
            assert_true(g->nlines + 1 < sizeof(g->line) / sizeof(g->line[0]));
            buf[len - 1] = '\0';
            g->line[++g->nlines] = strdup(buf);
        }
    }
}

/* Garbage before a message: whole lines, never a valid message, never "VQH1 " + valid. */
static void garbage(struct fuzz *f, struct stream *s, const struct guest_out *g, unsigned seq)
{
    uint8_t junk[9000];
    size_t n;
    switch (fuzz_below(f, 6)) {
    case 0: /* random bytes, NULs included */
        n = fuzz_below(f, 300);
        for (size_t i = 0; i < n; i++) {
            junk[i] = (uint8_t)fuzz_next(f);
            if (junk[i] == '\n')
                junk[i] = 0;
        }
        put(s, junk, n);
        put(s, "\n", 1);
        break;
    case 1: /* a message cut short (its JSON incomplete) */
        put(s, g->line[seq], fuzz_below(f, strlen(g->line[seq]) - 1));
        put(s, "\n", 1);
        break;
    case 2: /* oversized */
        n = 4000 + fuzz_below(f, 5000);
        memset(junk, 'x', n);
        if (fuzz_below(f, 2))
            memcpy(junk + fuzz_below(f, n - 10), "VQH1 9", 6);
        put(s, junk, n);
        put(s, "\n", 1);
        break;
    case 3: { /* a mutated message: bad JSON, or a different text: then under a seq never used */
        n = (size_t)snprintf((char *)junk, sizeof(junk), "%s", g->line[seq]);
        n = fuzz_mutate(f, junk, n, WIRE_LINE_MAX - 1, (const char *const[]){ "VQH1 ", "\"type\"", "{", "}", NULL });
        for (size_t i = 0; i < n; i++)
            if (junk[i] == '\n')
                junk[i] = ' ';
        /* whatever survives must not parse as a message that competes with a real seq */
        struct guestlog_line l = { (const char *)junk, n, false };
        struct guestlog_msg *m = NULL;
        junk[n] = 0;
        if (guestlog_parse_line(&l, "probe", &m, NULL) == GUESTLOG_MSG) {
            guestlog_msg_free(m);
            break;
        }
        put(s, junk, n);
        put(s, "\n", 1);
        break;
    }
    case 4: /* firmware noise, then the message on the same line (added by the caller) */
        put(s, "BdsDxe: loading Boot0001 ", 25);
        return;
    default:
        break;
    }
}

static void build(struct fuzz *f, struct stream *s, const struct guest_out *g, unsigned from, unsigned to)
{
    for (unsigned seq = from; seq <= to; seq++) {
        if (fuzz_below(f, 2))
            garbage(f, s, g, seq);
        put(s, g->line[seq], strlen(g->line[seq]));
        bool crlf = fuzz_below(f, 2);
        put(s, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
    }
    if (fuzz_below(f, 2)) /* the stream ends mid-line */
        put(s, "VQH1 77", 7);
}

static void feed_some(struct fuzz *f, struct stream *s, struct guestlog_asm *a, struct sink *k)
{
    size_t n = 1 + fuzz_below(f, fuzz_below(f, 2) ? 16 : 3000);
    if (n > s->len - s->pos)
        n = s->len - s->pos;
    guestlog_asm_feed(a, s->buf + s->pos, n, sink_line, k);
    s->pos += n;
}

static void test_streams_lose_nothing(void **state)
{
    (void)state;
    struct fuzz f = { fuzz_seed() };
    struct stream s1 = { malloc(STREAM_MAX), 0, 0 }, s2 = { malloc(STREAM_MAX), 0, 0 };
    struct guestlog_asm *a1 = malloc(sizeof(*a1)), *a2 = malloc(sizeof(*a2));
    assert_non_null(s1.buf);
    assert_non_null(s2.buf);
    unsigned long bad = 0, dups = 0, long_msgs = 0;
    static struct guest_out g;
    for (int iter = 0; iter < 2000; iter++) {
        struct guestlog_merge *m = guestlog_merge_new(1);
        struct guestparts *gp = guestparts_new();
        struct sink k1 = { m, "vm1", 0, 0 }, k2 = { m, "vm2", 0, 0 };
        guest_out_make(&f, &g, iter % 4 == 0);
        /* vm1 carries lines 1..hi, vm2 lo..the last: they overlap around the migration, which
         * may fall between the parts of a message */
        unsigned hi = 1 + (unsigned)fuzz_below(&f, g.nlines), lo = 1 + (unsigned)fuzz_below(&f, hi + 1);
        s1.len = s1.pos = s2.len = s2.pos = 0;
        build(&f, &s1, &g, 1, hi);
        build(&f, &s2, &g, lo, g.nlines);
        guestlog_asm_init(a1);
        guestlog_asm_init(a2);
        guestlog_merge_open(m, "vm1");
        guestlog_merge_open(m, "vm2");
        while (s1.pos < s1.len || s2.pos < s2.len) {
            if (s1.pos < s1.len && (s2.pos == s2.len || fuzz_below(&f, 2)))
                feed_some(&f, &s1, a1, &k1);
            else
                feed_some(&f, &s2, a2, &k2);
        }
        guestlog_asm_finish(a1, sink_line, &k1);
        guestlog_asm_finish(a2, sink_line, &k2);
        guestlog_merge_close(m, "vm1");
        guestlog_merge_close(m, "vm2");
        unsigned next = 1, next_seq = 1;
        struct guestlog_event ev;
        struct guestparts_out o;
        while (guestlog_merge_next(m, &ev)) {
            if (ev.kind == GUESTLOG_EV_MSG) {
                guestparts_add(gp, ev.msg);
                ev.msg = NULL;
                if (next_seq == g.nlines) /* the last line is in: the stream ends */
                    guestparts_end(gp);
                next_seq++;
                while (guestparts_next(gp, &o)) {
                    if (o.kind != GUESTPARTS_WHOLE)
                        fail_msg("seed 0x%llx iteration %d: %s", (unsigned long long)fuzz_seed(), iter, o.detail);
                    if (next > NMSG || strcmp(o.msg->text, g.text[next]))
                        fail_msg("seed 0x%llx iteration %d: got seq %llu '%.200s', expected message %u '%.200s'",
                                 (unsigned long long)fuzz_seed(), iter, (unsigned long long)o.msg->seq,
                                 o.msg->text, next, next <= NMSG ? g.text[next] : "");
                    long_msgs += o.msg->parts > 0;
                    next++;
                    guestparts_out_clear(&o);
                }
            } else if (ev.kind == GUESTLOG_EV_DUP) {
                dups++;
            } else {
                fail_msg("seed 0x%llx iteration %d: unexpected event: %s", (unsigned long long)fuzz_seed(), iter,
                         ev.detail);
            }
            guestlog_event_clear(&ev);
        }
        if (next != NMSG + 1)
            fail_msg("seed 0x%llx iteration %d: %u of %d messages came out", (unsigned long long)fuzz_seed(), iter,
                     next - 1, NMSG);
        guestlog_merge_free(m);
        guestparts_free(gp);
        bad += k1.bad + k2.bad;
    }
    for (unsigned i = 1; i <= g.nlines; i++)
        free(g.line[i]);
    /* the fuzz reached what it is for: bad lines, overlapping sources, messages in parts */
    assert_true(bad > 1000);
    assert_true(dups > 1000);
    assert_true(long_msgs > 1000);
    free(s1.buf);
    free(s2.buf);
    free(a1);
    free(a2);
}

/* Single lines, mutated from messages: a message or a clear error, never a crash. */
static void test_lines_parse_or_say_why(void **state)
{
    (void)state;
    struct fuzz f = { fuzz_seed() ^ 1 };
    static const char *const seeds[] = {
        "VQH1 1 {\"type\":\"hello\",\"wire\":1,\"disks\":[{\"serial\":\"vqh0\",\"blk_size\":512}]}",
        "VQH1 18446744073709551615 {\"type\":\"x\"}",
        "noise VQH1 2 {\"type\":\"error\",\"class\":\"corrupt\",\"found\":{\"lba\":1}}",
        "VQH1 3 {\"type\":\"reply\",\"cmd\":\"verify\",\"ok\":true}",
        "VQH1 4 []",
        "VQH1 5 {\"type\":7}",
    };
    static const char *const dict[] = { "VQH1 ", " 0 ", "99999999999999999999999", "\"type\"", "null",
                                        "\\u0000", "{", "}", "[", "\"", NULL };
    uint8_t buf[WIRE_LINE_MAX + 64];
    unsigned long kinds[3] = { 0 };
    for (int iter = 0; iter < 100000; iter++) {
        const char *seed = seeds[fuzz_below(&f, sizeof(seeds) / sizeof(seeds[0]))];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        n = fuzz_mutate(&f, buf, n, WIRE_LINE_MAX - 1, dict);
        buf[n] = 0;
        struct guestlog_line l = { (const char *)buf, n, fuzz_below(&f, 8) == 0 };
        struct guestlog_msg *m = NULL;
        struct vqh_err err = {0};
        enum guestlog_parse r = guestlog_parse_line(&l, "vm1-with-a-long-label", &m, &err);
        kinds[r]++;
        switch (r) {
        case GUESTLOG_MSG:
            assert_true(json_is_object(m->obj));
            assert_true(json_is_string(json_object_get(m->obj, "type")));
            assert_string_equal(m->type, json_string_value(json_object_get(m->obj, "type")));
            assert_true(strlen(m->source) < GUESTLOG_SOURCE_MAX);
            guestlog_msg_free(m);
            break;
        case GUESTLOG_BAD:
            assert_null(m);
            assert_true(strlen(err.msg) > 0);
            break;
        case GUESTLOG_NOISE:
            assert_null(m);
            assert_null(memmem(buf, n, WIRE_PREFIX, strlen(WIRE_PREFIX)));
            break;
        }
    }
    assert_true(kinds[GUESTLOG_MSG] > 1000 && kinds[GUESTLOG_BAD] > 1000 && kinds[GUESTLOG_NOISE] > 100);
}

/* Part streams broken at random: every line fed comes back once (whole or with an error), no
 * reassembled message differs from one sent, and an unbroken stream gives every message whole. */
static void test_broken_parts_lose_nothing(void **state)
{
    (void)state;
    struct fuzz f = { fuzz_seed() ^ 2 };
    static struct guest_out g;
    static char *lines[NMSG * 8 + 2];
    unsigned long kinds[3] = { 0 };
    for (int iter = 0; iter < 600; iter++) {
        guest_out_make(&f, &g, true);
        unsigned n = g.nlines, ops = (unsigned)fuzz_below(&f, 4);
        for (unsigned i = 0; i < n; i++)
            lines[i] = strdup(g.line[i + 1]);
        for (unsigned k = 0; k < ops && n > 1; k++) {
            unsigned a = (unsigned)fuzz_below(&f, n), b = (unsigned)fuzz_below(&f, n);
            char *t;
            switch (fuzz_below(&f, 4)) {
            case 0: /* a line lost */
                free(lines[a]);
                memmove(lines + a, lines + a + 1, (n - a - 1) * sizeof(*lines));
                n--;
                break;
            case 1: /* a line moved elsewhere */
                t = lines[a];
                memmove(lines + a, lines + a + 1, (n - a - 1) * sizeof(*lines));
                memmove(lines + b + 1, lines + b, (n - 1 - b) * sizeof(*lines));
                lines[b] = t;
                break;
            case 2: { /* a byte of a line changed (the line may no longer parse) */
                size_t len = strlen(lines[a]);
                lines[a][strlen(WIRE_PREFIX) + fuzz_below(&f, len - strlen(WIRE_PREFIX))] = (char)fuzz_byte(&f);
                break;
            }
            default: /* the stream cut short */
                while (n > a + 1)
                    free(lines[--n]);
                break;
            }
        }
        struct guestparts *p = guestparts_new();
        unsigned fed = 0, back = 0, whole = 0;
        for (unsigned i = 0; i <= n; i++) {
            if (i < n) {
                struct guestlog_line l = { lines[i], strlen(lines[i]), false };
                struct guestlog_msg *m = NULL;
                struct vqh_err err;
                if (guestlog_parse_line(&l, "vm1", &m, &err) == GUESTLOG_MSG) {
                    fed++;
                    guestparts_add(p, m);
                }
                free(lines[i]);
            } else {
                guestparts_end(p);
            }
            struct guestparts_out o;
            while (guestparts_next(p, &o)) {
                kinds[o.kind]++;
                if (o.kind == GUESTPARTS_WHOLE) {
                    back += o.msg->parts ? o.msg->parts : 1;
                    whole++;
                    bool sent = false;
                    for (unsigned k = 1; k <= NMSG && !sent; k++)
                        sent = !strcmp(o.msg->text, g.text[k]);
                    if (o.msg->parts && !sent)
                        fail_msg("seed 0x%llx iteration %d: a message never sent came out of %u parts: %.200s",
                                 (unsigned long long)fuzz_seed(), iter, o.msg->parts, o.msg->text);
                } else {
                    assert_true(o.detail[0] != '\0');
                    back += (unsigned)o.nparts;
                }
                guestparts_out_clear(&o);
            }
        }
        if (back != fed)
            fail_msg("seed 0x%llx iteration %d: %u lines fed, %u came back", (unsigned long long)fuzz_seed(), iter,
                     fed, back);
        if (ops == 0 && whole != NMSG)
            fail_msg("seed 0x%llx iteration %d: an unbroken stream gave %u of %d messages",
                     (unsigned long long)fuzz_seed(), iter, whole, NMSG);
        guestparts_free(p);
    }
    for (unsigned i = 1; i <= g.nlines; i++)
        free(g.line[i]);
    assert_true(kinds[GUESTPARTS_BROKEN] > 150 && kinds[GUESTPARTS_DROPPED] > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_lose_nothing),
        cmocka_unit_test(test_lines_parse_or_say_why),
        cmocka_unit_test(test_broken_parts_lose_nothing),
    };
    return cmocka_run_group_tests_name("fuzz_guestlog", tests, NULL, NULL);
}
