/*
 * inject_cancel.h: faults injected at a hop's migrate_cancel (a late-cancel hop's or a
 * --cancel-every hop's; --inject slow-cancel, crash-after-cancel), to prove that the
 * destination's ordinary exit after a cancel is no finding and that its crash there is one.
 */
#ifndef VQH_INJECT_CANCEL_H
#define VQH_INJECT_CANCEL_H

#include "session.h"

/* --inject names one of the faults below. */
bool inject_at_cancel(const struct vqh_opts *o);

/*
 * Just before the cancel: for crash-after-cancel, stop the destination (SIGSTOP), so that it
 * cannot exit on its own before the signal below reaches it.
 */
void inject_cancel_before(struct session *s, struct vm *dst);

/*
 * Just after the hop's migrate_cancel, the faults themselves:
 *   slow-cancel         stop the source until the destination has exited (at most 10 s), then
 *                       continue it: a loaded source is that slow to restart its guest and report
 *                       "cancelled", while the destination, its stream shut down, fails its load
 *                       and exits at once;
 *   crash-after-cancel  SIGABRT to the stopped destination, then continue it: it dies of the
 *                       signal, as a QEMU that crashes on a cancelled stream would.
 */
void inject_cancel_after(struct session *s, struct vm *src, struct vm *dst, int hop);

#endif
