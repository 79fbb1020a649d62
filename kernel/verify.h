/*
 * verify.h: checks the data of one read request against the expected state captured when it was
 * submitted (kernel/expect.h), and says precisely what is wrong. Pure logic: used by the guest's
 * stress engine and by the host's verify-image.
 *
 * Each block is judged against an expectation (state, gen, tag):
 *   UNKNOWN, DISCARDED, FAILED  anything is accepted
 *   ZERO                        all zero, else NONZERO
 *   GEN, in this order (the first rule that matches decides):
 *     1. all zero                                           UNWRITTEN (what a fresh disk holds:
 *                                                           the write never reached it)
 *     2. no magic, header checksum wrong, bad version/sizes CORRUPT (random bytes are not
 *                                                           "unwritten": nothing of ours was
 *                                                           there before but zeroes)
 *     3. another run's seed                                 UNWRITTEN (an earlier run's block:
 *                                                           what was there before our write)
 *     4. header names another disk (disk tag)               MISDIRECTED_DISK
 *     5. header names another LBA                           MISDIRECTED
 *     6. payload checksum wrong                             CORRUPT
 *     7. generation older than expected                     STALE (a lost write: an older
 *                                                           generation of ours)
 *     8. generation newer than any we wrote                 PHANTOM
 *     9. expected generation, but another writer's tag      PHANTOM (a write we never issued)
 *    10. payload differs from the one regenerated           CORRUPT
 *    11. otherwise                                          accepted
 *
 * With a write in flight when the read was submitted, the block is accepted if it passes against
 * the old expectation or against the pending one, or if every byte equals the old or the new
 * block's byte (a read racing a write may legitimately see a mix, e.g. through the host page
 * cache). Otherwise it is reported against the pending expectation when its header carries the
 * pending generation, else against the old one.
 *
 * Then, request-wide: a STALE block (no write in flight, expected GEN) becomes TORN when another
 * block of the same request, written by the same write request (equal expected tag), reads back
 * current: that write landed only partly.
 *
 * The result describes the first bad block (lowest index) and counts all of them.
 */
#ifndef VQH_VERIFY_H
#define VQH_VERIFY_H

#include "base.h"
#include "blockfmt.h"
#include "expect.h"

#define VERIFY_DUMP_MAX 32

enum verify_class {
    VERIFY_OK = 0,
    VERIFY_CORRUPT,
    VERIFY_MISDIRECTED,
    VERIFY_MISDIRECTED_DISK,
    VERIFY_STALE,
    VERIFY_PHANTOM,
    VERIFY_TORN,
    VERIFY_NONZERO,
    VERIFY_UNWRITTEN, /* the last class: host tables count up to it */
};

/* What the writer stamped into every block of this disk. */
struct verify_ctx {
    uint64_t seed;
    uint32_t disk_tag;
    uint32_t blk_size; /* logical block size: 512..4096, power of two */
};

struct verify_result {
    bool ok;                      /* every block accepted; then only cls (VERIFY_OK), class_name
                                     (NULL), bad_count (0), checked and torn_peer (-1) are set */
    uint32_t checked;             /* blocks whose data was judged (GEN or ZERO expected) */
    enum verify_class cls;        /* class of the first bad block */
    const char *class_name;       /* its WIRE_ERR_* name; NULL when ok */
    uint32_t bad_count;           /* bad blocks in the request */
    uint32_t index;               /* first bad block: index in the request */
    uint64_t lba;                 /* and its LBA */
    struct expect_snap expected;  /* its snapshot at submit time */
    uint8_t expected_state;       /* the expectation it was judged against (old or pending) */
    uint32_t expected_gen;
    struct expect_tag expected_tag;
    enum blk_status found_status; /* what blk_check said of the data read */
    struct blk_hdr found;         /* header decoded from the data read, even if invalid */
    int32_t torn_peer;            /* TORN: index of a block of the same write that is current;
                                     else -1 */
    uint32_t offset;              /* first byte where expected and found block differ */
    uint32_t dump_len;            /* bytes in the two dumps (up to VERIFY_DUMP_MAX) */
    uint8_t dump_expected[VERIFY_DUMP_MAX]; /* bytes at offset of the expected block */
    uint8_t dump_found[VERIFY_DUMP_MAX];    /* and of the block read */
};

/*
 * Check a read of n blocks from lba: data holds n * ctx->blk_size bytes, snap the n snapshots
 * expect_begin_read gave at submit. Fills res; returns res->ok. The expected block for the
 * offset and dumps is the one blk_fill would write for (ctx seed and tag, lba, expected gen and
 * tag) with the epoch of the block found (epochs are not tracked), or all zero for ZERO.
 */
bool verify_read(const struct verify_ctx *ctx, uint64_t lba, uint32_t n, const uint8_t *data,
                 const struct expect_snap *snap, struct verify_result *res);

/* WIRE_ERR_* name of a class; NULL for VERIFY_OK. */
const char *verify_class_name(enum verify_class cls);

#endif
