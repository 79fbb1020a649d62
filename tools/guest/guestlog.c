/*
 * guestlog.c: serial bytes to lines, lines to messages, and the per-run merge of all QEMUs'
 * messages in seq order.
 */
#include "guestlog.h"
#include "grow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- line assembly ------------------------------------------------------------------------- */

void guestlog_asm_init(struct guestlog_asm *a)
{
    a->len = 0;
    a->truncated = false;
}

static void guestlog_asm_emit(struct guestlog_asm *a, guestlog_line_fn fn, void *arg)
{
    struct guestlog_line line;

    /* Serial consoles and firmware end lines with "\r\n"; the guest itself may too. */
    if (a->len > 0 && a->buf[a->len - 1] == '\r')
        a->len--;
    if (a->len > WIRE_LINE_MAX - 1) {
        a->len = WIRE_LINE_MAX - 1;
        a->truncated = true;
    }
    a->buf[a->len] = '\0';
    line.text = a->buf;
    line.len = a->len;
    line.truncated = a->truncated;
    fn(arg, &line);
    guestlog_asm_init(a);
}

void guestlog_asm_feed(struct guestlog_asm *a, const void *data, size_t len, guestlog_line_fn fn,
                       void *arg)
{
    const char *p = data;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            guestlog_asm_emit(a, fn, arg);
        } else if (a->len < WIRE_LINE_MAX) {
            /* WIRE_LINE_MAX - 1 bytes of text, plus room for a '\r' that emit strips. */
            a->buf[a->len++] = p[i];
        } else {
            a->truncated = true;
        }
    }
}

void guestlog_asm_finish(struct guestlog_asm *a, guestlog_line_fn fn, void *arg)
{
    if (a->len > 0 || a->truncated)
        guestlog_asm_emit(a, fn, arg);
}

void guestlog_asm_handoff(struct guestlog_asm *from, struct guestlog_asm *to)
{
    size_t keep = to->len;

    if (from->len + keep > WIRE_LINE_MAX) {
        keep = from->len < WIRE_LINE_MAX ? WIRE_LINE_MAX - from->len : 0;
        to->truncated = true;
    }
    memmove(to->buf + from->len, to->buf, keep);
    memcpy(to->buf, from->buf, from->len);
    to->len = from->len + keep;
    to->truncated |= from->truncated;
    guestlog_asm_init(from);
}

/* ---- parsing ------------------------------------------------------------------------------- */

/* Up to 100 bytes of the line, printable, for error messages. */
static const char *guestlog_snippet(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len && i < 100 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (len > 100 && o + 4 < cap)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o] = '\0';
    return out;
}

static enum guestlog_parse guestlog_bad(struct vqh_err *err, const struct guestlog_line *line,
                                        const char *what)
{
    char snip[512];

    vqh_err_set(err, "bad guest message: %s: \"%s\"", what,
                guestlog_snippet(line->text, line->len, snip, sizeof(snip)));
    return GUESTLOG_BAD;
}

static enum guestlog_parse guestlog_parse_obj(const struct guestlog_line *line, const char *json,
                                              const char *end, uint64_t seq, const char *source,
                                              struct guestlog_msg **out, struct vqh_err *err);

static struct guestlog_msg *guestlog_msg_new(uint64_t seq, const char *source, json_t *obj,
                                             const char *text, size_t len)
{
    struct guestlog_msg *m = calloc(1, sizeof(*m));

    if (!m || !(m->text = strndup(text, len))) {
        free(m);
        json_decref(obj);
        return NULL;
    }
    m->seq = m->seq_last = seq;
    snprintf(m->source, sizeof(m->source), "%s", source);
    m->obj = obj;
    m->type = json_string_value(json_object_get(obj, "type"));
    return m;
}

enum guestlog_parse guestlog_parse_line(const struct guestlog_line *line, const char *source,
                                        struct guestlog_msg **out, struct vqh_err *err)
{
    const size_t plen = strlen(WIRE_PREFIX);
    const char *p = memmem(line->text, line->len, WIRE_PREFIX, plen);
    const char *end = line->text + line->len;
    const char *digits;
    uint64_t seq = 0;

