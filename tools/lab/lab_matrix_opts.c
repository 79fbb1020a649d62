/* lab_matrix_opts.c: the matrix's option sets, scenarios and builds (vqhammer options a cell may set). */
#include "lab_matrix_int.h"
#include "opts.h"

#include <stdio.h>
#include <string.h>

/* The vqhammer options a matrix may set; the lab owns the rest (seed, json, workdir, ...). */
struct opt_spec {
    const char *key;
    char kind;             /* lab.h, lab_opt_kind: i, s, b, m, e, l (repeated flag), c (comma list), d (disks) */
    const char *choices;   /* for e: "a|b|c" */
};

static const struct opt_spec opt_specs[] = {
    {"command", 'e', "migrate|run"}, {"accel", 'e', "auto|kvm|tcg"}, {"mem", 'i', NULL},
    {"disk_size", 's', NULL}, {"queue_size", 'i', NULL}, {"aio", 'e', "threads|native|io_uring"},
    {"cache", 's', NULL}, {"disk_opts", 's', NULL}, {"guest_config", 's', NULL},
    {"guest_mode", 'e', "irq|poll"}, {"migrations", 'i', NULL}, {"duration", 'i', NULL},
    {"run_seconds", 'i', NULL}, {"transport", 'e', "unix|tcp"}, {"multifd", 'm', NULL},
    {"postcopy", 'b', NULL}, {"xbzrle", 'b', NULL}, {"auto_converge", 'b', NULL},
    {"check_ram", 'b', NULL}, {"downtime_limit", 'i', NULL}, {"bandwidth", 'i', NULL},
    {"cancel_every", 'i', NULL}, {"kill_dst_every", 'i', NULL}, {"verify", 'e', "full|sample|none"},
    {"verify_sample", 'i', NULL}, {"gap", 's', NULL}, {"migrate_timeout", 'i', NULL},
    {"boot_timeout", 'i', NULL}, {"guest_timeout", 'i', NULL},
    {"inject", 's', NULL}, {"inject_hop", 'i', NULL},
    /* Block graphs, hop actions, hot-plug, resets: the scenarios that reach QEMU's block layer. */
    {"disk_graph", 'l', NULL}, {"nbd_chaos", 's', NULL}, {"hop_actions", 'c', NULL},
    {"hop_mix", 'e', "rotate|random"}, {"hotplug_slots", 'i', NULL}, {"hotplug_every", 'i', NULL},
    {"reset_every", 'i', NULL},
    /* Not a vqhammer flag: N scratch disks the lab makes per attempt (--disk), for per-disk graphs
     * and throttle groups shared by disks. */
    {"disks", 'd', NULL},
};

static const struct opt_spec *opt_find(const char *key)
{
    for (size_t i = 0; i < sizeof(opt_specs) / sizeof(opt_specs[0]); i++)
        if (!strcmp(opt_specs[i].key, key))
            return &opt_specs[i];
    return NULL;
}

char lab_opt_kind(const char *key)
{
    const struct opt_spec *spec = opt_find(key);
    return spec ? spec->kind : 0;
}

/* A list option: one value, or a YAML list joined with sep ('\n': a flag per item; ',': one flag). */
static bool get_list(struct lab_yaml *y, yaml_node_t *v, const char *key, char sep, char *out, size_t cap,
                     struct vqh_err *err)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return lab_yaml_get_str(y, v, key, out, cap, err);
    size_t used = 0;
    out[0] = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        char item[256];
        yaml_node_t *n = lab_yaml_node(y, *it);
        if (!lab_yaml_get_str(y, n, key, item, sizeof(item), err))
            return false;
        if (!item[0] || strchr(item, sep))
            return lab_yaml_fail(y, n, key, err, "list item '%s' is empty or holds a '%s'", item,
                                 sep == '\n' ? "line break" : ",");
        int len = snprintf(out + used, cap - used, "%s%s", used ? (sep == ',' ? "," : "\n") : "", item);
        if (len < 0 || used + (size_t)len >= cap)
            return lab_yaml_fail(y, v, key, err, "list too long (at most %zu characters in all)", cap - 1);
        used += (size_t)len;
    }
    if (!used)
        return lab_yaml_fail(y, v, key, err, "an empty list: give at least one value, or drop the key");
    return true;
}

bool lab_mx_choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return true;
        p += len + (bar ? 1 : 0);
    }
    return false;
}

/* Set key in s, replacing an earlier value (later scenarios win). */
bool lab_mx_optset_put(struct lab_optset *s, const char *key, const char *value)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->o[i].key, key)) {
            snprintf(s->o[i].value, sizeof(s->o[i].value), "%s", value);
            return true;
        }
    if (s->n >= LAB_MAX_OPTS)
        return false;
    snprintf(s->o[s->n].key, sizeof(s->o[0].key), "%s", key);
    snprintf(s->o[s->n].value, sizeof(s->o[0].value), "%s", value);
    s->n++;
    return true;
}

