/*
 * config.c: the key=value guest configuration (config.h). Every key, its type, range and default
 * live in one table so the parser, the defaults and the error messages cannot drift apart.
 */
#include "config.h"
#include "msg.h"
#include "wire.h"

enum cfg_type { CFG_U32, CFG_U64, CFG_STR, CFG_ENUM };

struct cfg_key {
    const char *name;
    uint8_t type;
    uint16_t offset;
    uint64_t min, max, def;       /* for CFG_ENUM: def is the index into names */
    const char *def_str;          /* CFG_STR only */
    const char *const *names;     /* CFG_ENUM only, NULL-terminated; index = stored value */
    const char *word;             /* CFG_U32 only: a word accepted besides numbers, stored as
                                     CONFIG_WORD_VALUE (max_request=device) */
};

static const char *const mode_names[] = { "irq", "poll", NULL };
static const char *const toggle_names[] = { "auto", "on", "off", NULL };
static const char *const inject_names[] = { "none", "ud", "gp", "pf", "de", "reset_fail", NULL };
static const char *const onoff_names[] = { "off", "on", NULL };
static const char *const hotplug_names[] = { "on", "off", "ignore-card", "ignore-button", NULL };

#define OFF(f) ((uint16_t)offsetof(struct config, f))
#define U32(f, lo, hi, d) { #f, CFG_U32, OFF(f), lo, hi, d, NULL, NULL, NULL }
#define U32W(f, lo, hi, d, w) { #f, CFG_U32, OFF(f), lo, hi, d, NULL, NULL, w }
#define U64(f, d) { #f, CFG_U64, OFF(f), 0, UINT64_MAX, d, NULL, NULL, NULL }
#define STR(f, d) { #f, CFG_STR, OFF(f), 0, 0, 0, d, NULL, NULL }
#define ENUM(f, n, d) { #f, CFG_ENUM, OFF(f), 0, ARRAY_SIZE(n) - 2, d, NULL, n, NULL }

static const struct cfg_key cfg_keys[] = {
    U64(seed, 1),
    U32(duration, 0, 604800, 10),           /* a week: longer runs are a typo in seconds */
    U32(min_disks, 0, 64, 1),
    STR(serial_prefix, "vqh"),
    U32(queues, 0, 1024, 0),
    U32(depth, 0, 32768, 0),                /* the largest split-ring size the spec allows */
    U32(mix_read, 0, 1000, 50),
    U32(mix_write, 0, 1000, 35),
    U32(mix_flush, 0, 1000, 3),
    U32(mix_discard, 0, 1000, 4),
    U32(mix_write_zeroes, 0, 1000, 8),
    U32(min_blocks, 1, 256, 1),
    U32(max_blocks, 1, 256, 16),
    U64(region_start, 0),
    U64(region_blocks, 0),
    U32(rate, 0, 10000000, 0),
    ENUM(mode, mode_names, CONFIG_MODE_IRQ),
    ENUM(indirect, toggle_names, CONFIG_AUTO),
    ENUM(event_idx, toggle_names, CONFIG_AUTO),
    U32(report_ms, 0, 3600000, 1000),
    U32(watchdog_ms, 100, 3600000, 30000),  /* below 100 ms TCG alone trips it */
    ENUM(inject, inject_names, CONFIG_INJECT_NONE),
    ENUM(huge_pages, onoff_names, 0),
    ENUM(tlb_refresh, toggle_names, CONFIG_AUTO),
    ENUM(final_state, onoff_names, 0),
    U32(reset_ms, 0, 3600000, 0),
    ENUM(packed, toggle_names, CONFIG_AUTO),
    U32(burst, 0, 4096, 0),
    /* 0 = off; bytes, or the word: as large as the device allows (kernel/reqsize.h) */
    U32W(max_request, 0, CONFIG_MAX_REQUEST_BYTES, 0, "device"),
    U32(max_request_share, 1, 100, 10),
    ENUM(hotplug, hotplug_names, CONFIG_HOTPLUG_ON),
    U32(hotplug_drain_ms, 0, WIRE_HOTPLUG_DRAIN_MAX_MS, WIRE_HOTPLUG_DRAIN_MS),
};