    *out = NULL;
    if (!p)
        return GUESTLOG_NOISE;
    if (line->truncated)
        return guestlog_bad(err, line, "line longer than WIRE_LINE_MAX, truncated");
    digits = p + plen;
    for (p = digits; p < end && *p >= '0' && *p <= '9'; p++) {
        if (seq > (UINT64_MAX - 9) / 10)
            return guestlog_bad(err, line, "sequence number out of range");
        seq = seq * 10 + (uint64_t)(*p - '0');
    }
    if (p == digits)
        return guestlog_bad(err, line, "no sequence number after the prefix");
    if (p == end || *p != ' ')
        return guestlog_bad(err, line, "expected a space after the sequence number");
    if (seq == 0)
        return guestlog_bad(err, line, "sequence number 0 (they start at 1)");
    return guestlog_parse_obj(line, p + 1, end, seq, source, out, err);
}

enum guestlog_parse guestlog_parse_json(const char *json, size_t len, uint64_t seq,
                                        const char *source, struct guestlog_msg **out,
                                        struct vqh_err *err)
{
    struct guestlog_line whole = { json, len, false };

    *out = NULL;
    return guestlog_parse_obj(&whole, json, json + len, seq, source, out, err);
}

/* The JSON object of a message, json..end of line (for errors), with the checks every one gets. */
static enum guestlog_parse guestlog_parse_obj(const struct guestlog_line *line, const char *json,
                                              const char *end, uint64_t seq, const char *source,
                                              struct guestlog_msg **out, struct vqh_err *err)
{
    json_error_t jerr;
    json_t *obj, *type;
    char what[300];

    /* The guest escapes everything else, so any other byte means a corrupted line. */
    for (const char *c = json; c < end; c++) {
        if ((unsigned char)*c >= 0x7f || ((unsigned char)*c < 0x20 && *c != '\t')) {
            snprintf(what, sizeof(what), "byte 0x%02x at offset %zu is not printable ASCII",
                     (unsigned char)*c, (size_t)(c - line->text));
            return guestlog_bad(err, line, what);
        }
    }
    while (end > json && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    obj = json_loadb(json, (size_t)(end - json), JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        snprintf(what, sizeof(what), "bad JSON: %.200s (column %d)", jerr.text, jerr.column);
        return guestlog_bad(err, line, what);
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        return guestlog_bad(err, line, "the JSON is not an object");
    }
    type = json_object_get(obj, "type");
    if (!json_is_string(type) || !json_string_value(type)[0]) {
        json_decref(obj);
        return guestlog_bad(err, line, "no \"type\" string member");
    }
    *out = guestlog_msg_new(seq, source, obj, json, (size_t)(end - json));
    if (!*out) {
        vqh_err_set(err, "out of memory");
        return GUESTLOG_BAD;
    }
    return GUESTLOG_MSG;
}

void guestlog_msg_free(struct guestlog_msg *m)
{
    if (!m)
        return;
    json_decref(m->obj);
    free(m->text);
    free(m);
}

/* ---- host -> guest commands ---------------------------------------------------------------- */

static bool guestlog_args_valid(const char *args, struct vqh_err *err)
{
    const char *w = args;

    while (*w) {
        size_t len = strcspn(w, " ");
        const char *eq = memchr(w, '=', len);

        for (size_t i = 0; i < len; i++) {
            if (w[i] <= 0x20 || w[i] >= 0x7f) {
                vqh_err_set(err, "guest command argument \"%.*s\" has a byte that is not printable "
                            "ASCII (0x%02x)", (int)len, w, (unsigned char)w[i]);
                return false;
            }
        }
        if (len > 0 && (!eq || eq == w)) {
            vqh_err_set(err, "guest command argument \"%.*s\" is not key=value", (int)len, w);
            return false;
        }
        w += len + (w[len] == ' ');
    }
    return true;
}

size_t guestlog_cmd_format(char *buf, size_t cap, struct vqh_err *err, const char *cmd,
                           const char *args, ...)
{
    char argbuf[WIRE_LINE_MAX];
    size_t need;
    int n = 0;

    if (!cmd[0] || strspn(cmd, "abcdefghijklmnopqrstuvwxyz_") != strlen(cmd)) {
        vqh_err_set(err, "guest command \"%.64s\" is not a lowercase word", cmd);
        return 0;
    }
    argbuf[0] = '\0';
    if (args) {
        va_list ap;

        va_start(ap, args);
        n = vsnprintf(argbuf, sizeof(argbuf), args, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(argbuf)) {
            vqh_err_set(err, "guest command %s: arguments longer than WIRE_LINE_MAX", cmd);
            return 0;
        }
        if (!guestlog_args_valid(argbuf, err))
            return 0;
    }
    need = strlen(cmd) + (n > 0 ? 1 + (size_t)n : 0) + 1;
    if (need > WIRE_LINE_MAX || need >= cap) {
        vqh_err_set(err, "guest command %s: line of %zu bytes exceeds %s (%zu)", cmd, need,
                    need > WIRE_LINE_MAX ? "WIRE_LINE_MAX" : "the buffer",
                    need > WIRE_LINE_MAX ? (size_t)WIRE_LINE_MAX : cap);
        return 0;
    }
    snprintf(buf, cap, "%s%s%s\n", cmd, n > 0 ? " " : "", argbuf);
    return need;
}

/* ---- merging ------------------------------------------------------------------------------- */

struct guestlog_source {
    char name[GUESTLOG_SOURCE_MAX];
    bool open;
    bool delivered;
    uint64_t max_seq;
};

struct guestlog_seen { /* an emitted message, kept to judge a later copy of its seq */
    uint64_t seq;
    char source[GUESTLOG_SOURCE_MAX];
    char *text;
};

struct guestlog_merge {
    uint64_t expected; /* every seq below it was emitted or reported missing */
    struct guestlog_source *src;
    size_t nsrc, src_cap;
    struct guestlog_msg **pending; /* ascending seq, all >= expected */
    size_t npending, pending_cap;
    struct guestlog_seen seen[GUESTLOG_HISTORY]; /* indexed by seq % GUESTLOG_HISTORY */
    uint64_t (*gaps)[2];
    size_t ngaps, gaps_cap;
    struct guestlog_event *ev; /* FIFO: ev[ev_head..nev) */
    size_t ev_head, nev, ev_cap;
};

struct guestlog_merge *guestlog_merge_new(uint64_t first_seq)
{
    struct guestlog_merge *m = calloc(1, sizeof(*m));

