/*
 * msg.c: one guest->host JSON message (msg.h), built without libc.
 *
 * The output must be valid JSON whatever the callers do, because the host parses every line and a
 * broken one would hide exactly the failure being reported. So every member is written only if,
 * after it, there is still room to close every open container and add "truncated":true. The first
 * member that does not fit seals the message: later members are dropped too, so what arrives is an
 * exact prefix of what was meant (a backtrace missing a middle frame would mislead).
 *
 * struct msg (msg.h) has no field for the kind of each open container, which msg_format_line needs
 * to close them, nor for containers that were dropped, whose end calls must then be ignored. That
 * bookkeeping lives in the last CTL_SIZE bytes of body[] (the struct's own inline_body, or the
 * caller's larger buffer given to msg_begin_buf), which the JSON never reaches:
 *     body[CTL_CLOSE + i]  closing bracket of the written container at depth i+1
 *     body[CTL_REAL]       how many open containers were really written (<= MSG_DEPTH_MAX)
 *     body[CTL_SEALED]     nonzero once a member did not fit
 * m->depth counts every open container, written or dropped; those beyond CTL_REAL are dropped ones,
 * always the innermost, and everything inside them is dropped too.
 */
#include "msg.h"

#define CTL_SIZE MSG_CTL_SIZE
#define JSON_MAX (m->cap - CTL_SIZE)
#define CTL_CLOSE JSON_MAX
#define CTL_REAL (m->cap - 2)
#define CTL_SEALED (m->cap - 1)

static const char trunc_member[] = "\"truncated\":true";
#define TRUNC_ROOM (sizeof(trunc_member) - 1 + 1) /* with its comma */

_Static_assert(MSG_DEPTH_MAX < 256, "depth counters are bytes");

static const char hexdig[] = "0123456789abcdef";

/* A member being written: appends stop at lim and set over, so a failed member is rolled back. */
struct emit {
    char *buf;
    size_t len, lim;
    bool over;
};

static void put_c(struct emit *e, char c)
{
    if (e->len < e->lim)
        e->buf[e->len++] = c;
    else
        e->over = true;
}

static void put_raw(struct emit *e, const char *s)
{
    while (*s)
        put_c(e, *s++);
}

static void put_dec(struct emit *e, uint64_t v)
{
    char tmp[U64_DEC_MAX];
    size_t n = u64_to_dec(tmp, v);
    for (size_t i = 0; i < n; i++)
        put_c(e, tmp[i]);
}

/* JSON string body; escapes controls, DEL and every byte >= 0x80 so the line is pure ASCII. */
static void put_escaped(struct emit *e, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !e->over; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\r': esc = "\\r"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: break;
        }
        if (esc) {
            put_raw(e, esc);
        } else if (c < 0x20 || c >= 0x7f) {
            put_raw(e, "\\u00");
            put_c(e, hexdig[c >> 4]);
            put_c(e, hexdig[c & 15]);
        } else {
            put_c(e, (char)c);
        }
    }
}

static size_t ctl_real(const struct msg *m)
{
    if (!m->body)
        return 0; /* never begun */
    return (unsigned char)m->body[CTL_REAL];
}

/*
 * Starts a member at the current level: comma and key. extra is what the member leaves open
 * (1 for a container's closing bracket). Returns false when the member must be dropped.
 */
static bool member_open(struct msg *m, const char *key, size_t extra, struct emit *e)
{
    size_t real = ctl_real(m);
    if (m->depth == 0 || m->depth != real) {
        /* inside a dropped container (or no msg_begin): the drop was already flagged */
        return false;
    }
    if (m->body[CTL_SEALED]) {
        return false;
    }
    size_t reserve = real + extra + TRUNC_ROOM; /* closers, then "truncated" if ever needed */
    e->buf = m->body;
    e->len = m->len;
    e->lim = reserve < JSON_MAX ? JSON_MAX - reserve : 0;
    e->over = false;
    if (!m->first[real - 1])
        put_c(e, ',');
    /* a key inside an array would break the JSON, a missing one inside an object too */
    if (m->body[CTL_CLOSE + real - 1] == '}') {
        put_c(e, '"');
        if (key)
            put_escaped(e, key, strlen(key));
        put_raw(e, "\":");
    }
    return true;
}

