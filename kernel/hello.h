/* hello.h: the first message of every boot (wire.h: WIRE_MSG_HELLO). */
#ifndef VQH_HELLO_H
#define VQH_HELLO_H

#include "bootinfo.h"
#include "config.h"

void hello_send(const struct bootinfo *bi, const struct config *cfg, const char *clock,
                const char *hypervisor);

#endif