/* Duplicate detection keeps one bit per key. */
_Static_assert(ARRAY_SIZE(cfg_keys) <= 64, "seen-key mask is a uint64_t");

/* ---- a tiny formatter: no snprintf in a freestanding kernel ---------------------------------- */

struct fmt {
    char *buf;
    size_t cap; /* including the NUL */
    size_t len;
};

static void fmt_init(struct fmt *f, char *buf, size_t cap)
{
    f->buf = buf;
    f->cap = cap;
    f->len = 0;
    buf[0] = '\0';
}

/* Appends at most n bytes of s; a cut-off text ends in "..." so a reader knows it was cut. */
static void fmt_sn(struct fmt *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        if (f->len + 1 >= f->cap) {
            for (size_t k = f->cap > 4 ? f->cap - 4 : 0; k + 1 < f->cap; k++)
                f->buf[k] = '.';
            return;
        }
        f->buf[f->len++] = s[i];
        f->buf[f->len] = '\0';
    }
}

static void fmt_s(struct fmt *f, const char *s)
{
    fmt_sn(f, s, SIZE_MAX);
}

static void fmt_u64(struct fmt *f, uint64_t v)
{
    char tmp[U64_DEC_MAX];
    u64_to_dec(tmp, v);
    fmt_s(f, tmp);
}

/* Copy with a cut-off marker, for err->key and err->value. */
static void copy_trunc(char *dst, size_t cap, const char *s, size_t n)
{
    struct fmt f;
    fmt_init(&f, dst, cap);
    fmt_sn(&f, s, n);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static struct config_error *err_begin(struct config_error *err, uint32_t line, const char *key,
                                      size_t klen, const char *val, size_t vlen, struct fmt *f)
{
    copy_trunc(err->key, sizeof(err->key), key, klen);
    copy_trunc(err->value, sizeof(err->value), val, vlen);
    err->line = line;
    fmt_init(f, err->message, sizeof(err->message));
    return err;
}

/* "a number 0..32768", "one of irq|poll", "1 to 31 characters" */
static void fmt_expected(struct fmt *f, const struct cfg_key *k)
{
    switch (k->type) {
    case CFG_U32:
    case CFG_U64:
        fmt_s(f, "a number ");
        fmt_u64(f, k->min);
        fmt_s(f, "..");
        fmt_u64(f, k->max);
        fmt_s(f, " (decimal or 0x hex)");
        if (k->word) {
            fmt_s(f, " or ");
            fmt_s(f, k->word);
        }
        break;
    case CFG_STR:
        fmt_s(f, "1 to ");
        fmt_u64(f, CONFIG_STR_MAX - 1);
        fmt_s(f, " printable ASCII characters");
        break;
    case CFG_ENUM:
        fmt_s(f, "one of ");
        for (size_t i = 0; k->names[i]; i++) {
            if (i)
                fmt_s(f, "|");
            fmt_s(f, k->names[i]);
        }
        break;
    }
}

static void err_value(struct config_error *err, uint32_t line, const struct cfg_key *k,
                      const char *val, size_t vlen, const char *why)
{
    struct fmt f;
    err_begin(err, line, k->name, SIZE_MAX, val, vlen, &f);
    fmt_s(&f, "bad value '");
    fmt_sn(&f, val, MIN(vlen, (size_t)24));
    if (vlen > 24)
        fmt_s(&f, "...");
    fmt_s(&f, "' for '");
    fmt_s(&f, k->name);
    fmt_s(&f, "'");
    if (why) {
        fmt_s(&f, " (");
        fmt_s(&f, why);
        fmt_s(&f, ")");
    }
    fmt_s(&f, ": expected ");
    fmt_expected(&f, k);
}

/* Levenshtein distance of short strings, to suggest the key a typo meant. */
static size_t edit_distance(const char *a, size_t na, const char *b)
{
    size_t nb = strlen(b), row[CONFIG_STR_MAX + 1];
    if (na > CONFIG_STR_MAX || nb > CONFIG_STR_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            best = MIN(best, up + 1);
            best = MIN(best, row[j - 1] + 1);
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static void err_unknown_key(struct config_error *err, uint32_t line, const char *key, size_t klen,
                            const char *val, size_t vlen)
{
    struct fmt f;
    const char *guess = NULL;
    size_t best = 3; /* further than two edits away is not a typo */
    for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
        size_t d = edit_distance(key, klen, cfg_keys[i].name);
        if (d < best) {
            best = d;
            guess = cfg_keys[i].name;
        }
    }
    err_begin(err, line, key, klen, val, vlen, &f);
    fmt_s(&f, "unknown key '");
    fmt_sn(&f, key, MIN(klen, (size_t)CONFIG_STR_MAX));
    fmt_s(&f, "'");
    if (guess) {
        fmt_s(&f, " (did you mean '");
        fmt_s(&f, guess);
        fmt_s(&f, "'?)");
    }
    fmt_s(&f, "; known keys: ");
    for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
        if (i)
            fmt_s(&f, ", ");
        fmt_s(&f, cfg_keys[i].name);
    }
}

/* ---- values ---------------------------------------------------------------------------------- */

/* Returns NULL or why the text is not a number. */
static const char *parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    size_t i = 0;
    if (n && s[0] == '-')
        return "negative";
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == n)
        return "no digits";
    for (; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return i == 0 ? "not a number" : "junk after number";
        if (v > (UINT64_MAX - d) / base)
            return "too large";
        v = v * base + d;
    }
    *out = v;
    return NULL;
}

