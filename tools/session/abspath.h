/*
 * abspath.h: realpath(3) into a bounded buffer. realpath with a buffer writes up to PATH_MAX
 * bytes whatever the buffer's size; the tools keep paths in OPTS_PATH_MAX buffers, so a long
 * resolved path must be refused, not written past the end.
 */
#ifndef VQH_ABSPATH_H
#define VQH_ABSPATH_H

#include <stdbool.h>
#include <stddef.h>

/* The canonical absolute path of `in` into out (cap bytes). False with errno set: realpath's
 * (ENOENT, ...), or ENAMETOOLONG when it does not fit; out is then untouched. */
bool abspath_resolve(const char *in, char *out, size_t cap);

#endif
