/*
 * rundir.h: the private directory of one run (QMP and serial sockets, QEMU logs, disk images).
 *
 *     struct rundir *rd = rundir_create(NULL, &err);          // $TMPDIR/vqh-XXXXXX, mode 0700
 *     const char *sock = rundir_sock_path(rd, "qmp-src1.sock", &err);
 *     const char *log = rundir_path(rd, "qemu-src1.log");
 *     ...
 *     rundir_remove(rd, &err);   // PASS: delete it; FAIL: keep it and print rundir_base(rd)
 *     rundir_free(rd);
 *
 * Paths handed out stay valid until rundir_free(), so they can be passed straight to other calls.
 */
#ifndef VQH_RUNDIR_H
#define VQH_RUNDIR_H

#include <stdbool.h>

#include "err.h"

/* Room a socket name must have inside sun_path; checked when the directory is created. */
#define RUNDIR_SOCK_NAME_MAX 24

struct rundir;

/*
 * Create a fresh directory parent/vqh-XXXXXX (parent NULL: $TMPDIR, else /tmp), mode 0700 and
 * owned by us (both verified). Fails when even a RUNDIR_SOCK_NAME_MAX-character socket name would
 * not fit in sun_path, saying to set TMPDIR to a shorter directory.
 */
struct rundir *rundir_create(const char *parent, struct vqh_err *err);

/* The directory itself (absolute). */
const char *rundir_base(const struct rundir *rd);

/* base/name, owned by rd (NULL only when out of memory). */
const char *rundir_path(struct rundir *rd, const char *name);

/* base/name for a unix socket: NULL with err when it does not fit in sun_path. */
const char *rundir_sock_path(struct rundir *rd, const char *name, struct vqh_err *err);

/* Delete the directory and everything in it (without following symlinks). */
bool rundir_remove(struct rundir *rd, struct vqh_err *err);

/* Free rd and its paths; the directory stays on disk unless rundir_remove() ran. NULL is fine. */
void rundir_free(struct rundir *rd);

#endif
