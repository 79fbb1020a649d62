/*
 * base.h: the few C library pieces that pure logic needs.
 *
 * Pure modules (rings, block format, verification, configuration, messages) compile both into the
 * freestanding kernel and into host unit tests (VQH_HOST defined). They include only this header,
 * so the same source sees libc's declarations on the host and our own kernel/lib.c in the guest.
 */
#ifndef VQH_BASE_H
#define VQH_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef VQH_HOST
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Decimal digits of v and a NUL into out; returns the digit count (kernel/dec.c). */
#define U64_DEC_MAX 21
size_t u64_to_dec(char out[U64_DEC_MAX], uint64_t v);

/* Compiler-only barrier; CPU barriers live in kernel/cpu.h (guest) or the ring's own hooks. */
#define barrier() __asm__ __volatile__("" ::: "memory")

#endif
