/*
 * health.h: the checks after every hop. Each returns false with a sentence in err naming what is
 * wrong (which disk, which queue, which counter), and the caller fails the run with it.
 */
#ifndef VQH_HEALTH_H
#define VQH_HEALTH_H

#include "session.h"

/* The guest's VM is in state `want` (e.g. "running", "postmigrate"), waiting up to timeout_ms. */
bool health_vm_state(struct session *s, struct vm *v, const char *want, int timeout_ms, struct vqh_err *err);
/*
 * After a cancelled migration: the source shut the stream down, so the destination fails its
 * load and exits by itself (status 1); wait up to timeout_ms for that. Dying of a signal on the
 * way is a crash: false, with the evidence taken. A destination still running is no finding here
 * (the caller kills it).
 */
bool health_dst_after_cancel(struct session *s, struct vm *dst, int timeout_ms, struct vqh_err *err);
/* query-block: every data disk's io-status is ok. */
bool health_block(struct session *s, struct vm *v, struct vqh_err *err);
/* query-blockstats: no failed_* counter on a data disk; with ops_must_move, reads and writes seen. */
bool health_blockstats(struct session *s, struct vm *v, bool ops_must_move, struct vqh_err *err);
/* x-query-virtio-status: every data disk's device is started, DRIVER_OK and not broken. */
bool health_virtio(struct session *s, struct vm *v, struct vqh_err *err);
/* quiesce reply vs x-query-virtio-queue-status: indices agree on every queue, nothing in use. */
bool health_rings(struct session *s, struct vm *v, const json_t *quiesce_reply, struct vqh_err *err);

#endif
