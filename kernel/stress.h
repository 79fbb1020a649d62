/* stress.h: the load on the data disks: find them, hammer every queue, verify, report. */
#ifndef VQH_STRESS_H
#define VQH_STRESS_H

#include "config.h"
#include "msg.h"

/* Find PCI virtio-blk devices, tell data disks from others (before hello). */
void stress_probe(const struct config *cfg);
/* Add the "disks" array to the hello message. */
void stress_describe_disks(struct msg *m);
/* Run the load for cfg->duration (or until the host says finish); ends with the verdict. */
__attribute__((noreturn)) void stress_run(const struct config *cfg);

#endif
