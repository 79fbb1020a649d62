/*
 * lab_matrix.c: the matrix file (YAML) into cells. Top-level keys:
 *   name, seed, cell_timeout, reruns {same_seed, fresh_seeds}, known_issues, defaults {OPTIONS},
 *   builds [{name, qemu, qemu_dst}], axes {build, machine, boot, smp, queues, iothreads, storage,
 *   hops, caps: value or [values]}, storage|hops|caps {SCENARIO: {OPTIONS}}, exclude, only
 *   [{AXIS: value or [values]}].
 * OPTIONS are vqhammer's own options (README), spelled with '_' (run_seconds: 5, postcopy: true).
 */
#include "lab_matrix_int.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const axis_names[LAB_NAXES] = {
    "build", "machine", "boot", "smp", "queues", "iothreads", "storage", "hops", "caps",
};

const char *lab_axis_name(enum lab_axis a)
{
    return a < LAB_NAXES ? axis_names[a] : "?";
}

/* Everything found in the file, before expansion. */
struct axis_vals {
    int n;
    char v[32][LAB_NAME_MAX];
    yaml_node_t *node[32];
};

struct parsed {
    struct lab_optset defaults;
    struct axis_vals ax[LAB_NAXES];
    struct scenarios sc[3];          /* storage, hops, caps */
    yaml_node_t *exclude, *only;
};


static bool parse_axes(struct lab_yaml *y, yaml_node_t *map, struct parsed *ps, struct vqh_err *err)
{
    if (!lab_yaml_want(y, map, YAML_MAPPING_NODE, "axes", err))
        return false;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = lab_yaml_node(y, p->key), *v = lab_yaml_node(y, p->value);
        const char *key = lab_yaml_str(k) ? lab_yaml_str(k) : "?";
        int a = 0;
        while (a < LAB_NAXES && strcmp(axis_names[a], key))
            a++;
        if (a == LAB_NAXES)
            return lab_yaml_fail(y, k, key, err, "not an axis (build, machine, boot, smp, queues, "
                                 "iothreads, storage, hops, caps)");
        struct axis_vals *av = &ps->ax[a];
        av->n = 0;
        yaml_node_item_t one = p->value, *start = &one, *top = &one + 1;
        if (v && v->type == YAML_SEQUENCE_NODE) {
            start = v->data.sequence.items.start;
            top = v->data.sequence.items.top;
        }
        for (yaml_node_item_t *it = start; it < top; it++) {
            yaml_node_t *e = lab_yaml_node(y, *it);
            if (av->n >= 32)
                return lab_yaml_fail(y, e, key, err, "too many values (at most 32)");
            if (!lab_yaml_get_str(y, e, key, av->v[av->n], LAB_NAME_MAX, err))
                return false;
            long long num;
            if ((a == LAB_AX_SMP || a == LAB_AX_QUEUES || a == LAB_AX_IOTHREADS) &&
                !lab_yaml_get_int(y, e, key, a == LAB_AX_IOTHREADS ? 0 : 1, 64, &num, err))
                return false;
            if (a == LAB_AX_BOOT && !lab_mx_choice_ok("uefi|pvh", av->v[av->n]))
                return lab_yaml_fail(y, e, key, err, "'%s' is not a boot path (uefi, pvh)", av->v[av->n]);
            if (!lab_mx_name_ok(av->v[av->n]))
                return lab_yaml_fail(y, e, key, err, "'%s': use letters, digits, '.', '-', '_'", av->v[av->n]);
            av->node[av->n++] = e;
        }
        if (!av->n)
            return lab_yaml_fail(y, v, key, err, "an axis needs at least one value");
    }
    return true;
}