static bool set_value(struct config *cfg, const struct cfg_key *k, const char *val, size_t vlen,
                      uint32_t line, struct config_error *err)
{
    char *field = (char *)cfg + k->offset;
    uint64_t v = 0;
    const char *why;

    if (vlen == 0) {
        err_value(err, line, k, val, vlen, "empty");
        return false;
    }
    switch (k->type) {
    case CFG_STR:
        if (vlen > CONFIG_STR_MAX - 1) {
            err_value(err, line, k, val, vlen, "too long");
            return false;
        }
        /* It is compared with device serials and printed in hello (pure ASCII JSON): printable
         * ASCII only, so what the guest matches is what the host reads back. */
        for (size_t i = 0; i < vlen; i++) {
            if ((unsigned char)val[i] < 0x21 || (unsigned char)val[i] > 0x7e) {
                err_value(err, line, k, val, vlen, "not printable ASCII");
                return false;
            }
        }
        memcpy(field, val, vlen);
        field[vlen] = '\0';
        return true;
    case CFG_ENUM:
        for (uint32_t i = 0; k->names[i]; i++) {
            if (strlen(k->names[i]) == vlen && !memcmp(k->names[i], val, vlen)) {
                memcpy(field, &i, sizeof(i));
                return true;
            }
        }
        err_value(err, line, k, val, vlen, NULL);
        return false;
    default:
        if (k->word && strlen(k->word) == vlen && !memcmp(k->word, val, vlen)) {
            uint32_t w = CONFIG_WORD_VALUE;
            memcpy(field, &w, sizeof(w));
            return true;
        }
        why = parse_u64(val, vlen, &v);
        if (!why && (v < k->min || v > k->max))
            why = "out of range";
        if (why) {
            err_value(err, line, k, val, vlen, why);
            return false;
        }
        if (k->type == CFG_U32) {
            uint32_t v32 = (uint32_t)v;
            memcpy(field, &v32, sizeof(v32));
        } else {
            memcpy(field, &v, sizeof(v));
        }
        return true;
    }
}

/* ---- public ---------------------------------------------------------------------------------- */

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
        const struct cfg_key *k = &cfg_keys[i];
        char *field = (char *)cfg + k->offset;
        if (k->type == CFG_STR) {
            memcpy(field, k->def_str, strlen(k->def_str) + 1);
        } else if (k->type == CFG_U64) {
            memcpy(field, &k->def, sizeof(k->def));
        } else {
            uint32_t v32 = (uint32_t)k->def;
            memcpy(field, &v32, sizeof(v32));
        }
    }
}

static bool is_sep(char c)
{
    return c == '\n' || c == '\r' || c == ';' || c == ' ' || c == '\t';
}

