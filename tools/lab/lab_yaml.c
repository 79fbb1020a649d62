/* lab_yaml.c: libyaml document loading and typed scalars with file:line:key errors. */
#include "lab_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool lab_yaml_load(struct lab_yaml *y, const char *path, struct vqh_err *err)
{
    memset(y, 0, sizeof(*y));
    y->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        vqh_err_set(err, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        fclose(f);
        vqh_err_set(err, "%s: cannot start the YAML parser (out of memory)", path);
        return false;
    }
    yaml_parser_set_input_file(&p, f);
    bool ok = yaml_parser_load(&p, &y->doc);
    if (!ok) {
        vqh_err_set(err, "%s:%zu: not valid YAML: %s%s%s", path, p.problem_mark.line + 1,
                    p.problem ? p.problem : "parse error", p.context ? " " : "", p.context ? p.context : "");
    } else if (!yaml_document_get_root_node(&y->doc)) {
        yaml_document_delete(&y->doc);
        vqh_err_set(err, "%s: the file is empty", path);
        ok = false;
    }
    yaml_parser_delete(&p);
    fclose(f);
    y->loaded = ok;
    return ok;
}

void lab_yaml_free(struct lab_yaml *y)
{
    if (y->loaded)
        yaml_document_delete(&y->doc);
    y->loaded = false;
}

yaml_node_t *lab_yaml_root(struct lab_yaml *y)
{
    return yaml_document_get_root_node(&y->doc);
}

yaml_node_t *lab_yaml_node(struct lab_yaml *y, int index)
{
    return yaml_document_get_node(&y->doc, index);
}

const char *lab_yaml_str(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool lab_yaml_fail(struct lab_yaml *y, const yaml_node_t *n, const char *key, struct vqh_err *err,
                   const char *fmt, ...)
{
    char msg[VQH_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key)
        vqh_err_set(err, "%s:%d: key '%s': %s", y->path, lab_yaml_line(n), key, msg);
    else
        vqh_err_set(err, "%s:%d: %s", y->path, lab_yaml_line(n), msg);
    return false;
}

bool lab_yaml_want(struct lab_yaml *y, yaml_node_t *n, yaml_node_type_t type, const char *key,
                   struct vqh_err *err)
{
    if (n && n->type == type)
        return true;
    return lab_yaml_fail(y, n, key, err, "expected a %s",
                         type == YAML_MAPPING_NODE ? "mapping (key: value lines)" : "list ([a, b] or - lines)");
}

bool lab_yaml_get_str(struct lab_yaml *y, yaml_node_t *n, const char *key, char *out, size_t cap,
                      struct vqh_err *err)
{
    const char *s = lab_yaml_str(n);
    if (!s)
        return lab_yaml_fail(y, n, key, err, "expected a single value, not a list or mapping");
    if (strlen(s) >= cap)
        return lab_yaml_fail(y, n, key, err, "value too long (at most %zu characters)", cap - 1);
    strcpy(out, s);
    return true;
}

bool lab_yaml_get_u64(struct lab_yaml *y, yaml_node_t *n, const char *key, uint64_t *out, struct vqh_err *err)
{
    const char *s = lab_yaml_str(n);
    char *end = NULL;
    errno = 0;
    unsigned long long v = s && *s && *s != '-' ? strtoull(s, &end, 0) : 0;
    if (!s || !*s || *s == '-' || errno || *end)
        return lab_yaml_fail(y, n, key, err, "'%s' is not a non-negative number (decimal or 0x hex)",
                             s ? s : "(not a value)");
    *out = v;
    return true;
}

bool lab_yaml_get_int(struct lab_yaml *y, yaml_node_t *n, const char *key, long long min, long long max,
                      long long *out, struct vqh_err *err)
{
    const char *s = lab_yaml_str(n);
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 0) : 0;
    if (!s || !*s || errno || *end)
        return lab_yaml_fail(y, n, key, err, "'%s' is not a whole number", s ? s : "(not a value)");
    if (v < min || v > max)
        return lab_yaml_fail(y, n, key, err, "%lld is out of range (%lld..%lld)", v, min, max);
    *out = v;
    return true;
}

bool lab_yaml_get_bool(struct lab_yaml *y, yaml_node_t *n, const char *key, bool *out, struct vqh_err *err)
{
    const char *s = lab_yaml_str(n);
    if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))) {
        *out = true;
        return true;
    }
    if (s && (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))) {
        *out = false;
        return true;
    }
    return lab_yaml_fail(y, n, key, err, "'%s' is not true or false", s ? s : "(not a value)");
}
