/* spinlock.h: a test-and-test-and-set lock that also disables interrupts while held. */
#ifndef VQH_SPINLOCK_H
#define VQH_SPINLOCK_H

#include "cpu.h"

struct spinlock {
    volatile uint32_t locked;
    uint64_t saved_flags;
};

static inline void spin_lock(struct spinlock *l)
{
    uint64_t flags = irq_save();
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        while (l->locked)
            cpu_relax();
    }
    l->saved_flags = flags;
}

/* For the panic path: give up after spins attempts so a CPU that died holding it cannot hang us. */
static inline bool spin_lock_bounded(struct spinlock *l, uint64_t spins)
{
    uint64_t flags = irq_save();
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        if (spins-- == 0) {
            l->saved_flags = flags;
            return false;
        }
        cpu_relax();
    }
    l->saved_flags = flags;
    return true;
}

static inline void spin_unlock(struct spinlock *l)
{
    uint64_t flags = l->saved_flags;
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
    irq_restore(flags);
}

#endif