bool config_parse(struct config *cfg, const char *text, size_t len, struct config_error *err)
{
    struct config_error scratch;
    uint32_t first_line[ARRAY_SIZE(cfg_keys)];
    uint64_t seen = 0;
    uint32_t line = 1;
    size_t i = 0;

    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));
    /* fw_cfg files and C strings may end in NUL padding; a NUL before the end is an error. */
    while (len && text[len - 1] == '\0')
        len--;

    while (i < len) {
        char c = text[i];
        if (c == '\n') {
            line++;
            i++;
            continue;
        }
        if (is_sep(c)) {
            i++;
            continue;
        }
        if (c == '#') {
            while (i < len && text[i] != '\n')
                i++;
            continue;
        }
        size_t start = i, eq = SIZE_MAX;
        while (i < len && !is_sep(text[i]) && text[i] != '#' && text[i] != '\0') {
            if (text[i] == '=' && eq == SIZE_MAX)
                eq = i;
            i++;
        }
        if (i < len && text[i] == '\0') {
            struct fmt f;
            err_begin(err, line, "", 0, text + start, i - start, &f);
            fmt_s(&f, "NUL byte inside the text: expected key=value pairs of printable text");
            return false;
        }
        const char *tok = text + start;
        size_t tlen = i - start;
        if (eq == SIZE_MAX || eq == start) {
            struct fmt f;
            err_begin(err, line, eq == SIZE_MAX ? tok : "", eq == SIZE_MAX ? tlen : 0,
                      eq == SIZE_MAX ? "" : tok + 1, eq == SIZE_MAX ? 0 : tlen - 1, &f);
            fmt_s(&f, eq == SIZE_MAX ? "missing '=' in '" : "missing key in '");
            fmt_sn(&f, tok, MIN(tlen, (size_t)40));
            fmt_s(&f, "': expected key=value with no spaces around '='");
            return false;
        }
        const char *key = tok, *val = text + eq + 1;
        size_t klen = eq - start, vlen = i - eq - 1;
        size_t ki;
        for (ki = 0; ki < ARRAY_SIZE(cfg_keys); ki++)
            if (strlen(cfg_keys[ki].name) == klen && !memcmp(cfg_keys[ki].name, key, klen))
                break;
        if (ki == ARRAY_SIZE(cfg_keys)) {
            err_unknown_key(err, line, key, klen, val, vlen);
            return false;
        }
        if (seen & (1ull << ki)) {
            struct fmt f;
            err_begin(err, line, key, klen, val, vlen, &f);
            fmt_s(&f, "duplicate key '");
            fmt_s(&f, cfg_keys[ki].name);
            fmt_s(&f, "' (first set on line ");
            fmt_u64(&f, first_line[ki]);
            fmt_s(&f, "): expected each key at most once");
            return false;
        }
        seen |= 1ull << ki;
        first_line[ki] = line;
        if (!set_value(cfg, &cfg_keys[ki], val, vlen, line, err))
            return false;
    }
    return true;
}

/* "<key> <v>" starts the message of a cross-field error; the caller says the rest. */
static void err_cross(struct config_error *err, const char *key, uint64_t v, struct fmt *f)
{
    char num[21];
    fmt_init(f, num, sizeof(num));
    fmt_u64(f, v);
    err_begin(err, 0, key, SIZE_MAX, num, SIZE_MAX, f);
    fmt_s(f, key);
    fmt_s(f, " ");
    fmt_s(f, num);
}

static uint64_t field_get(const struct config *cfg, const struct cfg_key *k)
{
    const char *field = (const char *)cfg + k->offset;
    uint64_t v;
    uint32_t v32;
    if (k->type == CFG_U64) {
        memcpy(&v, field, sizeof(v));
        return v;
    }
    memcpy(&v32, field, sizeof(v32));
    return v32;
}

/*
 * Checks every field against its table range too, so a config built in code (tests, a host tool)
 * gets the same guarantees as parsed text. Errors have line 0: they belong to no single line.
 */
