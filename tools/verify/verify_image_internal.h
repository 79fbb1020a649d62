/*
 * verify_image_internal.h: what the parts of `vqhammer verify-image` share. verify_image_check.c
 * judges the blocks; verify_image.c sets the scan up, runs it and reports it. Not for other
 * modules: the public API is verify_image.h.
 */
#ifndef VQH_VERIFY_IMAGE_INTERNAL_H
#define VQH_VERIFY_IMAGE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "expect.h"
#include "verify.h"
#include "verify_image.h"

/* Header-check classes; the ones from BAD_HDR_CRC on are problems. */
enum vi_hdr {
    VI_HDR_ZERO,
    VI_HDR_VALID,
    VI_HDR_FOREIGN,
    VI_HDR_BAD_HDR_CRC,
    VI_HDR_BAD_FORMAT,
    VI_HDR_BAD_PAYLOAD_CRC,
    VI_HDR_MISDIRECTED,
    VI_HDR_WRONG_DISK,
    VI_HDR_WRONG_SEED,
    VI_HDR_COUNT,
};

/* Indexed by enum vi_hdr: the names in the summary and the JSON report. */
extern const char *const vi_hdr_names[VI_HDR_COUNT];

enum { VI_CHECK_STATE = 1, VI_CHECK_HEADER };

struct vi_blk {
    uint8_t check;  /* VI_CHECK_* */
    uint8_t cls;    /* enum verify_class or enum vi_hdr */
    bool fails;
    int32_t peer;   /* TORN: index of a current block of the same write */
    struct expect_snap snap;
};

struct vi_scan {
    const struct verify_image_opts *o;
    FILE *out;
    int fd;
    uint64_t nblocks;
    struct verify_ctx ctx;
    bool check_seed, check_tag; /* header mode, when --seed / --serial say what to expect */
    struct expect *exp;
    uint64_t verified, header_checked, bad, ignored;
    uint64_t cls[VERIFY_UNWRITTEN + 1];
    uint64_t hdr[VI_HDR_COUNT];
    uint32_t detailed, format_hint; /* format_hint: blk_size a bad-format header claims */
    json_t *errors;
    uint8_t *buf, *expblk;
    struct vi_blk *blk;
    struct expect_snap *mask;
};

/* Stream the image through the judge, counting and detailing its blocks; s is set up (ctx,
 * fd, nblocks, and exp in state mode). The buffers and errors it allocates in s are the
 * caller's to free, also on failure. False with err set on a read, memory or dump failure. */
bool vi_scan_image(struct vi_scan *s, struct vqh_err *err);

/* A hex JSON string ("0x1f"), as the guest writes seeds and disk tags. */
json_t *vi_hex_json(uint64_t v);

#endif
