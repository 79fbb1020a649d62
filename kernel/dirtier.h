/*
 * dirtier.h: guest memory kept dirty on the host's word, so that a migration that must take more
 * than one pass over RAM does.
 *
 * Postcopy, xbzrle and auto-converge act only after the first pass, and QEMU ends a migration in
 * precopy at the dirty-bitmap sync that ends a pass whenever what is dirty fits the stream's
 * bandwidth x downtime-limit. The stress engine's own writes (its rings, headers and buffers) are
 * a few hundred pages, sometimes fewer than that limit: then the hop converges before the mode
 * could act (a CI run saw auto-converge hops finish in one pass, 2 of 8 times). So, as the guests
 * of QEMU's own migration tests do, the guest writes one word into every page of a region, over
 * and over, while the host asks (`dirty pages=N`, kernel/wire.h; `pages=0` stops it):
 * DIRTIER_SWEEP_MS per sweep, 32 MiB/s for the default 2048 pages, several times the 8 MiB/s the
 * host holds such a hop to (tools/migrate/modes.h), so a pass never catches up and auto-converge's
 * "dirtied more than half of what was sent" holds in every period. On the destination of a
 * postcopy hop the same writes fault pages in: page requests served.
 *
 * Boot CPU only (the control loop); the region is taken from the page allocator on first use and
 * kept. Every sweep starts with tlb_refresh(), so QEMU's TCG dirty tracking (kernel/tlb.h) sees
 * the writes even on a QEMU with the old bug.
 */
#ifndef VQH_DIRTIER_H
#define VQH_DIRTIER_H

#include "base.h"

#define DIRTIER_MAX_PAGES 4096u /* 16 MiB */
#define DIRTIER_SWEEP_MS 250u

/* Dirty `pages` pages (0: stop); returns how many it dirties now (fewer if memory is short). */
uint32_t dirtier_set(uint64_t pages);
/* The control loop's step: the writes due by now_ms. */
void dirtier_tick(uint64_t now_ms);
/* Sweeps completed since boot. */
uint64_t dirtier_sweeps(void);

#endif
