/*
 * blockfmt.h: the on-disk format of every block vqhammer writes, defined once for the guest's
 * stress engine and the host's `vqhammer verify-image`. Pure logic: builds into the kernel and
 * into host unit tests.
 *
 * A block is one logical block of the device (512..4096 bytes, a power of two): a 64-byte header,
 * all fields little-endian, then the payload.
 *
 *   off size field
 *     0  8   magic           "VQHBLK01" (the bytes in this order)
 *     8  2   version         BLK_VERSION
 *    10  2   header size     BLK_HDR_SIZE
 *    12  4   block size      bytes in the whole block
 *    16  8   lba             the block's own address, in logical blocks
 *    24  4   generation      per-block write count (kernel/expect.h), 1 = first write
 *    28  4   disk tag        which disk it was written for (blk_disk_tag of its serial)
 *    32  8   seed            the run's seed
 *    40  2   writer queue    virtqueue that wrote it
 *    42  2   flags           none defined yet: written 0, not checked
 *    44  4   request seq     the write request's per-queue sequence number
 *    48  4   epoch           migration count when the write was submitted
 *    52  4   payload crc     crc32c (kernel/crc32c.h) of bytes 64..block size
 *    56  4   header crc      crc32c of bytes 0..63 with this field zero
 *    60  4   reserved        zero
 *
 * The payload depends only on (seed, disk tag, lba, generation): word i (8 bytes, little-endian,
 * at offset 64 + 8 i) is prng_fmix64(base + (i + 1) * PRNG_GOLDEN) with
 * base = prng_mix(seed, lba, generation << 32 | disk tag). A reader regenerates it from what it
 * expects, so any byte of the expected block can be computed without a copy of the write.
 * The header adds the writer's identity (queue, sequence, epoch) for diagnosis and torn-write
 * detection; the epoch is not tracked by the expected-state table, so comparisons take it from
 * the block found (blk_stamp.epoch).
 */
#ifndef VQH_BLOCKFMT_H
#define VQH_BLOCKFMT_H

#include "base.h"

#define BLK_MAGIC 0x31304B4C42485156ull /* "VQHBLK01" read as a little-endian u64 */
#define BLK_VERSION 1
#define BLK_HDR_SIZE 64
#define BLK_SIZE_MIN 512
#define BLK_SIZE_MAX 4096

/* Everything the writer decides about one block. */
struct blk_stamp {
    uint64_t seed;
    uint32_t disk_tag;
    uint64_t lba;
    uint32_t gen;
    uint16_t writer_q;
    uint32_t req_seq;
    uint32_t epoch;
};

/* A decoded header (host byte order). */
struct blk_hdr {
    uint64_t magic;
    uint16_t version;
    uint16_t hdr_size;
    uint32_t blk_size;
    uint64_t lba;
    uint32_t gen;
    uint32_t disk_tag;
    uint64_t seed;
    uint16_t writer_q;
    uint16_t flags;
    uint32_t req_seq;
    uint32_t epoch;
    uint32_t payload_crc;
    uint32_t hdr_crc;
};

/* What blk_check found, in the order it tests. */
enum blk_status {
    BLK_OK = 0,          /* valid header and payload checksum */
    BLK_ZERO,            /* every byte is zero (never written, discarded or write-zeroed) */
    BLK_NO_HEADER,       /* not zero, but no magic: garbage or someone else's data */
    BLK_BAD_HDR_CRC,     /* magic present, header checksum wrong */
    BLK_BAD_FORMAT,      /* header checksum right, but version, header or block size wrong */
    BLK_BAD_PAYLOAD_CRC, /* header valid, payload checksum wrong */
};

/* True for 512, 1024, 2048, 4096. */
bool blk_size_valid(uint32_t blk_size);

/* The disk tag of a device: crc32c of its serial (len bytes). */
uint32_t blk_disk_tag(const char *serial, size_t len);

/* Write one complete block (header, payload, both checksums). False, and nothing written, if
 * blk_size is not valid. buf needs no alignment. */
bool blk_fill(void *buf, uint32_t blk_size, const struct blk_stamp *st);

/* Classify a block; hdr_out (may be NULL) gets the header fields decoded from the raw bytes
 * whatever the status (all zero for BLK_ZERO). */
enum blk_status blk_check(const void *buf, uint32_t blk_size, struct blk_hdr *hdr_out);

/* blk_check without the payload checksum: BLK_OK means a valid header, payload not looked at.
 * For a reader that compares the payload with its regeneration anyway (verify.c): equal to what
 * (seed, disk tag, lba, gen) of a valid header make implies the right checksum, since the
 * checksum is a function of those too; the checksum is then needed only to name a bad block. */
enum blk_status blk_check_header(const void *buf, uint32_t blk_size, struct blk_hdr *hdr_out);

/* The payload's checksum against the header's payload crc field (h decoded from buf). */
bool blk_payload_crc_ok(const void *buf, uint32_t blk_size, const struct blk_hdr *h);

/* Short name of a status ("ok", "zero", "no_header", "bad_header_crc", "bad_format",
 * "bad_payload_crc") for messages. */
const char *blk_status_name(enum blk_status s);

/* Decode the 64 header bytes at buf (no checks). */
void blk_hdr_decode(const void *buf, struct blk_hdr *hdr);

/* Bytes [off, off + len) of the block blk_fill would write for st: the expected data for a
 * comparison or a dump. Bytes past blk_size are not written. */
void blk_expected_bytes(const struct blk_stamp *st, uint32_t blk_size, uint32_t off, void *out,
                        uint32_t len);

/* Offset of the first payload byte that differs from the payload of (seed, disk_tag, lba, gen),
 * or blk_size when the whole payload matches. Regenerates on the fly: no buffer needed. */
uint32_t blk_payload_diff(const void *buf, uint32_t blk_size, uint64_t seed, uint32_t disk_tag,
                          uint64_t lba, uint32_t gen);

/* Index of the first byte where a and b differ, or n. */
size_t blk_first_diff(const void *a, const void *b, size_t n);

/* True when all n bytes are zero. */
bool blk_is_zero(const void *buf, size_t n);

#endif
