/*
 * expect.c: the expected-state table. 20 bytes per block, so a 1 GiB region of 4 KiB blocks
 * costs 5 MiB of guest memory: 4 bytes every request touches (read count, state, pending write)
 * in one array, the 16 bytes of generations and writers that only judged reads and writes need
 * in another. Requests land at random: a 4 KiB read of 512-byte blocks touches one cache line of
 * the hot array, not three of a 20-byte entry (and the hot array is a fifth of the table).
 *
 * A third array holds one bit per block, set once a write to the block begins (or a state is
 * applied to it) and never cleared: a block whose bit is clear is UNKNOWN with nothing in
 * flight, so a read of such blocks learns all it needs from the bitmap (1/32 of the hot array,
 * 64 KiB for a 256 MiB disk of 512-byte blocks) and touches neither array. Every read on null-co
 * and most early in a run are such reads. Under TCG the guest's cost is close to its instruction
 * count: skipping the table, the verification and the release lock for them took about 8% off
 * the guest's CPU per request on null-co.
 *
 * The bitmap also says which cold entries hold anything: init clears the header, the hot array
 * and the bitmap but not the cold array (four fifths of the table, 8 MiB for a 256 MiB disk of
 * 512-byte blocks, some 8 ms of a TCG boot); a block's cold entry is cleared when its bit is first
 * set, and only a marked block's entry is ever read.
 */
#include "expect.h"

#define EXPECT_INFLIGHT 0x80 /* in expect_hot.pend: a write is in flight */
#define EXPECT_PEND_MASK 0x07

struct expect_hot {
    uint16_t reads;
    uint8_t state;
    uint8_t pend; /* EXPECT_INFLIGHT | pending state */
};

struct expect_cold {
    uint32_t gen;
    uint32_t seq;
    uint32_t pend_seq;
    uint16_t q;
    uint16_t pend_q;
};

struct expect {
    uint64_t base;
    uint64_t nblocks;
    uint64_t written;   /* state != UNKNOWN */
    uint64_t checkable; /* state GEN or ZERO */
    struct expect_cold *cold; /* the cold array and the bitmap (expect_init): pointers kept, */
    uint64_t *touched;        /* not recomputed on every request */
    struct expect_hot hot[];  /* nblocks, then the cold array (expect_cold_of) */
};

/* Bytes of the header and the hot array, rounded up so the cold array is 8-byte aligned. */
static size_t expect_hot_bytes(uint64_t nblocks)
{
    return ALIGN_UP(sizeof(struct expect) + (size_t)nblocks * sizeof(struct expect_hot), (size_t)8);
}

/* Block i's generations and writers: the cold array follows the hot one. */
static inline struct expect_cold *expect_cold_of(const struct expect *e, uint64_t i)
{
    return e->cold + i;
}

/* Bytes up to the bitmap: header, hot and cold arrays (a multiple of 8). */
static size_t expect_arrays_bytes(uint64_t nblocks)
{
    return expect_hot_bytes(nblocks) + (size_t)nblocks * sizeof(struct expect_cold);
}

size_t expect_bytes(uint64_t nblocks)
{
    if (nblocks > (SIZE_MAX - sizeof(struct expect) - 16) / (sizeof(struct expect_hot) + sizeof(struct expect_cold) + 1))
        return SIZE_MAX;
    return expect_arrays_bytes(nblocks) + (size_t)(nblocks + 63) / 64 * 8;
}

/* The touched bitmap: bit i of word i / 64 for block i. */
static bool expect_is_touched(const struct expect *e, uint64_t i)
{
    return e->touched[i / 64] >> (i % 64) & 1;
}

/* Mark block i. Its first mark clears its cold entry, which init left as it found it. */
static void expect_touch(struct expect *e, uint64_t i)
{
    uint64_t bit = 1ull << (i % 64);
    if (e->touched[i / 64] & bit)
        return;
    e->touched[i / 64] |= bit;
    e->cold[i] = (struct expect_cold){ 0 }; /* two stores, not a call to memset */
}

/* True when a write ever began on one of blocks i..i+n-1 (n >= 1): the first and last words
 * masked, any between whole. */
static bool expect_any_touched(const struct expect *e, uint64_t i, uint32_t n)
{
    const uint64_t *t = e->touched;
    uint64_t last = i + n - 1, w = i / 64, w_last = last / 64;
    uint64_t first_mask = ~0ull << (i % 64), last_mask = ~0ull >> (63 - last % 64);
    if (w == w_last)
        return t[w] & first_mask & last_mask;
    if (t[w] & first_mask)
        return true;
    while (++w < w_last)
        if (t[w])
            return true;
    return t[w_last] & last_mask;
}

