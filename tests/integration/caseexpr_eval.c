/*
 * caseexpr_eval.c: evaluate a parsed `expect` expression (see caseexpr.h): every operand becomes a
 * list of values, each with the path it came from, so a failure names the very element that broke
 * the rule.
 */
#include "caseexpr_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- evaluation ------------------------------------------------------------------------------- */

struct cx_val {
    json_t *v;   /* a reference of our own; NULL: missing */
    char *where; /* where it came from: ".hops[3].ok", "output", "len(.hops)" */
};

struct cx_list {
    struct cx_val *v;
    size_t n, cap;
};

static char *cx_strdupf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* Takes v's reference and where. */
static void cx_push(struct cx_list *l, json_t *v, char *where)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            abort();
    }
    l->v[l->n].v = v;
    l->v[l->n++].where = where;
}

static void cx_list_free(struct cx_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        json_decref(l->v[i].v);
        free(l->v[i].where);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void cx_why(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* A short rendering of a value for messages. */
static void cx_show(const json_t *v, char *buf, size_t len)
{
    if (!v) {
        snprintf(buf, len, "missing");
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s && strlen(s) > 120)
        snprintf(buf, len, "%.100s... (%zu characters)", s, strlen(s));
    else
        snprintf(buf, len, "%s", s ? s : "?");
    free(s);
}

static json_t *cx_get_dotted(json_t *o, const char *key)
{
    char part[CX_KEY_MAX];
    while (o && *key) {
        size_t n = strcspn(key, ".");
        snprintf(part, sizeof(part), "%.*s", (int)n, key);
        o = json_object_get(o, part);
        key += n + (key[n] == '.');
    }
    return o;
}

/* -1, 0, 1; 2: not comparable (missing, or different kinds) */
static int cx_order(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return 2;
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_string(a) && json_is_string(b)) {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return c < 0 ? -1 : c > 0;
    }
    return json_equal((json_t *)a, (json_t *)b) ? 0 : 2;
}

static bool cx_regex_match(const regex_t *re, const char *pattern, const json_t *s, bool *bad)
{
    regex_t own;
    *bad = false;
    if (!re) {
        if (regcomp(&own, pattern, REG_EXTENDED | REG_NOSUB)) {
            *bad = true;
            return false;
        }
        re = &own;
    }
    bool m = regexec(re, json_string_value(s), 0, NULL, 0) == 0;
    if (re == &own)
        regfree(&own);
    return m;
}

static const char *const cx_opname[] = { "==", "!=", "<", "<=", ">", ">=", "~", "!~", "exists" };

/* One pair: true when it holds, else why. re: the literal regex, precompiled. */
static bool cx_pair(int op, const struct cx_val *l, const struct cx_val *r, const regex_t *re, char *why,
                    size_t len)
{
    char ls[160], rs[160];
    if (op == OP_RE || op == OP_NRE) {
        if (!json_is_string(l->v) || !json_is_string(r->v)) {
            cx_show(l->v, ls, sizeof(ls));
            cx_why(why, len, "`%s` is %s: ~ needs a string and a \"regex\"", l->where, ls);
            return false;
        }
        bool bad, m = cx_regex_match(re, json_string_value(r->v), l->v, &bad);
        if (bad) {
            cx_why(why, len, "bad regex `%s`", json_string_value(r->v));
            return false;
        }
        if (m == (op == OP_RE))
            return true;
        cx_show(l->v, ls, sizeof(ls));
        cx_why(why, len, "`%s` (%s) %s \"%s\"", l->where, ls, op == OP_RE ? "does not match" : "matches",
               json_string_value(r->v));
        return false;
    }
    int o = cx_order(l->v, r->v);
    bool ok;
    switch (op) {
    case OP_EQ: ok = o == 0; break;
    case OP_NE: ok = o == -1 || o == 1 || (o == 2 && l->v && r->v); break;
    case OP_LT: ok = o == -1; break;
    case OP_LE: ok = o == -1 || o == 0; break;
    case OP_GT: ok = o == 1; break;
    default: ok = o == 1 || o == 0; break;
    }
    if (ok)
        return true;
    cx_show(l->v, ls, sizeof(ls));
    cx_show(r->v, rs, sizeof(rs));
    cx_why(why, len, "`%s` is %s, not %s %s%s%s", l->where, ls, cx_opname[op], rs,
           strcmp(r->where, rs) ? " from " : "", strcmp(r->where, rs) ? r->where : "");
    return false;
}

static bool cx_eval(const struct cx_node *n, const struct cx_ctx *c, struct cx_list *out, char *why, size_t len);

/* Run f over every value of n's list. */
static bool cx_eval_steps(const struct cx_node *st, const struct cx_ctx *c, struct cx_list *out, char *why,
                          size_t len)
{
    struct cx_list in = { 0 };
    if (!cx_eval(st->a, c, &in, why, len)) {
        cx_list_free(&in);
        return false;
    }
    for (size_t i = 0; i < in.n; i++) {
        json_t *v = in.v[i].v;
        const char *w = in.v[i].where;
        size_t n = json_array_size(v);
        switch (st->step) {
        case ST_KEY:
            cx_push(out, json_incref(json_object_get(v, st->name)),
                    cx_strdupf("%s.%s", strcmp(w, ".") ? w : "", st->name));
            break;
        case ST_INDEX: {
            long k = st->idx < 0 ? (long)n + st->idx : st->idx;
            cx_push(out, k >= 0 ? json_incref(json_array_get(v, (size_t)k)) : NULL, cx_strdupf("%s[%ld]", w, k));
            break;
        }
        case ST_SLICE: {
            long lo = st->has_lo ? st->lo : 0, hi = st->has_hi ? st->hi : (long)n;
            lo = lo < 0 ? (long)n + lo : lo;
            hi = hi < 0 ? (long)n + hi : hi;
            for (long k = lo < 0 ? 0 : lo; k < hi && k < (long)n; k += st->by)
                cx_push(out, json_incref(json_array_get(v, (size_t)k)), cx_strdupf("%s[%ld]", w, k));
            break;
        }
        case ST_ALL:
            for (size_t k = 0; k < n; k++)
                cx_push(out, json_incref(json_array_get(v, k)), cx_strdupf("%s[%zu]", w, k));
            break;
        default: /* ST_FILTER */
            for (size_t k = 0; k < n; k++) {
                json_t *e = json_array_get(v, k);
                bool keep = true;
                for (int j = 0; j < st->nconds && keep; j++) {
                    const struct cx_cond *cd = &st->conds[j];
                    struct cx_val ev = { cx_get_dotted(e, cd->key), "" }, lv = { cd->lit, "" };
                    char ignore[8];
                    keep = cd->op == OP_EXISTS ? ev.v != NULL
                                               : cx_pair(cd->op, &ev, &lv, cd->has_re ? &cd->re : NULL, ignore,
                                                         sizeof(ignore));
                }
                if (keep)
                    cx_push(out, json_incref(e), cx_strdupf("%s[%zu]", w, k));
            }
            break;
        }
    }
    cx_list_free(&in);
    return true;
}

static char *cx_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *s = malloc(cap + 1);
    while (s && (got = fread(s + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            s = realloc(s, cap + 1);
        }
    }
    fclose(f);
    if (!s)
        abort();
    s[n] = 0;
    *len = n;
    return s;
}

/* Every line's JSON object (from its first '{': serial logs and QMP transcripts carry prefixes). */
static json_t *cx_lines(const char *text)
{
    json_t *a = json_array();
    while (*text) {
        size_t n = strcspn(text, "\n");
        const char *brace = memchr(text, '{', n);
        if (brace) {
            json_t *o = json_loadb(brace, n - (size_t)(brace - text), 0, NULL);
            if (json_is_object(o))
                json_array_append_new(a, o);
            else
                json_decref(o);
        }
        text += n + (text[n] == '\n');
    }
    return a;
}

static json_t *cx_num_of(const json_t *v)
{
    if (json_is_number(v))
        return json_incref((json_t *)v);
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 0);
    if (!errno && *s && !*end)
        return json_integer(x);
    double d = strtod(s, &end);
    return *s && !*end ? json_real(d) : NULL;
}

static bool cx_eval_func(const struct cx_node *f, const struct cx_ctx *c, struct cx_list *out, char *why,
                         size_t len)
{
    struct cx_list in = { 0 };
    if (!cx_eval(f->a, c, &in, why, len)) {
        cx_list_free(&in);
        return false;
    }
    const char *nm = f->name;
    if (!strcmp(nm, "count")) {
        size_t k = 0;
        for (size_t i = 0; i < in.n; i++)
            k += in.v[i].v != NULL;
        cx_push(out, json_integer((json_int_t)k), cx_strdupf("count(...)"));
    } else if (!strcmp(nm, "sum") || !strcmp(nm, "min") || !strcmp(nm, "max")) {
        /* a missing or non-number value makes the result missing: it cannot pass unseen */
        bool isint = true, ok = true;
        json_int_t is = 0;
        double ds = 0;
        for (size_t i = 0; i < in.n && ok; i++) {
            json_t *v = in.v[i].v;
            ok = json_is_number(v);
            if (!ok)
                break;
            isint = isint && json_is_integer(v);
            json_int_t iv = json_integer_value(v);
            double dv = json_number_value(v);
            if (!strcmp(nm, "sum")) {
                is += iv;
                ds += dv;
            } else if (i == 0 || (nm[1] == 'i' ? dv < ds : dv > ds)) {
                is = iv;
                ds = dv;
            }
        }
        ok = ok && (in.n > 0 || nm[0] == 's');
        cx_push(out, !ok ? NULL : isint ? json_integer(is) : json_real(ds), cx_strdupf("%s(...)", nm));
    } else if (!strcmp(nm, "first")) {
        if (in.n)
            cx_push(out, json_incref(in.v[0].v), cx_strdupf("%s", in.v[0].where));
    } else {
        for (size_t i = 0; i < in.n; i++) {
            json_t *v = in.v[i].v, *r = NULL;
            const char *w = in.v[i].where;
            if (!strcmp(nm, "len")) {
                r = json_is_array(v)    ? json_integer((json_int_t)json_array_size(v))
                    : json_is_object(v) ? json_integer((json_int_t)json_object_size(v))
                    : json_is_string(v) ? json_integer((json_int_t)json_string_length(v))
                                        : NULL;
            } else if (!strcmp(nm, "num")) {
                r = cx_num_of(v);
            } else if (json_is_string(v) && !strcmp(nm, "file")) {
                size_t n;
                char *s = cx_slurp(json_string_value(v), &n);
                r = s ? json_stringn_nocheck(s, n) : NULL;
                free(s);
            } else if (json_is_string(v) && !strcmp(nm, "lines")) {
                r = cx_lines(json_string_value(v));
            } else if (json_is_string(v) && !strcmp(nm, "nonzero")) {
                const char *s = json_string_value(v);
                json_int_t k = 0;
                for (size_t j = 0, n = json_string_length(v); j < n; j++)
                    k += s[j] != 0;
                r = json_integer(k);
            } else if (json_is_string(v) && !strcmp(nm, "capture")) {
                regmatch_t m[2];
                const char *s = json_string_value(v);
                if (!regexec(&f->re, s, 2, m, 0) && m[1].rm_so >= 0)
                    r = json_stringn_nocheck(s + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
            }
            cx_push(out, r, cx_strdupf("%s(%s)", nm, w));
        }
    }
    cx_list_free(&in);
    return true;
}

static json_t *cx_arith1(int op, const json_t *a, const json_t *b)
{
    if (op == '+' && (json_is_string(a) || json_is_string(b)) && a && b) {
        char *x = json_is_string(a) ? strdup(json_string_value(a)) : json_dumps(a, JSON_ENCODE_ANY);
        char *y = json_is_string(b) ? strdup(json_string_value(b)) : json_dumps(b, JSON_ENCODE_ANY);
        char *s = cx_strdupf("%s%s", x ? x : "", y ? y : "");
        json_t *r = json_string_nocheck(s);
        free(x);
        free(y);
        free(s);
        return r;
    }
    if (!json_is_number(a) || !json_is_number(b))
        return NULL;
    if (json_is_integer(a) && json_is_integer(b) && op != '/') {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return json_integer(op == '+' ? x + y : op == '-' ? x - y : x * y);
    }
    double x = json_number_value(a), y = json_number_value(b);
    if (op == '/' && y == 0)
        return NULL;
    return json_real(op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y);
}

/* Pairs of two lists: equal lengths pairwise, a single value against each. */
static bool cx_pairs(const struct cx_list *l, const struct cx_list *r, const char *what, char *why, size_t len)
{
    if (!l->n || !r->n) {
        cx_why(why, len, "no value to compare: %s selects nothing", what);
        return false;
    }
    if (l->n != r->n && l->n != 1 && r->n != 1) {
        cx_why(why, len, "%zu values against %zu: lists compare pairwise only when of equal length", l->n, r->n);
        return false;
    }
    return true;
}

static bool cx_eval(const struct cx_node *n, const struct cx_ctx *c, struct cx_list *out, char *why, size_t len)
{
    switch (n->kind) {
    case CX_LIT: {
        char s[160];
        cx_show(n->lit, s, sizeof(s));
        cx_push(out, json_incref(n->lit), cx_strdupf("%s", s));
        return true;
    }
    case CX_ROOT:
        cx_push(out, json_incref(c->doc), cx_strdupf("."));
        return true;
    case CX_OUTPUT:
        cx_push(out, c->output ? json_string_nocheck(c->output) : NULL, cx_strdupf("output"));
        return true;
    case CX_EXIT:
        cx_push(out, json_integer(c->exit), cx_strdupf("exit"));
        return true;
    case CX_VAR:
        if (!strcmp(n->name, "dir")) {
            cx_push(out, c->dir ? json_string_nocheck(c->dir) : NULL, cx_strdupf("$dir"));
            return true;
        }
        for (size_t i = c->nlets; i-- > 0;) {
            if (strcmp(c->lets[i].name, n->name))
                continue;
            struct cx_ctx inner = *c;
            inner.nlets = i; /* a let sees only the lets before it: no loops */
            return cx_eval(c->lets[i].expr, &inner, out, why, len);
        }
        cx_why(why, len, "unknown variable $%s", n->name);
        return false;
    case CX_FUNC:
        return cx_eval_func(n, c, out, why, len);
    case CX_STEP:
        return cx_eval_steps(n, c, out, why, len);
    case CX_ARITH: {
        struct cx_list l = { 0 }, r = { 0 };
        bool ok = cx_eval(n->a, c, &l, why, len) && cx_eval(n->b, c, &r, why, len) &&
                  cx_pairs(&l, &r, "an operand of arithmetic", why, len);
        for (size_t i = 0; ok && i < (l.n > r.n ? l.n : r.n); i++) {
            const struct cx_val *a = &l.v[l.n == 1 ? 0 : i], *b = &r.v[r.n == 1 ? 0 : i];
            cx_push(out, cx_arith1(n->op, a->v, b->v), cx_strdupf("%s %c %s", a->where, n->op, b->where));
        }
        cx_list_free(&l);
        cx_list_free(&r);
        return ok;
    }
    default:
        cx_why(why, len, "a condition where a value belongs");
        return false;
    }
}

bool cx_check(const struct cx_node *n, const struct cx_ctx *c, char *why, size_t whylen)
{
    why[0] = 0;
    switch (n->kind) {
    case CX_OR: {
        char w1[CX_ERR_MAX];
        if (cx_check(n->a, c, w1, sizeof(w1)))
            return true;
        if (cx_check(n->b, c, why, whylen))
            return true;
        char w2[CX_ERR_MAX];
        snprintf(w2, sizeof(w2), "%s", why);
        cx_why(why, whylen, "neither holds: %s; %s", w1, w2);
        return false;
    }
    case CX_AND:
        return cx_check(n->a, c, why, whylen) && cx_check(n->b, c, why, whylen);
    case CX_NOT:
        if (!cx_check(n->a, c, why, whylen))
            return true;
        cx_why(why, whylen, "the negated condition holds");
        return false;
    case CX_TRUTH:
    case CX_CMP: {
        struct cx_list l = { 0 }, r = { 0 };
        bool ok = cx_eval(n->a, c, &l, why, whylen);
        if (ok && n->kind == CX_TRUTH) {
            ok = l.n > 0;
            if (!ok)
                cx_why(why, whylen, "selects nothing");
            for (size_t i = 0; ok && i < l.n; i++) {
                ok = l.v[i].v && !json_is_false(l.v[i].v) && !json_is_null(l.v[i].v);
                if (!ok) {
                    char s[160];
                    cx_show(l.v[i].v, s, sizeof(s));
                    cx_why(why, whylen, "`%s` is %s", l.v[i].where, s);
                }
            }
        } else if (ok) {
            ok = cx_eval(n->b, c, &r, why, whylen) && cx_pairs(&l, &r, "a side", why, whylen);
            for (size_t i = 0; ok && i < (l.n > r.n ? l.n : r.n); i++)
                ok = cx_pair(n->op, &l.v[l.n == 1 ? 0 : i], &r.v[r.n == 1 ? 0 : i], n->has_re ? &n->re : NULL,
                             why, whylen);
        }
        cx_list_free(&l);
        cx_list_free(&r);
        return ok;
    }
    default:
        cx_why(why, whylen, "a value where a condition belongs");
        return false;
    }
}
