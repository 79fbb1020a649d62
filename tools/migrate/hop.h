/*
 * hop.h: what one migration (a hop) and a whole run recorded: the data the summary table,
 * --json and --junit are written from.
 */
#ifndef VQH_HOP_H
#define VQH_HOP_H

#include <stdbool.h>
#include <stdint.h>

#define HOP_MAX_QUEUES 64
#define HOP_TEXT_MAX 512

enum hop_kind {
    HOP_MIGRATE = 0,   /* an ordinary migration */
    HOP_CANCEL,        /* --cancel-every: cancelled mid-way, the source keeps running */
    HOP_KILL_DST,      /* --kill-dst-every: destination killed mid-way */
};

enum verdict { VERDICT_PASS = 0, VERDICT_FAIL = 1, VERDICT_ERROR = 2 };

struct hop_record {
    int index;                    /* 1-based */
    enum hop_kind kind;
    char src[16], dst[16];        /* QEMU labels: "vm1", "vm2", ... */
    bool ok;
    char status[32];              /* query-migrate's final status: completed, cancelled, failed */
    double start_s;               /* seconds since the run started */
    int64_t total_ms, downtime_ms, setup_ms;
    uint64_t transferred;         /* bytes */
    uint64_t ram_total, dirty_sync_count;
    double mbps;
    uint64_t ops;                 /* guest operations completed during the hop and its checks */
    int nqueues;                  /* over all data disks, in disk order */
    uint64_t queue_ops[HOP_MAX_QUEUES];
    uint64_t inflight_at_start;   /* requests in flight when the migration started */
    uint64_t verify_checked, verify_errors;
    char failure[HOP_TEXT_MAX];   /* empty when ok */
    /* --hop-actions (tools/hop/) */
    int action;                   /* enum hop_action; 0: none */
    char action_name[24];         /* "" when none */
    int legs;                     /* migrations in this hop (paused: several in a row) */
    char jobs[256];               /* block jobs' end states: "id=status ..." */
};

struct run_result {
    enum verdict verdict;
    char reason[HOP_TEXT_MAX];
    char accel[8];                /* "kvm" or "tcg" */
    char rundir[1024];            /* kept after FAIL/ERROR */
    char reproducer[2048];
    char evidence[1024];          /* file with the failure evidence, if any */
    double duration_s;
    uint64_t total_ops;
    uint64_t guest_errors;
    int nhops, hops_cap;
    struct hop_record *hops;
};

const char *verdict_name(enum verdict v);    /* "PASS", "FAIL", "ERROR" */
const char *hop_kind_name(enum hop_kind k);  /* "migrate", "cancel", "kill-dst" */
/* Append a hop (grows the array); returns it zeroed with index set, or NULL when out of memory. */
struct hop_record *run_add_hop(struct run_result *r);
void run_result_free(struct run_result *r);

#endif
