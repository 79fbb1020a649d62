/*
 * wire.h: everything the guest and the host tools must agree on, defined once.
 *
 * Included by the kernel (freestanding) and by tools/ (host). Change a value here and both sides
 * follow at the next build; WIRE_VERSION goes into `hello` so a host can refuse a guest it does not
 * understand.
 *
 * Guest -> host: single lines on COM1,
 *
 *     VQH1 <seq> <json-object>\n
 *
 * <seq> is a decimal per-boot sequence number starting at 1 and growing by one per line, shared by
 * all vCPUs; guest memory migrates with the VM, so it keeps growing across migrations and the logs
 * of several QEMU processes merge by it. The prefix may follow firmware noise on the same line: a
 * reader searches for it. The JSON is pure ASCII (other bytes are \u-escaped) and has a "type"
 * member naming one of the WIRE_MSG_* types below. DOCUMENTED in README.md ("Guest messages").
 *
 * A message whose JSON does not fit one line (of WIRE_LINE_MAX - WIRE_LINE_ROOM bytes) goes out as
 * parts (WIRE_MSG_PART): consecutive lines,
 * written back to back (their seqs follow each other, nothing in between), each a complete message
 * of its own whose "data" string carries the next piece of the whole message's JSON text:
 *
 *     VQH1 <seq>   {"type":"part","part":0,"more":true,"of":"summary","len":51234,"crc":N,"data":"{\"type..."}
 *     VQH1 <seq+1> {"type":"part","part":1,"more":true,"msg":<seq>,"crc":N,"data":"..."}
 *     ...
 *     VQH1 <seq+k> {"type":"part","part":k,"more":false,"msg":<seq>,"crc":N,"data":"...}"}
 *
 * part counts from 0; more is true on every part but the last; crc is the CRC-32C (crc32c.h) of
 * this part's data (the decoded string); part 0 also names the whole message's type ("of") and
 * its length in bytes ("len", at most WIRE_MSG_MAX), every later part the seq of part 0 ("msg"),
 * so parts of two messages cannot be mixed up. Every part but the last carries data. The
 * whole message is at most WIRE_MSG_MAX bytes of JSON in at most WIRE_MSG_PARTS_MAX parts; the
 * host reassembles it (tools/guest/guestparts.h) before anything uses it, and gives up, saying
 * why, on a part missing, out of order, interleaved with another message, garbled or too many.
 *
 * Host -> guest: command lines on COM1 input, a word and optional key=value arguments, ending in
 * '\n' (see WIRE_CMD_*). The guest answers each with a message carrying the same "cmd" word.
 */
#ifndef VQH_WIRE_H
#define VQH_WIRE_H

#define WIRE_VERSION 2 /* 2: multi-part messages */
#define WIRE_PREFIX "VQH1 "
#define WIRE_LINE_MAX 4096 /* longest line either side writes, '\n' included */
#define WIRE_LINE_ROOM 256 /* the guest's lines stay this far under WIRE_LINE_MAX: firmware
                              noise may come before the prefix on the same line */
#define WIRE_MSG_MAX (256 * 1024) /* longest message (its JSON text), sent in parts */
#define WIRE_MSG_PARTS_MAX 1024   /* most parts of one message */

/* fw_cfg file carrying the guest configuration (key=value text; see kernel/config.h). */
#define WIRE_FWCFG_CONFIG "opt/vqhammer/config"

/*
 * Verdict: the guest writes one of these to isa-debug-exit (iobase 0xf4, iosize 4); QEMU then
 * exits with status (code << 1) | 1. Status 0 and 1 stay QEMU's own (normal exit, startup error).
 */
#define WIRE_DEBUG_EXIT_PORT 0xf4
enum wire_verdict {
    WIRE_VERDICT_PASS = 1,  /* QEMU exit status 3 */
    WIRE_VERDICT_FAIL = 2,  /* QEMU exit status 5: data or device error, bad configuration */
    WIRE_VERDICT_PANIC = 3, /* QEMU exit status 7: CPU exception or kernel assertion */
};
#define WIRE_EXIT_STATUS(verdict) (((verdict) << 1) | 1)

/* Message types (the "type" member). */
#define WIRE_MSG_HELLO "hello"           /* boot_path, build, wire, cpus, mem_mib, config{}, disks[] */
#define WIRE_MSG_CONFIG_ERROR "config_error" /* key, value, line, error */
#define WIRE_MSG_CPU "cpu"               /* cpu, apic_id, online (false: failed to start), error */
#define WIRE_MSG_PANIC "panic"           /* cpu, vector, name, error_code, rip, cr2, rsp, regs{} */
#define WIRE_MSG_DISK "disk"             /* pci, serial, capacity, blk_size, queues, queue_size,
                                            features, role ("data" or "ignored"), reason */
#define WIRE_MSG_PROGRESS "progress"     /* t_ms, epoch, disks[{disk, queues[{q, ops, bytes, errors,
                                            inflight, oldest_ms}]}] */
#define WIRE_MSG_ERROR "error"           /* class, disk, q, req, op, lba, blocks, expected{},
                                            found{}, offset, hex_expected, hex_found, detail */
#define WIRE_MSG_BROKEN "broken"         /* disk, q, reason, detail: the device broke the protocol */
#define WIRE_MSG_REPLY "reply"           /* cmd, ok, plus per-command members */
#define WIRE_MSG_SUMMARY "summary"       /* ops, bytes, errors, per-disk/queue counters */
#define WIRE_MSG_VERDICT "verdict"       /* verdict ("pass", "fail", "panic"), reason */
#define WIRE_MSG_LOG "log"               /* level, text: free-form diagnostics */
#define WIRE_MSG_PART "part"             /* part, more, crc, data; part 0 of, len; others msg: a piece
                                            of a message longer than a line (see above) */

