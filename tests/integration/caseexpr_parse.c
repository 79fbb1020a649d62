/*
 * caseexpr_parse.c: parse the `expect` language of cases.cfg (see caseexpr.h) by recursive descent
 * into a small tree (caseexpr_int.h); an error names the column and what was expected.
 */
#include "caseexpr_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
