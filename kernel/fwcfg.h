/* fwcfg.h: QEMU's fw_cfg device through its I/O ports (both boot paths have it). */
#ifndef VQH_FWCFG_H
#define VQH_FWCFG_H

#include "base.h"

bool fwcfg_present(void);
/*
 * Read the named file (e.g. WIRE_FWCFG_CONFIG) into buf, NUL-terminated. Returns its size, or -1
 * when absent; a file longer than cap - 1 is truncated and *truncated set.
 */
int64_t fwcfg_read_file(const char *name, char *buf, size_t cap, bool *truncated);

#endif
