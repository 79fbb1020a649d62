/*
 * heartbeat.h: waiting for the guest's heartbeat after a hop without waiting for its periodic
 * progress message (report_ms, 500 ms in `migrate`): the host asks for one with the guest's
 * `report` command, again every HEARTBEAT_POKE_MS until every queue has moved. And a guest command
 * split in two, so that the host's own checks overlap the guest's work.
 */
#ifndef VQH_HEARTBEAT_H
#define VQH_HEARTBEAT_H

#include "session.h"

#define HEARTBEAT_POKE_MS 60

/* As chan_wait_progress (a progress message newer than seq with every queue's ops above
 * `before`), asking the guest for progress reports meanwhile. */
bool heartbeat_wait(struct session *s, struct vm *v, uint64_t seq, const json_t *before, int timeout_ms,
                    struct vqh_err *err);

/* A guest command in two halves, so host-side checks (QMP queries) run while the guest works on
 * it: send it now, noting in *after the sequence number its reply must exceed ... */
bool heartbeat_send(struct session *s, struct vm *v, const char *line, uint64_t *after, struct vqh_err *err);
/* ... then wait for that reply (as chan_command does); *reply gets a reference when asked for. */
bool heartbeat_reply(struct session *s, struct vm *v, uint64_t after, const char *cmd, int timeout_ms, json_t **reply,
                     struct vqh_err *err);

#endif
