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

struct vqh_err {
    char msg[VQH_ERR_MAX];
};

__attribute__((format(printf, 2, 3))) static inline void vqh_err_set(struct vqh_err *err,
                                                                      const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

static inline void vqh_err_clear(struct vqh_err *err)
{
    if (err)
        err->msg[0] = '\0';
}

#endif
