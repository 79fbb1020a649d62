/*
 * chan.h: the guest channel. Reads the serial sockets of every QEMU that carries (or carried) the
 * guest, merges the messages by sequence number, keeps what the orchestrator needs to know (hello,
 * heartbeat, per-queue progress, errors, replies, verdict) and sends commands.
 */
#ifndef VQH_CHAN_H
#define VQH_CHAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "guestparts.h"
#include "vm.h"

#define CHAN_MAX_VMS 4
#define CHAN_KEEP_ERRORS 20

struct chan {
    struct vm *vms[CHAN_MAX_VMS];
    int nvms;
    struct guestlog_merge *merge;
    struct guestparts *parts;   /* multi-part messages put back together after the merge */
    FILE *merged;               /* serial-merged.log: "<seq> <source> <json>" in seq order */
    bool verbose;
    /* what the guest said */
    json_t *hello;
    json_t *progress;           /* the latest progress message */
    uint64_t progress_seq;
    int64_t last_msg_ms;        /* host time of the latest message: the heartbeat */
    uint64_t last_seq;
    uint64_t errors;            /* error + broken + panic messages */
    json_t *error_list;         /* the first CHAN_KEEP_ERRORS of them */
    json_t *panic;
    json_t *verdict;
    json_t *summary;
    json_t *reply;              /* the latest reply */
    uint64_t reply_seq;
    uint64_t anomalies;         /* gaps, conflicts, late lines in the merged stream */
    char first_anomaly[256];
    uint64_t bad_lines;
    uint64_t broken_msgs;       /* multi-part messages given up (also counted in anomalies) */
};

struct chan *chan_new(const char *merged_path, bool verbose, struct vqh_err *err);
void chan_free(struct chan *c);
void chan_attach(struct chan *c, struct vm *v);
/*
 * The guest now runs on `to`: read what is left of `from`, hand its unfinished line over (a
 * migration can stop the guest in the middle of a line) and start reading `to`.
 */
void chan_handoff(struct chan *c, struct vm *from, struct vm *to);
/* Read what is left of v's serial output and stop reading it. */
void chan_detach(struct chan *c, struct vm *v);
/* Wait up to timeout_ms for serial data from any attached VM and process it. */
void chan_pump(struct chan *c, int timeout_ms);
/* chan_pump that also wakes when extra_fd (e.g. qmp_fd; -1: none) is readable, which it leaves
 * for its owner to read. */
void chan_pump_fd(struct chan *c, int extra_fd, int timeout_ms);
/*
 * Send a command to the guest through v and wait for its reply ("reply" with this cmd, newer than
 * the send). Fails on timeout, when v dies, or when the guest panics meanwhile. reply: new ref.
 */
bool chan_command(struct chan *c, struct vm *v, const char *line, const char *cmd, int timeout_ms,
                  json_t **reply, struct vqh_err *err);
/*
 * The same for a long command (a full verification pass over a big disk): it may take as long as
 * it needs while the guest's progress messages show operations completing; it fails when idle_ms
 * pass without that (or on a dead QEMU or a panic).
 */
bool chan_command_moving(struct chan *c, struct vm *v, const char *line, const char *cmd, int idle_ms,
                         json_t **reply, struct vqh_err *err);
/* Wait for a progress message newer than seq whose per-queue ops all exceed `before` (may be
 * NULL: any newer progress). */
bool chan_wait_progress(struct chan *c, struct vm *v, uint64_t seq, const json_t *before, int timeout_ms,
                        struct vqh_err *err);
/* Per-queue cumulative ops of a progress/summary/reply message, flattened over disks (array of
 * integers, new ref). */
json_t *chan_queue_ops(const json_t *msg);
/* Sum of one per-queue member ("ops", "bytes", "inflight", ...) over every disk's queues. */
uint64_t chan_queue_sum(const json_t *msg, const char *field);
/* The largest of one per-queue member over every disk's queues. */
uint64_t chan_queue_max(const json_t *msg, const char *field);
/* Sum of every queue's "ops" of a progress message. */
uint64_t chan_total_ops(const json_t *progress);
/* Sum of "inflight" over every queue of a progress message. */
uint64_t chan_inflight(const json_t *progress);

#endif
