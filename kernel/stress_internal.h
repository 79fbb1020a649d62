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
#include "reqsize.h"
#include "spinlock.h"
#include "verify.h"
#include "virtio_blk.h"

#define STRESS_MAX_DISKS 8
#define STRESS_MAX_OWNED (STRESS_MAX_DISKS * VBLK_MAX_QUEUES) /* queues one CPU may own */
#define STRESS_ERROR_DETAIL_MAX 200 /* detailed error messages; later ones are only counted */
#define STRESS_LARGE_PER_QUEUE 2    /* large requests (max_request) one queue may have in flight */

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
    uint32_t judged;            /* reads: blocks the table counted (0: nothing to verify or undo) */
    uint32_t *gens;             /* writes: generation stamped into each block */
    volatile uint8_t busy;      /* submitted and not completed (the watchdog reads it) */
    uint8_t op;
    bool zero_data;
    bool timeout_reported;
    uint16_t head;
    uint16_t segs;
    bool indirect_used;
    bool burst;                 /* part of a merge burst */
    bool large;                 /* a slot of the large pool (max_request): its buffer is large */
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
    struct sreq *large;         /* the large pool (max_request): nlarge slots */
    uint32_t nlarge;
    uint16_t large_free[STRESS_LARGE_PER_QUEUE];
    uint32_t nlarge_free;
    struct sreq *large_pending; /* a large write waiting for its range (the disk's reservation) */
    volatile uint64_t large_ops;        /* large requests completed */
    volatile uint64_t large_writes;     /* of which writes */
    volatile uint32_t large_max_bytes;  /* the largest completed: bytes, data segments */
    volatile uint32_t large_max_segs;
    uint32_t data_bytes;        /* each request's data buffer */
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
    /* max_request: the plan of this disk's large requests, or why there are none */
    struct reqsize_plan large;
    bool large_on;
    const char *large_why;
    uint64_t large_pool_bytes;  /* memory the large pool took (hello) */
    /* A large write's claim on a range it waits for: in PHASE_RUN no other request may claim
     * a block of it, so the requests over it drain and the write gets in (guarded by lock). */
    uint64_t resv_lba;
    uint32_t resv_n;
    int32_t resv_q;             /* queue holding it, -1: none */
    volatile bool leaving;      /* hot-unplug under way: nothing new is submitted */
    void *exp_mem;              /* the expected-state table's memory, kept for a re-plug */
    size_t exp_cap;
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
    uint32_t weight_total;        /* their sum */
    uint8_t only_op;              /* the one operation of a one-operation mix; else OP_COUNT */
    uint64_t start_ns;
    struct squeue *all[STRESS_MAX_DISKS * VBLK_MAX_QUEUES]; /* every hammered queue, disk order */
    uint32_t nall;
    struct squeue *owned[MAX_CPUS][STRESS_MAX_OWNED];
    uint32_t nowned[MAX_CPUS];
    volatile uint32_t reset_gen;          /* bumped for every reset */
    volatile uint32_t parked[MAX_CPUS];   /* reset_gen a worker has seen while parked */
    volatile uint32_t owned_gen;          /* bumped when owned[] changes (hot-plug) */
    bool worker[MAX_CPUS];                /* CPUs running a worker loop (0 always) */
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
/* Reserve r's range in the expected-state table (d->lock held by the caller: no). */
bool squeue_claim(struct squeue *q, struct sreq *r);

/* stress_large.c: large requests (max_request): plan and pool at probe, then per queue. */
void stress_large_setup(void);
void stress_large_describe(struct msg *m, const struct sdisk *d);
bool squeue_large_alloc(struct squeue *q, const char **why);
/* A large request to post now (prepared and claimed), or NULL: post a normal one. */
struct sreq *squeue_take_large(struct squeue *q, uint32_t phase);
/* Its data segments, from the disk's plan: io->seg_bytes and io->nsegs. */
void squeue_large_segments(struct squeue *q, struct vblk_io *io);
void squeue_large_done(struct squeue *q, struct sreq *r);
/* True when another queue's reservation covers part of [lba, lba+n) (d->lock held). */
bool stress_reserved_by_other(const struct sdisk *d, const struct squeue *q, const struct sreq *r);

/* stress.c: the control loop's helpers. */
/* Run the control loop (and CPU 0's queues) until cond() holds or timeout_ms passes. */
bool stress_wait(bool (*cond)(void), uint64_t timeout_ms);
bool stress_drained(void);
void stress_describe_mode(struct msg *m, const struct sdisk *d);
void stress_reply_begin(struct msg *m, const char *cmd, bool ok);

/* stress.c: a data disk's engine side (region, expected state), for boot and hot-plugged disks. */
const char *stress_setup_disk(struct sdisk *d, const struct config *c);
struct sdisk *stress_disk_storage(uint32_t i); /* the static storage of st.disk[i] */
void stress_describe_disk(struct msg *m, uint32_t i);

/* stress_reset.c: device and queue resets mid-run. */
/* Every worker CPU out of the rings (phase PHASE_RESET) within a timeout; false: one did not
 * leave (the phase is restored). stress_unpark puts the phase back to prev. */
bool stress_park(uint32_t prev);
void stress_unpark(uint32_t prev);
void stress_cmd_reset(const struct cmdline *c);
void stress_reset_tick(uint64_t now_ms);

/* stress_hotplug.c: PCIe native hot-plug of data disks (drivers/pcie_slot.h). */
void stress_hotplug_init(void);
void stress_hotplug_describe(struct msg *m);
void stress_hotplug_tick(uint64_t now_ms);
void stress_cmd_hotplug(const struct cmdline *c);

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
