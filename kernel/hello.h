/* hello.h: the first message of every boot (wire.h: WIRE_MSG_HELLO). */
#ifndef VQH_HELLO_H
#define VQH_HELLO_H

#include "bootinfo.h"
#include "config.h"

/* The boot's stages, timed with the TSC (which starts at the vCPU's reset, so the first stamp
 * also holds the firmware's and loader's time): hello says each stage's microseconds. */
enum hello_stage { HELLO_ENTRY, HELLO_PAGING, HELLO_ACPI, HELLO_CLOCK, HELLO_SMP, HELLO_PROBE, HELLO_STAGES };
void hello_mark(enum hello_stage stage);

void hello_send(const struct bootinfo *bi, const struct config *cfg, const char *clock,
                const char *hypervisor);

#endif
