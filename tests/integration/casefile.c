/*
 * casefile.c: parse cases.cfg into cases (see casefile.h). Every mistake in the file is an error
 * naming its file and line and what to write instead; a case that would assert nothing about
 * its run (no exit status) is refused.
 */
#include "casefile.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cf_parser {
    const char *path;
    int line;
    char *err;
    size_t errlen;
    struct case_set *set;
};

static bool cf_err(struct cf_parser *p, const char *fmt, ...)
{
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, p->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static char *cf_strdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

/* dst (maybe NULL) + sep + s, freeing dst */
static char *cf_append(char *dst, const char *sep, const char *s)
{
    char *r;
    if (asprintf(&r, "%s%s%s", dst ? dst : "", dst ? sep : "", s) < 0)
        abort();
    free(dst);
    return r;
}

static char *cf_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static bool cf_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* "64M", "2M", "4096", "1G" */
static bool cf_size(const char *s, unsigned long long *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return false;
    int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift)
        end++;
    if (*end || !v)
        return false;
    *out = v << shift;
    return true;
}

static bool cf_need(struct cf_parser *p, struct vqh_case *c, char *v)
{
    if (c->nneeds == CASE_MAX_NEEDS)
        return cf_err(p, "at most %d needs lines in a case", CASE_MAX_NEEDS);
    struct case_need *n = &c->needs[c->nneeds];
    snprintf(n->text, sizeof(n->text), "%s", v);
    char *reason = strchr(v, '(');
    if (reason) {
        if (v[strlen(v) - 1] != ')')
            return cf_err(p, "needs: the reason in parentheses must end the line");
        *reason = 0;
    }
    char *cond = cf_trim(v);
    char prog[64];
    if (!strcmp(cond, "qemu10")) {
        n->kind = NEED_QEMU10;
    } else if (!strcmp(cond, "kvm") || !strcmp(cond, "!kvm")) {
        n->kind = NEED_KVM;
        n->negate = cond[0] == '!';
    } else if (!strncmp(cond, "qemu", 4)) {
        const char *q = cond + 4;
        while (*q == ' ')
            q++;
        n->kind = NEED_QEMU;
        if (!strncmp(q, ">=", 2))
            q += 2;
        else if (*q == '<' && q[1] != '=')
            n->negate = true, q++;
        else
            return cf_err(p, "needs '%s': write qemu>=X.Y or qemu<X.Y", cond);
        int k = sscanf(q, " %d.%d.%d", &n->ver[0], &n->ver[1], &n->ver[2]);
        if (k < 2)
            return cf_err(p, "needs '%s': a version is X.Y or X.Y.Z", cond);
    } else if (sscanf(cond, "program %63s", prog) == 1) {
        n->kind = NEED_PROGRAM;
        snprintf(n->program, sizeof(n->program), "%s", prog);
    } else {
        return cf_err(p, "needs '%s': expected kvm, !kvm, qemu>=X.Y, qemu<X.Y, program NAME or qemu10, then an optional "
                         "(reason)", cond);
    }
    c->nneeds++;
    return true;
}

static bool cf_check(struct cf_parser *p, struct vqh_case *c, const char *text, const char *shown)
{
    if (c->nchecks == CASE_MAX_CHECKS)
        return cf_err(p, "at most %d checks in a case", CASE_MAX_CHECKS);
    char why[CX_ERR_MAX];
    struct cx_node *e = cx_parse(text, c->lets, (size_t)c->nlets, why, sizeof(why));
    if (!e)
        return cf_err(p, "in '%s': %s", shown, why);
    struct case_check *k = &c->checks[c->nchecks++];
    k->line = p->line;
    k->text = cf_strdup(shown);
    k->expr = e;
    return true;
}

