/* lab_matrix_int.h: the parts of the matrix parser shared by lab_matrix.c and lab_matrix_opts.c. */
#ifndef VQH_LAB_MATRIX_INT_H
#define VQH_LAB_MATRIX_INT_H

#include "lab.h"
#include "lab_yaml.h"

/* Named scenarios of one kind (storage, hops or caps): name -> vqhammer options. */
struct scenarios {
    int n;
    char name[32][LAB_NAME_MAX];
    struct lab_optset set[32];
};

/* Letters, digits, '.', '-', '_': names that are safe in ids, paths and command lines. */
bool lab_mx_name_ok(const char *s);
/* v is one of "a|b|c". */
bool lab_mx_choice_ok(const char *choices, const char *v);
/* Set key in s, replacing an earlier value (later scenarios win); false when s is full. */
bool lab_mx_optset_put(struct lab_optset *s, const char *key, const char *value);
/* A mapping of vqhammer options, each checked against its kind (number, flag, choice). */
bool lab_mx_parse_optset(struct lab_yaml *y, yaml_node_t *map, const char *what, struct lab_optset *out,
                         struct vqh_err *err);
bool lab_mx_parse_scenarios(struct lab_yaml *y, yaml_node_t *map, const char *what, struct scenarios *s,
                            struct vqh_err *err);
/* One option checked by vqhammer's own parser (ranges, words, --disk-graph SPECs, action lists):
 * err holds vqhammer's message, which names the flag and the fix. */
bool lab_mx_check_opt(const struct lab_opt *opt, struct vqh_err *err);
/* A cell's whole command line through vqhammer's parser and its cross-checks (block graphs, hop
 * actions, hot-plug): combinations vqhammer would refuse. */
bool lab_mx_check_cell(const struct lab_matrix *m, const struct lab_cell *c, struct vqh_err *err);
bool lab_mx_parse_builds(struct lab_yaml *y, yaml_node_t *seq, struct lab_matrix *m, struct vqh_err *err);

#endif
