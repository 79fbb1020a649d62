/*
 * verify_image.h: `vqhammer verify-image`, the offline checker of a disk image the guest hammered.
 *
 * Two modes:
 *   header only (no state file)  every block gets blk_check: zero, valid, foreign (no magic) are
 *                                counted; a bad header or payload checksum, a bad format, a header
 *                                naming another LBA (misdirected), and, when --seed / --serial are
 *                                given, another seed or disk tag fail the image.
 *   against the guest's state    the final expected-state table (the replies to the `state`
 *                                command, found in a serial log) is rebuilt; every GEN or ZERO
 *                                block is judged by verify_read exactly as the guest judges a read
 *                                (corrupt, misdirected, stale, phantom, torn, nonzero, unwritten).
 *                                Other blocks get the header check; it fails the image only for
 *                                blocks we never wrote (UNKNOWN, outside the table): a failed
 *                                write may have landed half, a discard leaves anything.
 *
 * Exit statuses (and verify_image_run results): 0 pass, 1 a problem found in the data, 2 error
 * (bad arguments, unreadable file, malformed state).
 */
#ifndef VQH_VERIFY_IMAGE_H
#define VQH_VERIFY_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "expect.h"

#define VERIFY_IMAGE_PASS 0
#define VERIFY_IMAGE_FAIL 1
#define VERIFY_IMAGE_ERROR 2

#define VERIFY_IMAGE_SERIAL_MAX 64

struct verify_image_opts {
    const char *image;        /* raw image (required) */
    const char *state_path;   /* --state: serial log holding the state replies; NULL: header only */
    const char *serial;       /* --serial: pick the disk (state), or the expected disk tag (header) */
    int disk;                 /* --disk: pick the disk by index (state only); -1: not given */
    uint32_t blk_size;        /* --blk-size: 0 = not given (header mode: 512; state: its own) */
    bool seed_given;          /* --seed: expected seed (header), must match the state's (state) */
    uint64_t seed;
    uint64_t region_start;    /* --region-start: first LBA of the table (state only) */
    const char *json_path;    /* --json: write the report there; NULL: none */
    uint32_t max_errors;      /* --max-errors: errors detailed (stdout, JSON, dumps); default 20 */
    const char *dump_dir;     /* --dump-dir: lba-<N>.expected / lba-<N>.found per detailed error */
};

/* One disk's final state from a serial log: its description and its runs, ascending. */
struct verify_image_state {
    int disk;
    char serial[VERIFY_IMAGE_SERIAL_MAX];
    uint32_t blk_size;
    uint64_t seed;
    uint32_t disk_tag;
    struct expect_run *runs; /* malloc'd */
    size_t nruns;
    uint64_t end_lba;        /* end of the highest run (0: no runs) */
    unsigned long line;      /* line of the dump's first state message */
};

void verify_image_defaults(struct verify_image_opts *o);

/*
 * Read the serial log at path (raw "VQH1 <seq> <json>" lines among any other output, or the
 * orchestrator's merged "<seq> <source> <json>" lines) and take the last complete state dump:
 * the disk whose serial is `serial` (non-NULL), else index `disk` (>= 0), else the first disk.
 * False with err naming the file and line when the dump is malformed (bad run text, runs out of
 * order or overlapping, disagreeing disk descriptions, state_end count different from the runs
 * seen, no state_end) or has no such disk. On success free st with verify_image_state_free.
 */
bool verify_image_load_state(const char *path, const char *serial, int disk,
                             struct verify_image_state *st, struct vqh_err *err);
void verify_image_state_free(struct verify_image_state *st);

/* Check the image. Summary lines go to out (NULL: none). Returns VERIFY_IMAGE_*; err is set
 * for VERIFY_IMAGE_ERROR. */
int verify_image_run(const struct verify_image_opts *o, FILE *out, struct vqh_err *err);

/* The command line: argv[0] is the subcommand word ("verify-image"). */
int verify_image_main(int argc, char **argv);
void verify_image_usage(FILE *f);

#endif
