/*
 * verify_image.c: `vqhammer verify-image`. The guest's state dump is read back from a serial log,
 * the image is streamed in large chunks, and every block is judged by the same pure code the
 * guest uses (kernel/blockfmt.c, kernel/verify.c), so an offline verdict means what an online one
 * means.
 *
 * This file: the options, the command line, setup and the summary and JSON report. The state dump
 * is read in verify_image_state.c, the blocks are judged in verify_image_check.c.
 */
#include "verify_image.h"
#include "verify_image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockfmt.h"
#include "verify.h"

/* ==== setup, summary and the command ========================================================= */

void verify_image_defaults(struct verify_image_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->disk = -1;
    o->max_errors = 20;
}

static bool vi_setup_state(struct vi_scan *s, const struct verify_image_state *st,
                           struct vqh_err *err)
{
    const struct verify_image_opts *o = s->o;

    if (o->blk_size && o->blk_size != st->blk_size) {
        vqh_err_set(err, "--blk-size %u disagrees with the state of disk %d (blk_size %u): drop "
                    "--blk-size or pick the right disk", o->blk_size, st->disk, st->blk_size);
        return false;
    }
    if (o->seed_given && o->seed != st->seed) {
        vqh_err_set(err, "--seed 0x%" PRIx64 " disagrees with the state's seed 0x%" PRIx64
                    ": drop --seed (the state carries it)", o->seed, st->seed);
        return false;
    }
    s->ctx = (struct verify_ctx){.seed = st->seed, .disk_tag = st->disk_tag,
                                 .blk_size = st->blk_size};
    return true;
}

static bool vi_build_table(struct vi_scan *s, const struct verify_image_state *st, void **mem,
                           struct vqh_err *err)
{
    uint64_t base = s->o->region_start;

    if (!st->nruns)
        return true;
    if (st->runs[0].lba < base) {
        vqh_err_set(err, "the state's first run starts at LBA %" PRIu64 ", below --region-start "
                    "%" PRIu64 ": lower --region-start", st->runs[0].lba, base);
        return false;
    }
    if (st->end_lba > s->nblocks) {
        vqh_err_set(err, "the state of disk %d (%s) covers LBAs up to %" PRIu64 " but image %s has "
                    "only %" PRIu64 " blocks: is this that disk's image?", st->disk, st->serial,
                    st->end_lba, s->o->image, s->nblocks);
        return false;
    }
    uint64_t n = st->end_lba - base;
    size_t bytes = expect_bytes(n);
    *mem = bytes == SIZE_MAX ? NULL : aligned_alloc(8, ALIGN_UP(bytes, 8));
    s->exp = *mem ? expect_init(*mem, bytes, base, n) : NULL;
    if (!s->exp) {
        vqh_err_set(err, "out of memory for the expected-state table of %" PRIu64 " blocks", n);
        return false;
    }
    for (size_t i = 0; i < st->nruns; i++)
        expect_apply_run(s->exp, &st->runs[i]); /* in range, ascending, nothing in flight */
    return true;
}

static bool vi_open_image(struct vi_scan *s, struct vqh_err *err)
{
    const char *img = s->o->image;
    unsigned char magic[4] = {0};

    s->fd = open(img, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        vqh_err_set(err, "cannot open image %s: %s", img, strerror(errno));
        return false;
    }
    off_t size = lseek(s->fd, 0, SEEK_END);
    if (size < 0) {
        vqh_err_set(err, "cannot get the size of image %s: %s", img, strerror(errno));
        return false;
    }
    if (pread(s->fd, magic, 4, 0) == 4 && !memcmp(magic, "QFI\xfb", 4)) {
        vqh_err_set(err, "%s is a qcow2 image: convert it first (qemu-img convert -O raw %s "
                    "image.raw)", img, img);
        return false;
    }
    if (size == 0 || (uint64_t)size % s->ctx.blk_size) {
        vqh_err_set(err, "image %s is %" PRIu64 " bytes, not a positive multiple of the block "
                    "size %u: pass the disk's --blk-size, or check it is a raw image", img,
                    (uint64_t)size, s->ctx.blk_size);
        return false;
    }
    s->nblocks = (uint64_t)size / s->ctx.blk_size;
    return true;
}

