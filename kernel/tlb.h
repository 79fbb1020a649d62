/*
 * tlb.h: the TLB refresh that keeps a migration under an old QEMU's TCG from losing guest writes.
 *
 * The QEMU bug (fixed upstream by 03bfc2188f06, "physmem: Fix migration dirty bitmap coherency
 * with TCG memory access", QEMU 9.0; in no 7.2 stable release): the fast path of migration's
 * dirty-bitmap sync cleared dirty bits without re-arming TCG's "not dirty" TLB entries, so a vCPU
 * writing through a TLB entry that was already warm wrote without being tracked, and the
 * destination resumed with a stale copy of the page (stacks, rings, state tables): the guest then
 * crashes, hangs or reports false data errors. A guest with a small, hot working set that never
 * reloads CR3 (like this one) keeps such TLB entries for good; reloading CR3 after every request it
 * posts or completes, every message and every worker round empties the vCPU's TLB, so every next
 * write is checked again. What is written between a sync and the next reload can still be lost, so
 * the reloads sit right before stores that follow a long stretch: before the console unlock (the
 * lock is held while a whole line goes out through the UART, port I/O that takes milliseconds
 * under TCG; an unlock lost that way leaves the destination with the lock held forever: a silent
 * guest) and at the start of every poll of a queue (a vCPU wakes from HLT with old entries).
 *
 * That reload halves the guest's I/O rate under TCG and is needed only while a migration is in
 * flight, only under TCG, only on a QEMU without the fix, and only the host knows all three: so
 * with tlb_refresh=auto the host switches it (`tlb refresh=on` before `migrate`, `tlb
 * refresh=off` after the hop; kernel/wire.h). tlb_refresh=on reloads always, tlb_refresh=off never
 * (to reproduce the bug); both ignore the host.
 */
#ifndef VQH_TLB_H
#define VQH_TLB_H

#include "base.h"

/* Decide once (boot CPU): toggle is config tlb_refresh (auto|on|off). Returns "TCGTCGTCGTCG", ... */
const char *tlb_refresh_init(uint32_t toggle);
/* The host's switch (tlb_refresh=auto only); every vCPU sees it at its next refresh point. */
void tlb_refresh_set(bool on);
/* Reloading now? */
bool tlb_refresh_enabled(void);
/* tlb_refresh=auto: the host decides. */
bool tlb_refresh_host_controlled(void);
/* Reload CR3 if refreshing is on. */
void tlb_refresh(void);
/* Reload CR3, then store every 8-byte word of [p, p + bytes) back unchanged (if refreshing is
 * on). For memory the vCPU itself wrote before any guest code could reload CR3, such as the
 * interrupt frame the CPU pushes on entry: stored again through a fresh TLB entry, the page is
 * marked dirty, so a sync cannot have lost it. p is 8-byte aligned. */
void tlb_refresh_retouch(void *p, size_t bytes);

/* Every timer tick on every CPU: now and then (10 Hz) reload CR3. QEMU's TCG sizes each vCPU's
 * software TLB to the pages it uses, but only when that TLB is flushed (tlb_mmu_resize_locked in
 * accel/tcg/cputlb.c, from the flush); a guest that never flushes keeps the first 256 entries
 * (1 MiB) for good and, with a working set of several MiB (request buffers, the expected-state
 * table), refills entries all the time (page walks in tlb_fill). Reloading lets it grow: 12% less
 * QEMU CPU per request on null-co. Under KVM it costs a few TLB misses ten times a second. Not
 * with tlb_refresh=off, which never reloads. */
void tlb_tick(void);

#endif
