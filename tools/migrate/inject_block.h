/*
 * inject_block.h: the blocks `--inject overwrite-block=PATTERN` writes over one block the guest
 * wrote, one per data class the guest must tell apart (kernel/verify.h). Pure logic on buffers;
 * inject.c does the file I/O.
 *
 *   pattern     written over the block                          the guest must report
 *   flip        16 payload bytes inverted                       corrupt (bad payload checksum)
 *   random      seeded random bytes                             corrupt (no header)
 *   zeroes      all zero: what a fresh disk holds               unwritten
 *   other-lba   a valid block of another LBA of the same disk   misdirected
 *   old-gen     a valid older generation of the same block      stale
 *   other-disk  the other data disk's valid block, same LBA     misdirected_disk
 */
#ifndef VQH_INJECT_BLOCK_H
#define VQH_INJECT_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockfmt.h"
#include "expect.h"

enum inject_pattern {
    INJECT_FLIP = 0,
    INJECT_RANDOM,
    INJECT_ZEROES,
    INJECT_OTHER_LBA,
    INJECT_OLD_GEN,
    INJECT_OTHER_DISK,
    INJECT_PATTERN_COUNT,
};

/* "flip", "random", ...; NULL when out of range. */
const char *inject_pattern_name(enum inject_pattern p);
/* False for an unknown name. */
bool inject_pattern_parse(const char *name, enum inject_pattern *p);
/* The WIRE_ERR_* class the guest must report for it. */
const char *inject_pattern_class(enum inject_pattern p);
/* "flip|random|zeroes|other-lba|old-gen|other-disk", for messages. */
const char *inject_pattern_list(void);

/* A write spans at most max_blocks (<= 256) blocks: blocks of one write lie that close. */
#define INJECT_WRITE_SPAN 256

/*
 * May block idx of win (n consecutive blocks of bs bytes around it, reaching INJECT_WRITE_SPAN
 * blocks each way where the disk has them) be overwritten with pattern p so that the guest
 * reports exactly p's class at its LBA? It must be a valid block the guest wrote, and no other
 * block in reach may carry the same write (seed, writer queue, request): a partly overwritten
 * multi-block write reads as torn. For old-gen it needs an older generation (gen >= 2).
 */
bool inject_candidate(const uint8_t *win, uint32_t n, uint32_t idx, uint32_t bs,
                      enum inject_pattern p);

/*
 * Does the guest's table (its `state` runs, ascending) say block lba holds exactly the block whose
 * header is h (GEN, that generation, that writer)? Only then will its verification read it and
 * judge it: a block it discarded keeps its old data (QEMU's default discard=ignore), but the guest
 * accepts anything there.
 */
bool inject_table_holds(const struct expect_run *runs, size_t nruns, uint64_t lba, const struct blk_hdr *h);

/*
 * The replacement for cur (bs bytes) into out. donor: for other-lba a valid block of another LBA
 * of the same disk, for other-disk the other disk's valid block at the same LBA; else unused.
 * rng seeds the random bytes. False (out untouched) when the donor does not fit the pattern.
 */
bool inject_build(enum inject_pattern p, const uint8_t *cur, const uint8_t *donor, uint32_t bs,
                  uint64_t rng, uint8_t *out);

#endif