/* Error classes (the "class" member of an error message). */
#define WIRE_ERR_CORRUPT "corrupt"             /* checksum mismatch, no header, wrong payload */
#define WIRE_ERR_MISDIRECTED "misdirected"     /* a valid block of another LBA of this disk */
#define WIRE_ERR_MISDIRECTED_DISK "misdirected_disk" /* a valid block written for another disk */
#define WIRE_ERR_STALE "stale"                 /* older generation than expected: lost write */
#define WIRE_ERR_PHANTOM "phantom"             /* a generation never written */
#define WIRE_ERR_TORN "torn"                   /* mixed generations inside one request */
#define WIRE_ERR_NONZERO "nonzero"             /* data where write-zeroes left zeroes */
#define WIRE_ERR_UNWRITTEN "unwritten"         /* what was there before any write of this run:
                                                  zeroes, or a block of an earlier run */
#define WIRE_ERR_STATUS "status"               /* completion status not OK */
#define WIRE_ERR_TIMEOUT "timeout"             /* request older than watchdog_ms */
#define WIRE_ERR_DOUBLE "double_completion"    /* request completed twice / id not in flight */
#define WIRE_ERR_GET_ID "get_id_changed"       /* GET_ID answered differently from its first answer */
#define WIRE_ERR_RESET "reset_failed"          /* a device or queue reset did not bring it back */

/* Host -> guest commands. */
#define WIRE_CMD_VERIFY "verify"     /* [sample=N]: read back and check written blocks; reply
                                        has checked, errors */
#define WIRE_CMD_QUIESCE "quiesce"   /* stop submitting, drain; reply has per-queue counters and
                                        ring indices (avail_idx, used_idx) */
#define WIRE_CMD_RESUME "resume"     /* start submitting again */
#define WIRE_CMD_REPORT "report"     /* send a progress message now */
#define WIRE_CMD_EPOCH "epoch"       /* epoch=N: migration count, stamped into written blocks */
#define WIRE_CMD_FINISH "finish"     /* drain, final verify, summary and verdict */
#define WIRE_CMD_TLB "tlb"         /* refresh=on|off: reload CR3 at every refresh point (only with
                                        tlb_refresh=auto; see kernel/tlb.h); reply has refresh
                                        (now in effect) and host_controlled */
#define WIRE_CMD_DIRTY "dirty"     /* pages=N: write a word into each of N pages of guest memory,
                                        a sweep every 250 ms, until pages=0 (kernel/dirtier.h);
                                        reply has pages (now dirtied; ok false if none could be
                                        taken) and sweeps */
#define WIRE_CMD_STATE "state"       /* dump the expected-state table (for verify-image): replies
                                        with cmd "state" (runs), then one WIRE_REPLY_STATE_END */
#define WIRE_REPLY_STATE_END "state_end" /* the last reply to `state`: runs = how many were sent */
#define WIRE_CMD_RESET "reset"       /* [disk=N] [queue=Q]: drain, reset data disk N (every data disk
                                        without disk=), or only its queue Q (VIRTIO_F_RING_RESET),
                                        renegotiate, go on; reply: disks[{disk, serial, queue,
                                        ok, status_before, status_after, resets, queue_resets,
                                        error}] */
#define WIRE_CMD_HOTPLUG "hotplug"   /* look at every PCIe hot-plug slot now and act (a card
                                        present in a powered-off slot: power on, probe, hammer;
                                        the attention button pressed: let the disk go, power
                                        off); reply: slots[] as in hello's hotplug_slots */

/*
 * PCIe native hot-plug (hello's "hotplug_slots" and the `hotplug` reply list every slot:
 * slot (physical slot number), port ("00:10.0"), bus, state, plugs, unplugs, disk, serial, error,
 * and "last", the last removal). The guest also polls the slots itself every
 * WIRE_HOTPLUG_POLL_MS while it runs its load, and says what it did in a log message with
 * level "info" and one of these events:
 *   disk_added:   slot, port, the disk's hello members (disk, pci, serial, role, capacity, ...)
 *   disk_removed: slot, port, disk, serial, ops, bytes, errors, verified (blocks), inflight
 *                 (requests in flight when removal began), completed, abandoned (given up after
 *                 hotplug_drain_ms, default WIRE_HOTPLUG_DRAIN_MS), surprise (the card went before the button), present
 *                 (a card still present after power off)
 *   hotplug_failed: slot, port, error
 */
#define WIRE_EVENT_DISK_ADDED "disk_added"
#define WIRE_EVENT_DISK_REMOVED "disk_removed"
#define WIRE_EVENT_HOTPLUG_FAILED "hotplug_failed"
#define WIRE_HOTPLUG_POLL_MS 100
#define WIRE_HOTPLUG_DRAIN_MS 5000       /* hotplug_drain_ms's default */
#define WIRE_HOTPLUG_DRAIN_MAX_MS 15000  /* its largest value: the host waits that long and more */
#define WIRE_SLOT_EMPTY "empty"      /* nothing present, or powered off */
#define WIRE_SLOT_ACTIVE "active"    /* powered on, its disk probed (hammered when a data disk) */
#define WIRE_SLOT_FAILED "failed"    /* a card that could not be brought up; powered off */

#endif
