/*
 * hopdiag.h: when the guest goes silent, stops making progress or crashes right after a completed
 * hop, the causes (QEMU lost guest memory, QEMU broke the device state, the guest itself) look the
 * same from outside. Collect what tells them apart while the destination still exists: its vCPU
 * registers, the guest's last messages, the RAM comparison of that hop (--check-ram), and a
 * reproducer that reruns the seed with --check-ram; then say in the verdict which side is at fault.
 */
#ifndef VQH_HOPDIAG_H
#define VQH_HOPDIAG_H

#include "session.h"

/* v runs the guest after hop h and the guest failed (the verdict is already recorded): write the
 * diagnosis into evidence.txt and name the side at fault in the reason. Call before
 * session_evidence_vm, which kills v. */
void hopdiag_guest_failed(struct session *s, struct hop_record *h, struct vm *v);

#endif
