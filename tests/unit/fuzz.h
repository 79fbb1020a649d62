/*
 * fuzz.h: a small seeded mutator for the parser fuzz tests (test_fuzz_*.c). Deterministic: the
 * same seed gives the same inputs, so a failure names its seed and iteration and repeats. Each
 * test runs a fixed number of iterations (a few seconds in all); `make fuzz` drives the same
 * parsers with libFuzzer for long runs (tests/fuzz/).
 */
#ifndef VQH_TEST_FUZZ_H
#define VQH_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fuzz {
    uint64_t s;
};

static inline uint64_t fuzz_next(struct fuzz *f)
{
    uint64_t z = (f->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* 0..n-1 (n > 0) */
static inline size_t fuzz_below(struct fuzz *f, size_t n)
{
    return (size_t)(fuzz_next(f) % n);
}

/* Bytes that matter to the parsers under test, more often than chance would pick them. */
static inline uint8_t fuzz_byte(struct fuzz *f)
{
    static const char special[] = "{}[]\":,\\ \n\r\t0123456789-+.eEtrufalsn=;#xVQH1";
    if (fuzz_below(f, 3))
        return (uint8_t)special[fuzz_below(f, sizeof(special) - 1)];
    return (uint8_t)fuzz_next(f);
}

/*
 * Mutate buf (len bytes used, cap available) in place a few times: flip, replace, insert, delete,
 * duplicate a slice, truncate, splice in a dictionary word. Returns the new length (<= cap).
 */
static inline size_t fuzz_mutate(struct fuzz *f, uint8_t *buf, size_t len, size_t cap,
                                 const char *const *dict)
{
    int rounds = 1 + (int)fuzz_below(f, 4);
    for (int r = 0; r < rounds; r++) {
        size_t at = len ? fuzz_below(f, len + 1) : 0;
        switch (fuzz_below(f, 8)) {
        case 0: /* flip a bit */
            if (len)
                buf[fuzz_below(f, len)] ^= (uint8_t)(1u << fuzz_below(f, 8));
            break;
        case 1: /* replace a byte */
            if (len)
                buf[fuzz_below(f, len)] = fuzz_byte(f);
            break;
        case 2: { /* insert bytes */
            size_t n = 1 + fuzz_below(f, 8);
            if (len + n > cap)
                break;
            memmove(buf + at + n, buf + at, len - at);
            for (size_t i = 0; i < n; i++)
                buf[at + i] = fuzz_byte(f);
            len += n;
            break;
        }
        case 3: { /* delete bytes */
            size_t n = 1 + fuzz_below(f, 16);
            if (at + n > len)
                n = len - at;
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
            break;
        }
        case 4: { /* duplicate a slice */
            if (!len)
                break;
            size_t from = fuzz_below(f, len), n = 1 + fuzz_below(f, 64);
            if (from + n > len)
                n = len - from;
            if (len + n > cap)
                break;
            memmove(buf + at + n, buf + at, len - at);
            memmove(buf + at, buf + (from >= at ? from + n : from), n);
            len += n;
            break;
        }
        case 5: /* truncate */
            len = at;
            break;
        case 6: { /* splice in a dictionary word */
            if (!dict)
                break;
            size_t nd = 0;
            while (dict[nd])
                nd++;
            const char *w = dict[fuzz_below(f, nd)];
            size_t n = strlen(w);
            if (len + n > cap)
                break;
            memmove(buf + at + n, buf + at, len - at);
            memcpy(buf + at, w, n);
            len += n;
            break;
        }
        default: { /* overwrite a run with one byte: long strings, long numbers */
            if (!len)
                break;
            size_t n = 1 + fuzz_below(f, 200);
            if (at + n > cap)
                n = cap - at;
            memset(buf + at, fuzz_byte(f), n);
            if (at + n > len)
                len = at + n;
            break;
        }
        }
    }
    return len;
}

/* A seed for the fuzz tests: VQH_FUZZ_SEED from the environment, else fixed. */
static inline uint64_t fuzz_seed(void)
{
    const char *e = getenv("VQH_FUZZ_SEED");
    return e ? strtoull(e, NULL, 0) : 0x5EED0F0Full;
}

#endif