/* Every value an axis rule names must exist on that axis: a typo would silently match nothing. */
static bool check_rules(struct lab_yaml *y, yaml_node_t *seq, const char *what, struct parsed *ps,
                        struct vqh_err *err)
{
    if (!seq)
        return true;
    if (!lab_yaml_want(y, seq, YAML_SEQUENCE_NODE, what, err))
        return false;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *r = lab_yaml_node(y, *it);
        if (!lab_yaml_want(y, r, YAML_MAPPING_NODE, what, err))
            return false;
        for (yaml_node_pair_t *p = r->data.mapping.pairs.start; p < r->data.mapping.pairs.top; p++) {
            yaml_node_t *k = lab_yaml_node(y, p->key), *v = lab_yaml_node(y, p->value);
            const char *key = lab_yaml_str(k) ? lab_yaml_str(k) : "?";
            int a = 0;
            while (a < LAB_NAXES && strcmp(axis_names[a], key))
                a++;
            if (a == LAB_NAXES)
                return lab_yaml_fail(y, k, key, err, "not an axis (in %s)", what);
            yaml_node_item_t one = p->value, *start = &one, *top = &one + 1;
            if (v && v->type == YAML_SEQUENCE_NODE) {
                start = v->data.sequence.items.start;
                top = v->data.sequence.items.top;
            }
            for (yaml_node_item_t *e = start; e < top; e++) {
                const char *val = lab_yaml_str(lab_yaml_node(y, *e));
                bool found = false;
                for (int i = 0; val && i < ps->ax[a].n; i++)
                    found |= !strcmp(ps->ax[a].v[i], val);
                if (!found)
                    return lab_yaml_fail(y, lab_yaml_node(y, *e), key, err, "'%s' is not a value of axis %s (in %s)",
                                         val ? val : "?", key, what);
            }
        }
    }
    return true;
}

static bool rule_matches(struct lab_yaml *y, yaml_node_t *r, const struct lab_cell *c)
{
    for (yaml_node_pair_t *p = r->data.mapping.pairs.start; p < r->data.mapping.pairs.top; p++) {
        const char *key = lab_yaml_str(lab_yaml_node(y, p->key));
        yaml_node_t *v = lab_yaml_node(y, p->value);
        int a = 0;
        while (a < LAB_NAXES && strcmp(axis_names[a], key))
            a++;
        yaml_node_item_t one = p->value, *start = &one, *top = &one + 1;
        if (v->type == YAML_SEQUENCE_NODE) {
            start = v->data.sequence.items.start;
            top = v->data.sequence.items.top;
        }
        bool any = false;
        for (yaml_node_item_t *e = start; e < top; e++)
            any |= !strcmp(lab_yaml_str(lab_yaml_node(y, *e)), c->axis[a]);
        if (!any)
            return false;
    }
    return true;
}

static bool rules_match(struct lab_yaml *y, yaml_node_t *seq, const struct lab_cell *c)
{
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++)
        if (rule_matches(y, lab_yaml_node(y, *it), c))
            return true;
    return false;
}

static int scenario_index(const struct scenarios *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name))
            return i;
    return -1;
}