bool lab_mx_parse_optset(struct lab_yaml *y, yaml_node_t *map, const char *what, struct lab_optset *out,
                         struct vqh_err *err)
{
    if (!lab_yaml_want(y, map, YAML_MAPPING_NODE, what, err))
        return false;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = lab_yaml_node(y, p->key), *v = lab_yaml_node(y, p->value);
        const char *key = lab_yaml_str(k);
        const struct opt_spec *spec = key ? opt_find(key) : NULL;
        if (!spec)
            return lab_yaml_fail(y, k, key ? key : "?", err,
                                 "not an option a cell may set (in %s; see README, \"The lab\": "
                                 "vqhammer's options with '_' for '-', e.g. run_seconds)", what);
        char val[sizeof(out->o[0].value)];
        if (spec->kind == 'l' || spec->kind == 'c') {
            if (!get_list(y, v, key, spec->kind == 'l' ? '\n' : ',', val, sizeof(val), err))
                return false;
        } else if (!lab_yaml_get_str(y, v, key, val, sizeof(val), err)) {
            return false;
        }
        if (v->type != YAML_SEQUENCE_NODE && strchr(val, '\n'))
            return lab_yaml_fail(y, v, key, err, "the value holds a line break: give it on one line");
        long long num;
        bool flag;
        if ((spec->kind == 'i' || spec->kind == 'm') && !lab_yaml_get_int(y, v, key, 0, 1LL << 40, &num, err))
            return false;
        if (spec->kind == 'd' && !lab_yaml_get_int(y, v, key, 1, OPTS_MAX_DISKS, &num, err))
            return false;
        if (spec->kind == 'b' && !lab_yaml_get_bool(y, v, key, &flag, err))
            return false;
        if (spec->kind == 'b')
            snprintf(val, sizeof(val), "%s", flag ? "true" : "false");
        if (spec->kind == 'e' && !lab_mx_choice_ok(spec->choices, val))
            return lab_yaml_fail(y, v, key, err, "'%s' is not one of %s", val, spec->choices);
        /* Then what vqhammer itself would say of it, with its fix, before any cell runs. */
        struct lab_opt one;
        struct vqh_err why = {0};
        snprintf(one.key, sizeof(one.key), "%s", key);
        snprintf(one.value, sizeof(one.value), "%s", val);
        if (!lab_mx_check_opt(&one, &why))
            return lab_yaml_fail(y, v, key, err, "vqhammer refuses it: %s", why.msg);
        if (!lab_mx_optset_put(out, key, val))
            return lab_yaml_fail(y, k, key, err, "too many options (at most %d)", LAB_MAX_OPTS);
    }
    return true;
}

bool lab_mx_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == '_'))
            return false;
    return true;
}

bool lab_mx_parse_scenarios(struct lab_yaml *y, yaml_node_t *map, const char *what, struct scenarios *s,
                            struct vqh_err *err)
{
    if (!lab_yaml_want(y, map, YAML_MAPPING_NODE, what, err))
        return false;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = lab_yaml_node(y, p->key);
        const char *name = lab_yaml_str(k);
        if (!name || !lab_mx_name_ok(name) || strlen(name) >= LAB_NAME_MAX)
            return lab_yaml_fail(y, k, what, err, "scenario name '%s' must be letters, digits, '.', '-', '_'",
                                 name ? name : "?");
        if (s->n >= 32)
            return lab_yaml_fail(y, k, what, err, "too many scenarios (at most 32)");
        snprintf(s->name[s->n], LAB_NAME_MAX, "%s", name);
        if (!lab_mx_parse_optset(y, lab_yaml_node(y, p->value), name, &s->set[s->n], err))
            return false;
        s->n++;
    }
    return true;
}

bool lab_mx_parse_builds(struct lab_yaml *y, yaml_node_t *seq, struct lab_matrix *m, struct vqh_err *err)
{
    if (!lab_yaml_want(y, seq, YAML_SEQUENCE_NODE, "builds", err))
        return false;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *b = lab_yaml_node(y, *it);
        if (!lab_yaml_want(y, b, YAML_MAPPING_NODE, "builds", err))
            return false;
        if (m->nbuilds >= LAB_MAX_BUILDS)
            return lab_yaml_fail(y, b, "builds", err, "too many builds (at most %d)", LAB_MAX_BUILDS);
        struct lab_build *lb = &m->builds[m->nbuilds];
        for (yaml_node_pair_t *p = b->data.mapping.pairs.start; p < b->data.mapping.pairs.top; p++) {
            yaml_node_t *k = lab_yaml_node(y, p->key), *v = lab_yaml_node(y, p->value);
            const char *key = lab_yaml_str(k) ? lab_yaml_str(k) : "?";
            bool ok;
            if (!strcmp(key, "name"))
                ok = lab_yaml_get_str(y, v, key, lb->name, sizeof(lb->name), err);
            else if (!strcmp(key, "qemu"))
                ok = lab_yaml_get_str(y, v, key, lb->qemu, sizeof(lb->qemu), err);
            else if (!strcmp(key, "qemu_dst"))
                ok = lab_yaml_get_str(y, v, key, lb->qemu_dst, sizeof(lb->qemu_dst), err);
            else
                ok = lab_yaml_fail(y, k, key, err, "unknown key in a build (name, qemu, qemu_dst)");
            if (!ok)
                return false;
        }
        if (!lab_mx_name_ok(lb->name) || !lb->qemu[0])
            return lab_yaml_fail(y, b, "builds", err, "a build needs a name (letters, digits, '.', '-', '_') and qemu");
        for (int i = 0; i < m->nbuilds; i++)
            if (!strcmp(m->builds[i].name, lb->name))
                return lab_yaml_fail(y, b, "builds", err, "build '%s' is named twice", lb->name);
        m->nbuilds++;
    }
    return true;
}
