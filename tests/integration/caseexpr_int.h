/*
 * caseexpr_int.h: the tree of a parsed `expect` expression, shared by the parser
 * (caseexpr_parse.c) and the evaluator (caseexpr_eval.c); not for anyone else.
 */
#ifndef VQH_CASEEXPR_INT_H
#define VQH_CASEEXPR_INT_H

#include <regex.h>

#include "caseexpr.h"

enum cx_kind { CX_OR, CX_AND, CX_NOT, CX_CMP, CX_TRUTH, CX_ARITH, CX_LIT, CX_ROOT, CX_OUTPUT, CX_EXIT, CX_VAR,
               CX_FUNC, CX_STEP };
enum cx_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_RE, OP_NRE, OP_EXISTS };
enum cx_step { ST_KEY, ST_INDEX, ST_SLICE, ST_ALL, ST_FILTER };

#define CX_MAX_CONDS 4
#define CX_KEY_MAX 64

struct cx_cond {
    char key[CX_KEY_MAX]; /* dotted path inside the element */
    int op;               /* OP_EXISTS: the key is there */
    json_t *lit;
    regex_t re;
    bool has_re;
};

struct cx_node {
    enum cx_kind kind;
    int op;                    /* CX_CMP: enum cx_op; CX_ARITH: '+', '-', '*', '/' */
    struct cx_node *a, *b;     /* operands; CX_STEP: a is the base; CX_FUNC: the arguments */
    json_t *lit;               /* CX_LIT */
    char name[CX_KEY_MAX];     /* CX_VAR, CX_FUNC, ST_KEY */
    int step;
    long idx, lo, hi, by;      /* ST_INDEX; ST_SLICE [lo:hi:by] */
    bool has_lo, has_hi;
    struct cx_cond conds[CX_MAX_CONDS];
    int nconds;
    regex_t re;                /* a literal regex, compiled once: CX_CMP with ~, capture() */
    bool has_re;
};

#endif