struct expect *expect_init(void *mem, size_t bytes, uint64_t base_lba, uint64_t nblocks)
{
    struct expect *e = mem;
    size_t need = expect_bytes(nblocks);

    if (!mem || ((uintptr_t)mem & 7) || need == SIZE_MAX || bytes < need)
        return NULL;
    /* Not the cold array: expect_touch clears an entry on its block's first mark. */
    memset(mem, 0, expect_hot_bytes(nblocks));
    memset((uint8_t *)mem + expect_arrays_bytes(nblocks), 0, need - expect_arrays_bytes(nblocks));
    e->base = base_lba;
    e->nblocks = nblocks;
    e->cold = (struct expect_cold *)((uint8_t *)mem + expect_hot_bytes(nblocks));
    e->touched = (uint64_t *)((uint8_t *)mem + expect_arrays_bytes(nblocks));
    return e;
}

uint64_t expect_base(const struct expect *e)
{
    return e->base;
}

uint64_t expect_nblocks(const struct expect *e)
{
    return e->nblocks;
}

static bool expect_range_ok(const struct expect *e, uint64_t lba, uint32_t n)
{
    return n > 0 && lba >= e->base && n <= e->nblocks && lba - e->base <= e->nblocks - n;
}

static bool expect_is_checkable(uint8_t state)
{
    return state == EXPECT_GEN || state == EXPECT_ZERO;
}

/* Every state change goes through here so the counters stay exact. */
static void expect_set_state(struct expect *e, struct expect_hot *x, uint8_t state)
{
    e->written += (state != EXPECT_UNKNOWN) - (x->state != EXPECT_UNKNOWN);
    e->checkable += expect_is_checkable(state) - expect_is_checkable(x->state);
    x->state = state;
}

static void expect_snap_of(const struct expect_hot *h, const struct expect_cold *c, struct expect_snap *s)
{
    s->state = h->state;
    s->inflight = h->pend & EXPECT_INFLIGHT;
    s->pend_state = s->inflight ? h->pend & EXPECT_PEND_MASK : EXPECT_UNKNOWN;
    s->gen = c->gen;
    s->pend_gen = s->inflight ? c->gen + 1 : 0;
    s->tag.writer_q = c->q;
    s->tag.req_seq = c->seq;
    s->pend_tag.writer_q = s->inflight ? c->pend_q : 0;
    s->pend_tag.req_seq = s->inflight ? c->pend_seq : 0;
}

bool expect_begin_write(struct expect *e, uint64_t lba, uint32_t n, enum expect_state kind,
                        struct expect_tag tag, uint32_t *gens_out)
{
    if (!expect_range_ok(e, lba, n))
        return false;
    if (kind != EXPECT_GEN && kind != EXPECT_ZERO && kind != EXPECT_DISCARDED)
        return false;
    struct expect_hot *x = &e->hot[lba - e->base];
    struct expect_cold *c = expect_cold_of(e, lba - e->base);
    for (uint32_t i = 0; i < n; i++)
        if ((x[i].pend & EXPECT_INFLIGHT) || x[i].reads)
            return false;
    for (uint32_t i = 0; i < n; i++) {
        expect_touch(e, lba - e->base + i);
        x[i].pend = EXPECT_INFLIGHT | (uint8_t)kind;
        c[i].pend_q = tag.writer_q;
        c[i].pend_seq = tag.req_seq;
        if (gens_out)
            gens_out[i] = c[i].gen + 1;
    }
    return true;
}

bool expect_end_write(struct expect *e, uint64_t lba, uint32_t n, bool ok)
{
    if (!expect_range_ok(e, lba, n))
        return false;
    struct expect_hot *x = &e->hot[lba - e->base];
    struct expect_cold *c = expect_cold_of(e, lba - e->base);
    for (uint32_t i = 0; i < n; i++)
        if (!(x[i].pend & EXPECT_INFLIGHT))
            return false;
    for (uint32_t i = 0; i < n; i++) {
        expect_set_state(e, &x[i], ok ? (x[i].pend & EXPECT_PEND_MASK) : EXPECT_FAILED);
        c[i].gen++;
        c[i].q = c[i].pend_q;
        c[i].seq = c[i].pend_seq;
        x[i].pend = 0;
        c[i].pend_q = 0;
        c[i].pend_seq = 0;
    }
    return true;
}

