/*
 * health.h: the checks after every hop. Each returns false with a sentence in err naming what is
 * wrong (which disk, which queue, which counter), and the caller fails the run with it.
 */
#ifndef VQH_HEALTH_H
#define VQH_HEALTH_H

#include "session.h"

/* The guest's VM is in state `want` (e.g. "running", "postmigrate"), waiting up to timeout_ms. */
bool health_vm_state(struct session *s, struct vm *v, const char *want, int timeout_ms, struct vqh_err *err);
/* query-block: every data disk's io-status is ok. */
bool health_block(struct session *s, struct vm *v, struct vqh_err *err);
/* query-blockstats: no failed_* counter on a data disk; with ops_must_move, reads and writes seen. */
bool health_blockstats(struct session *s, struct vm *v, bool ops_must_move, struct vqh_err *err);
/* x-query-virtio-status: every data disk's device is started, DRIVER_OK and not broken. */
bool health_virtio(struct session *s, struct vm *v, struct vqh_err *err);
/* quiesce reply vs x-query-virtio-queue-status: indices agree on every queue, nothing in use. */
bool health_rings(struct session *s, struct vm *v, const json_t *quiesce_reply, struct vqh_err *err);

#endif
