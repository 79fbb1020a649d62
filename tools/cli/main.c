/* main.c: `vqhammer <subcommand> [options]`. */
#include "cmds.h"
#include "nbd_server.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: vqhammer <command> [options]\n\n"
        "commands:\n"
        "  run            boot the guest under QEMU, hammer every virtio-blk queue with verified I/O, verdict\n"
        "  migrate        the same, live-migrating the guest again and again through QMP, checking after every hop\n"
        "  verify-image   check the blocks of a disk image offline (optionally against the guest's final state)\n"
        "  bench          speed and memory figures: boot times, verified ops/s, QEMU CPU per op, peak RSS\n"
        "  lab            nightly matrix runs: parallel cells, flaky/known-issue triage, database, reports, Slurm\n\n"
        "`vqhammer <command> --help` lists a command's options.\n"
        "Exit status: 0 PASS, 1 FAIL (a problem found in QEMU or the data), 2 ERROR (setup, flags).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    /* Each subcommand parses argv[1..]: its own name stands where a program name would. */
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "migrate"))
        return cmd_migrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "lab"))
        return cmd_lab(argc - 1, argv + 1);
    if (!strcmp(cmd, "nbd-serve")) /* internal: the NBD server's supervisor (tools/blockgraph/nbd_serve.c) */
        return nbd_serve_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "verify-image"))
        return verify_image_main(argc - 1, argv + 1);
    fprintf(stderr, "vqhammer: unknown command '%s' (known: run, migrate, verify-image, bench, lab; see vqhammer --help)\n", cmd);
    return 2;
}