/* `output ~ REGEX` / `output !~ REGEX`: the rest of the line is the regex, unquoted. */
static bool cf_output_line(struct cf_parser *p, struct vqh_case *c, char *line)
{
    char *rest = cf_trim(line + 6);
    bool neg = rest[0] == '!';
    rest = cf_trim(rest + (neg ? 2 : 1));
    if (!*rest)
        return cf_err(p, "output ~ needs a regex after it");
    regex_t re;
    int rc = regcomp(&re, rest, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[128];
        regerror(rc, &re, msg, sizeof(msg));
        return cf_err(p, "bad regex '%s': %s", rest, msg);
    }
    regfree(&re);
    /* as an expression: the regex becomes a string literal */
    char *expr = cf_strdup(neg ? "output !~ \"" : "output ~ \"");
    for (const char *s = rest; *s; s++) {
        char ch[3] = { *s, 0, 0 };
        if (*s == '"' || (*s == '\\' && (s[1] == '"' || s[1] == '\\' || !s[1])))
            ch[0] = '\\', ch[1] = *s;
        expr = cf_append(expr, "", ch);
    }
    expr = cf_append(expr, "", "\"");
    bool ok = cf_check(p, c, expr, line);
    free(expr);
    return ok;
}

static bool cf_exit(struct cf_parser *p, struct vqh_case *c, const char *v)
{
    /* a guest booted alone ends through isa-debug-exit: status (verdict << 1) | 1 (kernel/wire.h) */
    static const struct { const char *name; int status; } verdicts[] = { { "pass", 3 }, { "fail", 5 }, { "panic", 7 } };
    for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
        if (!strcmp(v, verdicts[i].name)) {
            if (!c->boot)
                return cf_err(p, "exit = %s is for boot cases (the guest's verdict); vqhammer exits 0, 1 or 2",
                              v);
            c->exit = verdicts[i].status;
            return true;
        }
    if (!cf_int(v, 0, 255, &c->exit))
        return cf_err(p, "exit = '%s': expected a number 0-255 (or pass, fail, panic for boot cases)", v);
    return true;
}

static bool cf_key(struct cf_parser *p, struct vqh_case *c, const char *key, char *v)
{
    if (!strcmp(key, "cmd") || !strcmp(key, "boot")) {
        if (c->cmd || c->boot)
            return cf_err(p, "a case has one cmd or one boot line");
        if (!*v)
            return cf_err(p, "%s = needs a value", key);
        if (!strcmp(key, "boot") && strcmp(v, "pvh") && strcmp(v, "uefi"))
            return cf_err(p, "boot = '%s': expected pvh or uefi", v);
        char **w = casefile_words(v, "", "");
        if (!w)
            return cf_err(p, "%s: unterminated quote", key);
        casefile_words_free(w);
        *(!strcmp(key, "cmd") ? &c->cmd : &c->boot) = cf_strdup(v);
        return true;
    }
    if (!strcmp(key, "exit"))
        return cf_exit(p, c, v);
    if (!strcmp(key, "timeout"))
        return cf_int(v, 1, 3600, &c->timeout_s) ? true : cf_err(p, "timeout = '%s': expected seconds, 1-3600", v);
    if (!strcmp(key, "smp") || !strcmp(key, "mem") || !strcmp(key, "config") || !strcmp(key, "qemu")) {
        if (!c->boot)
            return cf_err(p, "%s = belongs to boot cases: put `boot = pvh|uefi` first (vqhammer takes flags in cmd)",
                          key);
        if (!strcmp(key, "smp"))
            return cf_int(v, 1, 64, &c->smp) ? true : cf_err(p, "smp = '%s': expected 1-64", v);
        if (!strcmp(key, "mem"))
            return cf_int(v, 16, 65536, &c->mem) ? true : cf_err(p, "mem = '%s': expected MiB, 16-65536", v);
        if (!strcmp(key, "config")) {
            c->config = cf_append(c->config, "\n", v);
            return true;
        }
        c->qemu = cf_append(c->qemu, " ", v);
        return true;
    }
    if (!strcmp(key, "needs"))
        return cf_need(p, c, v);
    if (!strcmp(key, "image") || !strcmp(key, "write")) {
        if (c->nfiles == CASE_MAX_FILES)
            return cf_err(p, "at most %d image/write lines in a case", CASE_MAX_FILES);
        size_t n = strcspn(v, " \t");
        struct case_file *f = &c->files[c->nfiles];
        char *rest = cf_trim(v + n + (v[n] != 0));
        v[n] = 0;
        if (!*v || strchr(v, '/') || !*rest)
            return cf_err(p, "%s = NAME %s: a plain file name (it goes into $dir) and then the %s", key,
                          key[0] == 'i' ? "SIZE" : "TEXT", key[0] == 'i' ? "size (64M)" : "text (\\n: new line)");
        if (key[0] == 'i' && !cf_size(rest, &f->size))
            return cf_err(p, "image = %s '%s': expected a size such as 64M, 2M or 4096", v, rest);
        f->name = cf_strdup(v);
        if (key[0] == 'w') {
            f->text = cf_strdup(rest);
            char *o = f->text;
            for (const char *s = rest; *s; s++)
                *o++ = (*s == '\\' && s[1] == 'n') ? (s++, '\n') : *s;
            *o = 0;
        }
        c->nfiles++;
        return true;
    }
    if (!strncmp(key, "let ", 4)) {
        if (c->nlets == CASE_MAX_LETS)
            return cf_err(p, "at most %d let lines in a case", CASE_MAX_LETS);
        const char *name = cf_trim((char *)key + 4);
        if (!*name || strlen(name) >= sizeof(c->lets[0].name) || strspn(name, "abcdefghijklmnopqrstuvwxyz_0123456789") !=
                                                                     strlen(name) || !strcmp(name, "dir"))
            return cf_err(p, "let '%s': a name of lower-case letters, digits and _ (not dir)", name);
        char why[CX_ERR_MAX];
        struct cx_node *e = cx_parse_value(v, c->lets, (size_t)c->nlets, why, sizeof(why));
        if (!e)
            return cf_err(p, "in let %s: %s", name, why);
        snprintf(c->lets[c->nlets].name, sizeof(c->lets[0].name), "%s", name);
        c->lets[c->nlets++].expr = e;
        return true;
    }
    if (!strcmp(key, "expect")) {
        c->json = true;
        return cf_check(p, c, v, v);
    }
    return cf_err(p, "unknown key '%s' (cmd, boot, exit, timeout, needs, smp, mem, config, qemu, image, write, "
                     "let NAME, expect; or a line `output ~ REGEX`)",
                  key);
}

