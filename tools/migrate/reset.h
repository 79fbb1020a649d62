/* reset.h: the guest resets its data disks at a hop's checks (--reset-every K). */
#ifndef VQH_RESET_H
#define VQH_RESET_H

#include "session.h"

bool reset_due(const struct vqh_opts *o, int hop);
/* Health before, the guest's `reset`, its reply and health after; false with err on a finding. */
bool reset_data_disks(struct session *s, struct vm *v, int hop, struct vqh_err *err);

#endif
