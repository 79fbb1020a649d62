/* opts_text.c: what the options of `vqhammer run` and `migrate` print: --help, the run's
 * configuration as JSON, and the reproducer command line. */
#include "opts.h"

#include <stdio.h>
#include <string.h>

void opts_usage(FILE *f, const char *command)
{
    bool migrate = command && !strcmp(command, "migrate");
    fprintf(f,
        "usage: vqhammer %s [options]\n\n%s\n\n"
        "The VM (source and destination are started from the same description):\n"
        "  --qemu PATH            QEMU binary (qemu-system-x86_64 from PATH)\n"
        "  --qemu-dst PATH        destination QEMU, for cross-version runs (same as --qemu)\n"
        "  --machine TYPE         machine type, pinned (pc-q35-7.2)\n"
        "  --accel auto|kvm|tcg   auto: KVM only if a probe boot works, else TCG (auto)\n"
        "  --smp N                vCPUs (4)\n"
        "  --mem MIB              guest memory (256)\n"
        "  --boot uefi|pvh        OVMF + build/esp.img, or PVH direct boot of build/kernel.elf (uefi)\n"
        "  --kernel PATH  --esp PATH  --ovmf-code PATH  --ovmf-vars PATH\n"
        "  --disk PATH            data disk image (raw), repeatable; created when absent\n"
        "                         (default: one scratch image in the run directory)\n"
        "  --disk-overwrite       allow an existing --disk image: the guest writes all over it\n"
        "  --disk-prealloc        write scratch or created raw images in full first (zeroes):\n"
        "                         no holes, so the host filesystem allocates nothing under load\n"
        "  --disk-size SIZE       size of scratch or created images (256M)\n"
        "  --queues N             virtio-blk num-queues (8)\n"
        "  --queue-size N         virtio-blk queue-size (256)\n"
        "  --iothreads N          iothreads, disks spread over them; 0 = none (1)\n"
        "  --aio threads|native|io_uring  (threads)\n"
        "  --cache none|writeback|writethrough|directsync|unsafe  (none)\n"
        "  --disk-opts PROPS      extra virtio-blk-pci properties, e.g. packed=on,event_idx=off\n"
        "  --disk-graph SPEC      the block graph under a data disk, repeatable (one for all disks,\n"
        "                         or the i-th for disk i): raw|qcow2, file|nbd, l2-cache-size=SIZE,\n"
        "                         cache-clean-interval=S, reconnect-delay=S, align=BYTES,\n"
        "                         throttle=GROUP:iops=N[:bps=N], iothread=K, vq-iothreads=N\n"
        "                         (see README: block graphs)\n"
        "  --nbd-chaos MIN:MAX    kill the NBD server every MIN..MAX ms (seeded) and restart it after\n"
        "                         an outage shorter than reconnect-delay\n"
        "The guest load:\n"
        "  --seed N               seed of everything random (random; printed in the reproducer)\n"
        "  --guest-config K=V;..  extra guest configuration keys (see README: guest configuration)\n"
        "  --guest-mode irq|poll  completion interrupts (MSI-X) or polling (irq)\n",
        command ? command : "run|migrate",
        migrate ? "Boot the guest, keep every queue busy and live-migrate it back and forth,\n"
                  "checking data and device health after every migration."
                : "Boot the guest under QEMU, hammer its data disks for --run-seconds, verify, verdict.");
    if (migrate)
        fprintf(f,
        "The migration loop:\n"
        "  --migrations N         migrations to run (10)\n"
        "  --duration SECONDS     run for this long instead of a count\n"
        "  --transport unix|tcp   migration stream over a unix socket or TCP on 127.0.0.1 (unix)\n"
        "  --multifd[=N]          multifd with N channels (2)\n"
        "  --postcopy  --xbzrle  --auto-converge\n"
        "  --downtime-limit MS    --bandwidth BYTES/S\n"
        "  --cancel-every K       cancel every K-th migration mid-way (the source must go on intact)\n"
        "  --kill-dst-every K     kill the destination mid-way in every K-th migration\n"
        "  --reset-every K        at every K-th hop's checks the guest resets its data disks\n"
        "  --hotplug-slots N      N spare PCIe root ports for hot-plugged data disks (0)\n"
        "  --hotplug-every K      after every K-th hop's checks plug a fresh disk into a spare slot, or\n"
        "                         unplug the last one (fills the slots, then empties them, and again)\n"
        "  --verify full|sample|none  guest verification pass after every hop (sample)\n"
        "  --verify-sample N      ranges per queue in a sampled pass (16)\n"
        "  --gap MIN:MAX          random wait in ms before each migration (200:1500)\n"
        "  --migrate-timeout MS   a migration not done by then is a hang (120000)\n"
        "  --check-ram            after every migration, before the destination runs, compare both\n"
        "                         QEMUs' guest RAM page by page (pmemsave): any difference is a FAIL\n");
    else
        fprintf(f, "  --run-seconds N        seconds of load before the final verification (10)\n");
    fprintf(f,
        "Hop actions (tools/hop/; README \"Hop actions\"):\n"
        "  --hop-actions LIST     what happens around each hop: paused, copy-storage,\n"
        "                         copy-storage-sync, backup, commit, stream, werror, late-cancel,\n"
        "                         postcopy-recover, or all (comma-separated)\n"
        "  --hop-mix rotate|random  one action per hop, in list order or seeded (rotate)\n"
        "Timeouts and output:\n"
        "  --boot-timeout MS      until the guest's hello (60000)\n"
        "  --guest-timeout MS     guest silence that counts as a hang (30000)\n"
        "  --keep                 keep the run directory after a PASS too\n"
        "  --final-state          the guest prints its final expected-state table into\n"
        "                         serial-merged.log, for `vqhammer verify-image` (implies --keep)\n"
        "  --workdir DIR          where the private run directory is made ($TMPDIR or /tmp)\n"
        "  --json FILE  --junit FILE  --qmp-log FILE\n"
        "  --quiet  --verbose\n"
        "Test hooks (to prove the detectors):\n"
        "  --inject abort-src|stop-dst|overwrite-block[=PATTERN]|ram-diff|stop-guest|nbd-zero|\n"
        "           refuse-features|slow-cancel|crash-after-cancel  --inject-hop N\n"
        "                         (PATTERN: flip (default), random, zeroes, other-lba, old-gen,\n"
        "                         other-disk (needs two --disk): each a different data class)\n"
        "                         (ram-diff: with --check-ram, one byte of the destination's RAM dump\n"
        "                         is flipped before the comparison; nbd-zero: the NBD server is\n"
        "                         restarted on zeroed images, so data is really lost; refuse-features:\n"
        "                         the destination's disks demand VIRTIO_F_ACCESS_PLATFORM, so they\n"
        "                         refuse FEATURES_OK at the guest's next reset, --reset-every;\n"
        "                         slow-cancel, crash-after-cancel: at the hop's migrate_cancel (with\n"
        "                         --hop-actions late-cancel, or a --cancel-every hop), the source is\n"
        "                         stopped until the destination has exited (that exit is no finding),\n"
        "                         or the destination gets SIGABRT (a crash after a cancel is one))\n\n"
        "Exit status: 0 PASS, 1 FAIL (a problem in QEMU or the data), 2 ERROR (setup, flags).\n");
}

