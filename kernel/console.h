/* console.h: the 16550 UART on COM1, the guest's only channel to the host (wire.h). */
#ifndef VQH_CONSOLE_H
#define VQH_CONSOLE_H

#include "base.h"

void console_init(void);
/* Write raw bytes; callers that need whole lines to stay whole hold console_lock (report.c). */
void console_write(const char *s, size_t n);
/*
 * Poll for input: collects bytes into a line; returns true with a NUL-terminated line (without
 * '\n' or '\r') when one is complete. Never blocks. Over-long lines are cut at cap - 1.
 */
bool console_poll_line(char *line, size_t cap);

#endif
