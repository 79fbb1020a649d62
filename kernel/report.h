/* report.h: sending wire messages (wire.h) to the host, and the verdict that ends the VM. */
#ifndef VQH_REPORT_H
#define VQH_REPORT_H

#include "msg.h"

/*
 * Begin a message that may outgrow one line (per-disk or per-queue lists): built in this CPU's
 * WIRE_MSG_MAX buffer and sent by report_send as parts (wire.h). Send it before beginning another
 * big one on the same CPU (that one would be built in its struct, cut at a line).
 */
void report_begin_big(struct msg *m, const char *type);
/* Number the message and write it as one line, or as parts when longer; safe from any CPU. */
void report_send(struct msg *m);
/* The same from a CPU that may have faulted while holding the console lock (exceptions, panic):
 * waits a bounded time for the lock, then writes anyway. */
void report_send_urgent(struct msg *m);
/* A one-line "log" message: level "info", "warn" or "error". */
void report_log(const char *level, const char *text);
/* A "log" message with text followed by a number (no printf in the kernel). */
void report_log_u64(const char *level, const char *text, uint64_t v);

/* Send {"type":"verdict"} and end the VM through isa-debug-exit (wire.h). Never returns. */
__attribute__((noreturn)) void report_verdict(enum wire_verdict verdict, const char *reason);
/* Kernel assertion failed or the impossible happened: a panic message, then the panic verdict. */
__attribute__((noreturn)) void panic(const char *why);

#endif
