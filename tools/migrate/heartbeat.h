/*
 * heartbeat.h: waiting for the guest's heartbeat after a hop without waiting for its periodic
 * progress message (report_ms, 500 ms in `migrate`): the host asks for one with the guest's
 * `report` command, again every HEARTBEAT_POKE_MS until every queue has moved.
 */
#ifndef VQH_HEARTBEAT_H
#define VQH_HEARTBEAT_H

#include "session.h"

#define HEARTBEAT_POKE_MS 60

/* As chan_wait_progress (a progress message newer than seq with every queue's ops above
 * `before`), asking the guest for progress reports meanwhile. */
bool heartbeat_wait(struct session *s, struct vm *v, uint64_t seq, const json_t *before, int timeout_ms,
                    struct vqh_err *err);

#endif
