/*
 * migration.h: one live migration of the guest from one QEMU to a fresh one (a hop), watched to
 * the end: capabilities, the incoming side, the stream, and what counts as done or failed.
 */
#ifndef VQH_MIGRATION_H
#define VQH_MIGRATION_H

#include "hop.h"
#include "session.h"

enum migration_outcome {
    MIG_COMPLETED,     /* the destination runs the guest; the old source is in postmigrate */
    MIG_ABORTED,       /* cancelled or destination killed, as planned: the source runs on */
    MIG_FAILED,        /* a problem found (session_fail was called) */
};

/*
 * Migrate s->vm to dst (started with -incoming defer). h gets the statistics. For HOP_CANCEL and
 * HOP_KILL_DST the migration is broken off on purpose at a seeded moment.
 */
enum migration_outcome migration_run(struct session *s, struct vm *dst, struct hop_record *h,
                                     uint64_t *rng);

#endif
