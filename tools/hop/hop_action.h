/*
 * hop_action.h: what happens to the VM and its disks around a hop besides the migration itself
 * (--hop-actions), each done with the QMP sequence libvirt uses for it:
 *
 *   paused           stop, migrate while paused (1-3 legs to fresh QEMUs), then cont
 *   copy-storage     fresh empty disks on the destination, exported over NBD, mirrored into
 *                    while the guest writes, mirror cancelled at pre-switchover (virsh migrate
 *                    --copy-storage-all); copy-storage-sync: the same with copy-mode write-blocking
 *   backup           blockdev-backup to a scratch target between hops
 *   commit           snapshot, then active commit back, job-complete, job-dismiss
 *   stream           two snapshots, stream the middle one into the top, then commit to the base
 *   werror           werror=stop,rerror=stop and an injected EIO (blkdebug): migrate the stopped VM
 *                    with its request held, cont on the destination
 *   late-cancel      cancel at pre-switchover (or just after migrate-continue: the device stage)
 *   postcopy-recover postcopy, migrate-pause, migrate-recover on a new channel, resume
 *
 * The hop loop calls the hooks below at fixed points; each returns false with err filled when the
 * action found a problem or could not be done.
 */
#ifndef VQH_HOP_ACTION_H
#define VQH_HOP_ACTION_H

#include "hop.h"
#include "session.h"

enum hop_action {
    HA_NONE = 0,
    HA_PAUSED,
    HA_COPY_STORAGE,
    HA_COPY_STORAGE_SYNC,
    HA_BACKUP,
    HA_COMMIT,
    HA_STREAM,
    HA_WERROR,
    HA_LATE_CANCEL,
    HA_POSTCOPY_RECOVER,
    HA__COUNT
};

const char *hop_action_name(enum hop_action a);
/* A comma-separated list ("all" = every action) into a bit mask over enum hop_action. */
bool hop_action_parse(const char *list, unsigned *mask, struct vqh_err *err);
/* Options that cannot go together with the listed actions; false with err naming the fix. */
bool hop_action_validate(const struct vqh_opts *o, struct vqh_err *err);
/* The virtio-blk properties the actions need on every QEMU (",werror=stop,rerror=stop" or ""). */
const char *hop_action_device_props(const struct vqh_opts *o);

/* The action of hop `index` (seeded by --seed, rotating or random by --hop-mix); records it in h. */
void hop_action_pick(struct session *s, struct hop_record *h);
/* Before the destination starts (the source runs the guest). */
bool hop_action_before_dst(struct session *s, struct hop_record *h, struct vqh_err *err);
/* The destination should start with -S, as libvirt starts it. */
bool hop_action_dst_paused(const struct hop_record *h);
/* Extra migration capabilities, on the source (dst=false) and on the destination. */
bool hop_action_caps(struct session *s, struct hop_record *h, struct vm *v, bool dst, struct vqh_err *err);
/* After migrate-incoming, before migrate (the destination listens). */
bool hop_action_before_migrate(struct session *s, struct hop_record *h, struct vm *dst, struct vqh_err *err);
/* Every poll of the migration with its status; *planned_abort set when a cancel is the action. */
bool hop_action_poll(struct session *s, struct hop_record *h, struct vm *dst, const char *status,
                     bool *planned_abort, struct vqh_err *err);
/* The action has cancelled this hop's migration (late-cancel): the source has shut the stream
 * down, so the destination may exit (its load failed) before the source reports "cancelled". */
bool hop_action_cancelled(void);
/* The state the destination is in right after a completed migration ("running" or "paused"). */
const char *hop_action_dst_state(const struct session *s, const struct hop_record *h);
/* After a completed migration, the guest now on s->vm (old source gone): more legs, cont. */
bool hop_action_after(struct session *s, struct hop_record *h, struct vqh_err *err);
/* After a planned abort, before the destination is killed: it must not run the guest. */
bool hop_action_after_abort(struct session *s, struct hop_record *h, struct vm *dst, struct vqh_err *err);
/* The hop's verification must read everything (the disks were copied). */
bool hop_action_full_verify(const struct hop_record *h);

#endif