/* Before the scan: what is checked against what. */
static void vi_intro(const struct vi_scan *s, const struct verify_image_state *st)
{
    FILE *f = s->out;

    if (!f)
        return;
    fprintf(f, "verify-image %s: %" PRIu64 " blocks of %u bytes, ", s->o->image, s->nblocks,
            s->ctx.blk_size);
    if (st)
        fprintf(f, "state of disk %d (%s, seed 0x%" PRIx64 ", disk_tag 0x%x, LBAs %" PRIu64
                "..%" PRIu64 ") from %s\n", st->disk, st->serial, st->seed, st->disk_tag,
                s->o->region_start, st->end_lba, s->o->state_path);
    else
        fprintf(f, "header check only\n");
}

static void vi_summary(const struct vi_scan *s, const struct verify_image_state *st)
{
    FILE *f = s->out;

    if (!f)
        return;
    if (st) {
        fprintf(f, "checked against the state: %" PRIu64 " blocks; ok %" PRIu64, s->verified,
                s->cls[VERIFY_OK]);
        for (int c = VERIFY_CORRUPT; c <= VERIFY_UNWRITTEN; c++)
            fprintf(f, ", %s %" PRIu64, verify_class_name(c), s->cls[c]);
        fprintf(f, "\n");
    }
    fprintf(f, "header-checked: %" PRIu64 " blocks", s->header_checked);
    for (int c = 0; c < VI_HDR_COUNT; c++)
        fprintf(f, ", %s %" PRIu64, vi_hdr_names[c], s->hdr[c]);
    fprintf(f, "\n");
    if (s->ignored)
        fprintf(f, "(%" PRIu64 " header problems in discarded or failed-write blocks: allowed)\n",
                s->ignored);
    if (s->format_hint)
        fprintf(f, "hint: headers say blocks of %u bytes: try --blk-size %u\n", s->format_hint,
                s->format_hint);
    fprintf(f, "%s: %" PRIu64 " bad block%s\n", s->bad ? "FAIL" : "PASS", s->bad,
            s->bad == 1 ? "" : "s");
}

static json_t *vi_report_json(const struct vi_scan *s, const struct verify_image_state *st)
{
    json_t *classes = json_object(), *hdr = json_object();

    for (int c = VERIFY_CORRUPT; c <= VERIFY_UNWRITTEN; c++)
        json_object_set_new(classes, verify_class_name(c), json_integer((json_int_t)s->cls[c]));
    for (int c = 0; c < VI_HDR_COUNT; c++)
        json_object_set_new(hdr, vi_hdr_names[c], json_integer((json_int_t)s->hdr[c]));
    json_t *j = json_pack("{s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:o}",
                          "result", s->bad ? "fail" : "pass", "image", s->o->image,
                          "blocks", (json_int_t)s->nblocks, "blk_size", (int)s->ctx.blk_size,
                          "checked", (json_int_t)s->verified,
                          "header_checked", (json_int_t)s->header_checked,
                          "bad", (json_int_t)s->bad, "classes", classes, "header", hdr,
                          "header_allowed", (json_int_t)s->ignored,
                          "max_errors", (json_int_t)s->o->max_errors,
                          "errors", json_incref(s->errors));
    json_object_set_new(j, "mode", json_string(st ? "state" : "header"));
    if (st) {
        json_object_set_new(j, "state", json_string(s->o->state_path));
        json_object_set_new(j, "disk", json_integer(st->disk));
        json_object_set_new(j, "serial", json_string(st->serial));
        json_object_set_new(j, "region_start", json_integer((json_int_t)s->o->region_start));
        json_object_set_new(j, "region_end", json_integer((json_int_t)st->end_lba));
    }
    if (st || s->check_seed)
        json_object_set_new(j, "seed", vi_hex_json(s->ctx.seed));
    if (st || s->check_tag)
        json_object_set_new(j, "disk_tag", vi_hex_json(s->ctx.disk_tag));
    return j;
}

static bool vi_write_json(const struct vi_scan *s, const struct verify_image_state *st,
                          struct vqh_err *err)
{
    json_t *j = vi_report_json(s, st);
    FILE *f = fopen(s->o->json_path, "we");
    bool ok = f && !json_dumpf(j, f, JSON_INDENT(2)) && fputc('\n', f) != EOF;

