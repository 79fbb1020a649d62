/*
 * spinlock.h: a test-and-test-and-set lock.
 *
 * It leaves the interrupt flag alone: this kernel runs with interrupts disabled everywhere except
 * inside cpu_idle()'s `sti; hlt; cli` (cpu.h), where no lock is held, so an interrupt handler can
 * never find its own CPU holding a lock. Saving and restoring RFLAGS around every lock cost two
 * QEMU helper calls per lock under TCG (pushfq makes TCG compute the lazy condition codes), four
 * per request on the stress path, for nothing.
 */
#ifndef VQH_SPINLOCK_H
#define VQH_SPINLOCK_H

#include "cpu.h"

struct spinlock {
    volatile uint32_t locked;
};

static inline void spin_lock(struct spinlock *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        while (l->locked)
            cpu_relax();
    }
}

/* For the panic path: give up after spins attempts so a CPU that died holding it cannot hang us. */
static inline bool spin_lock_bounded(struct spinlock *l, uint64_t spins)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        if (spins-- == 0)
            return false;
        cpu_relax();
    }
    return true;
}

static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif
