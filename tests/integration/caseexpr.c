/*
 * caseexpr.c: parse and evaluate the `expect` language of cases.cfg (see caseexpr.h). A recursive
 * descent parser builds a small tree; evaluation turns every operand into a list of values, each
 * with the path it came from, so a failure names the very element that broke the rule.
 */
#include "caseexpr.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cx_kind { CX_OR, CX_AND, CX_NOT, CX_CMP, CX_TRUTH, CX_ARITH, CX_LIT, CX_ROOT, CX_OUTPUT, CX_EXIT, CX_VAR,
               CX_FUNC, CX_STEP };
enum cx_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_RE, OP_NRE, OP_EXISTS };
enum cx_step { ST_KEY, ST_INDEX, ST_SLICE, ST_ALL, ST_FILTER };

#define CX_MAX_CONDS 4
#define CX_KEY_MAX 64

struct cx_cond {
    char key[CX_KEY_MAX]; /* dotted path inside the element */
    int op;               /* OP_EXISTS: the key is there */
    json_t *lit;
    regex_t re;
    bool has_re;
};

struct cx_node {
    enum cx_kind kind;
    int op;                    /* CX_CMP: enum cx_op; CX_ARITH: '+', '-', '*', '/' */
    struct cx_node *a, *b;     /* operands; CX_STEP: a is the base; CX_FUNC: the arguments */
    json_t *lit;               /* CX_LIT */
    char name[CX_KEY_MAX];     /* CX_VAR, CX_FUNC, ST_KEY */
    int step;
    long idx, lo, hi, by;      /* ST_INDEX; ST_SLICE [lo:hi:by] */
    bool has_lo, has_hi;
    struct cx_cond conds[CX_MAX_CONDS];
    int nconds;
    regex_t re;                /* a literal regex, compiled once: CX_CMP with ~, capture() */
    bool has_re;
};

/* ---- parsing ---------------------------------------------------------------------------------- */

struct cx_parser {
    const char *s, *p;
    const struct cx_let *lets;
    size_t nlets;
    char *err;
    size_t errlen;
    bool failed;
};

static void cx_perr(struct cx_parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    int n = snprintf(ps->err, ps->errlen, "column %d: ", (int)(ps->p - ps->s) + 1);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < ps->errlen)
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void cx_skip(struct cx_parser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static bool cx_eat(struct cx_parser *ps, const char *tok)
{
    cx_skip(ps);
    size_t n = strlen(tok);
    if (strncmp(ps->p, tok, n))
        return false;
    ps->p += n;
    return true;
}

static struct cx_node *cx_new(enum cx_kind k)
{
    struct cx_node *n = calloc(1, sizeof(*n));
    if (!n)
        abort();
    n->kind = k;
    return n;
}

static bool cx_is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* A member name: letters, digits, '_' and '-' (QMP's "node-name"); so `a - b` needs its spaces. */
static bool cx_ident(struct cx_parser *ps, char *out, size_t len)
{
    cx_skip(ps);
    size_t n = 0;
    if (!isalpha((unsigned char)*ps->p) && *ps->p != '_')
        return false;
    while (cx_is_ident(*ps->p)) {
        if (n + 1 >= len) {
            cx_perr(ps, "name too long");
            return false;
        }
        out[n++] = *ps->p++;
    }
    out[n] = 0;
    return true;
}

static json_t *cx_string_lit(struct cx_parser *ps)
{
    /* "..." with \" and \\ (other backslashes are kept: regexes need them) */
    size_t cap = strlen(ps->p) + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    ps->p++;
    while (*ps->p && *ps->p != '"') {
        if (*ps->p == '\\' && (ps->p[1] == '"' || ps->p[1] == '\\'))
            ps->p++;
        buf[n++] = *ps->p++;
    }
    if (*ps->p != '"') {
        free(buf);
        cx_perr(ps, "unterminated string");
        return NULL;
    }
    ps->p++;
    json_t *s = json_stringn(buf, n);
    free(buf);
    if (!s)
        cx_perr(ps, "string is not UTF-8");
    return s;
}

/* A literal: "string", a number, true, false, null; NULL (no error) when there is none. */
static json_t *cx_literal(struct cx_parser *ps)
{
    cx_skip(ps);
    if (*ps->p == '"')
        return cx_string_lit(ps);
    if (isdigit((unsigned char)*ps->p) || (*ps->p == '-' && isdigit((unsigned char)ps->p[1]))) {
        char *end;
        errno = 0;
        long long v = strtoll(ps->p, &end, 0);
        if (*end == '.' || *end == 'e' || *end == 'E') {
            double d = strtod(ps->p, &end);
            ps->p = end;
            return json_real(d);
        }
        if (errno) {
            cx_perr(ps, "number out of range");
            return NULL;
        }
        ps->p = end;
        return json_integer(v);
    }
    static const struct { const char *w; int t; } words[] = { { "true", 1 }, { "false", 2 }, { "null", 3 } };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i].w);
        if (!strncmp(ps->p, words[i].w, n) && !cx_is_ident(ps->p[n])) {
            ps->p += n;
            return words[i].t == 1 ? json_true() : words[i].t == 2 ? json_false() : json_null();
        }
    }
    return NULL;
}

static bool cx_compile(struct cx_parser *ps, regex_t *re, const char *pattern)
{
    int rc = regcomp(re, pattern, REG_EXTENDED);
    if (rc) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        regfree(re);
        cx_perr(ps, "bad regex \"%s\": %s", pattern, msg);
        return false;
    }
    return true;
}

static int cx_cmp_op(struct cx_parser *ps)
{
    static const struct { const char *t; int op; } ops[] = {
        { "==", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE }, { "!~", OP_NRE },
        { "<", OP_LT }, { ">", OP_GT }, { "~", OP_RE },
    };
    cx_skip(ps);
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (cx_eat(ps, ops[i].t))
            return ops[i].op;
    return -1;
}

/* [?key op literal && key ...]: the elements of an array for which every condition holds. */
static bool cx_filter(struct cx_parser *ps, struct cx_node *st)
{
    do {
        if (st->nconds == CX_MAX_CONDS) {
            cx_perr(ps, "at most %d conditions in a filter", CX_MAX_CONDS);
            return false;
        }
        struct cx_cond *c = &st->conds[st->nconds++];
        size_t n = 0;
        char part[CX_KEY_MAX];
        do {
            if (!cx_ident(ps, part, sizeof(part))) {
                cx_perr(ps, "expected a member name in the filter");
                return false;
            }
            n += (size_t)snprintf(c->key + n, sizeof(c->key) - n, "%s%s", n ? "." : "", part);
        } while (*ps->p == '.' && ps->p++);
        c->op = cx_cmp_op(ps);
        if (c->op < 0) {
            c->op = OP_EXISTS;
            continue;
        }
        c->lit = cx_literal(ps);
        if (!c->lit) {
            cx_perr(ps, "expected a literal after the filter's comparison");
            return false;
        }
        if (c->op == OP_RE || c->op == OP_NRE) {
            if (!json_is_string(c->lit)) {
                cx_perr(ps, "~ needs a string");
                return false;
            }
            if (!cx_compile(ps, &c->re, json_string_value(c->lit)))
                return false;
            c->has_re = true;
        }
    } while (cx_eat(ps, "&&"));
    if (!cx_eat(ps, "]")) {
        cx_perr(ps, "expected ']' after the filter");
        return false;
    }
    return true;
}

static bool cx_long(struct cx_parser *ps, long *v)
{
    cx_skip(ps);
    char *end;
    *v = strtol(ps->p, &end, 10);
    if (end == ps->p)
        return false;
    ps->p = end;
    return true;
}

/* Steps after a primary: .key, [N], [A:B], [A:B:STEP], [*], [?filter]. */
static struct cx_node *cx_steps(struct cx_parser *ps, struct cx_node *base, bool root)
{
    if (root && *ps->p == '.' && !(cx_is_ident(ps->p[1]) && !isdigit((unsigned char)ps->p[1])))
        ps->p++; /* "." alone, or ".[0]": the whole document */
    for (;;) {
        /* no spaces inside a path: `. a` is not a step */
        struct cx_node *st = cx_new(CX_STEP);
        st->a = base;
        base = st;
        if (*ps->p == '.' && (cx_is_ident(ps->p[1]) && !isdigit((unsigned char)ps->p[1]))) {
            ps->p++;
            st->step = ST_KEY;
            cx_ident(ps, st->name, sizeof(st->name));
        } else if (*ps->p == '[') {
            ps->p++;
            cx_skip(ps);
            if (cx_eat(ps, "*]")) {
                st->step = ST_ALL;
            } else if (cx_eat(ps, "?")) {
                st->step = ST_FILTER;
                if (!cx_filter(ps, st))
                    return base;
            } else {
                st->has_lo = cx_long(ps, &st->lo);
                if (cx_eat(ps, ":")) {
                    st->step = ST_SLICE;
                    st->has_hi = cx_long(ps, &st->hi);
                    st->by = 1;
                    if (cx_eat(ps, ":") && (!cx_long(ps, &st->by) || st->by < 1)) {
                        cx_perr(ps, "a slice's step is a number of at least 1");
                        return base;
                    }
                } else if (st->has_lo) {
                    st->step = ST_INDEX;
                    st->idx = st->lo;
                } else {
                    cx_perr(ps, "expected N, A:B, * or ?filter inside [ ]");
                    return base;
                }
                if (!cx_eat(ps, "]")) {
                    cx_perr(ps, "expected ']'");
                    return base;
                }
            }
        } else {
            /* not a step: undo the empty one */
            base = st->a;
            st->a = NULL;
            free(st);
            return base;
        }
    }
}

static struct cx_node *cx_or(struct cx_parser *ps);
static struct cx_node *cx_sum(struct cx_parser *ps);

static const struct { const char *name; int nargs; } cx_funcs[] = {
    { "len", 1 }, { "count", 1 }, { "sum", 1 }, { "min", 1 }, { "max", 1 }, { "first", 1 }, { "file", 1 },
    { "lines", 1 }, { "nonzero", 1 }, { "num", 1 }, { "capture", 2 },
};

static struct cx_node *cx_primary(struct cx_parser *ps)
{
    cx_skip(ps);
    struct cx_node *n;
    if (*ps->p == '.') {
        return cx_steps(ps, cx_new(CX_ROOT), true);
    }
    if (*ps->p == '(') {
        ps->p++;
        n = cx_sum(ps);
        if (!cx_eat(ps, ")"))
            cx_perr(ps, "expected ')'");
        return n;
    }
    if (*ps->p == '$') {
        ps->p++;
        n = cx_new(CX_VAR);
        if (!cx_ident(ps, n->name, sizeof(n->name))) {
            cx_perr(ps, "expected a name after $");
            return n;
        }
        bool known = !strcmp(n->name, "dir");
        for (size_t i = 0; i < ps->nlets && !known; i++)
            known = !strcmp(ps->lets[i].name, n->name);
        if (!known)
            cx_perr(ps, "unknown variable $%s (a `let %s = ...` line before this one defines it)", n->name, n->name);
        return cx_steps(ps, n, false);
    }
    json_t *lit = cx_literal(ps);
    if (lit) {
        n = cx_new(CX_LIT);
        n->lit = lit;
        return n;
    }
    if (ps->failed)
        return cx_new(CX_LIT);
    char word[CX_KEY_MAX];
    const char *at = ps->p;
    if (!cx_ident(ps, word, sizeof(word))) {
        cx_perr(ps, *ps->p ? "expected a value (.path, \"string\", number, output, exit, $var, func(...))"
                           : "expression ends too early");
        return cx_new(CX_LIT);
    }
    if (!strcmp(word, "output"))
        return cx_steps(ps, cx_new(CX_OUTPUT), false);
    if (!strcmp(word, "exit"))
        return cx_new(CX_EXIT);
    cx_skip(ps);
    int nargs = -1;
    for (size_t i = 0; i < sizeof(cx_funcs) / sizeof(cx_funcs[0]); i++)
        if (!strcmp(cx_funcs[i].name, word))
            nargs = cx_funcs[i].nargs;
    if (nargs < 0 || *ps->p != '(') {
        ps->p = at;
        cx_perr(ps, "unknown word '%s' (paths start with '.', strings are quoted)", word);
        return cx_new(CX_LIT);
    }
    ps->p++;
    n = cx_new(CX_FUNC);
    snprintf(n->name, sizeof(n->name), "%s", word);
    n->a = cx_sum(ps);
    if (nargs == 2) {
        if (!cx_eat(ps, ",")) {
            cx_perr(ps, "%s() takes two arguments", word);
            return n;
        }
        cx_skip(ps);
        if (*ps->p != '"') {
            cx_perr(ps, "%s()'s second argument is a \"regex\"", word);
            return n;
        }
        n->lit = cx_string_lit(ps);
        if (!n->lit || !cx_compile(ps, &n->re, json_string_value(n->lit)))
            return n;
        n->has_re = true;
    }
    if (!cx_eat(ps, ")"))
        cx_perr(ps, "expected ')' after %s's argument%s", word, nargs == 2 ? "s" : "");
    return cx_steps(ps, n, false);
}

static struct cx_node *cx_product(struct cx_parser *ps)
{
    struct cx_node *l = cx_primary(ps);
    for (;;) {
        cx_skip(ps);
        char c = *ps->p;
        if (ps->failed || (c != '*' && c != '/'))
            return l;
        ps->p++;
        struct cx_node *n = cx_new(CX_ARITH);
        n->op = c;
        n->a = l;
        n->b = cx_primary(ps);
        l = n;
    }
}

static struct cx_node *cx_sum(struct cx_parser *ps)
{
    struct cx_node *l = cx_product(ps);
    for (;;) {
        cx_skip(ps);
        char c = *ps->p;
        if (ps->failed || (c != '+' && c != '-'))
            return l;
        ps->p++;
        struct cx_node *n = cx_new(CX_ARITH);
        n->op = c;
        n->a = l;
        n->b = cx_product(ps);
        l = n;
    }
}

static struct cx_node *cx_cmp(struct cx_parser *ps)
{
    const char *at = ps->p;
    cx_skip(ps);
    if (*ps->p == '(') {
        /* a parenthesised condition, or a parenthesised value that a comparison follows */
        ps->p++;
        struct cx_node *inner = cx_or(ps);
        if (!cx_eat(ps, ")")) {
            cx_perr(ps, "expected ')'");
            return inner;
        }
        cx_skip(ps);
        /* followed by arithmetic or a comparison: it was a value */
        bool value = strchr("+-*/=<>~", *ps->p) || (*ps->p == '!' && (ps->p[1] == '=' || ps->p[1] == '~'));
        if (inner->kind != CX_TRUTH || !*ps->p || !value)
            return inner;
        cx_free(inner);
        ps->p = at; /* it was a value: parse it again as one */
    }
    struct cx_node *l = cx_sum(ps);
    if (ps->failed)
        return l;
    int op = cx_cmp_op(ps);
    struct cx_node *n;
    if (op < 0) {
        n = cx_new(CX_TRUTH);
        n->a = l;
        return n;
    }
    n = cx_new(CX_CMP);
    n->op = op;
    n->a = l;
    n->b = cx_sum(ps);
    if (!ps->failed && (op == OP_RE || op == OP_NRE) && n->b->kind == CX_LIT) {
        if (!json_is_string(n->b->lit))
            cx_perr(ps, "~ needs a \"regex\" on its right");
        else if (cx_compile(ps, &n->re, json_string_value(n->b->lit)))
            n->has_re = true;
    }
    return n;
}

static struct cx_node *cx_not(struct cx_parser *ps)
{
    cx_skip(ps);
    if (*ps->p == '!' && ps->p[1] != '=' && ps->p[1] != '~') {
        ps->p++;
        struct cx_node *n = cx_new(CX_NOT);
        n->a = cx_not(ps);
        return n;
    }
    return cx_cmp(ps);
}

static struct cx_node *cx_and(struct cx_parser *ps)
{
    struct cx_node *l = cx_not(ps);
    while (!ps->failed && cx_eat(ps, "&&")) {
        struct cx_node *n = cx_new(CX_AND);
        n->a = l;
        n->b = cx_not(ps);
        l = n;
    }
    return l;
}

static struct cx_node *cx_or(struct cx_parser *ps)
{
    struct cx_node *l = cx_and(ps);
    while (!ps->failed && cx_eat(ps, "||")) {
        struct cx_node *n = cx_new(CX_OR);
        n->a = l;
        n->b = cx_and(ps);
        l = n;
    }
    return l;
}

static struct cx_node *cx_parse_as(const char *text, const struct cx_let *lets, size_t nlets, char *err,
                                    size_t errlen, bool value)
{
    struct cx_parser ps = { .s = text, .p = text, .lets = lets, .nlets = nlets, .err = err, .errlen = errlen };
    struct cx_node *n = value ? cx_sum(&ps) : cx_or(&ps);
    cx_skip(&ps);
    if (!ps.failed && *ps.p)
        cx_perr(&ps, "unexpected '%.20s'", ps.p);
    if (ps.failed) {
        cx_free(n);
        return NULL;
    }
    return n;
}

struct cx_node *cx_parse(const char *text, const struct cx_let *lets, size_t nlets, char *err, size_t errlen)
{
    return cx_parse_as(text, lets, nlets, err, errlen, false);
}

struct cx_node *cx_parse_value(const char *text, const struct cx_let *lets, size_t nlets, char *err, size_t errlen)
{
    return cx_parse_as(text, lets, nlets, err, errlen, true);
}

void cx_free(struct cx_node *n)
{
    if (!n)
        return;
    cx_free(n->a);
    cx_free(n->b);
    json_decref(n->lit);
    if (n->has_re)
        regfree(&n->re);
    for (int i = 0; i < n->nconds; i++) {
        json_decref(n->conds[i].lit);
        if (n->conds[i].has_re)
            regfree(&n->conds[i].re);
    }
    free(n);
}

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
