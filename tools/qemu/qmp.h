/*
 * qmp.h: a QMP client for one QEMU, in the manner of QEMU's tests/qtest/libqmp.
 *
 *     struct qmp_opts o = {.label = "src1", .log = f, .alive = qemu_alive, .alive_arg = p};
 *     struct qmp *q = qmp_open(sock, 10000, &o, &err);
 *     json_t *r = qmp_cmd(q, "query-status", NULL, 5000, &err);            // r: the "return" value
 *     json_t *ev = qmp_wait_event(q, "MIGRATION", 60000, (const char *[]){"SHUTDOWN", NULL}, &err);
 *
 * Every command carries a unique "id" and the reply is matched by it; events that arrive meanwhile
 * are queued in arrival order (each keeps QEMU's "timestamp"). Every wait has a timeout and polls
 * in slices of at most 100 ms, asking the liveness hook each time, so a dead QEMU ends it at once.
 * Errors read "qmp <label>: <command or wait>: <reason>", the reason being QMP's error class and
 * desc, "timed out after N ms", "connection closed", "malformed JSON from QMP: <snippet>" or "QEMU
 * died: <why>"; err->kind says which (VQH_ERR_REFUSED, _TIMEOUT, _CLOSED, _OTHER, _DIED) for callers
 * that act on it.
 */
#ifndef VQH_QMP_H
#define VQH_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "err.h"

/* True while the QEMU behind the socket lives; otherwise false with why filled ("exited ..."). */
typedef bool (*qmp_alive_fn)(void *arg, struct vqh_err *why);

/* Sees every event the moment it is read, whether or not anyone waits for it. */
typedef void (*qmp_event_fn)(void *arg, const json_t *event);

struct qmp_opts {
    const char *label;     /* names this QEMU in errors and the transcript ("src1"); NULL: "qmp" */
    FILE *log;             /* transcript of both directions, timestamped; NULL: none */
    qmp_alive_fn alive;    /* liveness hook (also used while connecting); NULL: none */
    void *alive_arg;
    qmp_event_fn on_event; /* NULL: none */
    void *event_arg;
};

struct qmp;

/*
 * Connect to the unix socket at path, retrying while QEMU has not created it yet (but giving up at
 * once when the liveness hook reports QEMU dead), read the greeting and negotiate capabilities, all
 * within timeout_ms. opts may be NULL.
 */
struct qmp *qmp_open(const char *path, int timeout_ms, const struct qmp_opts *opts,
                     struct vqh_err *err);

/* Close the connection and drop queued events. NULL is fine. */
void qmp_close(struct qmp *q);

void qmp_set_alive_fn(struct qmp *q, qmp_alive_fn fn, void *arg);

/* The greeting object ({"QMP": {"version": ..., "capabilities": ...}}), owned by q. */
const json_t *qmp_greeting(const struct qmp *q);

/*
 * Run a command. args (an object, or NULL) is stolen even on failure. Returns the "return" value
 * (a new reference) or NULL with err.
 */
json_t *qmp_cmd(struct qmp *q, const char *name, json_t *args, int timeout_ms, struct vqh_err *err);

/* The oldest queued event, else the next to arrive within timeout_ms (new reference), or NULL. */
json_t *qmp_next_event(struct qmp *q, int timeout_ms, struct vqh_err *err);

/*
 * Wait for the event called name, discarding other events (the on_event hook and the transcript
 * still see them). If one named in fail_names (NULL-terminated; NULL for none) comes first, fail
 * naming it and its data. Returns the event (new reference) or NULL with err.
 */
json_t *qmp_wait_event(struct qmp *q, const char *name, int timeout_ms,
                       const char *const fail_names[], struct vqh_err *err);

/*
 * Read what QEMU has sent so far, without waiting: events join the queue (and the on_event hook
 * sees them at once), a partial line waits for the rest. With qmp_fd and the hook, a caller polls
 * QMP beside other descriptors and reacts to an event the moment it arrives. False (err) when the
 * connection broke.
 */
bool qmp_pump(struct qmp *q, struct vqh_err *err);

void qmp_set_event_fn(struct qmp *q, qmp_event_fn fn, void *arg);

/* The socket, to poll(2) for POLLIN beside other descriptors; -1 when closed. */
int qmp_fd(const struct qmp *q);

/* QEMU's timestamp of an event in seconds (microsecond resolution); 0 if it has none. */
double qmp_event_time(const json_t *event);

#endif
