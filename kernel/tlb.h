/*
 * tlb.h: the TLB refresh that keeps migration under QEMU's TCG from losing guest writes.
 *
 * What vqhammer found on QEMU 7.2 TCG: a page a vCPU keeps writing can drop out of migration's
 * dirty tracking (its TLB entry goes back to fast, untracked writes while the page's dirty bit is
 * clear), and stays out until that TLB entry is dropped. The destination then resumes with a stale
 * copy of the page: stacks, rings, state tables, and the guest crashes or reports false data
 * errors. Comparing both QEMUs' RAM after migration (`pmemsave`, destination started with -S)
 * shows such pages in most migrations of a busy guest; reloading CR3 regularly (which empties the
 * vCPU's TLB, so every next write is checked again) makes them vanish. A guest with a small, hot
 * working set that never reloads CR3 (like this one) keeps those TLB entries forever, which is
 * why ordinary guests rarely show it. So the kernel reloads CR3 after every request it posts or
 * completes, after every message and on every worker round, under TCG only (CPUID 0x40000000
 * "TCGTCGTCGTCG"), unless tlb_refresh=off asks to reproduce the bug. What is written between the
 * tracking loss and the next reload can still be lost, so this narrows the window; it does not
 * close it. KVM tracks dirty pages in the host kernel and needs none of this.
 */
#ifndef VQH_TLB_H
#define VQH_TLB_H

#include "base.h"

/* Decide once (boot CPU): toggle is config tlb_refresh (auto|on|off). Returns "tcg", "kvm", ... */
const char *tlb_refresh_init(uint32_t toggle);
bool tlb_refresh_enabled(void);
/* Reload CR3 if refreshing is on. */
void tlb_refresh(void);

#endif
