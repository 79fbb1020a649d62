/*
 * lab_yaml.h: small helpers over libyaml's document API for the lab's data files (the matrix,
 * the known issues): every error names the file, the line and the key.
 */
#ifndef VQH_LAB_YAML_H
#define VQH_LAB_YAML_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "err.h"

struct lab_yaml {
    const char *path;
    yaml_document_t doc;
    bool loaded;
};

/* Load the first document of path; an empty file is an error. */
bool lab_yaml_load(struct lab_yaml *y, const char *path, struct vqh_err *err);
void lab_yaml_free(struct lab_yaml *y);

yaml_node_t *lab_yaml_root(struct lab_yaml *y);
yaml_node_t *lab_yaml_node(struct lab_yaml *y, int index);
static inline int lab_yaml_line(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

/* A scalar's text, or NULL when n is not a scalar. */
const char *lab_yaml_str(const yaml_node_t *n);

/* Error "PATH:LINE: key 'KEY': MESSAGE" (key NULL: without the key part). Returns false. */
__attribute__((format(printf, 5, 6))) bool lab_yaml_fail(struct lab_yaml *y, const yaml_node_t *n,
                                                         const char *key, struct vqh_err *err,
                                                         const char *fmt, ...);

/* Typed scalars; each fails with the file, line and key when the node is not one. */
bool lab_yaml_get_str(struct lab_yaml *y, yaml_node_t *n, const char *key, char *out, size_t cap,
                      struct vqh_err *err);
bool lab_yaml_get_int(struct lab_yaml *y, yaml_node_t *n, const char *key, long long min, long long max,
                      long long *out, struct vqh_err *err);
bool lab_yaml_get_u64(struct lab_yaml *y, yaml_node_t *n, const char *key, uint64_t *out, struct vqh_err *err);
bool lab_yaml_get_bool(struct lab_yaml *y, yaml_node_t *n, const char *key, bool *out, struct vqh_err *err);

/* Require a mapping or a sequence (fails with the key named). */
bool lab_yaml_want(struct lab_yaml *y, yaml_node_t *n, yaml_node_type_t type, const char *key,
                   struct vqh_err *err);

#endif