    if (m)
        m->expected = first_seq;
    return m;
}

void guestlog_event_clear(struct guestlog_event *ev)
{
    guestlog_msg_free(ev->msg);
    free(ev->other_text);
    ev->msg = NULL;
    ev->other_text = NULL;
}

void guestlog_merge_free(struct guestlog_merge *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->npending; i++)
        guestlog_msg_free(m->pending[i]);
    for (size_t i = 0; i < GUESTLOG_HISTORY; i++)
        free(m->seen[i].text);
    for (size_t i = m->ev_head; i < m->nev; i++)
        guestlog_event_clear(&m->ev[i]);
    free(m->pending);
    free(m->src);
    free(m->gaps);
    free(m->ev);
    free(m);
}

static struct guestlog_source *guestlog_source(struct guestlog_merge *m, const char *name)
{
    char cut[GUESTLOG_SOURCE_MAX];

    snprintf(cut, sizeof(cut), "%s", name);
    for (size_t i = 0; i < m->nsrc; i++)
        if (strcmp(m->src[i].name, cut) == 0)
            return &m->src[i];
    m->src = vqh_grow(m->src, &m->src_cap, m->nsrc, sizeof(*m->src));
    memset(&m->src[m->nsrc], 0, sizeof(m->src[0]));
    memcpy(m->src[m->nsrc].name, cut, sizeof(cut));
    m->src[m->nsrc].open = true;
    return &m->src[m->nsrc++];
}

static struct guestlog_event *guestlog_push(struct guestlog_merge *m, enum guestlog_event_kind kind,
                                            struct guestlog_msg *msg)
{
    struct guestlog_event *ev;

    m->ev = vqh_grow(m->ev, &m->ev_cap, m->nev, sizeof(*m->ev));
    ev = &m->ev[m->nev++];
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->msg = msg;
    if (msg)
        ev->first = ev->last = msg->seq;
    return ev;
}

/* A second copy of msg->seq: the same text is a duplicate, another text a conflict. */
static void guestlog_push_repeat(struct guestlog_merge *m, struct guestlog_msg *msg,
                                 const char *first_source, const char *first_text)
{
    bool same = strcmp(first_text, msg->text) == 0;
    enum guestlog_event_kind kind = same ? GUESTLOG_EV_DUP : GUESTLOG_EV_CONFLICT;
    struct guestlog_event *ev = guestlog_push(m, kind, msg);

    snprintf(ev->other_source, sizeof(ev->other_source), "%s", first_source);
    if (!same)
        ev->other_text = strdup(first_text);
    snprintf(ev->detail, sizeof(ev->detail), "seq %llu from %s %s the copy from %s",
             (unsigned long long)msg->seq, msg->source,
             same ? "repeats (identical text)" : "differs from", first_source);
}

