/*
 * expect.h: what each block of one disk's hammered region must hold, and which I/O is in flight
 * on it. Pure logic: builds into the kernel and into host unit tests (verify-image rebuilds a
 * table from the guest's final-state report).
 *
 * NOT THREAD-SAFE: one table per disk, and the caller holds that disk's lock around every call
 * that takes a non-const table (and around the const ones if others may write meanwhile).
 *
 * States of a block:
 *   UNKNOWN    never written by us: anything reads back, nothing is checked (zeroed memory)
 *   GEN        holds our generation `gen`, written by request `tag`; reads must match exactly
 *   ZERO       write-zeroes (or an all-zero write) completed: reads must return zeroes
 *   DISCARDED  discarded: content undefined, anything accepted
 *   FAILED     the last write failed: it may or may not have landed, anything accepted
 *
 * Rules the stress engine relies on (they are what keeps verification free of false alarms):
 * - expect_begin_write refuses (returns false, changes nothing) if any block of the range has a
 *   write in flight, or a read that judges it: no two in-flight writes overlap, no write starts
 *   under a read that would judge the block against its old state. A read judges (and counts
 *   itself on) only the blocks committed GEN or ZERO when it began; on the others anything reads
 *   back, so a write may start and even finish under it without a false alarm. A read of
 *   never-written blocks (all reads on null-co, most early in a run) thus writes nothing to the
 *   table and its end touches only its own snapshot.
 * - Reads may start over an in-flight write; their snapshot then carries old and pending state
 *   and the verifier accepts either.
 * - Every write (data, zeroes or discard) gives each of its blocks that block's next generation:
 *   a per-block counter, 1 for the first write. When the write ends, successfully or not, `gen`
 *   becomes that generation, so generations never repeat and "newer than any we wrote" means
 *   above gen (or above pending gen during a write). 2^32 writes to one block would wrap.
 * - Read counts are 16-bit: at most 65535 reads in flight over one block.
 */
#ifndef VQH_EXPECT_H
#define VQH_EXPECT_H

#include "base.h"

enum expect_state {
    EXPECT_UNKNOWN = 0,
    EXPECT_GEN = 1,
    EXPECT_ZERO = 2,
    EXPECT_DISCARDED = 3,
    EXPECT_FAILED = 4,
};

/* Which write request wrote a block: its queue and per-queue sequence number (as in the header). */
struct expect_tag {
    uint16_t writer_q;
    uint32_t req_seq;
};

/* One block as a reader sees it when its read is submitted. */
struct expect_snap {
    uint8_t state;             /* enum expect_state, committed */
    bool inflight;             /* a write to it is in flight: pend_* is what it will leave */
    uint8_t pend_state;
    uint32_t gen;              /* generation of the last completed write (0: none) */
    uint32_t pend_gen;         /* gen + 1 while in flight, else 0 */
    struct expect_tag tag;     /* request that wrote `gen` */
    struct expect_tag pend_tag;
};

/* One run of the final-state report: count blocks from lba, all in `state`. For GEN runs every
 * block has generation gen and tag; for other states gen and tag are 0 (they are not needed to
 * verify, and dropping them keeps runs long). UNKNOWN blocks are never reported. */
struct expect_run {
    uint64_t lba;
    uint32_t count;
    uint8_t state;
    uint32_t gen;
    struct expect_tag tag;
};

#define EXPECT_RUN_TEXT_MAX 64 /* longest expect_run_format output, NUL included */

struct expect; /* opaque; lives in caller memory */

/* Bytes of memory a table of nblocks needs (8-byte aligned memory). */
size_t expect_bytes(uint64_t nblocks);

/* Make an empty (all UNKNOWN) table for [base_lba, base_lba + nblocks) in mem. NULL if bytes is
 * smaller than expect_bytes(nblocks) or mem is not 8-byte aligned. */
struct expect *expect_init(void *mem, size_t bytes, uint64_t base_lba, uint64_t nblocks);

uint64_t expect_base(const struct expect *e);
uint64_t expect_nblocks(const struct expect *e);

