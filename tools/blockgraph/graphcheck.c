/* graphcheck.c: the nodes a QEMU really has (query-named-block-nodes) against the nodes the
 * run's --disk-graph builds: after every hop, the destination must have the same graph. */
#include "blockgraph.h"
#include "qmp.h"
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Expected nodes of disk i, bottom up: name and driver. */
static int graphcheck_expected(const struct vqh_opts *o, int disk, char names[4][32], const char *drv[4])
{
    struct bg_spec sp;
    int n = 0;
    bg_spec_of(o, disk, &sp);
    if (!strcmp(o->backend, "null-co")) {
        blockgraph_format_node(disk, names[n], 32);
        drv[n++] = "null-co";
        return n;
    }
    blockgraph_proto_node(disk, names[n], 32);
    drv[n++] = sp.nbd ? "nbd" : "file";
    if (sp.align) {
        blockgraph_align_node(disk, names[n], 32);
        drv[n++] = "blkdebug";
    }
    blockgraph_format_node(disk, names[n], 32);
    drv[n++] = sp.qcow2 ? "qcow2" : "raw";
    if (sp.group[0]) {
        blockgraph_throttle_node(disk, names[n], 32);
        drv[n++] = "throttle";
    }
    return n;
}

static json_t *graphcheck_query(struct qmp *q, int timeout_ms, struct vqh_err *err)
{
    return qmp_cmd(q, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), timeout_ms, err);
}

/* The protocol node must reach the run's image: the file itself, or its NBD export. */
static bool graphcheck_target(const json_t *node, const struct vqh_opts *o, int disk, const char *image,
                              const char *label, struct vqh_err *err)
{
    struct bg_spec sp;
    char exp[48];
    const char *file = json_string_value(json_object_get(node, "file")) ?: "";
    bg_spec_of(o, disk, &sp);
    blockgraph_nbd_export(disk, exp, sizeof(exp));
    if (sp.nbd ? strstr(file, exp) != NULL : !strcmp(file, image))
        return true;
    vqh_err_set(err, "query-named-block-nodes on %s: the protocol node of data disk %d reaches '%s', not %s %s",
                label, disk, file, sp.nbd ? "the NBD export" : "the image", sp.nbd ? exp : image);
    return false;
}

bool blockgraph_check(struct qmp *q, const struct vqh_opts *o, int ndisks, const char *const *images,
                      const char *label, int timeout_ms, struct vqh_err *err)
{
    json_t *r = graphcheck_query(q, timeout_ms, err), *node;
    if (!r)
        return false;
    for (int d = 0; d < ndisks; d++) {
        char names[4][32];
        const char *drv[4];
        int n = graphcheck_expected(o, d, names, drv);
        for (int k = 0; k < n; k++) {
            size_t i;
            const char *got = NULL;
            const json_t *found = NULL;
            json_array_foreach(r, i, node) {
                if (!strcmp(json_string_value(json_object_get(node, "node-name")) ?: "", names[k])) {
                    got = json_string_value(json_object_get(node, "drv")) ?: "?";
                    found = node;
                }
            }
            if (!got || strcmp(got, drv[k])) {
                if (got)
                    vqh_err_set(err, "query-named-block-nodes on %s: node %s of data disk %d has driver %s, not %s",
                                label, names[k], d, got, drv[k]);
                else
                    vqh_err_set(err, "query-named-block-nodes on %s: node %s (%s) of data disk %d is missing",
                                label, names[k], drv[k], d);
                json_decref(r);
                return false;
            }
            if (k == 0 && strcmp(drv[0], "null-co") && !graphcheck_target(found, o, d, images[d], label, err)) {
                json_decref(r);
                return false;
            }
        }
    }
    json_decref(r);
    return true;
}

char *blockgraph_nodes_text(struct qmp *q, int timeout_ms)
{
    struct vqh_err err;
    json_t *r = graphcheck_query(q, timeout_ms, &err), *node;
    size_t i, cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out) {
        json_decref(r);
        return NULL;
    }
    if (!r) {
        snprintf(out, cap, "  (query-named-block-nodes failed: %s)\n", err.msg);
        return out;
    }
    out[0] = 0;
    /* One line a node: enough to see the graph; the full reply is in the QMP transcript. */
    json_array_foreach(r, i, node) {
        char line[512];
        int n = snprintf(line, sizeof(line), "  %s: %s %s%s\n",
                         json_string_value(json_object_get(node, "node-name")) ?: "?",
                         json_string_value(json_object_get(node, "drv")) ?: "?",
                         json_string_value(json_object_get(node, "file")) ?: "",
                         json_is_true(json_object_get(node, "ro")) ? " (read-only)" : "");
        if (len + (size_t)n + 1 > cap) {
            char *bigger = realloc(out, cap * 2);
            if (!bigger)
                break;
            out = bigger;
            cap *= 2;
        }
        memcpy(out + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    json_decref(r);
    return out;
}