static bool member_close(struct msg *m, struct emit *e)
{
    if (e->over) {
        m->body[CTL_SEALED] = 1;
        m->truncated = true;
        return false;
    }
    m->len = e->len;
    m->first[ctl_real(m) - 1] = false;
    return true;
}

void msg_begin_buf(struct msg *m, const char *type, char *buf, size_t cap)
{
    if (cap > WIRE_MSG_MAX + CTL_SIZE)
        cap = WIRE_MSG_MAX + CTL_SIZE; /* the host gives up on longer messages */
    if (buf && cap >= MSG_BODY_MAX) {
        m->body = buf;
        m->cap = cap;
    } else {
        m->body = m->inline_body;
        m->cap = MSG_BODY_MAX;
    }
    m->type = type;
    m->len = 0;
    m->truncated = false;
    m->depth = 1;
    memset(m->first, 0, sizeof(m->first));
    m->first[0] = true;
    memset(m->body + CTL_CLOSE, 0, CTL_SIZE);
    m->body[CTL_CLOSE] = '}';
    m->body[CTL_REAL] = 1;
    m->body[m->len++] = '{';
    msg_str(m, "type", type);
}

void msg_begin(struct msg *m, const char *type)
{
    msg_begin_buf(m, type, NULL, 0);
}

void msg_u64(struct msg *m, const char *key, uint64_t v)
{
    struct emit e;
    /* JSON parsers keep integers in 64-bit signed numbers (the host's jansson refuses the whole
     * line otherwise): a value past INT64_MAX, such as a counter read from a block of random
     * bytes, goes out as a hex string instead, so no message is ever lost to its own numbers. */
    if (v > (uint64_t)INT64_MAX) {
        msg_hex(m, key, v);
        return;
    }
    if (!member_open(m, key, 0, &e))
        return;
    put_dec(&e, v);
    member_close(m, &e);
}