bool config_validate(const struct config *cfg, struct config_error *err)
{
    struct config_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));

    for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
        const struct cfg_key *k = &cfg_keys[i];
        if (k->type == CFG_STR) {
            const char *s = (const char *)cfg + k->offset;
            size_t n = 0;
            while (n < CONFIG_STR_MAX && s[n])
                n++;
            if (n == 0 || n == CONFIG_STR_MAX) {
                err_value(err, 0, k, s, n, n ? "not terminated" : "empty");
                return false;
            }
            continue;
        }
        uint64_t v = field_get(cfg, k);
        if ((v < k->min || v > k->max) && !(k->word && v == CONFIG_WORD_VALUE)) {
            char num[21];
            struct fmt f;
            fmt_init(&f, num, sizeof(num));
            fmt_u64(&f, v);
            err_value(err, 0, k, num, f.len, "out of range");
            return false;
        }
    }
    struct fmt f;
    if (cfg->min_blocks > cfg->max_blocks) {
        err_cross(err, "min_blocks", cfg->min_blocks, &f);
        fmt_s(&f, " is above max_blocks ");
        fmt_u64(&f, cfg->max_blocks);
        fmt_s(&f, ": expected min_blocks <= max_blocks");
        return false;
    }
    if ((uint64_t)cfg->mix_read + cfg->mix_write + cfg->mix_flush + cfg->mix_discard +
            cfg->mix_write_zeroes == 0) {
        err_cross(err, "mix_read", 0, &f);
        fmt_s(&f, " and every other mix weight is 0: expected some of mix_read, mix_write, "
                  "mix_flush, mix_discard, mix_write_zeroes above 0");
        return false;
    }
    if (cfg->region_blocks != 0 && cfg->region_blocks < cfg->max_blocks) {
        err_cross(err, "region_blocks", cfg->region_blocks, &f);
        fmt_s(&f, " is below max_blocks ");
        fmt_u64(&f, cfg->max_blocks);
        fmt_s(&f, ": expected 0 (to the end of the disk) or at least max_blocks");
        return false;
    }
    if (cfg->max_request != 0 && cfg->max_request != CONFIG_MAX_REQUEST_DEVICE &&
        (cfg->max_request < 4096 || cfg->max_request % 4096)) {
        err_cross(err, "max_request", cfg->max_request, &f);
        fmt_s(&f, " is not a multiple of 4096 bytes (a request must be whole blocks of any block size):"
                  " expected device, 0 (off) or a multiple of 4096");
        return false;
    }
    if (cfg->region_start + cfg->region_blocks < cfg->region_start) {
        err_cross(err, "region_blocks", cfg->region_blocks, &f);
        fmt_s(&f, " plus region_start overflows: expected region_start + region_blocks < 2^64");
        return false;
    }
    return true;
}

static const char *enum_name(const char *const *names, size_t count, uint32_t v)
{
    return v < count - 1 ? names[v] : "unknown";
}

const char *config_mode_name(uint32_t mode)
{
    return enum_name(mode_names, ARRAY_SIZE(mode_names), mode);
}

const char *config_toggle_name(uint32_t toggle)
{
    return enum_name(toggle_names, ARRAY_SIZE(toggle_names), toggle);
}

const char *config_inject_name(uint32_t inject)
{
    return enum_name(inject_names, ARRAY_SIZE(inject_names), inject);
}

void config_to_msg(const struct config *cfg, struct msg *m, const char *key)
{
    msg_obj_begin(m, key);
    for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
        const struct cfg_key *k = &cfg_keys[i];
        uint64_t v = k->type == CFG_STR ? 0 : field_get(cfg, k);
        switch (k->type) {
        case CFG_STR:
            msg_str(m, k->name, (const char *)cfg + k->offset);
            break;
        case CFG_ENUM:
            msg_str(m, k->name, v <= k->max ? k->names[v] : "unknown");
            break;
        case CFG_U64:
            /* hex: JSON readers choke on integers above 2^63 (a seed can be any u64) */
            msg_hex(m, k->name, v);
            break;
        default:
            if (k->word && v == CONFIG_WORD_VALUE)
                msg_str(m, k->name, k->word);
            else
                msg_u64(m, k->name, v);
            break;
        }
    }
    msg_obj_end(m);
}
