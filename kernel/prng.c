/*
 * prng.c: splitmix64 and xoshiro256** (Blackman and Vigna's published algorithms).
 */
#include "prng.h"

static inline uint64_t prng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t prng_splitmix64(uint64_t *state)
{
    *state += PRNG_GOLDEN;
    return prng_fmix64(*state);
}

void prng_seed(struct prng *st, uint64_t seed)
{
    uint64_t sm = seed;

    /* splitmix64 never yields four zero words in a row, the one state xoshiro cannot leave. */
    for (int i = 0; i < 4; i++)
        st->s[i] = prng_splitmix64(&sm);
}

uint64_t prng_next(struct prng *st)
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

uint64_t prng_below(struct prng *st, uint64_t n)
{
    if (n == 0)
        return 0;
    /* The high half of x * n is uniform in [0, n) once the low half is past the 2^64 mod n
     * values that would favour some outcomes; the rejection is rare unless n is huge. */
    unsigned __int128 m = (unsigned __int128)prng_next(st) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = (0 - n) % n;
        while (lo < threshold) {
            m = (unsigned __int128)prng_next(st) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

uint64_t prng_range(struct prng *st, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    if (hi - lo == UINT64_MAX)
        return prng_next(st);
    return lo + prng_below(st, hi - lo + 1);
}

uint64_t prng_mix(uint64_t a, uint64_t b, uint64_t c)
{
    /* Each input goes through the bijective mixer before the next is folded in, so swapping
     * inputs or changing one bit anywhere changes the whole output. */
    uint64_t h = prng_fmix64(a + PRNG_GOLDEN);
    h = prng_fmix64(h ^ (b + 2 * PRNG_GOLDEN));
    h = prng_fmix64(h ^ (c + 3 * PRNG_GOLDEN));
    return h;
}