static bool expand(struct lab_yaml *y, struct parsed *ps, struct lab_matrix *m, struct vqh_err *err)
{
    /* Scenario and build names on the axes must be defined. */
    for (int a = LAB_AX_STORAGE; a <= LAB_AX_CAPS; a++)
        for (int i = 0; i < ps->ax[a].n; i++)
            if (scenario_index(&ps->sc[a - LAB_AX_STORAGE], ps->ax[a].v[i]) < 0 &&
                strcmp(ps->ax[a].v[i], "default"))
                return lab_yaml_fail(y, ps->ax[a].node[i], axis_names[a], err,
                                     "no %s scenario named '%s' (define it under the top-level key %s)",
                                     axis_names[a], ps->ax[a].v[i], axis_names[a]);
    int bidx[32];
    for (int i = 0; i < ps->ax[LAB_AX_BUILD].n; i++) {
        bidx[i] = -1;
        for (int b = 0; b < m->nbuilds; b++)
            if (!strcmp(m->builds[b].name, ps->ax[LAB_AX_BUILD].v[i]))
                bidx[i] = b;
        if (bidx[i] < 0)
            return lab_yaml_fail(y, ps->ax[LAB_AX_BUILD].node[i], "build", err,
                                 "no build named '%s' (define it under builds)", ps->ax[LAB_AX_BUILD].v[i]);
    }
    size_t total = 1;
    for (int a = 0; a < LAB_NAXES; a++)
        total *= (size_t)ps->ax[a].n;
    if (total > 100000)
        return lab_yaml_fail(y, lab_yaml_root(y), "axes", err, "%zu combinations is too many", total);
    m->cells = calloc(total, sizeof(*m->cells));
    if (!m->cells)
        return lab_yaml_fail(y, lab_yaml_root(y), NULL, err, "out of memory");
    int idx[LAB_NAXES] = {0};
    for (size_t n = 0; n < total; n++) {
        struct lab_cell *c = &m->cells[m->ncells];
        memset(c, 0, sizeof(*c));
        static const char *const prefix[LAB_NAXES] = {"", "", "", "smp", "q", "io", "", "", ""};
        size_t off = 0;
        for (int a = 0; a < LAB_NAXES; a++) {
            snprintf(c->axis[a], LAB_NAME_MAX, "%s", ps->ax[a].v[idx[a]]);
            off += (size_t)snprintf(off < LAB_ID_MAX ? c->id + off : NULL, off < LAB_ID_MAX ? LAB_ID_MAX - off : 0,
                                    "%s%s%s", a ? "+" : "", prefix[a], ps->ax[a].v[idx[a]]);
        }
        c->build = bidx[idx[LAB_AX_BUILD]];
        c->smp = atoi(c->axis[LAB_AX_SMP]);
        c->opts = ps->defaults;
        for (int a = LAB_AX_STORAGE; a <= LAB_AX_CAPS; a++) {
            int si = scenario_index(&ps->sc[a - LAB_AX_STORAGE], c->axis[a]);
            const struct lab_optset *s = si >= 0 ? &ps->sc[a - LAB_AX_STORAGE].set[si] : NULL;
            for (int i = 0; s && i < s->n; i++)
                if (!lab_mx_optset_put(&c->opts, s->o[i].key, s->o[i].value))
                    return lab_yaml_fail(y, lab_yaml_root(y), NULL, err, "cell %s: too many options", c->id);
        }
        bool keep = off < LAB_ID_MAX && !(ps->exclude && rules_match(y, ps->exclude, c)) &&
                    !(ps->only && !rules_match(y, ps->only, c));
        if (off >= LAB_ID_MAX)
            return lab_yaml_fail(y, lab_yaml_root(y), NULL, err, "cell id too long: shorten the names");
        if (keep) {
            c->seed = lab_seed_cell(m->seed, c->id);
            struct vqh_err why = {0};
            if (!lab_mx_check_cell(m, c, &why))
                return lab_yaml_fail(y, lab_yaml_root(y), NULL, err, "cell %s: vqhammer refuses this combination: %s "
                                     "(change a scenario, or drop such cells with an exclude rule)", c->id, why.msg);
            m->ncells++;
        }
        for (int a = LAB_NAXES - 1; a >= 0; a--) {   /* odometer: the last axis turns fastest */
            if (++idx[a] < ps->ax[a].n)
                break;
            idx[a] = 0;
        }
    }
    if (!m->ncells)
        return lab_yaml_fail(y, lab_yaml_root(y), "only", err, "the exclude/only rules leave no cell to run");
    return true;
}