void msg_i64(struct msg *m, const char *key, int64_t v)
{
    struct emit e;
    if (!member_open(m, key, 0, &e))
        return;
    if (v < 0)
        put_c(&e, '-');
    /* negate in unsigned arithmetic: -INT64_MIN does not fit an int64_t */
    put_dec(&e, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    member_close(m, &e);
}

void msg_hex(struct msg *m, const char *key, uint64_t v)
{
    struct emit e;
    int shift = 60;
    if (!member_open(m, key, 0, &e))
        return;
    put_raw(&e, "\"0x");
    while (shift > 0 && !((v >> shift) & 15))
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        put_c(&e, hexdig[(v >> shift) & 15]);
    put_c(&e, '"');
    member_close(m, &e);
}

void msg_bool(struct msg *m, const char *key, bool v)
{
    struct emit e;
    if (!member_open(m, key, 0, &e))
        return;
    put_raw(&e, v ? "true" : "false");
    member_close(m, &e);
}

/* At most n bytes, ending early at a NUL: fixed-size fields such as a virtio-blk serial. */
void msg_strn(struct msg *m, const char *key, const char *s, size_t n)
{
    struct emit e;
    size_t len = 0;
    if (!member_open(m, key, 0, &e))
        return;
    if (!s) {
        put_raw(&e, "null");
    } else {
        while (len < n && s[len])
            len++;
        put_c(&e, '"');
        put_escaped(&e, s, len);
        put_c(&e, '"');
    }
    member_close(m, &e);
}

void msg_str(struct msg *m, const char *key, const char *s)
{
    msg_strn(m, key, s, SIZE_MAX);
}

void msg_hexdump(struct msg *m, const char *key, const void *p, size_t n)
{
    const unsigned char *b = p;
    struct emit e;
    if (!member_open(m, key, 0, &e))
        return;
    if (!p && n) {
        put_raw(&e, "null");
    } else {
        put_c(&e, '"');
        for (size_t i = 0; i < n && !e.over; i++) {
            put_c(&e, hexdig[b[i] >> 4]);
            put_c(&e, hexdig[b[i] & 15]);
        }
        put_c(&e, '"');
    }
    member_close(m, &e);
}

static void container_begin(struct msg *m, const char *key, char open, char close)
{
    struct emit e;
    size_t real = ctl_real(m);
    if (m->depth == 0)
        return;
    if (m->depth == UINT8_MAX) {
        /* cannot even count it: its end will close the parent early, but the JSON stays valid */
        m->truncated = true;
        return;
    }
    if (m->depth != real || real == MSG_DEPTH_MAX) {
        m->depth++;
        m->truncated = true;
        return;
    }
    if (!member_open(m, key, 1, &e)) {
        m->depth++;
        return;
    }
    put_c(&e, open);
    if (!member_close(m, &e)) {
        m->depth++;
        return;
    }
    m->body[CTL_CLOSE + real] = close;
    m->body[CTL_REAL] = (char)(real + 1);
    m->first[real] = true;
    m->depth++;
}

static void container_end(struct msg *m)
{
    size_t real = ctl_real(m);
    /* the top object closes only in msg_format_line */
    if (m->depth <= 1)
        return;
    if (m->depth == real) {
        /* room was reserved when the container opened, so this cannot overflow */
        m->body[m->len++] = m->body[CTL_CLOSE + real - 1];
        m->body[CTL_REAL] = (char)(real - 1);
    }
    m->depth--;
}

void msg_obj_begin(struct msg *m, const char *key)
{
    container_begin(m, key, '{', '}');
}

void msg_arr_begin(struct msg *m, const char *key)
{
    container_begin(m, key, '[', ']');
}

/* Both ends write the bracket the container was opened with, so a mismatched call stays valid. */
void msg_obj_end(struct msg *m)
{
    container_end(m);
}

void msg_arr_end(struct msg *m)
{
    container_end(m);
}

size_t msg_tail(const struct msg *m, char *out, size_t cap)
{
    size_t real = m->depth ? ctl_real(m) : 0;
    struct emit e = { .buf = out, .len = 0, .lim = cap ? cap - 1 : 0, .over = false };

    if (real == 0) {
        /* no msg_begin: still say something a host can parse */
        put_raw(&e, "{\"truncated\":true}");
    } else {
        for (size_t d = real; d > 1; d--)
            put_c(&e, m->body[CTL_CLOSE + d - 1]);
        if (m->truncated) {
            if (!m->first[0])
                put_c(&e, ',');
            put_raw(&e, trunc_member);
        }
        put_c(&e, '}');
    }
    if (e.over) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    out[e.len] = '\0';
    return e.len;
}

size_t msg_head_len(const struct msg *m)
{
    return m->depth && ctl_real(m) ? m->len : 0;
}

size_t msg_format_line(struct msg *m, uint64_t seq, char *out, size_t cap)
{
    char tail[MSG_TAIL_MAX + 1];
    size_t head = msg_head_len(m);
    size_t tn = msg_tail(m, tail, sizeof(tail));
    struct emit e = { .buf = out, .len = 0, .lim = cap ? cap - 1 : 0, .over = false };

    put_raw(&e, WIRE_PREFIX);
    put_dec(&e, seq);
    put_c(&e, ' ');
    for (size_t i = 0; i < head; i++)
        put_c(&e, m->body[i]);
    for (size_t i = 0; i < tn; i++)
        put_c(&e, tail[i]);
    put_c(&e, '\n');
    if (e.over) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    out[e.len] = '\0';
    return e.len;
}
