/*
 * crc32c.h: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every block
 * header and payload (kernel/blockfmt.h): the SSE4.2 `crc32` instruction when CPUID offers it,
 * tables otherwise. Pure logic: builds into the kernel and into host unit tests.
 *
 * Convention (the same as zlib's crc32()): pass 0 to start, or a previous result to continue; the
 * function inverts on entry and on exit, so
 *
 *     crc32c(crc32c(0, a, na), b, nb) == crc32c(0, ab, na + nb)
 *     crc32c(0, "123456789", 9) == 0xE3069283
 *
 * The raw functions skip the inversions for loops that checksum words as they make them: start
 * the state at CRC32C_RAW_INIT and return ~state.
 *
 * The lookup tables are built on first use. Several CPUs may race to build them: each writes the
 * same values, and a CPU only trusts them after seeing the ready flag, published with release
 * order after the tables were written.
 */
#ifndef VQH_CRC32C_H
#define VQH_CRC32C_H

#include "base.h"

#define CRC32C_RAW_INIT 0xFFFFFFFFu

uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* Without the entry/exit inversions. */
uint32_t crc32c_raw(uint32_t state, const void *p, size_t n);

/* Eight bytes, w in little-endian byte order (as stored in memory on x86). */
uint32_t crc32c_raw_u64(uint32_t state, uint64_t w);

/* Build the tables and probe the CPU now (optional: every call above does it on first use). */
void crc32c_init(void);

/* Both implementations, for tests and benchmarks; _hw only when crc32c_hw_available(). */
uint32_t crc32c_raw_sw(uint32_t state, const void *p, size_t n);
uint32_t crc32c_raw_hw(uint32_t state, const void *p, size_t n);
bool crc32c_hw_available(void);
/* Choose the implementation (the instruction only if available); for tests. */
void crc32c_use_hw(bool on);
bool crc32c_using_hw(void);

#endif