/*
 * Start a write of n blocks from lba. kind is EXPECT_GEN (data), EXPECT_ZERO (write-zeroes or
 * zero data) or EXPECT_DISCARDED. False, changing nothing, if the range leaves the region, kind
 * is not one of those, or any block has a write or a read in flight. On success gens_out (if not
 * NULL) gets each block's new generation, to stamp into the data.
 */
bool expect_begin_write(struct expect *e, uint64_t lba, uint32_t n, enum expect_state kind,
                        struct expect_tag tag, uint32_t *gens_out);

/* End that write: ok commits the pending state, !ok leaves FAILED. False, changing nothing, if
 * some block of the range had no write in flight (a double completion). */
bool expect_end_write(struct expect *e, uint64_t lba, uint32_t n, bool ok);

/* Start a read: fills snap[0..n-1] and counts the read on each block it judges (committed GEN
 * or ZERO). Returns how many blocks it judges: 0 means verify_read would pass whatever the read
 * returns, and expect_end_read has nothing to undo. Succeeds whatever is in flight; -1 only if
 * the range leaves the region or a read count would overflow (nothing changed). A block it does
 * not judge (anything reads back) gets only state and inflight in its snapshot. A range no write
 * ever began on returns 0 at once and leaves snap unwritten (the engine's reads on a fresh disk
 * need no snapshot: nothing verifies or ends them); ask expect_get for such a block's state. */
int32_t expect_begin_read(struct expect *e, uint64_t lba, uint32_t n, struct expect_snap *snap);

/* End that read, snap being what expect_begin_read gave: uncounts the blocks it judged. False,
 * changing nothing, if one of them had no read in flight. */
bool expect_end_read(struct expect *e, uint64_t lba, uint32_t n, const struct expect_snap *snap);

/* Snapshot of one block without counting a read. False if lba is outside the region. */
bool expect_get(const struct expect *e, uint64_t lba, struct expect_snap *snap);

/* Blocks whose state is not UNKNOWN (kept up to date, O(1)). */
uint64_t expect_written_count(const struct expect *e);

/* Blocks whose state is GEN or ZERO: those a verification pass can check (O(1)). */
uint64_t expect_checkable_count(const struct expect *e);

/*
 * Verification pass: the first run of checkable blocks (GEN or ZERO, no write in flight) at or
 * after `from`, at most max_n long. False when there is none. Typical loop:
 *     for (l = base; expect_next_checkable(e, l, max, &first, &n); l = first + n) read(first, n);
 */
bool expect_next_checkable(const struct expect *e, uint64_t from, uint32_t max_n, uint64_t *first,
                           uint32_t *n);

/*
 * Final-state report: next run at or after *cursor (start with expect_base(e)); advances *cursor
 * past it. False when no run is left. A block with a write still in flight is reported FAILED
 * (it may or may not land). Consecutive blocks merge while state, gen and tag are equal.
 */
bool expect_encode_run(const struct expect *e, uint64_t *cursor, struct expect_run *run);

/* Rebuild from a report (host side): set the run's blocks. False, changing nothing, if the run
 * leaves the region, has a bad state or any of its blocks has I/O in flight. */
bool expect_apply_run(struct expect *e, const struct expect_run *run);

/*
 * Text form of a run, for the report: "<lba>+<count>:<s>" with s one of g z d f (GEN, ZERO,
 * DISCARDED, FAILED), and for GEN ":<gen>:<writer_q>:<req_seq>", all decimal. Examples:
 * "1024+16:g:7:3:118", "4096+8:z". expect_run_format returns the length (NUL not counted) or 0
 * if cap is too small; expect_run_parse accepts exactly that form (len bytes, no NUL needed).
 */
size_t expect_run_format(const struct expect_run *run, char *buf, size_t cap);
bool expect_run_parse(const char *s, size_t len, struct expect_run *run);

/* "unknown", "gen", "zero", "discarded", "failed". */
const char *expect_state_name(uint8_t state);

#endif
