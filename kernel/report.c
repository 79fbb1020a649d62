/* report.c: numbered message lines on COM1, and the verdict through isa-debug-exit. */
#include "report.h"
#include "console.h"
#include "cpu.h"
#include "memory.h"
#include "msgsplit.h"
#include "percpu.h"
#include "spinlock.h"
#include "tlb.h"

static struct spinlock console_lock;
static uint64_t next_seq = 1;
static char line_buf[WIRE_LINE_MAX + 32];

/* Each CPU's buffer for messages longer than a line, taken on first use; busy while one is being
 * built, so a second one begun on the same CPU meanwhile builds in its struct instead. */
#define BIG_CAP (WIRE_MSG_MAX + MSG_CTL_SIZE)
static char *big_buf[MAX_CPUS];
static volatile bool big_busy[MAX_CPUS];

/* All parts of a message go out back to back under the console lock: the host wants them on
 * consecutive seqs (wire.h). */
static void report_write_locked(struct msg *m)
{
    struct msg_split s;
    size_t n;
    msg_split_begin(&s, m);
    while ((n = msg_split_next(&s, next_seq, line_buf, sizeof(line_buf))) > 0) {
        next_seq++;
        console_write(line_buf, n);
        tlb_refresh(); /* the line buffer again for the next part: see tlb.h */
    }
    uint32_t cpu = percpu_index();
    if (cpu < MAX_CPUS && m->body == big_buf[cpu])
        big_busy[cpu] = false;
}

void report_begin_big(struct msg *m, const char *type)
{
    uint32_t cpu = percpu_index();
    if (cpu >= MAX_CPUS || big_busy[cpu]) {
        msg_begin(m, type);
        return;
    }
    if (!big_buf[cpu])
        big_buf[cpu] = pmm_alloc(BIG_CAP, 64); /* NULL when RAM is short: the message is cut */
    if (!big_buf[cpu]) {
        msg_begin(m, type);
        return;
    }
    big_busy[cpu] = true;
    msg_begin_buf(m, type, big_buf[cpu], BIG_CAP);
}

void report_send_urgent(struct msg *m)
{
    bool locked = spin_lock_bounded(&console_lock, 50000000);
    report_write_locked(m);
    if (locked)
        spin_unlock(&console_lock);
}

void report_send(struct msg *m)
{
    spin_lock(&console_lock);
    report_write_locked(m);
    tlb_refresh(); /* writing the line takes long: the unlock must not go through a stale TLB entry */
    spin_unlock(&console_lock);
    tlb_refresh(); /* the lock word and the line buffer: see tlb.h */
}

void report_log(const char *level, const char *text)
{
    struct msg m;
    msg_begin(&m, WIRE_MSG_LOG);
    msg_str(&m, "level", level);
    msg_u64(&m, "cpu", percpu_index());
    msg_str(&m, "text", text);
    report_send(&m);
}

void report_log_u64(const char *level, const char *text, uint64_t v)
{
    struct msg m;
    msg_begin(&m, WIRE_MSG_LOG);
    msg_str(&m, "level", level);
    msg_u64(&m, "cpu", percpu_index());
    msg_str(&m, "text", text);
    msg_u64(&m, "value", v);
    report_send(&m);
}

static const char *verdict_name(enum wire_verdict v)
{
    switch (v) {
    case WIRE_VERDICT_PASS: return "pass";
    case WIRE_VERDICT_FAIL: return "fail";
    default: return "panic";
    }
}

void report_verdict(enum wire_verdict verdict, const char *reason)
{
    struct msg m;
    static volatile uint32_t ending;

    irq_disable();
    /* Only the first CPU to decide gets to speak; the others stop here. */
    if (__atomic_exchange_n(&ending, 1, __ATOMIC_SEQ_CST)) {
        for (;;)
            __asm__ __volatile__("cli; hlt");
    }
    msg_begin(&m, WIRE_MSG_VERDICT);
    msg_str(&m, "verdict", verdict_name(verdict));
    msg_str(&m, "reason", reason);
    msg_u64(&m, "cpu", percpu_index());
    /* A CPU that faulted while holding the console lock must not keep the verdict in. */
    bool locked = spin_lock_bounded(&console_lock, 50000000);
    report_write_locked(&m);
    if (locked)
        spin_unlock(&console_lock);
    outl(WIRE_DEBUG_EXIT_PORT, verdict);
    /* No isa-debug-exit device: the verdict line is all the host gets. */
    for (;;)
        __asm__ __volatile__("cli; hlt");
}

void panic(const char *why)
{
    struct msg m;
    msg_begin(&m, WIRE_MSG_PANIC);
    msg_u64(&m, "cpu", percpu_index());
    msg_str(&m, "reason", why);
    report_send_urgent(&m);
    report_verdict(WIRE_VERDICT_PANIC, why);
}
