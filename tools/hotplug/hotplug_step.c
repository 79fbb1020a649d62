/*
 * hotplug_step.c: one hot-plug or hot-unplug of a data disk after a hop's checks (hotplug.h).
 * The disk's block graph and device are the ones a boot-time disk of that index gets
 * (blockgraph.h), added through QMP: each -blockdev as blockdev-add, the -device through HMP's
 * device_add (the classic k=v form) or QMP's (the JSON form), on the spare slot's port.
 */
#include "hotplug.h"
#include "blockgraph.h"
#include "health.h"
#include "heartbeat.h"
#include "qemu_cmd.h"
#include "session.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOTPLUG_ACK_TIMEOUT_MS (WIRE_HOTPLUG_DRAIN_MAX_MS + 5000)
#define HOTPLUG_EVENT_TIMEOUT_MS 10000
#define HOTPLUG_POKE_MS 200

/* A -blockdev "k=v,k.sub=v" text as a blockdev-add object: ",," is a comma inside a value;
 * on/off are booleans, plain numbers integers, everything else a string (node names, paths). */
static json_t *hp_keyval_json(const char *text)
{
    json_t *root = json_object();
    char key[128], val[2 * OPTS_PATH_MAX];
    const char *p = text;
    while (*p) {
        size_t k = 0, v = 0;
        while (*p && *p != '=' && *p != ',' && k + 1 < sizeof(key))
            key[k++] = *p++;
        key[k] = 0;
        if (*p == '=')
            p++;
        for (; *p && v + 1 < sizeof(val); p++) {
            if (*p == ',' && p[1] == ',') {
                val[v++] = *p++;
                continue;
            }
            if (*p == ',')
                break;
            val[v++] = *p;
        }
        val[v] = 0;
        if (*p == ',')
            p++;
        json_t *obj = root;
        char *dot, *name = key;
        while ((dot = strchr(name, '.')) != NULL) { /* cache.direct=on: {"cache": {"direct": true}} */
            *dot = 0;
            json_t *sub = json_object_get(obj, name);
            if (!json_is_object(sub)) {
                sub = json_object();
                json_object_set_new(obj, name, sub);
            }
            obj = sub;
            name = dot + 1;
        }
        char *end;
        long long n = strtoll(val, &end, 10);
        if (!strcmp(val, "on") || !strcmp(val, "off"))
            json_object_set_new(obj, name, json_boolean(!strcmp(val, "on")));
        else if (*val && !*end)
            json_object_set_new(obj, name, json_integer(n));
        else
            json_object_set_new(obj, name, json_string(val));
    }
    return root;
}

/* The -blockdev values and the -device value of data disk i, as a boot-time disk gets them. */
static bool hp_disk_args(struct session *s, int i, const char *image, int port, struct qemu_cmd *c,
                         struct vqh_err *err)
{
    char serial[32], props[96];
    memset(c, 0, sizeof(*c));
    qemu_cmd_disk_serial(i, serial, sizeof(serial));
    hotplug_device_props(s->o, port, props, sizeof(props));
    if (!blockgraph_args(c, s->o, i, image, err))
        return false;
    blockgraph_device(c, s->o, i, serial, props);
    return true;
}

static bool hp_qmp_ok(struct session *s, const char *cmd, json_t *args, struct vqh_err *err)
{
    json_t *r = qmp_cmd(s->vm->qmp, cmd, args, s->o->qmp_timeout_ms, err);
    json_decref(r);
    return r != NULL;
}

/* The guest's `hotplug` reply: the slot with this physical slot number (borrowed), or NULL. */
static json_t *hp_guest_slot(struct session *s, int psn, json_t **reply, struct vqh_err *err)
{
    json_t *slot;
    size_t i;
    *reply = NULL;
    if (!chan_command(s->chan, s->vm, WIRE_CMD_HOTPLUG "\n", WIRE_CMD_HOTPLUG, 30000, reply, err))
        return NULL;
    json_array_foreach(json_object_get(*reply, "hotplug_slots"), i, slot)
        if (json_integer_value(json_object_get(slot, "slot")) == psn)
            return slot;
    vqh_err_set(err, "the guest's hotplug reply lists no slot %d", psn);
    return NULL;
}

/* Ask the guest about slot port until it has acted or HOTPLUG_ACK_TIMEOUT_MS pass: a plug
 * (unplugs_before < 0) when the slot is no longer empty; an unplug when it is empty again and its
 * unplug count has passed unplugs_before. The slot's reply (owned by *reply) and its state; NULL
 * when the guest did not answer. */
static json_t *hp_wait_slot(struct session *s, int port, json_int_t unplugs_before, json_t **reply,
                            const char **state, struct vqh_err *err)
{
    json_t *slot = NULL;
    for (int64_t end = clock_now_ms() + HOTPLUG_ACK_TIMEOUT_MS;;) {
        json_decref(*reply);
        slot = hp_guest_slot(s, port, reply, err);
        if (!slot)
            return NULL;
        *state = json_string_value(json_object_get(slot, "state")) ?: "?";
        bool empty = !strcmp(*state, WIRE_SLOT_EMPTY);
        bool done = unplugs_before < 0 ? !empty
                                       : empty && json_integer_value(json_object_get(slot, "unplugs")) > unplugs_before;
        if (done || clock_now_ms() > end)
            return slot;
        chan_pump(s->chan, HOTPLUG_POKE_MS);
    }
}

