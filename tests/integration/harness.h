/*
 * harness.h: boots the guest straight under QEMU (no orchestrator) for the integration tests, and
 * runs the `vqhammer` tool; both with timeouts, and nothing left running afterwards.
 */
#ifndef VQH_HARNESS_H
#define VQH_HARNESS_H

#include <jansson.h>
#include <stdbool.h>

#define HARNESS_MAX_MSGS 4096

struct boot_spec {
    const char *boot;        /* "pvh" or "uefi" */
    int smp, mem_mib;
    const char *config;      /* guest configuration text (fw_cfg), NULL: none */
    const char *extra[32];   /* more QEMU arguments, NULL-terminated */
    int timeout_ms;
};

struct boot_result {
    int exit_status;         /* QEMU's exit code; -1 when killed by a signal or timed out */
    bool timed_out;
    int nmsgs;
    json_t *msgs[HARNESS_MAX_MSGS]; /* the guest's messages in order (parts put together) */
    int broken_msgs;         /* multi-part messages given up (guestparts.h) */
    double seconds;          /* QEMU start to exit */
};

/* A private scratch directory for one test (removed by harness_cleanup). */
const char *harness_dir(void);
/* Boot and wait for QEMU to exit (or the timeout, then kill it). */
bool harness_boot(const struct boot_spec *spec, struct boot_result *r);
void harness_result_free(struct boot_result *r);
/* The first message of this type (borrowed), or NULL. */
json_t *harness_find(const struct boot_result *r, const char *type);
int harness_count(const struct boot_result *r, const char *type);
/* A sparse raw image of size bytes in the scratch directory; returns its path (static storage per call index). */
const char *harness_image(const char *name, unsigned long long size);
/* Run build/vqhammer with args; returns its exit status (-1 on timeout). Output goes to out_path. */
int harness_tool(const char *const args[], const char *out_path, int timeout_ms);
/* The same for another program (a path, or a name found in PATH). */
int harness_run(const char *prog, const char *const args[], const char *out_path, int timeout_ms);
/* True when no QEMU started by the tests is running any more. */
bool harness_no_qemu_left(void);
/* True when no process at all (QEMU, storage daemon, NBD server, ...) names the scratch directory
 * in its command line; else false with who ("pid 123 (qemu-storage-daemon ...)"). */
bool harness_nothing_left(char *who, size_t len);
/* Read a whole file (caller frees), NULL if unreadable. */
char *harness_slurp(const char *path);
void harness_cleanup(void);

#endif
