/*
 * ramcheck.h: --check-ram. After a completed migration, while the destination is still paused
 * (started with -S), dump both QEMUs' guest RAM (QMP pmemsave) and compare it page by page. The
 * source is stopped in postmigrate, so the two must be identical; a difference is RAM that
 * migration failed to carry (for example writes its dirty tracking missed).
 */
#ifndef VQH_RAMCHECK_H
#define VQH_RAMCHECK_H

#include "session.h"

/* Compare; false with err describing the first differing pages (or why it could not compare). */
bool ramcheck_compare(struct session *s, struct vm *src, struct vm *dst, int hop, struct vqh_err *err);

#endif
