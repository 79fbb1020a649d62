/*
 * crc32c.c: CRC-32C with the SSE4.2 `crc32` instruction where CPUID says the CPU has it, and
 * slicing-by-8 tables otherwise (eight bytes cost eight lookups, no per-bit work). Every block
 * written or read in the (TCG-emulated) guest is checksummed, so this is on the hot path.
 */
#include "crc32c.h"

#define CRC32C_POLY 0x82F63B78u /* Castagnoli, bit-reversed */

/* tab[k][b]: CRC state change of byte b followed by k zero bytes. */
static uint32_t crc32c_tab[8][256];
static int crc32c_ready;
static bool crc32c_hw; /* the instruction is there and in use */

#if defined(__x86_64__)
/* CPUID leaf 1, ECX bit 20: SSE4.2, which brings `crc32`. The instruction works on general
 * registers only, so it is fine under -mgeneral-regs-only; inline asm because the compiler will
 * not emit it without -msse4.2 for the whole file. */
static bool crc32c_cpu_has_sse42(void)
{
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (c >> 20) & 1;
}

static inline uint32_t crc32c_hw_u64(uint32_t s, uint64_t w)
{
    uint64_t x = s;
    __asm__("crc32q %1, %0" : "+r"(x) : "rm"(w));
    return (uint32_t)x;
}

static inline uint32_t crc32c_hw_u8(uint32_t s, uint8_t v)
{
    __asm__("crc32b %1, %0" : "+r"(s) : "rm"(v));
    return s;
}
#else
static bool crc32c_cpu_has_sse42(void)
{
    return false;
}
#define crc32c_hw_u64(s, w) (s)
#define crc32c_hw_u8(s, v) (s)
#endif

void crc32c_init(void)
{
    if (__atomic_load_n(&crc32c_ready, __ATOMIC_ACQUIRE))
        return;
    crc32c_hw = crc32c_cpu_has_sse42();
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
        crc32c_tab[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++) {
            uint32_t prev = crc32c_tab[k - 1][b];
            crc32c_tab[k][b] = (prev >> 8) ^ crc32c_tab[0][prev & 0xff];
        }
    __atomic_store_n(&crc32c_ready, 1, __ATOMIC_RELEASE);
}

static inline uint32_t crc32c_step64(uint32_t s, uint64_t w)
{
    uint64_t x = w ^ s;
    return crc32c_tab[7][x & 0xff] ^ crc32c_tab[6][(x >> 8) & 0xff] ^
           crc32c_tab[5][(x >> 16) & 0xff] ^ crc32c_tab[4][(x >> 24) & 0xff] ^
           crc32c_tab[3][(x >> 32) & 0xff] ^ crc32c_tab[2][(x >> 40) & 0xff] ^
           crc32c_tab[1][(x >> 48) & 0xff] ^ crc32c_tab[0][x >> 56];
}

static inline uint64_t crc32c_load_le64(const uint8_t *p)
{
    uint64_t w;
    __builtin_memcpy(&w, p, 8); /* -ffreestanding means -fno-builtin: ask for the inline load */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

uint32_t crc32c_raw_u64(uint32_t state, uint64_t w)
{
    crc32c_init();
    return crc32c_hw ? crc32c_hw_u64(state, w) : crc32c_step64(state, w);
}

uint32_t crc32c_raw_hw(uint32_t state, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n && ((uintptr_t)b & 7)) {
        state = crc32c_hw_u8(state, *b++);
        n--;
    }
    for (; n >= 8; n -= 8, b += 8)
        state = crc32c_hw_u64(state, crc32c_load_le64(b));
    while (n--)
        state = crc32c_hw_u8(state, *b++);
    return state;
}

uint32_t crc32c_raw(uint32_t state, const void *p, size_t n)
{
    crc32c_init();
    return crc32c_hw ? crc32c_raw_hw(state, p, n) : crc32c_raw_sw(state, p, n);
}

uint32_t crc32c_raw_sw(uint32_t state, const void *p, size_t n)
{
    const uint8_t *b = p;

    crc32c_init();
    while (n && ((uintptr_t)b & 7)) {
        state = (state >> 8) ^ crc32c_tab[0][(state ^ *b++) & 0xff];
        n--;
    }
    for (; n >= 8; n -= 8, b += 8)
        state = crc32c_step64(state, crc32c_load_le64(b));
    while (n--)
        state = (state >> 8) ^ crc32c_tab[0][(state ^ *b++) & 0xff];
    return state;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
    return ~crc32c_raw(~crc, p, n);
}

bool crc32c_hw_available(void)
{
    crc32c_init();
    return crc32c_cpu_has_sse42();
}

void crc32c_use_hw(bool on)
{
    crc32c_init();
    crc32c_hw = on && crc32c_cpu_has_sse42();
}

bool crc32c_using_hw(void)
{
    crc32c_init();
    return crc32c_hw;
}
