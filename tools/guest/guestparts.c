/*
 * guestparts.c: multi-part guest messages reassembled (guestparts.h). One message is open at a
 * time, since the guest never interleaves two; after a message is given up, the parts of it that
 * still come (they name it in "msg") are passed on as dropped rather than each raising an error.
 */
#include "guestparts.h"
#include "grow.h"
#include "crc32c.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gp_state { GP_IDLE, GP_OPEN };

#define GP_GONE 16 /* messages given up whose later parts are still dropped quietly */

struct guestparts {
    enum gp_state state;
    /* OPEN: the message being put together (first_seq: its part 0's seq, 0 for none) */
    struct guestlog_msg **parts;
    size_t nparts, parts_cap;
    char *buf;
    size_t len, want;          /* bytes so far, bytes announced by part 0 */
    char of[32];
    uint64_t first_seq, next_seq;
    int64_t next_part;
    uint64_t gone[GP_GONE];    /* first seqs of messages given up (ring) */
    size_t ngone;
    /* results: q[head..n) */
    struct guestparts_out *q;
    size_t head, n, cap;
};

/* One part's members, checked for shape (not yet for its place in the message). */
struct gp_part {
    int64_t index;
    bool more;
    uint32_t crc;
    const char *data;
    size_t data_len;
    const char *of;    /* part 0 */
    int64_t len;       /* part 0 */
    int64_t msg;       /* later parts: part 0's seq */
};

struct guestparts *guestparts_new(void)
{
    return calloc(1, sizeof(struct guestparts));
}

void guestparts_out_clear(struct guestparts_out *out)
{
    guestlog_msg_free(out->msg);
    for (size_t i = 0; i < out->nparts; i++)
        guestlog_msg_free(out->parts[i]);
    free(out->parts);
    out->msg = NULL;
    out->parts = NULL;
    out->nparts = 0;
}

static void gp_forget(struct guestparts *p)
{
    for (size_t i = 0; i < p->nparts; i++)
        guestlog_msg_free(p->parts[i]);
    p->nparts = 0;
    free(p->buf);
    p->buf = NULL;
    p->len = p->want = 0;
}

void guestparts_free(struct guestparts *p)
{
    if (!p)
        return;
    gp_forget(p);
    free(p->parts);
    for (size_t i = p->head; i < p->n; i++)
        guestparts_out_clear(&p->q[i]);
    free(p->q);
    free(p);
}

static struct guestparts_out *gp_push(struct guestparts *p, enum guestparts_kind kind)
{
    struct guestparts_out *o;

