/*
 * msgsplit.c: a message to one line or to parts (msgsplit.h, wire.h).
 *
 * A part's data is a JSON string, so the piece of JSON text it carries is escaped again: a quote
 * or backslash takes two bytes, and a byte msg.c never writes (control, non-ASCII) six, so the line
 * stays valid and pure ASCII whatever the text. Each piece is as long as fits the line once
 * escaped; the header is sized for its longest values first ("more":false, a 10-digit crc), so the
 * line never passes WIRE_LINE_MAX - WIRE_LINE_ROOM.
 */
#include "msgsplit.h"
#include "crc32c.h"

static const char hexdig[] = "0123456789abcdef";

struct out {
    char *buf;
    size_t len, lim;
    bool over;
};

static void out_c(struct out *o, char c)
{
    if (o->len < o->lim)
        o->buf[o->len++] = c;
    else
        o->over = true;
}

static void out_s(struct out *o, const char *s)
{
    while (*s)
        out_c(o, *s++);
}

static void out_dec(struct out *o, uint64_t v)
{
    char tmp[U64_DEC_MAX];
    u64_to_dec(tmp, v);
    out_s(o, tmp);
}

static size_t dec_len(uint64_t v)
{
    char tmp[U64_DEC_MAX];
    return u64_to_dec(tmp, v);
}

static size_t esc_width(unsigned char c)
{
    if (c == '"' || c == '\\')
        return 2;
    return c < 0x20 || c >= 0x7f ? 6 : 1;
}

static void out_esc(struct out *o, unsigned char c)
{
    if (c == '"' || c == '\\') {
        out_c(o, '\\');
        out_c(o, (char)c);
    } else if (c < 0x20 || c >= 0x7f) {
        out_s(o, "\\u00");
        out_c(o, hexdig[c >> 4]);
        out_c(o, hexdig[c & 15]);
    } else {
        out_c(o, (char)c);
    }
}

static size_t str_esc_len(const char *s)
{
    size_t n = 0;
    while (*s)
        n += esc_width((unsigned char)*s++);
    return n;
}

static unsigned char split_at(const struct msg_split *s, size_t i)
{
    return (unsigned char)(i < s->head_len ? s->head[i] : s->tail[i - s->head_len]);
}

void msg_split_text(struct msg_split *s, const char *type, const char *head, size_t head_len,
                    const char *tail, size_t tail_len)
{
    s->head = head;
    s->head_len = head ? head_len : 0;
    s->tail_len = tail ? MIN(tail_len, sizeof(s->tail) - 1) : 0;
    if (s->tail_len)
        memcpy(s->tail, tail, s->tail_len);
    s->tail[s->tail_len] = '\0';
    s->total = s->head_len + s->tail_len;
    s->type = type ? type : "";
    s->pos = 0;
    s->part = 0;
}

void msg_split_begin(struct msg_split *s, const struct msg *m)
{
    char tail[MSG_TAIL_MAX + 1];
    size_t tn = msg_tail(m, tail, sizeof(tail));
    msg_split_text(s, m->type, m->body, msg_head_len(m), tail, tn);
}

/* The plain line, when the whole text fits one. */
static size_t split_single(struct msg_split *s, uint64_t seq, struct out *o)
{
    out_s(o, WIRE_PREFIX);
    out_dec(o, seq);
    out_c(o, ' ');
    for (size_t i = 0; i < s->total; i++)
        out_c(o, (char)split_at(s, i));
    out_c(o, '\n');
    return o->over ? 0 : o->len;
}

size_t msg_split_next(struct msg_split *s, uint64_t seq, char *out, size_t cap)
{
    size_t lim = cap ? MIN(cap - 1, (size_t)(WIRE_LINE_MAX - WIRE_LINE_ROOM)) : 0; /* '\n' in, NUL out */
    struct out o = { .buf = out, .len = 0, .lim = lim, .over = false };
    size_t fixed, room, end, w = 0;
    uint32_t crc = 0;

    if (cap)
        out[0] = '\0';
    if (s->pos >= s->total)
        return 0;
    if (s->part == 0 && dec_len(seq) + s->total + strlen(WIRE_PREFIX) + 2 <= lim) {
        size_t n = split_single(s, seq, &o);
        if (n) {
            s->pos = s->total;
            out[n] = '\0';
        } else {
            out[0] = '\0';
        }
        return n;
    }
    /* VQH1 <seq> {"type":"part","part":P,"more":false[,"of":"T","len":L|,"msg":F],"crc":C,"data":"..."}\n */
    if (s->part == 0)
        s->first_seq = seq;
    fixed = strlen(WIRE_PREFIX) + dec_len(seq) + 1 + strlen("{\"type\":\"" WIRE_MSG_PART "\",\"part\":") +
            dec_len(s->part) + strlen(",\"more\":false") + strlen(",\"crc\":4294967295,\"data\":\"") +
            strlen("\"}\n");
    if (s->part == 0)
        fixed += strlen(",\"of\":\"") + str_esc_len(s->type) + strlen("\",\"len\":") + dec_len(s->total);
    else
        fixed += strlen(",\"msg\":") + dec_len(s->first_seq);
    if (lim < fixed + 6)
        return 0; /* not even one byte of data would fit */
    room = lim - fixed;
    for (end = s->pos; end < s->total && w + esc_width(split_at(s, end)) <= room; end++)
        w += esc_width(split_at(s, end));
    if (s->pos < s->head_len)
        crc = crc32c(crc, s->head + s->pos, MIN(end, s->head_len) - s->pos);
    if (end > s->head_len) {
        size_t from = MAX(s->pos, s->head_len) - s->head_len;
        crc = crc32c(crc, s->tail + from, end - s->head_len - from);
    }
    out_s(&o, WIRE_PREFIX);
    out_dec(&o, seq);
    out_s(&o, " {\"type\":\"" WIRE_MSG_PART "\",\"part\":");
    out_dec(&o, s->part);
    out_s(&o, end < s->total ? ",\"more\":true" : ",\"more\":false");
    if (s->part == 0) {
        out_s(&o, ",\"of\":\"");
        for (const char *t = s->type; *t; t++)
            out_esc(&o, (unsigned char)*t);
        out_s(&o, "\",\"len\":");
        out_dec(&o, s->total);
    } else {
        out_s(&o, ",\"msg\":");
        out_dec(&o, s->first_seq);
    }
    out_s(&o, ",\"crc\":");
    out_dec(&o, crc);
    out_s(&o, ",\"data\":\"");
    for (size_t i = s->pos; i < end; i++)
        out_esc(&o, split_at(s, i));
    out_s(&o, "\"}\n");
    if (o.over) { /* cannot happen: the header was sized for its longest values */
        out[0] = '\0';
        return 0;
    }
    out[o.len] = '\0';
    s->pos = end;
    s->part++;
    return o.len;
}
