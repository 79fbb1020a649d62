/*
 * lab_verdict.h: what a cell's attempts add up to (pass, flaky, fail, error), what kind of failure
 * it was, and whether it is a known QEMU bug (a signature in the known-issues file).
 */
#ifndef VQH_LAB_VERDICT_H
#define VQH_LAB_VERDICT_H

#include <stdbool.h>

#include "err.h"

enum lab_verdict { LAB_PASS = 0, LAB_FLAKY, LAB_FAIL, LAB_ERROR };
const char *lab_verdict_name(enum lab_verdict v);            /* "pass", "flaky", "fail", "error" */
bool lab_verdict_parse(const char *s, enum lab_verdict *out);

/*
 * Attempts' vqhammer verdicts (0 PASS, 1 FAIL, 2 ERROR) into the cell's: fail when every attempt
 * that said something failed, flaky when some failed and some passed (*fail_rate = fails /
 * (fails + passes)), error when none failed but one could not run, else pass.
 */
enum lab_verdict lab_verdict_of(const int *attempts, int n, double *fail_rate);

/*
 * The failure class, from vqhammer's reason and the failing hop's text: ram-differs, qemu-crash,
 * hang, guest-panic, data-error, device-broken, ring-mismatch, migration-failed, setup, other.
 */
const char *lab_failure_class(const char *text, int vqh_verdict);

/* A failure as the signatures see it. */
struct lab_failure {
    const char *klass;          /* lab_failure_class() */
    const char *accel;          /* "tcg", "kvm" */
    const char *text;           /* reason and every failing hop's text */
    const char *evidence;       /* evidence.txt's content (backtraces), "" when none */
    const char *qemu_version[2];/* "7.2.22" of source and destination; NULL or "" unknown */
    bool after_hop;             /* it failed during or right after a migration */
};

#define LAB_KNOWN_MAX 64
struct lab_known_issue {
    char id[64], title[256], fixed_in[32], upstream_fix[256], url[256];
    char classes[8][32];
    int nclasses;
    char accel[8];
    bool after_hop;
    char match[8][256];         /* POSIX extended regexes; one must match text (none: any) */
    int nmatch;
    char frames[8][128];        /* every one must appear in the evidence */
    int nframes;
    char qemu_min[32], qemu_below[32];   /* version range [min, below); "" open */
};

struct lab_known {
    int n;
    struct lab_known_issue issue[LAB_KNOWN_MAX];
};

/* Load the known-issues YAML file; errors name the file, line and key. */
bool lab_known_load(struct lab_known *k, const char *path, struct vqh_err *err);
/* The first signature that matches f, or NULL. */
const struct lab_known_issue *lab_known_match(const struct lab_known *k, const struct lab_failure *f);

/* Compare dotted versions ("7.2.22" < "9.0"): <0, 0, >0. */
int lab_version_cmp(const char *a, const char *b);

#endif
