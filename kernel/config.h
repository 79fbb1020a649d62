/*
 * config.h: the guest configuration, read as key=value text from fw_cfg (wire.h:
 * WIRE_FWCFG_CONFIG). Pure logic: builds into the kernel and into host unit tests.
 *
 * Syntax: pairs `key=value` separated by newlines, ';' or spaces; '#' starts a comment to the end
 * of the line. Keys and their defaults are in the table in config.c and in README.md; an unknown
 * key or a bad value is an error naming the key, the value and what is expected.
 */
#ifndef VQH_CONFIG_H
#define VQH_CONFIG_H

#include "base.h"

#define CONFIG_STR_MAX 32

enum config_mode { CONFIG_MODE_IRQ = 0, CONFIG_MODE_POLL = 1 };
enum config_inject {
    CONFIG_INJECT_NONE = 0,
    CONFIG_INJECT_UD,  /* invalid opcode */
    CONFIG_INJECT_GP,  /* general protection (non-canonical access) */
    CONFIG_INJECT_PF,  /* page fault (unmapped address) */
    CONFIG_INJECT_DE,  /* divide error */
    CONFIG_INJECT_RESET_FAIL, /* the first device or queue reset leaves the device FAILED */
};
enum config_toggle { CONFIG_AUTO = 0, CONFIG_ON = 1, CONFIG_OFF = 2 };
#define CONFIG_WORD_VALUE UINT32_MAX                  /* a number key's word (see config.c) */
#define CONFIG_MAX_REQUEST_DEVICE CONFIG_WORD_VALUE   /* max_request=device */
#define CONFIG_MAX_REQUEST_BYTES (64u << 20)          /* max_request=N: at most 64 MiB */
/* hotplug: the guest drives its PCIe hot-plug slots; the rest are test hooks: off (no slots looked
 * for: hello lists none), ignore-card (a plugged card is never taken), ignore-button (an unplugged
 * disk is never let go). */
enum config_hotplug {
    CONFIG_HOTPLUG_ON = 0, CONFIG_HOTPLUG_OFF, CONFIG_HOTPLUG_IGNORE_CARD, CONFIG_HOTPLUG_IGNORE_BUTTON,
};

struct config {
    uint64_t seed;            /* seed: PRNG seed for the whole load (default 1) */
    uint32_t duration;        /* duration: seconds of load; 0 = until the host says finish (10) */
    uint32_t min_disks;       /* min_disks: fewer data disks than this is a failure (1) */
    char serial_prefix[CONFIG_STR_MAX]; /* serial_prefix: data disks' serial prefix ("vqh") */
    uint32_t queues;          /* queues: queues used per disk, 0 = all the device offers (0) */
    uint32_t depth;           /* depth: requests in flight per queue, 0 = queue size (0) */
    uint32_t mix_read;        /* mix_read..mix_write_zeroes: relative weights (50/35/3/4/8) */
    uint32_t mix_write;
    uint32_t mix_flush;
    uint32_t mix_discard;
    uint32_t mix_write_zeroes;
    uint32_t min_blocks;      /* min_blocks, max_blocks: request size in logical blocks (1, 16) */
    uint32_t max_blocks;
    uint64_t region_start;    /* region_start: first LBA hammered (0) */
    uint64_t region_blocks;   /* region_blocks: blocks hammered, 0 = to the end of the disk (0) */
    uint32_t rate;            /* rate: operations per second per queue, 0 = unlimited (0) */
    uint32_t mode;            /* mode: irq|poll (irq) */
    uint32_t indirect;        /* indirect: auto|on|off, use indirect descriptors (auto) */
    uint32_t event_idx;       /* event_idx: auto|on|off, negotiate VIRTIO_RING_F_EVENT_IDX (auto) */
    uint32_t report_ms;       /* report_ms: progress message interval, 0 = none (1000) */
    uint32_t watchdog_ms;     /* watchdog_ms: a request older than this is an error (30000) */
    uint32_t inject;          /* inject: none|ud|gp|pf|de, raise that exception after hello;
                                 reset_fail: the first reset fails (stress_reset.c) */
    uint32_t huge_pages;      /* huge_pages: off|on, map RAM with 2 MiB pages (off: 4 KiB, see
                                 kernel/paging.c for why that is the default) */
    uint32_t tlb_refresh;     /* tlb_refresh: auto|on|off, reload CR3 every worker round (auto:
                                 when the host says so; see kernel/tlb.h) */
    uint32_t reset_ms;        /* reset_ms: every this many ms, drain and reset a seeded data disk
                                 (or one of its queues), 0 = never (0) */
    uint32_t packed;          /* packed: auto|on|off, negotiate VIRTIO_F_RING_PACKED (auto) */
    uint32_t burst;           /* burst: requests in a merge burst, 0 = no bursts (0) */
    uint32_t max_request;     /* max_request: size of the large requests: 0 = none, bytes, or
                                 CONFIG_MAX_REQUEST_DEVICE: as large as the device allows (0) */
    uint32_t max_request_share; /* max_request_share: percent of reads and writes made large (10) */
    uint32_t hotplug;         /* hotplug: on|off|ignore-card|ignore-button (on; enum config_hotplug) */
    uint32_t hotplug_drain_ms;/* hotplug_drain_ms: how long an unplugged disk's requests in flight
                                 may take to complete before they are abandoned (5000) */
    uint32_t final_state;     /* final_state: off|on, print the expected-state table (the `state`
                                 command's replies) before the summary, for verify-image */
};

struct config_error {
    char key[CONFIG_STR_MAX];    /* offending key ("" when the line has no key) */
    char value[64];              /* offending value, truncated */
    uint32_t line;               /* 1-based line of the text */
    char message[256];           /* what is wrong and what is expected */
};

/* Fill every field with its default. */
void config_defaults(struct config *cfg);

/*
 * Parse len bytes of text into cfg (which should hold defaults). Returns true on success; on the
 * first error fills err and returns false (cfg may then be partly updated).
 */
bool config_parse(struct config *cfg, const char *text, size_t len, struct config_error *err);

/* Cross-field checks (min_blocks <= max_blocks, some mix weight > 0, ...). */
bool config_validate(const struct config *cfg, struct config_error *err);

/* Every key and its value in effect, as a JSON object member `key` of m (for hello). */
struct msg;
void config_to_msg(const struct config *cfg, struct msg *m, const char *key);

/* Names for enum values, for messages: "irq", "poll", "auto", "on", "off", "none", "ud", ... */
const char *config_mode_name(uint32_t mode);
const char *config_toggle_name(uint32_t toggle);
const char *config_inject_name(uint32_t inject);

#endif
