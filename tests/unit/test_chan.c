/*
 * test_chan.c: the guest channel against a fake guest (a thread writing serial lines into a
 * socket pair; a `sleep` child stands in for the QEMU whose liveness is checked). A long command
 * (a full verification) is waited for while the guest's progress shows it moving, and given up
 * when it stops moving. Messages in parts reach it whole; a broken one is counted, logged and, when
 * it was an error report, still counts as an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "msgsplit.h"
#include "clock.h"
#include "proc.h"

struct fake {
    struct vm v;
    int peer;             /* the guest's end of the serial line */
    struct chan *c;
    char merged[64];
    /* the guest's script */
    int progress_every_ms, progress_count, reply_after_ms;
    bool ops_rise;
    pthread_t thread;
};

static void fake_line(struct fake *f, uint64_t seq, const char *json)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "VQH1 %llu %s\n", (unsigned long long)seq, json);
    assert_int_equal(write(f->peer, line, (size_t)n), n);
}

static void *fake_guest(void *arg)
{
    struct fake *f = arg;
    uint64_t seq = 1, ops = 100;
    char json[256];
    int64_t start = clock_now_ms();
    for (int i = 0; i < f->progress_count; i++) {
        usleep((useconds_t)f->progress_every_ms * 1000);
        if (f->ops_rise)
            ops += 10;
        snprintf(json, sizeof(json), "{\"type\":\"progress\",\"disks\":[{\"queues\":[{\"ops\":%llu},{\"ops\":7}]}]}",
                 (unsigned long long)ops);
        fake_line(f, seq++, json);
    }
    if (f->reply_after_ms >= 0) {
        int64_t left = f->reply_after_ms - (clock_now_ms() - start);
        if (left > 0)
            usleep((useconds_t)left * 1000);
        fake_line(f, seq++, "{\"type\":\"reply\",\"cmd\":\"verify\",\"ok\":true,\"checked\":5,\"errors\":0}");
    }
    return NULL;
}

static void fake_start(struct fake *f)
{
    int sv[2];
    struct vqh_err err;
    memset(&f->v, 0, sizeof(f->v));
    snprintf(f->v.label, sizeof(f->v.label), "vm1");
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    f->v.serial_fd = sv[0];
    f->v.listen_fd = -1;
    f->peer = sv[1];
    f->v.serial_log_f = fopen("/dev/null", "we");
    assert_non_null(f->v.serial_log_f);
    guestlog_asm_init(&f->v.asm_);
    const char *argv[] = { "sleep", "60", NULL };
    f->v.proc = proc_spawn(argv, "fake-qemu", NULL, NULL, &err);
    assert_non_null(f->v.proc);
    snprintf(f->merged, sizeof(f->merged), "/tmp/vqh-chan-XXXXXX");
    int fd = mkstemp(f->merged);
    assert_true(fd >= 0);
    close(fd);
    f->c = chan_new(f->merged, false, &err);
    assert_non_null(f->c);
    chan_attach(f->c, &f->v);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_guest, f), 0);
}

static void fake_stop(struct fake *f)
{
    pthread_join(f->thread, NULL);
    chan_free(f->c);
    unlink(f->merged);
    proc_kill_reap(f->v.proc, 1000);
    proc_free(f->v.proc);
    fclose(f->v.serial_log_f);
    close(f->v.serial_fd);
    close(f->peer);
}

/* A pass that takes 4 x the idle limit, moving all along: waited for. */
static void test_verify_waits_while_moving(void **state)
{
    (void)state;
    struct fake f = { .progress_every_ms = 100, .progress_count = 18, .reply_after_ms = 2000, .ops_rise = true };
    struct vqh_err err = {0};
    json_t *reply = NULL;
    fake_start(&f);
    int64_t t0 = clock_now_ms();
    bool ok = chan_command_moving(f.c, &f.v, "verify\n", "verify", 500, &reply, &err);
    if (!ok)
        fprintf(stderr, "%s\n", err.msg);
    assert_true(ok);
    assert_true(clock_now_ms() - t0 >= 1900);
    assert_int_equal(json_integer_value(json_object_get(reply, "checked")), 5);
    json_decref(reply);
    fake_stop(&f);
}

