/*
 * rundir.c: the private run directory and the paths inside it.
 */
#include "rundir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define RUNDIR_SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

struct rundir_name {
    struct rundir_name *next;
    char *name;
    char *path;
};

struct rundir {
    char *base;
    struct rundir_name *names;
};

/* The parent as an absolute path without trailing slashes: sockets must not depend on the cwd. */
static char *rundir_parent(const char *parent, struct vqh_err *err)
{
    char cwd[4096], *abs;
    size_t len;

    if (!parent) {
        parent = getenv("TMPDIR");
        if (!parent || !parent[0])
            parent = "/tmp";
    }
    if (parent[0] == '/') {
        abs = strdup(parent);
    } else if (getcwd(cwd, sizeof(cwd))) {
        if (asprintf(&abs, "%s/%s", cwd, parent) < 0)
            abs = NULL;
    } else {
        vqh_err_set(err, "cannot resolve run directory parent %s: %s", parent, strerror(errno));
        return NULL;
    }
    if (!abs) {
        vqh_err_set(err, "out of memory");
        return NULL;
    }
    len = strlen(abs);
    while (len > 1 && abs[len - 1] == '/')
        abs[--len] = '\0';
    return abs;
}

/* The directory may hold a password-less QMP socket: nobody else may even look into it. */
static bool rundir_check_private(const char *dir, struct vqh_err *err)
{
    struct stat st;

    if (chmod(dir, 0700) < 0 || lstat(dir, &st) < 0) {
        vqh_err_set(err, "cannot secure run directory %s: %s", dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != 0700) {
        vqh_err_set(err, "run directory %s is not private (mode %04o, owner %u): not using it", dir,
                    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
        return false;
    }
    return true;
}

struct rundir *rundir_create(const char *parent, struct vqh_err *err)
{
    struct rundir *rd = calloc(1, sizeof(*rd));
    char *abs = rundir_parent(parent, err);

    if (!rd || !abs) {
        if (!rd)
            vqh_err_set(err, "out of memory");
        goto fail;
    }
    if (asprintf(&rd->base, "%s/vqh-XXXXXX", abs) < 0) {
        rd->base = NULL;
        vqh_err_set(err, "out of memory");
        goto fail;
    }
    if (strlen(rd->base) + 1 + RUNDIR_SOCK_NAME_MAX > RUNDIR_SUN_PATH_MAX) {
        vqh_err_set(err,
                    "run directory under %s leaves no room for unix socket names (at most %zu "
                    "bytes per socket path): set TMPDIR to a shorter directory, e.g. TMPDIR=/tmp",
                    abs, (size_t)RUNDIR_SUN_PATH_MAX);
        goto fail;
    }
    if (!mkdtemp(rd->base)) {
        vqh_err_set(err, "cannot create a run directory under %s: %s", abs, strerror(errno));
        goto fail;
    }
    if (!rundir_check_private(rd->base, err)) {
        rmdir(rd->base);
        goto fail;
    }
    free(abs);
    return rd;
fail:
    free(abs);
    rundir_free(rd);
    return NULL;
}

const char *rundir_base(const struct rundir *rd)
{
    return rd->base;
}

const char *rundir_path(struct rundir *rd, const char *name)
{
    struct rundir_name *n;

    for (n = rd->names; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n->path;
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->name = strdup(name);
    if (!n->name || asprintf(&n->path, "%s/%s", rd->base, name) < 0) {
        free(n->name);
        free(n);
        return NULL;
    }
    n->next = rd->names;
    rd->names = n;
    return n->path;
}

const char *rundir_sock_path(struct rundir *rd, const char *name, struct vqh_err *err)
{
    const char *path = rundir_path(rd, name);

    if (!path) {
        vqh_err_set(err, "out of memory");
        return NULL;
    }
    if (strlen(path) > RUNDIR_SUN_PATH_MAX) {
        vqh_err_set(err,
                    "unix socket path %s is %zu bytes, more than sun_path holds (%zu): set TMPDIR "
                    "to a shorter directory, e.g. TMPDIR=/tmp",
                    path, strlen(path), (size_t)RUNDIR_SUN_PATH_MAX);
        return NULL;
    }
    return path;
}

static __thread char rundir_rm_error[600];

static int rundir_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0 && !rundir_rm_error[0])
        snprintf(rundir_rm_error, sizeof(rundir_rm_error), "cannot remove %.500s: %s", path,
                 strerror(errno));
    return 0; /* keep going: remove as much as possible */
}

bool rundir_remove(struct rundir *rd, struct vqh_err *err)
{
    rundir_rm_error[0] = '\0';
    if (nftw(rd->base, rundir_rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && !rundir_rm_error[0])
        snprintf(rundir_rm_error, sizeof(rundir_rm_error), "cannot remove run directory %.500s: %s",
                 rd->base, strerror(errno));
    if (rundir_rm_error[0]) {
        vqh_err_set(err, "%s", rundir_rm_error);
        return false;
    }
    return true;
}

void rundir_free(struct rundir *rd)
{
    if (!rd)
        return;
    while (rd->names) {
        struct rundir_name *n = rd->names;

        rd->names = n->next;
        free(n->name);
        free(n->path);
        free(n);
    }
    free(rd->base);
    free(rd);
}