int32_t expect_begin_read(struct expect *e, uint64_t lba, uint32_t n, struct expect_snap *snap)
{
    if (!expect_range_ok(e, lba, n) || n > INT32_MAX)
        return -1;
    if (!expect_any_touched(e, lba - e->base, n))
        return 0; /* all UNKNOWN, none in flight: snap is left as it was (expect.h) */
    struct expect_hot *x = &e->hot[lba - e->base];
    const struct expect_cold *c = expect_cold_of(e, lba - e->base);
    for (uint32_t i = 0; i < n; i++)
        if (expect_is_checkable(x[i].state) && x[i].reads == UINT16_MAX)
            return -1;
    int32_t judged = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (expect_is_checkable(x[i].state)) {
            x[i].reads++;
            expect_snap_of(&x[i], &c[i], &snap[i]);
            judged++;
        } else {
            /* Anything reads back from it, in flight or not: nothing judges it (verify.c), and
             * nothing needs to keep writes off it (expect.h). */
            snap[i].state = x[i].state;
            snap[i].inflight = x[i].pend & EXPECT_INFLIGHT;
        }
    }
    return judged;
}

bool expect_end_read(struct expect *e, uint64_t lba, uint32_t n, const struct expect_snap *snap)
{
    if (!expect_range_ok(e, lba, n))
        return false;
    struct expect_hot *x = &e->hot[lba - e->base];
    for (uint32_t i = 0; i < n; i++)
        if (expect_is_checkable(snap[i].state) && !x[i].reads)
            return false;
    for (uint32_t i = 0; i < n; i++)
        if (expect_is_checkable(snap[i].state))
            x[i].reads--;
    return true;
}

bool expect_get(const struct expect *e, uint64_t lba, struct expect_snap *snap)
{
    static const struct expect_cold never_written; /* an unmarked block's cold entry */
    if (!expect_range_ok(e, lba, 1))
        return false;
    uint64_t i = lba - e->base;
    expect_snap_of(&e->hot[i], expect_is_touched(e, i) ? expect_cold_of(e, i) : &never_written, snap);
    return true;
}

uint64_t expect_written_count(const struct expect *e)
{
    return e->written;
}

uint64_t expect_checkable_count(const struct expect *e)
{
    return e->checkable;
}

static bool expect_entry_checkable(const struct expect_hot *x)
{
    return expect_is_checkable(x->state) && !(x->pend & EXPECT_INFLIGHT);
}

bool expect_next_checkable(const struct expect *e, uint64_t from, uint32_t max_n, uint64_t *first,
                           uint32_t *n)
{
    uint64_t i = from > e->base ? from - e->base : 0;

    if (max_n == 0)
        return false;
    while (i < e->nblocks && !expect_entry_checkable(&e->hot[i]))
        i++;
    if (i >= e->nblocks)
        return false;
    uint32_t len = 1;
    while (len < max_n && i + len < e->nblocks && expect_entry_checkable(&e->hot[i + len]))
        len++;
    *first = e->base + i;
    *n = len;
    return true;
}

/* What the report says about one block; false for a block it leaves out (UNKNOWN, idle). */
static bool expect_run_of(const struct expect *e, uint64_t i, struct expect_run *r)
{
    const struct expect_hot *x = &e->hot[i];
    const struct expect_cold *c = expect_cold_of(e, i);
    r->gen = 0;
    r->tag.writer_q = 0;
    r->tag.req_seq = 0;
    if (x->pend & EXPECT_INFLIGHT) {
        r->state = EXPECT_FAILED;
        return true;
    }
    r->state = x->state;
    if (x->state == EXPECT_GEN) {
        r->gen = c->gen;
        r->tag.writer_q = c->q;
        r->tag.req_seq = c->seq;
    }
    return x->state != EXPECT_UNKNOWN;
}

bool expect_encode_run(const struct expect *e, uint64_t *cursor, struct expect_run *run)
{
    uint64_t i = *cursor > e->base ? *cursor - e->base : 0;
    struct expect_run next;

    while (i < e->nblocks && !expect_run_of(e, i, run))
        i++;
    if (i >= e->nblocks) {
        *cursor = e->base + e->nblocks;
        return false;
    }
    run->lba = e->base + i;
    run->count = 1;
    while (run->count < UINT32_MAX && i + run->count < e->nblocks &&
           expect_run_of(e, i + run->count, &next) && next.state == run->state &&
           next.gen == run->gen && next.tag.writer_q == run->tag.writer_q &&
           next.tag.req_seq == run->tag.req_seq)
        run->count++;
    *cursor = run->lba + run->count;
    return true;
}

