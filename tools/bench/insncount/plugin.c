/*
 * plugin.c: a QEMU TCG plugin that counts the guest instructions each translation block executes,
 * for tools/bench/insncount/insn-count.sh. Under TCG the guest's CPU time follows the number of
 * guest instructions it executes far more steadily than wall-clock figures on a shared machine,
 * so speed work on the guest is measured in instructions per request.
 *
 * Not part of vqhammer: built as a shared object (`make insn-count`) and loaded by QEMU with
 * -plugin FILE,out=PATH. At QEMU's exit it writes one line per block that ran:
 * "<guest vaddr, hex> <instructions in the block> <times executed>".
 *
 * The few plugin API calls used are declared here, so no QEMU headers are needed. They are the
 * same from API version 1 (QEMU 7.2, Debian 12) to 4 (QEMU 10); QEMU refuses a plugin whose
 * version is outside its range, so the Makefile builds one object per VQH_PLUGIN_API (1 and 2).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VQH_PLUGIN_API
#define VQH_PLUGIN_API 1
#endif

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef void (*vqh_tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*vqh_exec_cb)(unsigned int vcpu, void *userdata);
typedef void (*vqh_exit_cb)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, vqh_tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, vqh_exec_cb cb, int flags,
                                          void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, vqh_exit_cb cb, void *userdata);

#define EXPORTED __attribute__((visibility("default")))
EXPORTED int qemu_plugin_version = VQH_PLUGIN_API;

/* One translated block, by start address and length (a block retranslated with another length
 * is another entry). Entries are never freed: QEMU calls the exec callback with them. */
struct block {
    uint64_t vaddr;
    uint64_t insns;
    uint64_t runs; /* atomic: vCPU threads run blocks concurrently */
    struct block *next;
};

#define BUCKETS 65536
static struct block *buckets[BUCKETS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char out_path[4096];

static void on_exec(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    __atomic_add_fetch(&((struct block *)userdata)->runs, 1, __ATOMIC_RELAXED);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint64_t va = qemu_plugin_tb_vaddr(tb), n = qemu_plugin_tb_n_insns(tb);
    unsigned h = (unsigned)((va ^ (va >> 17) ^ (n * 0x9e3779b1u)) % BUCKETS);
    pthread_mutex_lock(&lock);
    struct block *b = buckets[h];
    while (b && !(b->vaddr == va && b->insns == n))
        b = b->next;
    if (!b && (b = calloc(1, sizeof(*b))) != NULL) {
        b->vaddr = va;
        b->insns = n;
        b->next = buckets[h];
        buckets[h] = b;
    }
    pthread_mutex_unlock(&lock);
    if (b)
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, 0 /* QEMU_PLUGIN_CB_NO_REGS */, b);
}

static void on_qemu_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "insn-count plugin: cannot write %s\n", out_path);
        return;
    }
    for (unsigned i = 0; i < BUCKETS; i++)
        for (struct block *b = buckets[i]; b; b = b->next) {
            uint64_t runs = __atomic_load_n(&b->runs, __ATOMIC_RELAXED);
            if (runs)
                fprintf(f, "%llx %llu %llu\n", (unsigned long long)b->vaddr,
                        (unsigned long long)b->insns, (unsigned long long)runs);
        }
    if (fclose(f) != 0)
        fprintf(stderr, "insn-count plugin: writing %s failed\n", out_path);
}

EXPORTED int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
    (void)info;
    out_path[0] = 0;
    for (int i = 0; i < argc; i++)
        if (!strncmp(argv[i], "out=", 4))
            snprintf(out_path, sizeof(out_path), "%s", argv[i] + 4);
    if (!out_path[0]) {
        fprintf(stderr, "insn-count plugin: give it out=PATH (-plugin FILE,out=PATH)\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
    return 0;
}
