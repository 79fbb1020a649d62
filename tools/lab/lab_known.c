/*
 * lab_known.c: known QEMU bug signatures (tests/lab/known-issues.yaml) matched against every
 * failure, so a night tells new failures from known ones. A file:
 *   issues:
 *     - id: ..., title: ..., classes: [...], accel: tcg, after_hop: true, match: [regex...],
 *       frames: [backtrace function...], qemu_min: "7.0", qemu_below: "9.0", fixed_in: "9.0",
 *       upstream_fix: "<commit> <subject>", url: ...
 */
#include "lab_verdict.h"
#include "lab_yaml.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

int lab_version_cmp(const char *a, const char *b)
{
    for (int i = 0; i < 4; i++) {
        long x = strtol(a, (char **)&a, 10), y = strtol(b, (char **)&b, 10);
        if (x != y)
            return x < y ? -1 : 1;
        a += *a == '.';
        b += *b == '.';
    }
    return 0;
}

static bool get_list(struct lab_yaml *y, yaml_node_t *v, const char *key, char *out, size_t width,
                     int max, int *n, struct vqh_err *err)
{
    *n = 0;
    if (v->type == YAML_SCALAR_NODE)
        return lab_yaml_get_str(y, v, key, out, width, err) && (*n = 1);
    if (!lab_yaml_want(y, v, YAML_SEQUENCE_NODE, key, err))
        return false;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        if (*n >= max)
            return lab_yaml_fail(y, v, key, err, "at most %d entries", max);
        if (!lab_yaml_get_str(y, lab_yaml_node(y, *it), key, out + (size_t)*n * width, width, err))
            return false;
        (*n)++;
    }
    return true;
}

static bool parse_issue(struct lab_yaml *y, yaml_node_t *m, struct lab_known_issue *ki, struct vqh_err *err)
{
    if (!lab_yaml_want(y, m, YAML_MAPPING_NODE, "issues", err))
        return false;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = lab_yaml_node(y, p->key), *v = lab_yaml_node(y, p->value);
        const char *key = lab_yaml_str(k) ? lab_yaml_str(k) : "?";
        bool ok;
#define STR(f) (!strcmp(key, #f)) ok = lab_yaml_get_str(y, v, key, ki->f, sizeof(ki->f), err)
        if STR(id);
        else if STR(title);
        else if STR(fixed_in);
        else if STR(upstream_fix);
        else if STR(url);
        else if STR(accel);
        else if STR(qemu_min);
        else if STR(qemu_below);
#undef STR
        else if (!strcmp(key, "after_hop"))
            ok = lab_yaml_get_bool(y, v, key, &ki->after_hop, err);
        else if (!strcmp(key, "classes"))
            ok = get_list(y, v, key, ki->classes[0], sizeof(ki->classes[0]), 8, &ki->nclasses, err);
        else if (!strcmp(key, "frames"))
            ok = get_list(y, v, key, ki->frames[0], sizeof(ki->frames[0]), 8, &ki->nframes, err);
        else if (!strcmp(key, "match")) {
            ok = get_list(y, v, key, ki->match[0], sizeof(ki->match[0]), 8, &ki->nmatch, err);
            for (int i = 0; ok && i < ki->nmatch; i++) {
                regex_t re;
                if (regcomp(&re, ki->match[i], REG_EXTENDED | REG_ICASE | REG_NOSUB))
                    ok = lab_yaml_fail(y, v, key, err, "'%s' is not a POSIX extended regular expression", ki->match[i]);
                else
                    regfree(&re);
            }
        } else
            ok = lab_yaml_fail(y, k, key, err, "unknown key in an issue (id, title, classes, accel, after_hop, "
                               "match, frames, qemu_min, qemu_below, fixed_in, upstream_fix, url)");
        if (!ok)
            return false;
    }
    if (!ki->id[0] || !ki->title[0])
        return lab_yaml_fail(y, m, "issues", err, "an issue needs an id and a title");
    return true;
}

bool lab_known_load(struct lab_known *k, const char *path, struct vqh_err *err)
{
    memset(k, 0, sizeof(*k));
    struct lab_yaml y;
    if (!lab_yaml_load(&y, path, err))
        return false;
    yaml_node_t *root = lab_yaml_root(&y);
    bool ok = lab_yaml_want(&y, root, YAML_MAPPING_NODE, "(top level)", err);
    for (yaml_node_pair_t *p = ok ? root->data.mapping.pairs.start : NULL; ok && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *key = lab_yaml_node(&y, p->key), *v = lab_yaml_node(&y, p->value);
        if (!lab_yaml_str(key) || strcmp(lab_yaml_str(key), "issues")) {
            ok = lab_yaml_fail(&y, key, lab_yaml_str(key) ? lab_yaml_str(key) : "?", err, "unknown top-level key (issues)");
            break;
        }
        ok = lab_yaml_want(&y, v, YAML_SEQUENCE_NODE, "issues", err);
        for (yaml_node_item_t *it = ok ? v->data.sequence.items.start : NULL; ok && it < v->data.sequence.items.top; it++) {
            if (k->n >= LAB_KNOWN_MAX) {
                ok = lab_yaml_fail(&y, v, "issues", err, "at most %d issues", LAB_KNOWN_MAX);
                break;
            }
            ok = parse_issue(&y, lab_yaml_node(&y, *it), &k->issue[k->n], err);
            k->n += ok;
        }
    }
    lab_yaml_free(&y);
    return ok;
}

static bool version_in(const struct lab_known_issue *ki, const char *v)
{
    if (!v || !*v)
        return false;   /* unknown version: cannot claim the bug */
    if (ki->qemu_min[0] && lab_version_cmp(v, ki->qemu_min) < 0)
        return false;
    return !ki->qemu_below[0] || lab_version_cmp(v, ki->qemu_below) < 0;
}

static bool issue_matches(const struct lab_known_issue *ki, const struct lab_failure *f)
{
    bool cls = !ki->nclasses;
    for (int i = 0; i < ki->nclasses; i++)
        cls |= f->klass && !strcmp(ki->classes[i], f->klass);
    if (!cls || (ki->accel[0] && (!f->accel || strcmp(ki->accel, f->accel))) || (ki->after_hop && !f->after_hop))
        return false;
    if ((ki->qemu_min[0] || ki->qemu_below[0]) && !version_in(ki, f->qemu_version[0]) &&
        !version_in(ki, f->qemu_version[1]))
        return false;
    bool text = !ki->nmatch;
    for (int i = 0; !text && i < ki->nmatch; i++) {
        regex_t re;
        if (regcomp(&re, ki->match[i], REG_EXTENDED | REG_ICASE | REG_NOSUB))
            continue;
        text = !regexec(&re, f->text ? f->text : "", 0, NULL, 0);
        regfree(&re);
    }
    for (int i = 0; text && i < ki->nframes; i++)
        text = f->evidence && strstr(f->evidence, ki->frames[i]);
    return text;
}

const struct lab_known_issue *lab_known_match(const struct lab_known *k, const struct lab_failure *f)
{
    for (int i = 0; k && i < k->n; i++)
        if (issue_matches(&k->issue[i], f))
            return &k->issue[i];
    return NULL;
}
