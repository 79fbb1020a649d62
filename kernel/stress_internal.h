/*
 * stress_internal.h: the stress engine's shared state, for kernel/stress*.c only.
 *
 * Ownership: every queue (struct squeue) belongs to exactly one CPU, which alone submits and
 * completes its requests. The expected-state table of a disk is shared by its queues and guarded
 * by the disk's lock. CPU 0 also runs the control loop: host commands, progress, watchdog, the
 * phase changes every worker follows.
 */
#ifndef VQH_STRESS_INTERNAL_H
#define VQH_STRESS_INTERNAL_H

#include "cmdline.h"
#include "config.h"
#include "expect.h"
#include "msg.h"
#include "percpu.h"
#include "prng.h"
#include "spinlock.h"
#include "verify.h"
#include "virtio_blk.h"

#define STRESS_MAX_DISKS 8
#define STRESS_MAX_OWNED (STRESS_MAX_DISKS * VBLK_MAX_QUEUES) /* queues one CPU may own */
#define STRESS_ERROR_DETAIL_MAX 200 /* detailed error messages; later ones are only counted */

enum stress_phase {
    PHASE_RUN = 0,   /* random load */
    PHASE_QUIESCE,   /* submit nothing; let everything in flight complete */
    PHASE_VERIFY,    /* read back written blocks (verify pass), nothing else */
    PHASE_DONE,      /* workers stop */
    PHASE_RESET,     /* a disk is being reset: no CPU touches any queue (workers park) */
};

enum sreq_op { OP_READ, OP_WRITE, OP_FLUSH, OP_DISCARD, OP_WRITE_ZEROES, OP_GET_ID, OP_VERIFY, OP_COUNT };

struct sreq {
    struct vblk_req *vr;        /* the driver's slot: request frame, status, indirect table */
    uint8_t *data;              /* max_blocks * blk_size bytes, deliberately not 4 KiB aligned */
    struct expect_snap *snap;   /* reads: expected state at submit */
    uint32_t *gens;             /* writes: generation stamped into each block */
    volatile uint8_t busy;      /* submitted and not completed (the watchdog reads it) */
    uint8_t op;
    bool zero_data;
    bool timeout_reported;
    uint16_t head;
    uint16_t segs;
    bool indirect_used;
    bool burst;                 /* part of a merge burst */
    uint32_t seq;
    uint32_t nblocks;
    uint32_t epoch;
    uint64_t lba;
    volatile uint64_t submit_ns;
};

struct squeue {
    struct sdisk *disk;
    struct vblk_queue *vq;
    uint16_t index;
    uint32_t cpu;
    uint32_t depth;
    struct sreq *reqs;
    uint16_t *free_ids;
    uint32_t nfree;
    uint32_t max_segs;          /* data segments per request: seg_max, within the buffer */
    struct prng rng;
    uint32_t next_seq;
    uint64_t burst_next;        /* next LBA of a run of adjacent requests */
    uint32_t burst_left;        /* requests left in the current merge burst (burst=N) */
    uint8_t burst_op;
    uint64_t burst_lba;         /* next LBA of the current merge burst */
    volatile uint64_t bursts;   /* merge bursts completed in full */
    uint64_t next_submit_ns;    /* rate limit */
    uint64_t recent_lba;        /* the range of this queue's latest completed write, */
    uint32_t recent_n;          /* for a read right after it (0: none, or read already) */
    /* verify pass */
    uint64_t verify_start, verify_cursor, verify_end; /* this queue's stripe of the region */
    uint32_t verify_samples;    /* ranges left in a sampled pass; 0: full pass */
    volatile bool verify_done;
    /* counters (written by the owning CPU only; others read them for reports) */
    volatile uint64_t ops, bytes, errors, op_count[OP_COUNT], verified_blocks;
    volatile uint32_t inflight;
    bool broken_reported;
};

struct sdisk {
    struct vblk_disk vd;
    struct expect *exp;
    struct spinlock lock;
    struct verify_ctx vctx;
    uint64_t region_start, region_blocks;
    uint32_t spb;               /* 512-byte sectors per logical block */
    uint32_t max_blocks;
    uint16_t nq;
    char first_id[VIRTIO_BLK_ID_BYTES + 1];
    struct squeue q[VBLK_MAX_QUEUES];
};

struct stress {
    const struct config *cfg;
    struct sdisk *disk[STRESS_MAX_DISKS];
    uint32_t ndisks, ndata;
    volatile uint32_t phase;
    volatile uint32_t epoch;
    volatile uint64_t errors;     /* all error reports, detailed or not */
    volatile uint64_t error_msgs; /* detailed error messages sent */
    bool first_verified;          /* the first read checked good has been reported */
    uint32_t weights[OP_COUNT];   /* from the configuration mix */
    uint64_t start_ns;
    struct squeue *all[STRESS_MAX_DISKS * VBLK_MAX_QUEUES]; /* every hammered queue, disk order */
    uint32_t nall;
    struct squeue *owned[MAX_CPUS][STRESS_MAX_OWNED];
    uint32_t nowned[MAX_CPUS];
    volatile uint32_t reset_gen;          /* bumped for every reset */
    volatile uint32_t parked[MAX_CPUS];   /* reset_gen a worker has seen while parked */
};

extern struct stress st;

/* stress_queue.c: one CPU's work loop over the queues it owns. */
void squeue_setup(struct squeue *q, struct sdisk *d, uint16_t index, uint32_t cpu);
bool squeue_alloc(struct squeue *q, const char **why);
void squeue_poll(struct squeue *q);
void squeue_fill(struct squeue *q);
void stress_worker_loop(uint32_t cpu, bool (*control)(void));
const char *squeue_op_name(uint8_t op);

/* stress_choose.c: what the next request is; false when nothing can be posted now. */
bool squeue_prepare(struct squeue *q, struct sreq *r, uint32_t phase);

/* stress.c: the control loop's helpers. */
/* Run the control loop (and CPU 0's queues) until cond() holds or timeout_ms passes. */
bool stress_wait(bool (*cond)(void), uint64_t timeout_ms);
bool stress_drained(void);
void stress_describe_mode(struct msg *m, const struct sdisk *d);
void stress_reply_begin(struct msg *m, const char *cmd, bool ok);

/* stress_reset.c: device and queue resets mid-run. */
void stress_cmd_reset(const struct cmdline *c);
void stress_reset_tick(uint64_t now_ms);

/* stress_report.c: messages. */
bool stress_error_begin(struct msg *m, const char *cls, const struct squeue *q, const struct sreq *r);
void stress_report_verify_error(struct squeue *q, struct sreq *r, const struct verify_result *res);
void stress_report_status_error(struct squeue *q, struct sreq *r, uint32_t status, uint32_t len,
                                const char *detail);
void stress_report_broken(struct squeue *q);
void stress_report_first_verified(struct squeue *q, struct sreq *r);
void stress_report_progress(void);
void stress_report_summary(void);
void stress_queue_counters(struct msg *m, const struct squeue *q, bool rings);

#endif