/* The same guest under the plain deadline: the limit is what it was. */
static void test_plain_command_keeps_its_deadline(void **state)
{
    (void)state;
    struct fake f = { .progress_every_ms = 100, .progress_count = 18, .reply_after_ms = 2000, .ops_rise = true };
    struct vqh_err err = {0};
    fake_start(&f);
    assert_false(chan_command(f.c, &f.v, "verify\n", "verify", 500, NULL, &err));
    assert_non_null(strstr(err.msg, "did not answer 'verify' within 500 ms"));
    fake_stop(&f);
}

/* Progress messages that keep coming but show nothing completing: given up after the idle limit. */
static void test_verify_stuck_is_given_up(void **state)
{
    (void)state;
    struct fake f = { .progress_every_ms = 50, .progress_count = 30, .reply_after_ms = -1, .ops_rise = false };
    struct vqh_err err = {0};
    fake_start(&f);
    int64_t t0 = clock_now_ms();
    assert_false(chan_command_moving(f.c, &f.v, "verify\n", "verify", 300, NULL, &err));
    int64_t took = clock_now_ms() - t0;
    assert_true(took >= 300 && took < 3000);
    assert_non_null(strstr(err.msg, "made no progress for 300 ms"));
    fake_stop(&f);
}

/* Write text as the guest would, from seq on: one line, or parts. Returns the next seq. */
static uint64_t fake_message(struct fake *f, uint64_t seq, const char *type, const char *text, int skip_part)
{
    struct msg_split sp;
    char line[WIRE_LINE_MAX + 1];
    size_t n;
    int part = 0;
    msg_split_text(&sp, type, text, strlen(text), NULL, 0);
    while ((n = msg_split_next(&sp, seq++, line, sizeof(line))) > 0)
        if (part++ != skip_part)
            assert_int_equal(write(f->peer, line, n), (ssize_t)n);
    return seq - 1;
}

static void test_parts_reach_the_channel_whole(void **state)
{
    (void)state;
    struct fake f = { .progress_count = 0, .reply_after_ms = -1 };
    static char reply[40000], error[12000];
    int o = snprintf(reply, sizeof(reply), "{\"type\":\"reply\",\"cmd\":\"quiesce\",\"ok\":true,\"q\":[");
    for (int i = 0; i < 3000; i++)
        o += snprintf(reply + o, sizeof(reply) - (size_t)o, "%s%d", i ? "," : "", i);
    snprintf(reply + o, sizeof(reply) - (size_t)o, "]}");
    o = snprintf(error, sizeof(error), "{\"type\":\"error\",\"class\":\"corrupt\",\"hex\":\"");
    for (int i = 0; i < 10000; i++)
        error[o++] = "0123456789abcdef"[i % 16];
    snprintf(error + o, sizeof(error) - (size_t)o, "\"}");
    fake_start(&f);
    uint64_t seq = fake_message(&f, 1, "reply", reply, -1);
    seq = fake_message(&f, seq, "error", error, 1); /* its part 1 lost on the way */
    fake_message(&f, seq, "verdict", "{\"type\":\"verdict\",\"verdict\":\"fail\"}", -1);
    for (int i = 0; i < 20 && !f.c->verdict; i++)
        chan_pump(f.c, 50);
    assert_non_null(f.c->verdict);
    assert_non_null(f.c->reply);
    assert_string_equal(json_string_value(json_object_get(f.c->reply, "cmd")), "quiesce");
    assert_int_equal(json_array_size(json_object_get(f.c->reply, "q")), 3000);
    assert_int_equal(f.c->broken_msgs, 1);
    assert_int_equal(f.c->errors, 1); /* the lost error report still counts */
    assert_true(f.c->anomalies >= 1);
    char *log = NULL;
    size_t len = 0;
    FILE *m = fopen(f.merged, "r");
    assert_non_null(m);
    assert_true(getdelim(&log, &len, '\0', m) > 0);
    fclose(m);
    assert_non_null(strstr(log, "# multi-part error message (seq"));
    assert_non_null(strstr(log, "\"of\":\"error\"")); /* its part 0, kept */
    assert_non_null(strstr(log, "\"cmd\":\"quiesce\",\"ok\":true,\"q\":[0,1,2")); /* whole */
    free(log);
    fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_waits_while_moving),
        cmocka_unit_test(test_plain_command_keeps_its_deadline),
        cmocka_unit_test(test_verify_stuck_is_given_up),
        cmocka_unit_test(test_parts_reach_the_channel_whole),
    };
    return cmocka_run_group_tests_name("chan", tests, NULL, NULL);
}
