/*
 * modes.h: a mode asked for is a mode proven. Each hop asked for postcopy, multifd, xbzrle or
 * auto-converge records the evidence that the mode did its work (query-migrate on the source:
 * postcopy-active reached and postcopy-requests, multifd-bytes, xbzrle-cache pages (each one
 * a cache hit; cache-hit itself from QEMU 8.0),
 * cpu-throttle-percentage); a hop without it is reported as not exercising the mode.
 *
 * Postcopy, xbzrle and auto-converge only act after the first pass over RAM, and a small guest on
 * a fast socket converges in precopy before that matters. So on such hops the source is first held
 * in precopy (downtime-limit 1 ms and, after the first pass, a slow stream, as QEMU's own migration
 * tests do) until
 * the evidence shows or MODES_HOLD_MS passes, then given back its downtime-limit; postcopy is
 * started once the first pass is done (dirty-sync-count >= 2, as libvirt does after the first
 * iteration).
 */
#ifndef VQH_MODES_H
#define VQH_MODES_H

#include "session.h"

#define MODES_HOLD_MS 15000
#define MODES_DIRTY_PAGES 2048 /* 8 MiB, a sweep every 250 ms: 32 MiB/s */
#define MODES_DIRTY_TIMEOUT_MS 30000

struct modes_hold {
    bool holding;            /* downtime-limit lowered on the source */
    json_int_t saved_downtime, saved_bandwidth;
    bool capped;             /* max-bandwidth lowered to QEMU's default for the first pass */
    bool slowed;             /* max-bandwidth lowered after the first pass */
    int64_t since_ms;
    bool postcopy_sent;
};

/* Before the hop, on a running source: a hop that asks for a mode needing passes has the guest
 * keep MODES_DIRTY_PAGES pages dirty (kernel/dirtier.h) until the hop's checks send `dirty
 * pages=0` (modes_dirtier_off_line). False only if the guest does not answer; a guest that can
 * spare no memory is noted (the hop may then not exercise its mode, and says so). */
bool modes_dirtier_on(struct session *s, struct vm *src, struct hop_record *h, struct vqh_err *err);
/* The line that stops it after the hop ("" if it was not started). */
const char *modes_dirtier_off_line(const struct hop_record *h);

/* Before `migrate`: what this hop asks for (h->modes.asked), and the hold where needed. */
bool modes_begin(struct session *s, struct vm *src, struct hop_record *h, struct modes_hold *m,
                 struct vqh_err *err);
/* Every poll, with the source's query-migrate reply q: take the evidence, start postcopy, end the
 * hold. */
bool modes_poll(struct session *s, struct vm *src, struct hop_record *h, struct modes_hold *m, const json_t *q,
                struct vqh_err *err);
/* After the hop: which modes were proven; counts and says a hop that did not exercise one. */
void modes_end(struct session *s, struct hop_record *h);
/* After a PASS: a mode asked for and exercised by no hop makes the run an ERROR (it did not test
 * what it was asked to). */
void modes_run_verdict(struct session *s);

#endif
