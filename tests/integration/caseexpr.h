/*
 * caseexpr.h: the assertion language of tests/integration/cases.cfg (`expect = ...`), evaluated on
 * the --json document of a run (jansson parses it; this only walks it). Pure logic: no process,
 * no QEMU; the runner hands in the document, the output text and the exit status.
 *
 *     .hops[*].ok == true                      every hop (at least one)
 *     len(.hops) == 20                         .hops[1:].src == .hops[:-1].dst (pairwise)
 *     .reason ~ "crashed" && .fault == "qemu"  output ~ "unknown option"   exit == 1
 *     sum(.disks[*].queues[*].bursts) > 0      first(.msgs[?class == "timeout"]).age_ms >= 400
 *     file(.rundir + "/evidence.txt") ~ "vqhmirror0 mirror ready"
 *
 * A path yields a list of values ([*], slices and [?filter] expand; a missing member is a missing
 * value, kept in place). A comparison holds when it holds for every pair (lists of equal length
 * pairwise, a single value against each) and there is at least one: nothing passes vacuously.
 * The README ("Integration test cases") is the reference.
 */
#ifndef VQH_CASEEXPR_H
#define VQH_CASEEXPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CX_ERR_MAX 512

struct cx_node;

/* A named sub-expression (`let NAME = EXPR`), used as $NAME. */
struct cx_let {
    char name[32];
    struct cx_node *expr;
};

/* What an expression is evaluated on. */
struct cx_ctx {
    json_t *doc;            /* the run's document (borrowed); NULL: none */
    const char *output;     /* the run's output text; NULL: none */
    int exit;               /* the run's exit status (-1: timed out or killed) */
    const char *dir;        /* the case's scratch directory: $dir */
    const struct cx_let *lets;
    size_t nlets;
};

/*
 * Parse text; NULL with err ("column 12: expected ')'") when it is not an expression. Names of
 * $variables must be "dir" or one of lets[0..nlets).
 */
struct cx_node *cx_parse(const char *text, const struct cx_let *lets, size_t nlets, char *err, size_t errlen);
/* A value, not a condition: what `let NAME = ...` binds. */
struct cx_node *cx_parse_value(const char *text, const struct cx_let *lets, size_t nlets, char *err, size_t errlen);
void cx_free(struct cx_node *n);
/* True when it holds; false with why ("`.hops[3].ok` is false, not == true"). */
bool cx_check(const struct cx_node *n, const struct cx_ctx *c, char *why, size_t whylen);

#endif
