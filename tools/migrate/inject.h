/* inject.h: faults the tests inject to prove the detectors (--inject). */
#ifndef VQH_INJECT_H
#define VQH_INJECT_H

#include "session.h"

/*
 * With the guest quiesced: stop the VM (QMP stop), overwrite one block of the first data disk that
 * the guest wrote (found by its header, from a seeded offset) with --inject
 * overwrite-block=PATTERN's block (inject_block.h; flip by default), then cont. *lba gets the
 * block's address.
 */
bool inject_overwrite_block(struct session *s, struct vm *v, uint64_t seed, uint64_t *lba, struct vqh_err *err);

#endif
