/*
 * prng.c: splitmix64 and xoshiro256** (Blackman and Vigna's published algorithms).
 */
#include "prng.h"

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
    st->pool = 0;
    st->nbits = 0;
}

uint64_t prng_below_reject(struct prng *st, uint64_t n, unsigned __int128 m)
{
    /* The high half of x * n is uniform in [0, n) once the low half is past the 2^64 mod n
     * values that would favour some outcomes (threshold < n, so only a low half below n can be
     * one of them); the rejection is rare unless n is huge. */
    uint64_t threshold = (0 - n) % n;
    while ((uint64_t)m < threshold)
        m = (unsigned __int128)prng_next(st) * n;
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
