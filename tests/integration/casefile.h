/*
 * casefile.h: tests/integration/cases.cfg, the integration tests as data (one `[name]` section
 * per case, as kvm-unit-tests' unittests.cfg lists its tests). Pure logic: parsing and checking;
 * test_cases.c runs them. The README ("Integration test cases") documents every key.
 *
 *     [cancel_keeps_source]
 *     cmd     = migrate --boot pvh --accel tcg --migrations 4 --cancel-every 2
 *     exit    = 0
 *     timeout = 300
 *     expect  = .hops[1].status == "cancelled"
 *     output ~ hop 2: cancelled
 */
#ifndef VQH_CASEFILE_H
#define VQH_CASEFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "caseexpr.h"

#define CASE_NAME_MAX 64
#define CASE_MAX_CHECKS 48
#define CASE_MAX_LETS 8
#define CASE_MAX_NEEDS 4
#define CASE_MAX_FILES 8
#define CASE_ERR_MAX 600
#define CASE_CMD_TIMEOUT_S 300  /* without a timeout = line */
#define CASE_BOOT_TIMEOUT_S 60

enum case_need_kind { NEED_QEMU, NEED_KVM, NEED_PROGRAM, NEED_QEMU10 };

/* needs = qemu10: QEMU 10.0.2 as tools/deps_qemu10.sh unpacks it, or at $VQH_QEMU10; ${qemu10} in
 * cmd and qemu lines is that path (the cases that migrate on a second QEMU name it with --qemu). */
#define CASE_QEMU10_DEFAULT "/opt/qemu10/root/usr/bin/qemu-system-x86_64"

/* needs = qemu>=9.0 | qemu<9.0 | kvm | !kvm | program NAME | qemu10, then an optional (reason) */
struct case_need {
    enum case_need_kind kind;
    bool negate;            /* !kvm; for qemu: the < comparison */
    int ver[3];             /* qemu: at least this (or, negated, below it) */
    char program[64];
    char text[160];         /* as written, for the skip message */
};

/* image = NAME SIZE (a sparse raw file) or write = NAME TEXT (\n for a new line), in $dir */
struct case_file {
    char *name;
    unsigned long long size; /* image */
    char *text;              /* write; NULL: an image */
};

struct case_check {
    int line;
    char *text;              /* as written: the message names it */
    struct cx_node *expr;
};

struct vqh_case {
    char name[CASE_NAME_MAX];
    const char *path;        /* the case file, for messages */
    int line;                /* of its [name] */
    char *cmd;               /* vqhammer's arguments, or NULL */
    char *boot;              /* pvh or uefi: the guest straight under QEMU (no vqhammer), or NULL */
    int smp, mem;            /* boot: 0 for the harness defaults */
    char *config;            /* boot: the guest configuration, one `config =` line per line */
    char *qemu;              /* boot: more QEMU arguments */
    int exit;                /* the status the run must end with */
    int timeout_s;
    bool json;               /* has expect lines on the document: vqhammer gets --json */
    struct case_need needs[CASE_MAX_NEEDS];
    int nneeds;
    struct case_file files[CASE_MAX_FILES];
    int nfiles;
    struct cx_let lets[CASE_MAX_LETS];
    int nlets;
    struct case_check checks[CASE_MAX_CHECKS];
    int nchecks;
};

struct case_set {
    struct vqh_case *cases;
    int n;
};

/* Parse text (named path in errors). False with err "path:line: what; how to fix". */
bool casefile_parse(const char *path, const char *text, struct case_set *set, char *err, size_t errlen);
void casefile_free(struct case_set *set);

/* Split s into words (spaces; "..." and '...' quote), ${dir} and ${top} replaced. Caller frees
 * every word and the array (NULL-terminated). NULL on an unterminated quote. */
char **casefile_words(const char *s, const char *dir, const char *top);
void casefile_words_free(char **w);
/* QEMU 10.0.2's path: $VQH_QEMU10 when set, else CASE_QEMU10_DEFAULT */
const char *casefile_qemu10(void);

/* Does a QEMU of version have[3] meet need (a NEED_QEMU)? */
bool casefile_qemu_ok(const struct case_need *need, const int have[3]);

#endif
