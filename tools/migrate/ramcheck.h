/*
 * ramcheck.h: --check-ram. After a completed migration, while the destination is still paused
 * (started with -S), dump both QEMUs' guest RAM (QMP pmemsave) and compare it page by page. The
 * source is stopped in postmigrate, so the two must be identical; a difference is RAM that
 * migration failed to carry (for example writes its dirty tracking missed).
 */
#ifndef VQH_RAMCHECK_H
#define VQH_RAMCHECK_H

#include "session.h"

/* Compare for hop h (sets h->ram_checked, h->ram_diff_pages); false with err describing the first
 * differing pages, or why it could not compare (then h->ram_checked stays false). */
bool ramcheck_compare(struct session *s, struct vm *src, struct vm *dst, struct hop_record *h,
                      struct vqh_err *err);

#endif
