/* cmdline.c: host command lines, "word key=value ...". */
#include "cmdline.h"

static bool cmdline_token(const char **p, char *out, char stop, const char **why)
{
    size_t n = 0;
    while (**p && **p != ' ' && **p != '\t' && **p != stop) {
        if (n + 1 >= CMDLINE_TOKEN_MAX) {
            *why = "token longer than 31 characters";
            return false;
        }
        out[n++] = *(*p)++;
    }
    out[n] = 0;
    return true;
}

static void cmdline_skip_blanks(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

bool cmdline_parse(const char *line, struct cmdline *c, const char **why)
{
    const char *p = line;
    memset(c, 0, sizeof(*c));
    cmdline_skip_blanks(&p);
    if (!cmdline_token(&p, c->word, 0, why))
        return false;
    if (!c->word[0]) {
        *why = "empty command";
        return false;
    }
    for (;;) {
        cmdline_skip_blanks(&p);
        if (!*p)
            return true;
        if (c->nargs == CMDLINE_ARGS_MAX) {
            *why = "more than 8 arguments";
            return false;
        }
        if (!cmdline_token(&p, c->key[c->nargs], '=', why))
            return false;
        if (*p != '=' || !c->key[c->nargs][0]) {
            *why = "argument is not key=value";
            return false;
        }
        p++;
        if (!cmdline_token(&p, c->value[c->nargs], 0, why))
            return false;
        c->nargs++;
    }
}

bool cmdline_u64(const struct cmdline *c, const char *key, uint64_t *v)
{
    for (uint32_t i = 0; i < c->nargs; i++) {
        if (strcmp(c->key[i], key))
            continue;
        const char *s = c->value[i];
        unsigned base = 10;
        uint64_t x = 0;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s += 2;
        }
        if (!*s)
            return false;
        for (; *s; s++) {
            unsigned d;
            if (*s >= '0' && *s <= '9')
                d = (unsigned)(*s - '0');
            else if (base == 16 && *s >= 'a' && *s <= 'f')
                d = (unsigned)(*s - 'a' + 10);
            else if (base == 16 && *s >= 'A' && *s <= 'F')
                d = (unsigned)(*s - 'A' + 10);
            else
                return false;
            if (x > (UINT64_MAX - d) / base)
                return false;
            x = x * base + d;
        }
        *v = x;
        return true;
    }
    return false;
}