bool expect_apply_run(struct expect *e, const struct expect_run *run)
{
    if (!expect_range_ok(e, run->lba, run->count))
        return false;
    if (run->state < EXPECT_GEN || run->state > EXPECT_FAILED)
        return false;
    struct expect_hot *x = &e->hot[run->lba - e->base];
    struct expect_cold *c = expect_cold_of(e, run->lba - e->base);
    for (uint32_t i = 0; i < run->count; i++)
        if ((x[i].pend & EXPECT_INFLIGHT) || x[i].reads)
            return false;
    for (uint32_t i = 0; i < run->count; i++) {
        expect_touch(e, run->lba - e->base + i);
        expect_set_state(e, &x[i], run->state);
        c[i].gen = run->gen;
        c[i].q = run->tag.writer_q;
        c[i].seq = run->tag.req_seq;
    }
    return true;
}

const char *expect_state_name(uint8_t state)
{
    static const char *const names[] = {"unknown", "gen", "zero", "discarded", "failed"};
    return state < ARRAY_SIZE(names) ? names[state] : "?";
}

static const char expect_run_letters[] = "?gzdf"; /* indexed by enum expect_state */

/* Decimal digits of v at p (no NUL); returns their count. */
static size_t expect_put_u64(char *p, uint64_t v)
{
    char tmp[U64_DEC_MAX];
    size_t n = u64_to_dec(tmp, v);
    memcpy(p, tmp, n);
    return n;
}

size_t expect_run_format(const struct expect_run *run, char *buf, size_t cap)
{
    char tmp[EXPECT_RUN_TEXT_MAX];
    size_t n = 0;

    if (run->state < EXPECT_GEN || run->state > EXPECT_FAILED)
        return 0;
    n += expect_put_u64(tmp + n, run->lba);
    tmp[n++] = '+';
    n += expect_put_u64(tmp + n, run->count);
    tmp[n++] = ':';
    tmp[n++] = expect_run_letters[run->state];
    if (run->state == EXPECT_GEN) {
        tmp[n++] = ':';
        n += expect_put_u64(tmp + n, run->gen);
        tmp[n++] = ':';
        n += expect_put_u64(tmp + n, run->tag.writer_q);
        tmp[n++] = ':';
        n += expect_put_u64(tmp + n, run->tag.req_seq);
    }
    if (n + 1 > cap)
        return 0;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

/* Parse a decimal number at s[*i] up to max; false if no digit or it overflows max. */
static bool expect_get_u64(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = *i;

    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        uint64_t d = (uint64_t)(s[*i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
        (*i)++;
    }
    *out = v;
    return *i > start;
}

static bool expect_get_char(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return false;
    (*i)++;
    return true;
}

bool expect_run_parse(const char *s, size_t len, struct expect_run *run)
{
    size_t i = 0;
    uint64_t lba, count, gen = 0, q = 0, seq = 0;
    uint8_t state = 0;

    if (!expect_get_u64(s, len, &i, UINT64_MAX, &lba) || !expect_get_char(s, len, &i, '+') ||
        !expect_get_u64(s, len, &i, UINT32_MAX, &count) || count == 0 ||
        !expect_get_char(s, len, &i, ':') || i >= len)
        return false;
    for (uint8_t st = EXPECT_GEN; st <= EXPECT_FAILED; st++)
        if (s[i] == expect_run_letters[st])
            state = st;
    if (!state)
        return false;
    i++;
    if (state == EXPECT_GEN &&
        (!expect_get_char(s, len, &i, ':') || !expect_get_u64(s, len, &i, UINT32_MAX, &gen) ||
         !expect_get_char(s, len, &i, ':') || !expect_get_u64(s, len, &i, UINT16_MAX, &q) ||
         !expect_get_char(s, len, &i, ':') || !expect_get_u64(s, len, &i, UINT32_MAX, &seq)))
        return false;
    if (i != len)
        return false;
    run->lba = lba;
    run->count = (uint32_t)count;
    run->state = state;
    run->gen = (uint32_t)gen;
    run->tag.writer_q = (uint16_t)q;
    run->tag.req_seq = (uint32_t)seq;
    return true;
}