static int64_t hp_ms_since(int64_t t0)
{
    return clock_now_ms() - t0;
}

static bool hotplug_plug(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    int port = 0, i = s->ndisks;
    for (int k = 1; k <= s->o->hotplug_slots && !port; k++) {
        bool used = false;
        for (int d = 0; d < s->ndisks; d++)
            used |= s->disk_port[d] == k;
        if (!used)
            port = k;
    }
    char name[32], *path = s->disk_paths[i];
    snprintf(name, sizeof(name), "hot%d.img", s->hot_plugs + 1);
    snprintf(path, OPTS_PATH_MAX, "%s", rundir_path(s->rd, name));
    /* A fresh, unwritten image each time: the guest starts its expected state from scratch. */
    if (!blockgraph_create_raw(s->o, path, true, "the hot-plugged disk", err))
        return false;
    if (!blockgraph_prepare_image(s->o, i, path, rundir_path(s->rd, "qemu-img.out"), err))
        return false;
    struct qemu_cmd c;
    if (!hp_disk_args(s, i, path, port, &c, err)) {
        qemu_cmd_free(&c);
        return false;
    }
    snprintf(h->hotplug, sizeof(h->hotplug), "plug");
    qemu_cmd_disk_serial(i, h->hotplug_serial, sizeof(h->hotplug_serial));
    h->hotplug_slot = port;
    json_t *before = chan_queue_ops(s->chan->progress);
    int64_t t0 = clock_now_ms();
    bool ok = true;
    for (int a = 0; ok && a + 1 < c.argc; a += 2) {
        if (!strcmp(c.argv[a], "-blockdev")) {
            ok = hp_qmp_ok(s, "blockdev-add", hp_keyval_json(c.argv[a + 1]), err);
        } else if (c.argv[a + 1][0] == '{') {
            ok = hp_qmp_ok(s, "device_add", json_loads(c.argv[a + 1], 0, NULL), err);
        } else {
            char line[1024];
            snprintf(line, sizeof(line), "device_add %s", c.argv[a + 1]);
            json_t *r = qmp_cmd(s->vm->qmp, "human-monitor-command", json_pack("{s:s}", "command-line", line),
                                s->o->qmp_timeout_ms, err);
            ok = r && json_string_length(r) == 0; /* HMP answers an error as text */
            if (r && !ok)
                vqh_err_setk(err, VQH_ERR_REFUSED, "device_add %s: %s", h->hotplug_serial, json_string_value(r));
            json_decref(r);
        }
    }
    qemu_cmd_free(&c);
    if (!ok) {
        json_decref(before);
        return false;
    }
    s->disk_ptrs[i] = s->disk_paths[i];
    s->disk_port[i] = port;
    s->ndisks++;
    s->hot_plugged++;
    s->hot_plugs++;
    /* The guest polls its slots itself; `hotplug` makes it look now and tells what it did. */
    json_t *reply = NULL;
    const char *state = "?";
    json_t *slot = hp_wait_slot(s, port, -1, &reply, &state, err);
    h->hotplug_ms = hp_ms_since(t0);
    const char *serial = json_string_value(json_object_get(slot, "serial")) ?: "";
    const char *role = json_string_value(json_object_get(slot, "role")) ?: "";
    if (slot && !strcmp(state, WIRE_SLOT_EMPTY)) {
        vqh_err_set(err, "hot-plug of %s into slot %d: the guest did not bring it up within %d ms (its slot is still "
                    "empty)", h->hotplug_serial, port, HOTPLUG_ACK_TIMEOUT_MS);
        slot = NULL;
    } else if (slot && (strcmp(state, WIRE_SLOT_ACTIVE) || strcmp(serial, h->hotplug_serial) || strcmp(role, "data"))) {
        const char *why = json_string_value(json_object_get(slot, "error"));
        vqh_err_set(err, "hot-plug of %s into slot %d: the guest's slot is '%s' with disk '%s' (%s)%s%s",
                    h->hotplug_serial, port, state, serial, role[0] ? role : "none", why ? ": " : "", why ? why : "");
        slot = NULL;
    }
    json_decref(reply);
    ok = slot && heartbeat_wait(s, s->vm, s->chan->last_seq, before, s->o->guest_timeout_ms, err) &&
         health_virtio(s, s->vm, err) && health_block(s, s->vm, err);
    json_decref(before);
    if (ok)
        status_event(&s->status, "hop %d: hot-plugged %s into slot %d (vqhrp%d): the guest found it in %lld ms and "
                     "hammers every queue", h->index, h->hotplug_serial, port, port - 1, (long long)h->hotplug_ms);
    return ok;
}

