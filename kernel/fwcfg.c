/* fwcfg.c: fw_cfg's legacy port interface: selector 0x510, data 0x511, big-endian directory. */
#include "fwcfg.h"
#include "cpu.h"

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_FILE_DIR 0x0019

static void fwcfg_select(uint16_t key)
{
    outw(FW_CFG_PORT_SEL, key);
}

static void fwcfg_read(void *buf, size_t n)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = inb(FW_CFG_PORT_DATA);
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

bool fwcfg_present(void)
{
    char sig[4];
    fwcfg_select(FW_CFG_SIGNATURE);
    fwcfg_read(sig, 4);
    return !memcmp(sig, "QEMU", 4);
}

int64_t fwcfg_read_file(const char *name, char *buf, size_t cap, bool *truncated)
{
    uint8_t raw[4];
    *truncated = false;
    if (!fwcfg_present())
        return -1;
    fwcfg_select(FW_CFG_FILE_DIR);
    fwcfg_read(raw, 4);
    uint32_t count = be32(raw);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t entry[64]; /* size (be32), select (be16), reserved, name[56] */
        fwcfg_read(entry, sizeof(entry));
        entry[63] = 0;
        if (strcmp((const char *)entry + 8, name))
            continue;
        uint32_t size = be32(entry);
        uint16_t sel = (uint16_t)((entry[4] << 8) | entry[5]);
        size_t n = size;
        if (n > cap - 1) {
            n = cap - 1;
            *truncated = true;
        }
        fwcfg_select(sel);
        fwcfg_read(buf, n);
        buf[n] = 0;
        return size;
    }
    return -1;
}