    if (f && fclose(f))
        ok = false;
    if (!ok)
        vqh_err_set(err, "cannot write the JSON report %s: %s", s->o->json_path, strerror(errno));
    json_decref(j);
    return ok;
}

static bool vi_check_opts(const struct verify_image_opts *o, struct vqh_err *err)
{
    if (!o->image) {
        vqh_err_set(err, "no IMAGE given: usage is vqhammer verify-image IMAGE [--state FILE] ... (see --help)");
        return false;
    }
    if (o->blk_size && !blk_size_valid(o->blk_size)) {
        vqh_err_set(err, "--blk-size %u: expected 512, 1024, 2048 or 4096", o->blk_size);
        return false;
    }
    if (o->serial && o->disk >= 0) {
        vqh_err_set(err, "--serial and --disk both pick the disk: give one of them");
        return false;
    }
    if (!o->state_path && (o->disk >= 0 || o->region_start)) {
        vqh_err_set(err, "%s only applies with --state FILE (it picks from the guest's state)",
                    o->disk >= 0 ? "--disk" : "--region-start");
        return false;
    }
    if (o->dump_dir && mkdir(o->dump_dir, 0755) && errno != EEXIST) {
        vqh_err_set(err, "cannot create --dump-dir %s: %s", o->dump_dir, strerror(errno));
        return false;
    }
    return true;
}

int verify_image_run(const struct verify_image_opts *o, FILE *out, struct vqh_err *err)
{
    struct vi_scan s = {.o = o, .out = out, .fd = -1};
    struct verify_image_state st, *stp = NULL;
    void *table = NULL;
    int rc = VERIFY_IMAGE_ERROR;

    memset(&st, 0, sizeof(st));
    if (!vi_check_opts(o, err))
        return rc;
    if (o->state_path) {
        if (!verify_image_load_state(o->state_path, o->serial, o->disk, &st, err))
            return rc;
        stp = &st;
        if (!vi_setup_state(&s, &st, err))
            goto out;
    } else {
        s.ctx.blk_size = o->blk_size ? o->blk_size : 512;
        s.ctx.seed = o->seed;
        s.check_seed = o->seed_given;
        s.check_tag = o->serial != NULL;
        s.ctx.disk_tag = o->serial ? blk_disk_tag(o->serial, strlen(o->serial)) : 0;
    }
    if (!vi_open_image(&s, err) || (stp && !vi_build_table(&s, &st, &table, err)))
        goto out;
    vi_intro(&s, stp);
    if (!vi_scan_image(&s, err))
        goto out;
    vi_summary(&s, stp);
    if (o->json_path && !vi_write_json(&s, stp, err))
        goto out;
    rc = s.bad ? VERIFY_IMAGE_FAIL : VERIFY_IMAGE_PASS;
out:
    if (s.fd >= 0)
        close(s.fd);
    free(table);
    free(s.buf);
    free(s.expblk);
    free(s.blk);
    free(s.mask);
    json_decref(s.errors);
    verify_image_state_free(&st);
    return rc;
}

void verify_image_usage(FILE *f)
{
    fprintf(f,
        "usage: vqhammer verify-image IMAGE [options]\n"
        "Check every block of a raw disk image the guest hammered.\n"
        "Exit status: 0 pass, 1 bad blocks found, 2 error.\n\n"
        "  --state FILE        serial log holding the guest's replies to `state` (e.g. the run's\n"
        "                      serial-merged.log): judge blocks against its final expected state;\n"
        "                      without it, only each block's own header and checksums are checked\n"
        "  --serial SERIAL     the disk to take from the state (e.g. vqh0); header mode: the disk\n"
        "                      tag every block must carry\n"
        "  --disk N            the disk to take from the state, by index (default: the first)\n"
        "  --blk-size N        logical block size, 512..4096 (default 512; the state carries it)\n"
        "  --seed S            header mode: the seed every block must carry (decimal or 0x hex)\n"
        "  --region-start LBA  first LBA of the state's table (default 0)\n"
        "  --json FILE         write the report as JSON\n"
        "  --max-errors N      bad blocks described in full (default 20)\n"
        "  --dump-dir DIR      write lba-<N>.expected and lba-<N>.found for each of them\n"
        "  -h, --help          this text\n");
}

