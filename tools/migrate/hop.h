/*
 * hop.h: what one migration (a hop) and a whole run recorded: the data the summary table,
 * --json and --junit are written from.
 */
#ifndef VQH_HOP_H
#define VQH_HOP_H

#include <stdbool.h>
#include <stdint.h>

#define HOP_MAX_QUEUES 512 /* every queue of every data disk: OPTS_MAX_DISKS (8) x VBLK_MAX_QUEUES (64) */
#define HOP_TEXT_MAX 512

enum hop_kind {
    HOP_MIGRATE = 0,   /* an ordinary migration */
    HOP_CANCEL,        /* --cancel-every: cancelled mid-way, the source keeps running */
    HOP_KILL_DST,      /* --kill-dst-every: destination killed mid-way */
};

enum verdict { VERDICT_PASS = 0, VERDICT_FAIL = 1, VERDICT_ERROR = 2 };

/* Evidence that each migration mode asked for was exercised (query-migrate on the source). */
struct hop_modes {
    unsigned asked;               /* HOP_MODE_* bits asked for on this hop */
    unsigned proven;              /* HOP_MODE_* bits with evidence */
    bool postcopy_active;         /* status postcopy-active was seen */
    uint64_t postcopy_requests;   /* ram.postcopy-requests: pages the destination faulted for */
    uint64_t multifd_bytes;       /* ram.multifd-bytes: bytes the multifd channels carried */
    uint64_t xbzrle_cache_hits;   /* xbzrle-cache.cache-hit (QEMU 8.0 on; 7.2 lacks it) */
    uint64_t xbzrle_pages;        /* xbzrle-cache.pages: pages sent as deltas to a cached copy */
    int throttle_max;             /* highest cpu-throttle-percentage seen (auto-converge) */
    uint32_t dirtied_pages;       /* the guest kept this many pages dirty during the hop (modes.h) */
};

enum hop_mode {
    HOP_MODE_POSTCOPY = 1u << 0,
    HOP_MODE_MULTIFD = 1u << 1,
    HOP_MODE_XBZRLE = 1u << 2,
    HOP_MODE_AUTO_CONVERGE = 1u << 3,
};
#define HOP_MODES 4

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
    int nbd_outages;              /* NBD server outages (--nbd-chaos) during the hop, ridden out */
    char failure[HOP_TEXT_MAX];   /* empty when ok */
    /* the known TCG dirty-tracking bug (tools/migrate/knownbug.h) */
    bool tcg_dirty_exposed;       /* TCG, and a QEMU of this hop lacks the fix */
    bool tlb_refresh;             /* the guest's TLB workaround was on during this hop */
    bool ram_checked;             /* --check-ram compared both RAMs */
    uint64_t ram_diff_pages;      /* pages that differed */
    struct hop_modes modes;       /* what the migration modes asked for actually did */
    /* --hop-actions (tools/hop/) */
    int action;                   /* enum hop_action; 0: none */
    char action_name[24];         /* "" when none */
    int legs;                     /* migrations in this hop (paused: several in a row) */
    char jobs[256];               /* block jobs' end states: "id=status ..." */
    /* --hotplug-every (tools/hotplug/): what was plugged or unplugged after this hop's checks */
    char hotplug[8];              /* "plug", "unplug", "" */
    char hotplug_serial[16];
    int hotplug_slot;             /* spare slot (physical slot number) */
    int64_t hotplug_ms;           /* from device_add/device_del to the guest's acknowledgement */
    uint64_t hotplug_ops;         /* unplug: operations the guest completed on the disk */
    uint64_t hotplug_inflight, hotplug_abandoned; /* unplug: in flight when the button was seen,
                                                     given up (the rest completed) */
};

struct run_result {
    enum verdict verdict;
    char reason[HOP_TEXT_MAX];
    char accel[8];                /* "kvm" or "tcg" */
    char rundir[1024];            /* kept after FAIL/ERROR */
    char reproducer[2048];
    char evidence[1024];          /* file with the failure evidence, if any */
    char fault[16];               /* after a failure: "qemu", "guest" or "undetermined"; "" unknown */
    char known_bug[128];          /* the known QEMU bug the failure is, if it is one */
    int unexercised_hops;         /* hops that did not exercise a mode they were asked for */
    double duration_s;
    uint64_t total_ops;
    uint64_t guest_errors;
    /* max_request (the guest's summary): large requests done, of them writes, the largest */
    uint64_t large_ops, large_writes, large_max_bytes, large_max_segs;
    int nhops, hops_cap;
    struct hop_record *hops;
};

const char *verdict_name(enum verdict v);    /* "PASS", "FAIL", "ERROR" */
const char *hop_kind_name(enum hop_kind k);  /* "migrate", "cancel", "kill-dst" */
const char *hop_mode_name(unsigned bit);     /* "postcopy", "multifd", "xbzrle", "auto-converge" */
/* Append a hop (grows the array); returns it zeroed with index set, or NULL when out of memory. */
struct hop_record *run_add_hop(struct run_result *r);
void run_result_free(struct run_result *r);

#endif
