/*
 * crc32c.h: software CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
 * block header and payload (kernel/blockfmt.h). Pure logic: builds into the kernel and into host
 * unit tests.
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

/* Build the tables now (optional: every call above does it on first use). */
void crc32c_init(void);

#endif
