/*
 * err.h: the one error type of the host tools.
 *
 * Every fallible host function takes a `struct vqh_err *` (NULL allowed) and fills it with a
 * complete sentence naming what failed and why, so errors travel up to the one place that prints
 * them without being reworded on the way.
 */
#ifndef VQH_ERR_H
#define VQH_ERR_H

#include <stdarg.h>
#include <stdio.h>

#define VQH_ERR_MAX 512

/* What kind of failure, for callers that act on it (a hang, a dying QEMU): never parse msg. */
enum vqh_err_kind {
    VQH_ERR_OTHER = 0, /* anything else: the message says what */
    VQH_ERR_TIMEOUT,   /* a wait ran out of time: the other side stopped answering */
    VQH_ERR_CLOSED,    /* the connection was closed (the peer is usually on its way out) */
    VQH_ERR_DIED,      /* the process behind it is gone (its liveness check failed) */
    VQH_ERR_REFUSED,   /* the peer answered with an error (a QMP error reply) */
};

struct vqh_err {
    char msg[VQH_ERR_MAX];
    enum vqh_err_kind kind; /* after msg: `struct vqh_err e = {0}` stays valid */
};

__attribute__((format(printf, 2, 3))) static inline void vqh_err_set(struct vqh_err *err,
                                                                      const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    err->kind = VQH_ERR_OTHER;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

/* vqh_err_set with a kind. */
__attribute__((format(printf, 3, 4))) static inline void vqh_err_setk(struct vqh_err *err,
                                                                       enum vqh_err_kind kind,
                                                                       const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    err->kind = kind;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

static inline void vqh_err_clear(struct vqh_err *err)
{
    if (err) {
        err->kind = VQH_ERR_OTHER;
        err->msg[0] = '\0';
    }
}

#endif