/* A case is complete: it runs something and asserts its exit status. */
static bool cf_finish(struct cf_parser *p, struct vqh_case *c)
{
    int line = p->line;
    p->line = c->line;
    bool ok = true;
    if (!c->cmd && !c->boot)
        ok = cf_err(p, "case [%s] has neither cmd = (vqhammer's arguments) nor boot = pvh|uefi", c->name);
    else if (c->exit < 0)
        ok = cf_err(p, "case [%s] has no exit = line: every case says how its run must end", c->name);
    if (!c->timeout_s)
        c->timeout_s = c->boot ? CASE_BOOT_TIMEOUT_S : CASE_CMD_TIMEOUT_S;
    p->line = line;
    return ok;
}

static bool cf_section(struct cf_parser *p, char *line)
{
    char *end = strchr(line, ']');
    if (!end || cf_trim(end + 1)[0])
        return cf_err(p, "a section line is [name] alone");
    *end = 0;
    const char *name = line + 1;
    if (!*name || strlen(name) >= CASE_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name))
        return cf_err(p, "case name '%s': lower-case letters, digits, _ and -, at most %d", name, CASE_NAME_MAX - 1);
    struct case_set *s = p->set;
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->cases[i].name, name))
            return cf_err(p, "case [%s] again (first at line %d): names are unique", name, s->cases[i].line);
    s->cases = realloc(s->cases, (size_t)(s->n + 1) * sizeof(*s->cases));
    if (!s->cases)
        abort();
    struct vqh_case *c = &s->cases[s->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->path = p->path;
    c->line = p->line;
    c->exit = -1;
    return true;
}

