/*
 * lab_matrix_check.c: a matrix's options checked by vqhammer's own parser and cross-checks, when
 * the matrix loads: a value or a combination vqhammer would refuse is a matrix error now, not an
 * ERROR cell in the middle of the night.
 */
#include "lab_matrix_int.h"
#include "hop_action.h"
#include "hotplug.h"
#include "opts.h"
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* argv[0] is the subcommand, as opts_parse expects. */
static bool check_argv(const char *command, int argc, char **argv, bool cross, struct vqh_err *err)
{
    struct vqh_opts *o = malloc(sizeof(*o));
    if (!o) {
        vqh_err_set(err, "out of memory");
        return false;
    }
    opts_defaults(o, command);
    /* The file checks of opts_validate (kernel, ESP, OVMF) belong to the host a cell runs on. */
    bool ok = opts_parse(o, argc, argv, err) == 0;
    if (ok && cross)
        ok = bg_spec_validate(o, o->ndisks ? o->ndisks : 1, err) && hop_action_validate(o, err) &&
             hotplug_validate(o, err);
    /* opts_validate's one disk check that needs no file: the ESP takes a disk under UEFI. */
    if (ok && cross && o->boot == BOOT_UEFI && o->ndisks > OPTS_MAX_DISKS_UEFI) {
        vqh_err_set(err, "disks: %d with boot uefi: at most %d data disks (the ESP is a virtio-blk disk too)",
                    o->ndisks, OPTS_MAX_DISKS_UEFI);
        ok = false;
    }
    free(o);
    return ok;
}

bool lab_mx_check_opt(const struct lab_opt *opt, struct vqh_err *err)
{
    char buf[1024], *argv[24];
    argv[0] = "migrate";
    int n = lab_opt_argv(opt, "/lab-check", buf, sizeof(buf), argv + 1, 23);
    if (n < 0) {
        vqh_err_set(err, "too long");
        return false;
    }
    return check_argv("migrate", n + 1, argv, false, err);
}

bool lab_mx_check_cell(const struct lab_matrix *m, const struct lab_cell *c, struct vqh_err *err)
{
    char buf[8192], *argv[256];
    int n = lab_cell_argv(m, c, "vqhammer", c->seed, "/lab-check", "/lab-check/r.json", buf, sizeof(buf), argv, 256);
    if (n < 2) {
        vqh_err_set(err, "its command line is too long");
        return false;
    }
    return check_argv(argv[1], n - 1, argv + 1, true, err);
}
