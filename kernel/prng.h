/*
 * prng.h: deterministic pseudo-random numbers. Pure logic: builds into the kernel and into host
 * unit tests.
 *
 * - splitmix64 turns one seed into well-mixed state words (and is the counter-mode generator of
 *   block payloads, see prng_fmix64);
 * - xoshiro256** (struct prng) is the fast per-queue generator for the stress engine's choices;
 * - prng_mix hashes a few integers into one, with no state: per-queue seeds, payload seeds.
 *
 * A struct prng belongs to one user; nothing here is shared, so no locking is needed.
 * Same seed, same sequence, on the guest and on the host.
 */
#ifndef VQH_PRNG_H
#define VQH_PRNG_H

#include "base.h"

#define PRNG_GOLDEN 0x9E3779B97F4A7C15ull /* 2^64 / golden ratio: splitmix64's increment */

struct prng {
    uint64_t s[4];
    uint64_t pool;  /* prng_below_pow2: bits of one draw not handed out yet */
    uint32_t nbits; /* how many */
};

/* splitmix64's output function: a bijective 64-bit mixer (inline: the payload fill loop uses it). */
static inline uint64_t prng_fmix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One splitmix64 step: advances *state and returns the next output. */
uint64_t prng_splitmix64(uint64_t *state);

/* Seed the generator (any seed, 0 included, gives a usable state). */
void prng_seed(struct prng *st, uint64_t seed);

static inline uint64_t prng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits (inline, as prng_below: the stress engine draws several per request, and
 * under TCG every call's return is a run-time lookup). */
static inline uint64_t prng_next(struct prng *st)
{
    uint64_t *s = st->s;
    uint64_t out = prng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = prng_rotl(s[3], 45);
    return out;
}

/* prng_below's rare case: m's low half is below n, so it may be a biased draw. */
uint64_t prng_below_reject(struct prng *st, uint64_t n, unsigned __int128 m);

/* Uniform in [0, n) without modulo bias (Lemire's multiply-and-reject); 0 when n is 0. */
static inline uint64_t prng_below(struct prng *st, uint64_t n)
{
    if (n == 0)
        return 0;
    unsigned __int128 m = (unsigned __int128)prng_next(st) * n;
    if ((uint64_t)m >= n)
        return (uint64_t)(m >> 64);
    return prng_below_reject(st, n, m);
}

/*
 * Uniform in [0, n) for n a power of two up to 2^32, a few bits of one 64-bit draw at a time: the
 * stress engine tosses several coins per request (1 in 2, 4, 8, 512), and under TCG each full
 * draw costs some 25 guest instructions. The pool is the generator's state too: same seed, same
 * sequence of both kinds of draw.
 */
static inline uint64_t prng_below_pow2(struct prng *st, uint64_t n)
{
    unsigned k = (unsigned)__builtin_ctzll(n | (1ull << 32));
    if (st->nbits < k) {
        st->pool = prng_next(st);
        st->nbits = 64;
    }
    uint64_t v = st->pool & (n - 1);
    st->pool >>= k;
    st->nbits -= k;
    return v;
}

/* Uniform in [lo, hi] (inclusive); lo when hi < lo. */
uint64_t prng_range(struct prng *st, uint64_t lo, uint64_t hi);

/* Stateless hash of three words: different inputs give unrelated outputs, order matters. */
uint64_t prng_mix(uint64_t a, uint64_t b, uint64_t c);

#endif