static bool cf_line(struct cf_parser *p, char *raw)
{
    char *line = cf_trim(raw);
    if (!*line || line[0] == '#')
        return true;
    if (line[0] == '[')
        return (!p->set->n || cf_finish(p, &p->set->cases[p->set->n - 1])) && cf_section(p, line);
    if (!p->set->n)
        return cf_err(p, "a key before the first [case] line");
    struct vqh_case *c = &p->set->cases[p->set->n - 1];
    if (!strncmp(line, "output", 6) && (line[6] == ' ' || line[6] == '~' || line[6] == '!')) {
        char *op = cf_trim(line + 6);
        if (op[0] == '~' || (op[0] == '!' && op[1] == '~'))
            return cf_output_line(p, c, line);
    }
    char *eq = strchr(line, '=');
    if (!eq)
        return cf_err(p, "expected `key = value`, `output ~ REGEX` or [name]");
    *eq = 0;
    return cf_key(p, c, cf_trim(line), cf_trim(eq + 1));
}

bool casefile_parse(const char *path, const char *text, struct case_set *set, char *err, size_t errlen)
{
    struct cf_parser p = { .path = path, .err = err, .errlen = errlen, .set = set };
    memset(set, 0, sizeof(*set));
    char *copy = cf_strdup(text), *s = copy;
    bool ok = true;
    while (ok && *s) {
        p.line++;
        size_t n = strcspn(s, "\n");
        char *next = s + n + (s[n] == '\n');
        s[n] = 0;
        ok = cf_line(&p, s);
        s = next;
    }
    if (ok && set->n)
        ok = cf_finish(&p, &set->cases[set->n - 1]);
    if (ok && !set->n) {
        p.line = 1;
        ok = cf_err(&p, "no cases: a case starts with a [name] line");
    }
    free(copy);
    if (!ok)
        casefile_free(set);
    return ok;
}

void casefile_free(struct case_set *set)
{
    for (int i = 0; i < set->n; i++) {
        struct vqh_case *c = &set->cases[i];
        free(c->cmd);
        free(c->boot);
        free(c->config);
        free(c->qemu);
        for (int j = 0; j < c->nfiles; j++) {
            free(c->files[j].name);
            free(c->files[j].text);
        }
        for (int j = 0; j < c->nlets; j++)
            cx_free(c->lets[j].expr);
        for (int j = 0; j < c->nchecks; j++) {
            free(c->checks[j].text);
            cx_free(c->checks[j].expr);
        }
    }
    free(set->cases);
    memset(set, 0, sizeof(*set));
}

char **casefile_words(const char *s, const char *dir, const char *top)
{
    size_t n = 0, cap = 8;
    char **w = calloc(cap, sizeof(*w));
    if (!w)
        abort();
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        char *word = cf_strdup("");
        char q = 0; /* inside "..." or '...' */
        while (*s && (q || !isspace((unsigned char)*s))) {
            if (!q && (*s == '"' || *s == '\'')) {
                q = *s++;
            } else if (q && *s == q) {
                q = 0;
                s++;
            } else if (!strncmp(s, "${qemu10}", 9)) {
                word = cf_append(word, "", casefile_qemu10());
                s += 9;
            } else if (!strncmp(s, "${dir}", 6) || !strncmp(s, "${top}", 6)) {
                word = cf_append(word, "", s[2] == 'd' ? dir : top);
                s += 6;
            } else {
                char ch[2] = { *s++, 0 };
                word = cf_append(word, "", ch);
            }
        }
        if (q) {
            free(word);
            casefile_words_free(w);
            return NULL;
        }
        if (n + 2 > cap) {
            cap *= 2;
            w = realloc(w, cap * sizeof(*w));
            if (!w)
                abort();
        }
        w[n++] = word;
        w[n] = NULL;
    }
    return w;
}

void casefile_words_free(char **w)
{
    for (size_t i = 0; w && w[i]; i++)
        free(w[i]);
    free(w);
}

const char *casefile_qemu10(void)
{
    const char *env = getenv("VQH_QEMU10");
    return env && *env ? env : CASE_QEMU10_DEFAULT;
}

bool casefile_qemu_ok(const struct case_need *need, const int have[3])
{
    int cmp = 0;
    for (int i = 0; i < 3 && !cmp; i++)
        cmp = have[i] < need->ver[i] ? -1 : have[i] > need->ver[i];
    return need->negate ? cmp < 0 : cmp >= 0;
}
