/*
 * crc32c.c: slicing-by-8 CRC-32C. Eight bytes cost eight table lookups and no per-bit work,
 * which matters because every block written or read in the (TCG-emulated) guest is checksummed.
 */
#include "crc32c.h"

#define CRC32C_POLY 0x82F63B78u /* Castagnoli, bit-reversed */

/* tab[k][b]: CRC state change of byte b followed by k zero bytes. */
static uint32_t crc32c_tab[8][256];
static int crc32c_ready;

void crc32c_init(void)
{
    if (__atomic_load_n(&crc32c_ready, __ATOMIC_ACQUIRE))
        return;
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
    return crc32c_step64(state, w);
}

uint32_t crc32c_raw(uint32_t state, const void *p, size_t n)
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
