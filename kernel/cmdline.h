/*
 * cmdline.h: parsing one host->guest command line (wire.h: WIRE_CMD_*): a word, then
 * key=value arguments separated by spaces. Pure logic: builds into the kernel and host tests.
 */
#ifndef VQH_CMDLINE_H
#define VQH_CMDLINE_H

#include "base.h"

#define CMDLINE_ARGS_MAX 8
#define CMDLINE_TOKEN_MAX 32

struct cmdline {
    char word[CMDLINE_TOKEN_MAX];
    uint32_t nargs;
    char key[CMDLINE_ARGS_MAX][CMDLINE_TOKEN_MAX];
    char value[CMDLINE_ARGS_MAX][CMDLINE_TOKEN_MAX];
};

/* False (with a reason) for an empty line, an over-long token, too many or malformed arguments. */
bool cmdline_parse(const char *line, struct cmdline *c, const char **why);
/* The value of key as an unsigned number; false if absent or not a number (decimal or 0x). */
bool cmdline_u64(const struct cmdline *c, const char *key, uint64_t *v);

#endif