static bool guestlog_in_gap(const struct guestlog_merge *m, uint64_t seq)
{
    for (size_t i = 0; i < m->ngaps; i++)
        if (seq >= m->gaps[i][0] && seq <= m->gaps[i][1])
            return true;
    return false;
}

static void guestlog_add_old(struct guestlog_merge *m, struct guestlog_msg *msg)
{
    struct guestlog_seen *s = &m->seen[msg->seq % GUESTLOG_HISTORY];
    struct guestlog_event *ev;

    if (s->text && s->seq == msg->seq) {
        guestlog_push_repeat(m, msg, s->source, s->text);
        return;
    }
    ev = guestlog_push(m, GUESTLOG_EV_LATE, msg);
    snprintf(ev->detail, sizeof(ev->detail), "seq %llu from %s arrived %s",
             (unsigned long long)msg->seq, msg->source,
             guestlog_in_gap(m, msg->seq) ? "after it was reported missing"
                                          : "too late to compare with the first copy");
}

static void guestlog_emit(struct guestlog_merge *m)
{
    struct guestlog_msg *msg = m->pending[0];
    struct guestlog_seen *s = &m->seen[msg->seq % GUESTLOG_HISTORY];

    free(s->text);
    s->seq = msg->seq;
    s->text = strdup(msg->text);
    memcpy(s->source, msg->source, sizeof(s->source));
    memmove(m->pending, m->pending + 1, --m->npending * sizeof(*m->pending));
    guestlog_push(m, GUESTLOG_EV_MSG, msg);
    m->expected = msg->seq + 1;
}

/* Each source prints in order, so once every open one is past a hole it can never be filled. */
static bool guestlog_hole_final(const struct guestlog_merge *m)
{
    for (size_t i = 0; i < m->nsrc; i++)
        if (m->src[i].open && (!m->src[i].delivered || m->src[i].max_seq <= m->expected))
            return false;
    return true;
}

static void guestlog_advance(struct guestlog_merge *m)
{
    while (m->npending > 0) {
        uint64_t next = m->pending[0]->seq;
        struct guestlog_event *ev;

        if (next != m->expected) {
            if (!guestlog_hole_final(m))
                return;
            ev = guestlog_push(m, GUESTLOG_EV_GAP, NULL);
            ev->first = m->expected;
            ev->last = next - 1;
            snprintf(ev->detail, sizeof(ev->detail),
                     "seq %llu..%llu never arrived (%s sent %llu next)",
                     (unsigned long long)ev->first, (unsigned long long)ev->last,
                     m->pending[0]->source, (unsigned long long)next);
            m->gaps = vqh_grow(m->gaps, &m->gaps_cap, m->ngaps, sizeof(*m->gaps));
            m->gaps[m->ngaps][0] = ev->first;
            m->gaps[m->ngaps++][1] = ev->last;
        }
        guestlog_emit(m);
    }
}

void guestlog_merge_open(struct guestlog_merge *m, const char *source)
{
    guestlog_source(m, source)->open = true;
}

void guestlog_merge_close(struct guestlog_merge *m, const char *source)
{
    guestlog_source(m, source)->open = false;
    guestlog_advance(m);
}

void guestlog_merge_add(struct guestlog_merge *m, struct guestlog_msg *msg)
{
    struct guestlog_source *src = guestlog_source(m, msg->source);
    size_t i;

    if (!src->delivered || msg->seq > src->max_seq)
        src->max_seq = msg->seq;
    src->delivered = true;
    if (msg->seq < m->expected) {
        guestlog_add_old(m, msg);
        return;
    }
    for (i = 0; i < m->npending && m->pending[i]->seq < msg->seq; i++)
        ;
    if (i < m->npending && m->pending[i]->seq == msg->seq) {
        guestlog_push_repeat(m, msg, m->pending[i]->source, m->pending[i]->text);
        return;
    }
    m->pending = vqh_grow(m->pending, &m->pending_cap, m->npending, sizeof(*m->pending));
    memmove(m->pending + i + 1, m->pending + i, (m->npending - i) * sizeof(*m->pending));
    m->pending[i] = msg;
    m->npending++;
    guestlog_advance(m);
}

bool guestlog_merge_next(struct guestlog_merge *m, struct guestlog_event *ev)
{
    if (m->ev_head == m->nev)
        return false;
    *ev = m->ev[m->ev_head++];
    if (m->ev_head == m->nev)
        m->ev_head = m->nev = 0;
    return true;
}