static bool parse_top(struct lab_yaml *y, struct lab_matrix *m, struct parsed *ps, uint64_t seed,
                      struct vqh_err *err)
{
    yaml_node_t *root = lab_yaml_root(y);
    if (!lab_yaml_want(y, root, YAML_MAPPING_NODE, "(top level)", err))
        return false;
    bool have_builds = false;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = lab_yaml_node(y, p->key), *v = lab_yaml_node(y, p->value);
        const char *key = lab_yaml_str(k) ? lab_yaml_str(k) : "?";
        long long num;
        bool ok = true;
        if (!strcmp(key, "name")) {
            ok = lab_yaml_get_str(y, v, key, m->name, sizeof(m->name), err);
            if (ok && !lab_mx_name_ok(m->name))
                ok = lab_yaml_fail(y, v, key, err, "use letters, digits, '.', '-', '_'");
        } else if (!strcmp(key, "seed")) {
            ok = lab_yaml_get_u64(y, v, key, &m->seed, err);
        } else if (!strcmp(key, "cell_timeout")) {
            ok = lab_yaml_get_int(y, v, key, 10, 86400, &num, err);
            m->cell_timeout_s = (int)num;
        } else if (!strcmp(key, "reruns")) {
            ok = lab_yaml_want(y, v, YAML_MAPPING_NODE, key, err);
            for (yaml_node_pair_t *q = ok ? v->data.mapping.pairs.start : NULL; ok && q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *k2 = lab_yaml_node(y, q->key);
                const char *key2 = lab_yaml_str(k2) ? lab_yaml_str(k2) : "?";
                int *dst = !strcmp(key2, "same_seed") ? &m->rerun_same : !strcmp(key2, "fresh_seeds") ? &m->rerun_fresh : NULL;
                if (!dst)
                    ok = lab_yaml_fail(y, k2, key2, err, "unknown key in reruns (same_seed, fresh_seeds)");
                else if ((ok = lab_yaml_get_int(y, lab_yaml_node(y, q->value), key2, 0, 20, &num, err)))
                    *dst = (int)num;
            }
        } else if (!strcmp(key, "known_issues")) {
            char rel[LAB_PATH_MAX];
            ok = lab_yaml_get_str(y, v, key, rel, sizeof(rel), err);
            if (ok && rel[0] != '/') {
                char dir[LAB_PATH_MAX];
                snprintf(dir, sizeof(dir), "%s", m->path);
                snprintf(m->known_issues, sizeof(m->known_issues), "%s/%s", dirname(dir), rel);
            } else if (ok) {
                snprintf(m->known_issues, sizeof(m->known_issues), "%s", rel);
            }
        } else if (!strcmp(key, "defaults")) {
            ok = lab_mx_parse_optset(y, v, key, &ps->defaults, err);
        } else if (!strcmp(key, "builds")) {
            ok = lab_mx_parse_builds(y, v, m, err);
            have_builds = true;
        } else if (!strcmp(key, "axes")) {
            ok = parse_axes(y, v, ps, err);
        } else if (!strcmp(key, "storage") || !strcmp(key, "hops") || !strcmp(key, "caps")) {
            int i = key[0] == 's' ? 0 : key[0] == 'h' ? 1 : 2;
            ok = lab_mx_parse_scenarios(y, v, key, &ps->sc[i], err);
        } else if (!strcmp(key, "exclude") || !strcmp(key, "only")) {
            ok = lab_yaml_want(y, v, YAML_SEQUENCE_NODE, key, err);
            *(key[0] == 'e' ? &ps->exclude : &ps->only) = v;
        } else {
            ok = lab_yaml_fail(y, k, key, err, "unknown top-level key (name, seed, cell_timeout, reruns, "
                               "known_issues, defaults, builds, axes, storage, hops, caps, exclude, only)");
        }
        if (!ok)
            return false;
    }
    if (!have_builds) {   /* no builds: the system's QEMU, named "system" */
        m->nbuilds = 1;
        snprintf(m->builds[0].name, LAB_NAME_MAX, "system");
        snprintf(m->builds[0].qemu, LAB_PATH_MAX, "qemu-system-x86_64");
    }
    if (seed)
        m->seed = seed;
    if (!ps->ax[LAB_AX_BUILD].n)   /* no build axis: every build */
        for (int b = 0; b < m->nbuilds; b++)
            snprintf(ps->ax[LAB_AX_BUILD].v[ps->ax[LAB_AX_BUILD].n++], LAB_NAME_MAX, "%s", m->builds[b].name);
    return check_rules(y, ps->exclude, "exclude", ps, err) && check_rules(y, ps->only, "only", ps, err);
}

static void axis_default(struct axis_vals *av, const char *v)
{
    av->n = 1;
    snprintf(av->v[0], LAB_NAME_MAX, "%s", v);
    av->node[0] = NULL;
}

bool lab_matrix_load(struct lab_matrix *m, const char *path, uint64_t seed, struct vqh_err *err)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->path, sizeof(m->path), "%s", path);
    snprintf(m->name, sizeof(m->name), "night");
    m->seed = 1;
    m->cell_timeout_s = 1800;
    m->rerun_same = 1;
    m->rerun_fresh = 2;
    struct parsed *ps = calloc(1, sizeof(*ps));
    if (!ps) {
        vqh_err_set(err, "%s: out of memory", path);
        return false;
    }
    axis_default(&ps->ax[LAB_AX_MACHINE], "pc-q35-7.2");
    axis_default(&ps->ax[LAB_AX_BOOT], "pvh");
    axis_default(&ps->ax[LAB_AX_SMP], "2");
    axis_default(&ps->ax[LAB_AX_QUEUES], "4");
    axis_default(&ps->ax[LAB_AX_IOTHREADS], "1");
    axis_default(&ps->ax[LAB_AX_STORAGE], "default");
    axis_default(&ps->ax[LAB_AX_HOPS], "default");
    axis_default(&ps->ax[LAB_AX_CAPS], "default");
    struct lab_yaml y;
    bool ok = lab_yaml_load(&y, path, err);
    if (ok) {
        ok = parse_top(&y, m, ps, seed, err);
        ok = ok && expand(&y, ps, m, err);
        lab_yaml_free(&y);
    }
    free(ps);
    if (!ok)
        lab_matrix_free(m);
    return ok;
}

void lab_matrix_free(struct lab_matrix *m)
{
    free(m->cells);
    m->cells = NULL;
    m->ncells = 0;
}

int lab_matrix_find(const struct lab_matrix *m, const char *id)
{
    for (int i = 0; i < m->ncells; i++)
        if (!strcmp(m->cells[i].id, id))
            return i;
    return -1;
}