static bool vi_parse_u64(const char *flag, const char *arg, int base, uint64_t max, uint64_t *v,
                         struct vqh_err *err)
{
    char *end;

    errno = 0;
    *v = strtoull(arg, &end, base);
    if (!arg[0] || *end || errno || arg[0] == '-' || arg[0] == '+' || *v > max) {
        vqh_err_set(err, "%s '%s': expected a number from 0 to %" PRIu64 "%s", flag, arg, max,
                    base == 0 ? " (decimal, or hex with 0x)" : "");
        return false;
    }
    return true;
}

enum { O_STATE = 256, O_SERIAL, O_DISK, O_BLK_SIZE, O_SEED, O_REGION_START, O_JSON, O_MAX_ERRORS,
       O_DUMP_DIR };

static const struct option vi_long_opts[] = {
    {"state", required_argument, 0, O_STATE},
    {"serial", required_argument, 0, O_SERIAL},
    {"disk", required_argument, 0, O_DISK},
    {"blk-size", required_argument, 0, O_BLK_SIZE},
    {"seed", required_argument, 0, O_SEED},
    {"region-start", required_argument, 0, O_REGION_START},
    {"json", required_argument, 0, O_JSON},
    {"max-errors", required_argument, 0, O_MAX_ERRORS},
    {"dump-dir", required_argument, 0, O_DUMP_DIR},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* One option; 1 = go on, 0 = --help printed, -1 = err set. */
static int vi_parse_opt(struct verify_image_opts *o, int c, const char *arg, const char *word,
                        struct vqh_err *err)
{
    uint64_t v;

    switch (c) {
    case O_STATE: o->state_path = arg; return 1;
    case O_SERIAL: o->serial = arg; return 1;
    case O_JSON: o->json_path = arg; return 1;
    case O_DUMP_DIR: o->dump_dir = arg; return 1;
    case O_DISK:
        if (!vi_parse_u64("--disk", arg, 10, 1000, &v, err))
            return -1;
        o->disk = (int)v;
        return 1;
    case O_BLK_SIZE:
        if (!vi_parse_u64("--blk-size", arg, 10, BLK_SIZE_MAX, &v, err))
            return -1;
        o->blk_size = (uint32_t)v;
        return 1;
    case O_SEED:
        if (!vi_parse_u64("--seed", arg, 0, UINT64_MAX, &o->seed, err))
            return -1;
        o->seed_given = true;
        return 1;
    case O_REGION_START:
        return vi_parse_u64("--region-start", arg, 10, UINT64_MAX / 2, &o->region_start, err) ? 1 : -1;
    case O_MAX_ERRORS:
        if (!vi_parse_u64("--max-errors", arg, 10, 1000000, &v, err))
            return -1;
        o->max_errors = (uint32_t)v;
        return 1;
    case 'h':
        verify_image_usage(stdout);
        return 0;
    case ':':
        vqh_err_set(err, "%s needs a value", word);
        return -1;
    default:
        vqh_err_set(err, "unknown option '%s'", word);
        return -1;
    }
}

int verify_image_main(int argc, char **argv)
{
    struct verify_image_opts o;
    struct vqh_err err = {.msg = ""};
    int c, r = 1;

    verify_image_defaults(&o);
    optind = 0; /* glibc: a full re-scan, so the function can run more than once */
    opterr = 0;
    while (r == 1 && (c = getopt_long(argc, argv, ":h", vi_long_opts, NULL)) != -1)
        r = vi_parse_opt(&o, c, optarg, argv[optind - 1], &err);
    if (r == 0)
        return VERIFY_IMAGE_PASS;
    if (r == 1 && optind < argc)
        o.image = argv[optind++];
    if (r == 1 && optind < argc) {
        vqh_err_set(&err, "unexpected argument '%s': give one IMAGE", argv[optind]);
        r = -1;
    }
    int rc = r == 1 ? verify_image_run(&o, stdout, &err) : VERIFY_IMAGE_ERROR;
    if (rc == VERIFY_IMAGE_ERROR)
        fprintf(stderr, "vqhammer verify-image: %s\n%s", err.msg,
                r == 1 ? "" : "see: vqhammer verify-image --help\n");
    return rc;
}