    p->q = vqh_grow(p->q, &p->cap, p->n, sizeof(*p->q));
    o = &p->q[p->n++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    return o;
}

static void gp_keep(struct guestparts *p, struct guestlog_msg *m)
{
    p->parts = vqh_grow(p->parts, &p->parts_cap, p->nparts, sizeof(*p->parts));
    p->parts[p->nparts++] = m;
}

/* Give the open message up (with `extra`, the part that broke it, if any): a BROKEN result
 * holding every part that came. */
__attribute__((format(printf, 3, 4))) static void gp_broken(struct guestparts *p,
                                                            struct guestlog_msg *extra,
                                                            const char *fmt, ...)
{
    struct guestparts_out *o = gp_push(p, GUESTPARTS_BROKEN);
    char why[300];
    va_list ap;

    if (extra)
        gp_keep(p, extra);
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(o->of, sizeof(o->of), "%s", p->of);
    if (p->nparts > 1)
        snprintf(o->detail, sizeof(o->detail), "multi-part %s message (seq %" PRIu64 "..%" PRIu64
                 ", %zu parts) given up: %s", p->of[0] ? p->of : "guest", p->parts[0]->seq,
                 p->parts[p->nparts - 1]->seq, p->nparts, why);
    else
        snprintf(o->detail, sizeof(o->detail), "multi-part %s message (seq %" PRIu64 ") given up: %s",
                 p->of[0] ? p->of : "guest", p->nparts ? p->parts[0]->seq : p->first_seq, why);
    if (p->first_seq)
        p->gone[p->ngone++ % GP_GONE] = p->first_seq;
    o->parts = p->parts;
    o->nparts = p->nparts;
    p->parts = NULL;
    p->parts_cap = p->nparts = 0;
    free(p->buf);
    p->buf = NULL;
    p->len = p->want = 0;
    p->state = GP_IDLE;
}


static bool gp_int(json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
    json_t *j = json_object_get(obj, key);

    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
        return false;
    *v = json_integer_value(j);
    return true;
}

/* Shape of a part: false with why when a member is missing or wrong. */
static bool gp_read(const struct guestlog_msg *m, struct gp_part *pt, char *why, size_t cap)
{
    json_t *more = json_object_get(m->obj, "more"), *data = json_object_get(m->obj, "data");
    int64_t crc;

    memset(pt, 0, sizeof(*pt));
    if (!gp_int(m->obj, "part", 0, INT64_MAX, &pt->index)) {
        snprintf(why, cap, "\"part\" is not a part number");
        return false;
    }
    if (!json_is_boolean(more)) {
        snprintf(why, cap, "\"more\" is not true or false");
        return false;
    }
    pt->more = json_is_true(more);
    if (!gp_int(m->obj, "crc", 0, UINT32_MAX, &crc)) {
        snprintf(why, cap, "\"crc\" is not a 32-bit number");
        return false;
    }
    pt->crc = (uint32_t)crc;
    if (!json_is_string(data) || (pt->more && !json_string_length(data))) {
        snprintf(why, cap, "\"data\" is not a string%s", pt->more ? " with data" : "");
        return false;
    }
    pt->data = json_string_value(data);
    pt->data_len = json_string_length(data);
    if (pt->index == 0) {
        pt->of = json_string_value(json_object_get(m->obj, "of"));
        if (!pt->of || !pt->of[0] || !strcmp(pt->of, WIRE_MSG_PART)) {
            snprintf(why, cap, "part 0 has no \"of\" naming the type of the message it begins");
            return false;
        }
        if (!gp_int(m->obj, "len", 1, WIRE_MSG_MAX, &pt->len)) {
            snprintf(why, cap, "part 0's \"len\" is not a length from 1 to WIRE_MSG_MAX (%d)", WIRE_MSG_MAX);
            return false;
        }
    } else if (!gp_int(m->obj, "msg", 1, INT64_MAX, &pt->msg)) {
        snprintf(why, cap, "part %" PRId64 " has no \"msg\" naming the seq of its part 0", pt->index);
        return false;
    }
    return true;
}

/* The data as sent, or false (garbled on the way) with why. */
static bool gp_crc_ok(const struct gp_part *pt, uint64_t seq, char *why, size_t cap)
{
    uint32_t got = crc32c(0, pt->data, pt->data_len);

    if (got == pt->crc)
        return true;
    snprintf(why, cap, "part %" PRId64 " at seq %" PRIu64 " is garbled: the CRC-32C of its %zu bytes of "
             "data is 0x%08x, the part says 0x%08x", pt->index, seq, pt->data_len, got, pt->crc);
    return false;
}

static void gp_whole(struct guestparts *p)
{
    struct guestlog_msg *m = NULL, *last = p->parts[p->nparts - 1];
    struct vqh_err err;

    if (p->len != p->want) {
        gp_broken(p, NULL, "its last part (seq %" PRIu64 ") ends it at %zu bytes, part 0 announced %zu",
                  last->seq, p->len, p->want);
        return;
    }
    if (guestlog_parse_json(p->buf, p->len, p->parts[0]->seq, p->parts[0]->source, &m, &err) != GUESTLOG_MSG) {
        gp_broken(p, NULL, "the reassembled text is not a message: %s", err.msg);
        return;
    }
    if (strcmp(m->type, p->of)) {
        gp_broken(p, NULL, "the reassembled message is a \"%.40s\", part 0 announced a \"%s\"",
                  m->type, p->of);
        guestlog_msg_free(m);
        return;
    }
    m->seq_last = last->seq;
    m->parts = (unsigned)p->nparts;
    gp_push(p, GUESTPARTS_WHOLE)->msg = m;
    gp_forget(p);
    p->state = GP_IDLE;
}

/* Part 0: a new message begins. */
static void gp_begin(struct guestparts *p, struct guestlog_msg *m, const struct gp_part *pt)
{
    char why[300];

    snprintf(p->of, sizeof(p->of), "%s", pt->of);
    p->first_seq = m->seq;
    p->next_seq = m->seq + 1;
    p->next_part = 1;
    p->state = GP_OPEN;
    p->want = (size_t)pt->len;
    if (!gp_crc_ok(pt, m->seq, why, sizeof(why))) {
        gp_broken(p, m, "%s", why);
        return;
    }
    if (pt->data_len > p->want) {
        gp_broken(p, m, "part 0 alone carries %zu bytes, more than the %zu it announced",
                  pt->data_len, p->want);
        return;
    }
    p->buf = malloc(p->want + 1);
    if (!p->buf) {
        gp_broken(p, m, "out of memory for %zu bytes", p->want);
        return;
    }
    memcpy(p->buf, pt->data, pt->data_len);
    p->len = pt->data_len;
    gp_keep(p, m);
    if (!pt->more)
        gp_whole(p);
}

/* Part 1 and later of the open message. */
static void gp_continue(struct guestparts *p, struct guestlog_msg *m, const struct gp_part *pt)
{
    char why[300];

    if (m->seq != p->next_seq) {
        gp_broken(p, m, "part %" PRId64 " came at seq %" PRIu64 ", not right after part %" PRId64
                  " (seq %" PRIu64 "): a line between them was lost, or another message's parts came "
                  "in between", pt->index, m->seq, p->next_part - 1, p->next_seq - 1);
        return;
    }
    if (pt->index != p->next_part) {
        gp_broken(p, m, "part %" PRId64 " came at seq %" PRIu64 " where part %" PRId64
                  " was due: parts lost or out of order", pt->index, m->seq, p->next_part);
        return;
    }
    if (!gp_crc_ok(pt, m->seq, why, sizeof(why))) {
        gp_broken(p, m, "%s", why);
        return;
    }
    if (pt->data_len > p->want - p->len) {
        gp_broken(p, m, "part %" PRId64 " at seq %" PRIu64 " takes it past the %zu bytes "
                  "part 0 announced", pt->index, m->seq, p->want);
        return;
    }
    if (pt->more && p->nparts + 1 >= WIRE_MSG_PARTS_MAX) {
        gp_broken(p, m, "part %" PRId64 " at seq %" PRIu64 " is not the last, and a message "
                  "has at most WIRE_MSG_PARTS_MAX (%d) parts", pt->index, m->seq, WIRE_MSG_PARTS_MAX);
        return;
    }
    memcpy(p->buf + p->len, pt->data, pt->data_len);
    p->len += pt->data_len;
    p->next_seq++;
    p->next_part++;
    gp_keep(p, m);
    if (!pt->more)
        gp_whole(p);
}

static bool gp_is_gone(const struct guestparts *p, int64_t msg)
{
    for (size_t i = 0; i < GP_GONE && i < p->ngone; i++)
        if ((int64_t)p->gone[i] == msg)
            return true;
    return false;
}

void guestparts_add(struct guestparts *p, struct guestlog_msg *m)
{
    struct gp_part pt;
    char why[300];
    bool is_part = !strcmp(m->type, WIRE_MSG_PART), shaped = is_part && gp_read(m, &pt, why, sizeof(why));

    if (shaped && pt.index > 0 && gp_is_gone(p, pt.msg) && !(p->state == GP_OPEN && (int64_t)p->first_seq == pt.msg)) {
        /* the rest of a message already given up: kept for the log, no second error */
        struct guestparts_out *o = gp_push(p, GUESTPARTS_DROPPED);

        o->parts = malloc(sizeof(*o->parts));
        if (!o->parts)
            abort();
        o->parts[0] = m;
        o->nparts = 1;
        snprintf(o->detail, sizeof(o->detail), "part %" PRId64 " at seq %" PRIu64 " belongs to the "
                 "message given up at seq %" PRId64, pt.index, m->seq, pt.msg);
        return;
    }
    if (!is_part) {
        if (p->state == GP_OPEN)
            gp_broken(p, NULL, "its part %" PRId64 " never came: a %.40s message came at seq %"
                      PRIu64 " instead", p->next_part, m->type, m->seq);
        gp_push(p, GUESTPARTS_WHOLE)->msg = m;
        return;
    }
    if (!shaped) {
        if (p->state == GP_OPEN) {
            gp_broken(p, m, "its part at seq %" PRIu64 " is malformed: %s", m->seq, why);
        } else {
            p->of[0] = '\0';
            p->first_seq = 0;
            gp_broken(p, m, "the part at seq %" PRIu64 " is malformed: %s", m->seq, why);
        }
        return;
    }
    if (pt.index == 0) {
        if (p->state == GP_OPEN)
            gp_broken(p, NULL, "its part %" PRId64 " never came: a new %s message began at seq %"
                      PRIu64 " instead", p->next_part, pt.of, m->seq);
        gp_begin(p, m, &pt);
        return;
    }
    if (p->state == GP_OPEN && (int64_t)p->first_seq != pt.msg) {
        gp_broken(p, NULL, "part %" PRId64 " of another message (seq %" PRId64 ") came at seq %" PRIu64
                  " between its parts: parts of two messages interleaved", pt.index, pt.msg, m->seq);
        /* and that part, whose message is not open, is given up below */
    }
    if (p->state == GP_IDLE) {
        p->of[0] = '\0';
        p->first_seq = (uint64_t)pt.msg;
        gp_broken(p, m, "its part %" PRId64 " came at seq %" PRIu64 " with no part 0 before it: lost, "
                  "or the parts came out of order", pt.index, m->seq);
        return;
    }
    gp_continue(p, m, &pt);
}

void guestparts_end(struct guestparts *p)
{
    if (p->state == GP_OPEN)
        gp_broken(p, NULL, "the stream ended after its part %" PRId64 " (seq %" PRIu64 "): its last "
                  "part never came", p->next_part - 1, p->next_seq - 1);
}

bool guestparts_next(struct guestparts *p, struct guestparts_out *out)
{
    if (p->head == p->n)
        return false;
    *out = p->q[p->head++];
    if (p->head == p->n)
        p->head = p->n = 0;
    return true;
}
