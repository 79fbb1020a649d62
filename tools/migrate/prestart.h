/*
 * prestart.h: the next hop's destination QEMU starts while the current hop's gap runs, so it is
 * listening when the migration is due instead of adding its start-up (hundreds of ms under TCG)
 * to every hop. The gap keeps its seeded length: it is measured from when the start began.
 */
#ifndef VQH_PRESTART_H
#define VQH_PRESTART_H

#include "session.h"

/* Start the destination (-incoming defer) now; NULL with err when it would not start. The
 * start-up time is returned in *took_ms, to be taken off the gap. */
struct vm *prestart_dst(struct session *s, int *took_ms, struct vqh_err *err);
/* A hop that ends before its migration began: kill and reap the pre-started destination. */
void prestart_drop(struct session *s, struct vm *dst);

#endif