json_t *opts_to_json(const struct vqh_opts *o)
{
    json_t *disks = json_array();
    for (int i = 0; i < o->ndisks; i++)
        json_array_append_new(disks, json_string(o->disk[i]));
    char seed[32];
    snprintf(seed, sizeof(seed), "0x%llx", (unsigned long long)o->seed);
    json_t *graphs = json_array();
    for (int i = 0; i < o->ndisk_graphs; i++)
        json_array_append_new(graphs, json_string(o->disk_graph[i]));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:o, s:I, s:i, s:i, s:i, s:s, s:s, s:s,"
                     " s:s, s:s, s:s, s:i, s:i, s:s, s:i, s:b, s:b, s:b, s:i, s:I, s:i, s:i, s:s, s:i, s:s, s:s}",
                     "command", o->command, "qemu", o->qemu, "qemu_dst", o->qemu_dst,
                     "machine", o->machine,
                     "accel", o->accel == ACCEL_KVM ? "kvm" : o->accel == ACCEL_TCG ? "tcg" : "auto",
                     "smp", o->smp, "mem_mib", o->mem_mib, "boot", o->boot == BOOT_PVH ? "pvh" : "uefi",
                     "disks", disks, "disk_size", (json_int_t)o->disk_size, "queues", o->queues,
                     "queue_size", o->queue_size, "iothreads", o->iothreads, "aio", o->aio,
                     "cache", o->cache, "disk_opts", o->disk_extra, "seed", seed,
                     "guest_config", o->guest_config, "guest_mode", o->mode,
                     "migrations", o->migrations, "duration_s", o->duration_s,
                     "transport", o->transport == TRANSPORT_TCP ? "tcp" : "unix",
                     "multifd", o->multifd, "postcopy", o->postcopy, "xbzrle", o->xbzrle,
                     "auto_converge", o->auto_converge, "downtime_limit_ms", o->downtime_limit_ms,
                     "bandwidth", (json_int_t)o->bandwidth, "cancel_every", o->cancel_every,
                     "kill_dst_every", o->kill_dst_every, "verify", o->verify,
                     "run_seconds", o->run_seconds, "hop_actions", o->hop_actions, "hop_mix", o->hop_mix);
    json_object_set_new(j, "disk_graph", graphs);
    json_object_set_new(j, "nbd_chaos", o->nbd_chaos_max_ms ? json_sprintf("%d:%d", o->nbd_chaos_min_ms,
                                                                         o->nbd_chaos_max_ms) : json_null());
    if (j)
        json_object_set_new(j, "reset_every", json_integer(o->reset_every));
    if (j) {
        json_object_set_new(j, "hotplug_slots", json_integer(o->hotplug_slots));
        json_object_set_new(j, "hotplug_every", json_integer(o->hotplug_every));
    }
    return j;
}

