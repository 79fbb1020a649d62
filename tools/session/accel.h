/* accel.h: choosing KVM or TCG. /dev/kvm can exist and still not run guests (as on our own
 * build machines), so KVM is used only when a short probe boot of the guest passes under it. */
#ifndef VQH_ACCEL_H
#define VQH_ACCEL_H

#include "err.h"
#include "opts.h"
#include "rundir.h"

/* "kvm" or "tcg"; why gets a sentence for the log ("KVM probe boot failed: ..."). */
const char *accel_choose(const struct vqh_opts *o, struct rundir *rd, char *why, size_t cap);

#endif
