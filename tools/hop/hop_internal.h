/*
 * hop_internal.h: what the hop actions share: the state of the hop in progress (one at a time),
 * QMP helpers that keep the guest channel read while they wait, and the evidence writer.
 */
#ifndef VQH_HOP_INTERNAL_H
#define VQH_HOP_INTERNAL_H

#include "hop_action.h"

struct hop_state {
    enum hop_action act;
    uint64_t rng;                   /* the action's own seeded stream (not the gaps') */
    bool switched;                  /* pre-switchover handled */
    /* copy-storage */
    char old_disk[OPTS_MAX_DISKS][OPTS_PATH_MAX];
    bool disks_swapped, mirrors;
    char nbd_sock[512];
    /* late-cancel */
    int late_mode;                  /* 0: cancel at pre-switchover; 1: right after migrate-continue */
    bool cancelled;
    /* postcopy-recover */
    int pc_phase;                   /* 0 precopy, 1 postcopy started, 2 paused, 3 resumed */
    /* werror */
    bool held;
};

extern struct hop_state hop_cur;

/* A QMP command on v with the run's QMP timeout. */
json_t *hop_qmp(struct session *s, struct vm *v, const char *cmd, json_t *args, struct vqh_err *err);
/* hop_qmp whose reply is not needed. */
bool hop_qmp_ok(struct session *s, struct vm *v, const char *cmd, json_t *args, struct vqh_err *err);
/*
 * Poll query-jobs on v until job `id` reaches status `want` ("ready", "concluded"), reading the
 * guest meanwhile. Fails when the job ends with an error, disappears, reaches "concluded" while
 * "ready" was wanted, or timeout_ms passes. Records the end state in h->jobs when want is
 * "concluded".
 */
bool hop_job_wait(struct session *s, struct vm *v, struct hop_record *h, const char *id, const char *want,
                  int timeout_ms, struct vqh_err *err);
/* job-dismiss, then query-jobs must no longer list it. */
bool hop_job_dismiss(struct session *s, struct vm *v, const char *id, struct vqh_err *err);
/* Wait for event `name` on v (reading the guest meanwhile); its data (new ref) in *data if asked. */
bool hop_wait_event(struct session *s, struct vm *v, const char *name, int timeout_ms, json_t **data,
                    struct vqh_err *err);
/* cont on v: the guest runs again; its silence while stopped is no hang. */
bool hop_cont(struct session *s, struct vm *v, struct vqh_err *err);
/* The data disks' devices sit on blockgraph_top_node() again (no leftover job node). */
bool hop_graph_restored(struct session *s, struct vm *v, struct vqh_err *err);
/* Append query-jobs and query-named-block-nodes of v to evidence.txt under a heading. */
void hop_evidence(struct session *s, struct vm *v, const struct hop_record *h, const char *what);
/* The same, without the block graph when nodes_too is false. */
void hop_evidence_nodes(struct session *s, struct vm *v, const struct hop_record *h, const char *what, bool nodes_too);
/* A sparse file of size bytes in the run directory (for targets and copies). */
bool hop_scratch_image(struct session *s, const char *name, uint64_t size, char *path, size_t cap,
                       struct vqh_err *err);
/* The size of data disk i's image now. */
uint64_t hop_disk_size(struct session *s, int i);
uint64_t hop_rand(void);

/* The actions (one file each). */
bool paused_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err);
bool paused_after(struct session *s, struct hop_record *h, struct vqh_err *err);
bool copy_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err);
bool copy_before_migrate(struct session *s, struct hop_record *h, struct vm *dst, struct vqh_err *err);
bool copy_switchover(struct session *s, struct hop_record *h, struct vqh_err *err);
bool copy_after(struct session *s, struct hop_record *h, struct vqh_err *err);
bool jobs_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err);
bool werror_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err);
bool late_switchover(struct session *s, struct hop_record *h, bool *planned_abort, struct vqh_err *err);
bool late_after_abort(struct session *s, struct hop_record *h, struct vm *dst, struct vqh_err *err);
bool postcopy_poll(struct session *s, struct hop_record *h, struct vm *dst, const char *status,
                   struct vqh_err *err);

#endif