/* DEVICE_DELETED of the device itself (QEMU also sends one for its virtio backend). */
static bool hp_wait_deleted(struct session *s, const char *id, struct vqh_err *err)
{
    int64_t end = clock_now_ms() + HOTPLUG_EVENT_TIMEOUT_MS;
    for (;;) {
        int left = (int)(end - clock_now_ms());
        json_t *ev = qmp_wait_event(s->vm->qmp, "DEVICE_DELETED", left > 0 ? left : 0, NULL, err);
        if (!ev)
            return false;
        const char *dev = json_string_value(json_object_get(json_object_get(ev, "data"), "device"));
        bool mine = dev && !strcmp(dev, id);
        json_decref(ev);
        if (mine)
            return true;
    }
}

static bool hotplug_unplug(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    int i = s->ndisks - 1, port = s->disk_port[i];
    char id[32], node[64];
    snprintf(id, sizeof(id), "vqhdisk%d", i);
    snprintf(h->hotplug, sizeof(h->hotplug), "unplug");
    qemu_cmd_disk_serial(i, h->hotplug_serial, sizeof(h->hotplug_serial));
    h->hotplug_slot = port;
    json_t *reply = NULL, *slot = NULL;
    int unplugs_before = -1;
    if (!(slot = hp_guest_slot(s, port, &reply, err))) {
        json_decref(reply);
        return false;
    }
    unplugs_before = (int)json_integer_value(json_object_get(slot, "unplugs"));
    json_decref(reply);
    int64_t t0 = clock_now_ms();
    if (!hp_qmp_ok(s, "device_del", json_pack("{s:s}", "id", id), err))
        return false;
    /* QEMU presses the slot's attention button; the guest lets the disk go and powers the slot
     * off, which is when QEMU removes the device. */
    const char *state = "?";
    reply = NULL;
    slot = hp_wait_slot(s, port, unplugs_before, &reply, &state, err);
    json_t *last = json_object_get(slot, "last");
    const char *serial = json_string_value(json_object_get(last, "serial")) ?: "";
    bool acked = slot && !strcmp(state, WIRE_SLOT_EMPTY) && !strcmp(serial, h->hotplug_serial);
    if (acked) {
        h->hotplug_ops = (uint64_t)json_integer_value(json_object_get(last, "ops"));
        h->hotplug_inflight = (uint64_t)json_integer_value(json_object_get(last, "inflight"));
        h->hotplug_abandoned = (uint64_t)json_integer_value(json_object_get(last, "abandoned"));
    }
    if (slot && !acked)
        vqh_err_set(err, "hot-unplug of %s from slot %d: the guest did not let it go within %d ms (slot '%s', last "
                    "removed '%s')", h->hotplug_serial, port, HOTPLUG_ACK_TIMEOUT_MS, state, serial);
    else if (acked && json_is_true(json_object_get(last, "present")))
        vqh_err_set(err, "hot-unplug of %s: the card was still present after the guest powered slot %d off",
                    h->hotplug_serial, port), acked = false;
    else if (acked && json_is_true(json_object_get(last, "surprise")))
        vqh_err_set(err, "hot-unplug of %s: the guest saw the card vanish before the attention button (surprise "
                    "removal)", h->hotplug_serial), acked = false;
    json_decref(reply);
    if (!acked || !hp_wait_deleted(s, id, err))
        return false;
    h->hotplug_ms = hp_ms_since(t0);
    /* The graph goes top down, in the reverse order it was built. */
    struct qemu_cmd c;
    bool ok = hp_disk_args(s, i, s->disk_paths[i], port, &c, err);
    for (int a = c.argc - 2; ok && a >= 0; a--) {
        if (strcmp(c.argv[a], "-blockdev") || sscanf(c.argv[a + 1], "%*[^,],node-name=%63[^,]", node) != 1)
            continue;
        ok = hp_qmp_ok(s, "blockdev-del", json_pack("{s:s}", "node-name", node), err);
    }
    qemu_cmd_free(&c);
    if (!ok)
        return false;
    unlink(s->disk_paths[i]);
    s->disk_port[i] = 0;
    s->ndisks--;
    s->hot_plugged--;
    s->hot_unplugs++;
    status_event(&s->status, "hop %d: hot-unplugged %s from slot %d in %lld ms: the guest let it go after %llu "
                 "ops (%llu in flight: %llu completed, %llu abandoned), DEVICE_DELETED", h->index, h->hotplug_serial,
                 port, (long long)h->hotplug_ms, (unsigned long long)h->hotplug_ops,
                 (unsigned long long)h->hotplug_inflight,
                 (unsigned long long)(h->hotplug_inflight - h->hotplug_abandoned),
                 (unsigned long long)h->hotplug_abandoned);
    return true;
}

bool hotplug_step(struct session *s, struct hop_record *h, struct vqh_err *err)
{
    /* Fill the spare slots one by one, then empty them (last in, first out), and again. */
    if (s->hot_plugged == s->o->hotplug_slots)
        s->hot_emptying = true;
    if (s->hot_plugged == 0)
        s->hot_emptying = false;
    return s->hot_emptying ? hotplug_unplug(s, h, err) : hotplug_plug(s, h, err);
}
