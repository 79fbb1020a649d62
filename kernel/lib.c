/* lib.c: the C library functions the compiler and base.h expect in a freestanding kernel. */
#include "base.h"

/* TCG runs a rep string instruction one element per iteration: 8-byte elements make big copies
 * and clears (the expected-state table, DMA memory, all zeroed at boot before the first request)
 * up to 8 times faster than bytes. */
#define LIB_REP_QWORDS 64

/* Out of line and 64-byte aligned, so their rep instructions sit at the same small offset in
 * every build. Inlined by LTO they landed wherever the caller put them, and in one build
 * pmm_alloc's clear was a `rep stosq` whose three bytes straddled a 4 KiB page boundary
 * (0x104fff): under TCG every allocation's clear ran several times slower, the boot's probe took
 * 57-67 ms instead of 17-44 and the first verified read came at 133-161 ms of guest time instead
 * of 35-80. */
#define LIB_REP_FN __attribute__((noinline, aligned(64)))

LIB_REP_FN void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    if (n >= LIB_REP_QWORDS) {
        size_t q = n / 8;
        __asm__ __volatile__("rep movsq" : "+D"(d), "+S"(src), "+c"(q)::"memory");
        n &= 7;
    }
    __asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n)::"memory");
    return dst;
}

LIB_REP_FN void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    if (n >= LIB_REP_QWORDS) {
        uint64_t v = 0x0101010101010101ull * (uint8_t)c;
        size_t q = n / 8;
        __asm__ __volatile__("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
        n &= 7;
    }
    __asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0)
        return dst;
    if (d < s || d >= s + n)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}
