/*
 * knownbug.h: known QEMU bugs a migration run can hit, recognised by QEMU version, accelerator
 * and the RAM comparison, so a run on an old QEMU reports them by name instead of as a guest
 * failure, and the guest's workaround is switched on only where it is needed.
 *
 * The one known today: under TCG, QEMU before 9.0 loses guest writes during migration. The fast
 * path of the dirty-bitmap sync cleared dirty bits without re-arming TCG's not-dirty TLB entries,
 * so a vCPU writing through a warm TLB entry was not tracked and the destination resumed with a
 * stale page. Fixed upstream by 03bfc2188f06 ("physmem: Fix migration dirty bitmap coherency with
 * TCG memory access", QEMU 9.0), in no 7.2 stable release. The guest's workaround is a CR3 reload
 * at every refresh point (kernel/tlb.h), switched by the host with `tlb refresh=on|off`.
 */
#ifndef VQH_KNOWNBUG_H
#define VQH_KNOWNBUG_H

#include "session.h"

#define KNOWNBUG_TCG_DIRTY "known QEMU bug: TCG dirty tracking, fixed by 03bfc2188f06 in 9.0"
#define KNOWNBUG_TCG_DIRTY_FIXED 90000 /* vm.version of the first QEMU with the fix */

/* A migration between these two QEMUs under s's accelerator can lose guest writes. */
bool knownbug_tcg_dirty_exposed(const struct session *s, const struct vm *src, const struct vm *dst);
/* "QEMU 7.2.22 -> 10.0.2 under TCG" into buf. */
void knownbug_describe(const struct session *s, const struct vm *src, const struct vm *dst, char *buf,
                       size_t cap);
/* The guest reported bad data or its rings disagree with QEMU's: the last hop that moved it, if
 * that hop ran where QEMU loses guest writes (a stale page of a buffer, a ring or a table looks
 * exactly like that), so the verdict can name the suspect and the reproducer add --check-ram,
 * which tells lost memory from a guest fault. NULL after an injection (its cause is known), once
 * a fault is named, or when no such hop ran. */
struct hop_record *knownbug_suspect_hop(struct session *s);
/* `tlb refresh=on|off` to the guest through v; true when the guest confirmed. *active tells whether
 * refreshing is now in effect (false when the guest's tlb_refresh=off overrides the host). */
bool knownbug_tlb(struct session *s, struct vm *v, bool on, bool *active, struct vqh_err *err);

#endif