/* Quote for a POSIX shell only when needed. */
static void opts_append(char *buf, size_t cap, const char *flag, const char *val)
{
    size_t n = strlen(buf);
    bool plain = val && val[strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,+")] == 0 && *val;
    if (!val)
        snprintf(buf + n, cap - n, " %s", flag);
    else if (plain)
        snprintf(buf + n, cap - n, " %s %s", flag, val);
    else
        snprintf(buf + n, cap - n, " %s '%s'", flag, val); /* values never hold a quote: paths and K=V */
}

void opts_reproducer(const struct vqh_opts *o, char *buf, size_t cap)
{
    char num[64];
    snprintf(buf, cap, "vqhammer %s", o->command);
    snprintf(num, sizeof(num), "0x%llx", (unsigned long long)o->seed);
    opts_append(buf, cap, "--seed", num);
    if (strcmp(o->qemu, "qemu-system-x86_64"))
        opts_append(buf, cap, "--qemu", o->qemu);
    if (strcmp(o->qemu_dst, o->qemu))
        opts_append(buf, cap, "--qemu-dst", o->qemu_dst);
    opts_append(buf, cap, "--machine", o->machine);
    if (o->accel != ACCEL_AUTO)
        opts_append(buf, cap, "--accel", o->accel == ACCEL_KVM ? "kvm" : "tcg");
    snprintf(num, sizeof(num), "%d", o->smp); opts_append(buf, cap, "--smp", num);
    snprintf(num, sizeof(num), "%d", o->mem_mib); opts_append(buf, cap, "--mem", num);
    opts_append(buf, cap, "--boot", o->boot == BOOT_PVH ? "pvh" : "uefi");
    for (int i = 0; i < o->ndisks; i++)
        opts_append(buf, cap, "--disk", o->disk[i]);
    if (o->disk_overwrite)
        opts_append(buf, cap, "--disk-overwrite", NULL);
    if (o->disk_prealloc)
        opts_append(buf, cap, "--disk-prealloc", NULL);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)o->disk_size); opts_append(buf, cap, "--disk-size", num);
    snprintf(num, sizeof(num), "%d", o->queues); opts_append(buf, cap, "--queues", num);
    snprintf(num, sizeof(num), "%d", o->queue_size); opts_append(buf, cap, "--queue-size", num);
    snprintf(num, sizeof(num), "%d", o->iothreads); opts_append(buf, cap, "--iothreads", num);
    opts_append(buf, cap, "--aio", o->aio);
    opts_append(buf, cap, "--cache", o->cache);
    if (o->disk_extra[0])
        opts_append(buf, cap, "--disk-opts", o->disk_extra);
    for (int i = 0; i < o->ndisk_graphs; i++)
        opts_append(buf, cap, "--disk-graph", o->disk_graph[i]);
    if (o->nbd_chaos_max_ms) {
        snprintf(num, sizeof(num), "%d:%d", o->nbd_chaos_min_ms, o->nbd_chaos_max_ms);
        opts_append(buf, cap, "--nbd-chaos", num);
    }
    if (o->guest_config[0])
        opts_append(buf, cap, "--guest-config", o->guest_config);
    opts_append(buf, cap, "--guest-mode", o->mode);
    if (!strcmp(o->command, "run") || !strcmp(o->command, "bench")) { /* no migration flags */
        snprintf(num, sizeof(num), "%d", o->run_seconds); opts_append(buf, cap, "--run-seconds", num);
        return;
    }
    if (o->duration_s) {
        snprintf(num, sizeof(num), "%d", o->duration_s); opts_append(buf, cap, "--duration", num);
    } else {
        snprintf(num, sizeof(num), "%d", o->migrations); opts_append(buf, cap, "--migrations", num);
    }
    if (o->transport == TRANSPORT_TCP)
        opts_append(buf, cap, "--transport", "tcp");
    if (o->multifd) {
        snprintf(num, sizeof(num), "--multifd=%d", o->multifd);
        opts_append(buf, cap, num, NULL);
    }
    if (o->postcopy) opts_append(buf, cap, "--postcopy", NULL);
    if (o->check_ram) opts_append(buf, cap, "--check-ram", NULL);
    if (o->xbzrle) opts_append(buf, cap, "--xbzrle", NULL);
    if (o->auto_converge) opts_append(buf, cap, "--auto-converge", NULL);
    if (o->downtime_limit_ms) { snprintf(num, sizeof(num), "%d", o->downtime_limit_ms); opts_append(buf, cap, "--downtime-limit", num); }
    if (o->bandwidth) { snprintf(num, sizeof(num), "%llu", (unsigned long long)o->bandwidth); opts_append(buf, cap, "--bandwidth", num); }
    if (o->cancel_every) { snprintf(num, sizeof(num), "%d", o->cancel_every); opts_append(buf, cap, "--cancel-every", num); }
    if (o->reset_every) { snprintf(num, sizeof(num), "%d", o->reset_every); opts_append(buf, cap, "--reset-every", num); }
    if (o->hotplug_slots) { snprintf(num, sizeof(num), "%d", o->hotplug_slots); opts_append(buf, cap, "--hotplug-slots", num); }
    if (o->hotplug_every) { snprintf(num, sizeof(num), "%d", o->hotplug_every); opts_append(buf, cap, "--hotplug-every", num); }
    if (o->kill_dst_every) { snprintf(num, sizeof(num), "%d", o->kill_dst_every); opts_append(buf, cap, "--kill-dst-every", num); }
    if (o->hop_actions[0]) {
        opts_append(buf, cap, "--hop-actions", o->hop_actions);
        opts_append(buf, cap, "--hop-mix", o->hop_mix);
    }
    opts_append(buf, cap, "--verify", o->verify);
    snprintf(num, sizeof(num), "%d:%d", o->min_gap_ms, o->max_gap_ms); opts_append(buf, cap, "--gap", num);
    if (o->inject[0] && strcmp(o->inject, "none")) {
        char inj[64];
        snprintf(inj, sizeof(inj), "%s%s%s", o->inject, o->inject_pattern[0] ? "=" : "", o->inject_pattern);
        opts_append(buf, cap, "--inject", inj);
        snprintf(num, sizeof(num), "%d", o->inject_hop); opts_append(buf, cap, "--inject-hop", num);
    }
}
