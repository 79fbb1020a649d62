/*
 * test_qmp.c: the QMP client against a scripted fake QMP server (a forked child on a unix socket in
 * a run directory), and the run directory itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qmp.h"
#include "rundir.h"

#define GREETING                                                                              \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "            \
    "\"package\": \"Debian 1:7.2+dfsg-7+deb12u16\"}, \"capabilities\": [\"oob\"]}}\r\n"

static struct rundir *rd;
static const char *sock;

/* ---- the fake server (runs in a forked child: no cmocka calls there) ----------------------- */

typedef void (*script_fn)(int fd);

static void srv_die(const char *why)
{
    fprintf(stderr, "fake QMP server: %s\n", why);
    _exit(2);
}

static void srv_send(int fd, const char *s)
{
    size_t len = strlen(s);

    while (len > 0) {
        ssize_t n = write(fd, s, len);

        if (n <= 0)
            srv_die("write failed");
        s += n;
        len -= (size_t)n;
    }
}

/* One byte per write, with a pause, so that the client sees every possible split. */
static void srv_send_slowly(int fd, const char *s)
{
    for (; *s; s++) {
        if (write(fd, s, 1) != 1)
            srv_die("write failed");
        usleep(300);
    }
}

/* Read one command line; check it is {"execute": name, "id": ...} and ends in '\n'. */
static json_t *srv_recv(int fd, const char *name)
{
    char line[4096];
    size_t n = 0;
    json_t *cmd;

    while (n < sizeof(line) - 1) {
        if (read(fd, &line[n], 1) != 1)
            srv_die("client closed before sending a command");
        if (line[n++] == '\n')
            break;
    }
    if (line[n - 1] != '\n')
        srv_die("command not ended by a newline");
    cmd = json_loadb(line, n, 0, NULL);
    if (!cmd || !json_is_string(json_object_get(cmd, "execute")) ||
        strcmp(json_string_value(json_object_get(cmd, "execute")), name) != 0)
        srv_die("not the expected command");
    if (!json_is_integer(json_object_get(cmd, "id")))
        srv_die("command without an integer id");
    return cmd;
}

/* Send text with "$ID" replaced by the id of cmd. */
static void srv_reply(int fd, json_t *cmd, const char *text, void (*send_fn)(int, const char *))
{
    char out[4096], id[32];
    const char *at = strstr(text, "$ID");

    snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(cmd, "id")));
    if (at)
        snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - text), text, id, at + 3);
    else
        snprintf(out, sizeof(out), "%s", text);
    send_fn(fd, out);
}

static void srv_handshake(int fd)
{
    json_t *cmd;

    srv_send(fd, GREETING);
    cmd = srv_recv(fd, "qmp_capabilities");
    if (json_object_get(cmd, "arguments"))
        srv_die("qmp_capabilities with arguments");
    srv_reply(fd, cmd, "{\"return\": {}, \"id\": $ID}\r\n", srv_send);
    json_decref(cmd);
}

/* Block until the client hangs up: a server that stays silent but alive. */
static void srv_wait_eof(int fd)
{
    char c;

    while (read(fd, &c, 1) > 0)
        ;
}

static pid_t srv_start(script_fn script)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int ls = socket(AF_UNIX, SOCK_STREAM, 0), fd;

        alarm(60); /* whatever goes wrong, this child ends */
        strcpy(addr.sun_path, sock);
        unlink(sock);
        /* Late on purpose: the client must retry until the socket exists. */
        usleep(20000);
        if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(ls, 1) < 0)
            srv_die("cannot listen");
        fd = accept(ls, NULL, NULL);
        if (fd < 0)
            srv_die("accept failed");
        script(fd);
        _exit(0);
    }
    return pid;
}

/* The server must have ended cleanly: every check it made on our commands passed. */
static void srv_finish(pid_t pid)
{
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static struct qmp *open_ok(FILE *log)
{
    struct qmp_opts o = {.label = "src1", .log = log};
    struct vqh_err err;
    struct qmp *q = qmp_open(sock, 30000, &o, &err);

    if (!q)
        fail_msg("%s", err.msg);
    return q;
}

static int setup(void **state)
{
    struct vqh_err err;

    (void)state;
    rd = rundir_create(NULL, &err);
    if (!rd || !(sock = rundir_sock_path(rd, "qmp-src1.sock", &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct vqh_err err;

    (void)state;
    assert_true(rundir_remove(rd, &err));
    rundir_free(rd);
    return 0;
}

/* ---- handshake and commands ---------------------------------------------------------------- */

static void script_basic(int fd)
{
    json_t *cmd;

    srv_handshake(fd);
    cmd = srv_recv(fd, "query-status");
    if (json_object_get(cmd, "arguments"))
        srv_die("query-status with arguments");
    srv_reply(fd, cmd,
              "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": $ID}\r\n",
              srv_send);
    json_decref(cmd);
    cmd = srv_recv(fd, "human-monitor-command");
    if (strcmp(json_string_value(json_object_get(json_object_get(cmd, "arguments"),
                                                 "command-line")), "info version") != 0)
        srv_die("arguments not passed");
    srv_reply(fd, cmd, "{\"return\": \"7.2.22\\r\\n\", \"id\": $ID}\r\n", srv_send);
    json_decref(cmd);
    srv_wait_eof(fd);
}

static void test_greeting_and_capabilities(void **state)
{
    char *log_text = NULL;
    size_t log_len = 0;
    FILE *log = open_memstream(&log_text, &log_len);
    pid_t srv = srv_start(script_basic);
    struct qmp *q = open_ok(log);
    const json_t *version;
    struct vqh_err err;
    json_t *r;

    (void)state;
    version = json_object_get(json_object_get(qmp_greeting(q), "QMP"), "version");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(version, "qemu"), "major")),
                     7);
    r = qmp_cmd(q, "query-status", NULL, 30000, &err);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "running");
    json_decref(r);
    r = qmp_cmd(q, "human-monitor-command", json_pack("{s:s}", "command-line", "info version"),
                30000, &err);
    assert_string_equal(json_string_value(r), "7.2.22\r\n");
    json_decref(r);
    qmp_close(q);
    srv_finish(srv);

    /* The transcript has both directions, labelled, with ids. */
    fclose(log);
    assert_non_null(strstr(log_text, " src1 <- {\"QMP\": {\"version\""));
    assert_non_null(strstr(log_text, " src1 -> {\"execute\":\"qmp_capabilities\",\"id\":1}\n"));
    assert_non_null(strstr(log_text, " src1 -> {\"execute\":\"human-monitor-command\","
                                     "\"arguments\":{\"command-line\":\"info version\"},"
                                     "\"id\":3}\n"));
    assert_non_null(strstr(log_text, " src1 <- {\"return\": \"7.2.22\\r\\n\", \"id\": 3}\n"));
    free(log_text);
}

static void script_interleaved(int fd)
{
    json_t *cmd;

    srv_handshake(fd);
    cmd = srv_recv(fd, "query-status");
    srv_send(fd, "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 250000}, "
                 "\"event\": \"STOP\"}\r\n");
    srv_send(fd, "{\"return\": {\"status\": \"stale\"}, \"id\": 424242}\r\n");
    srv_reply(fd, cmd, "{\"return\": {\"status\": \"paused\"}, \"id\": $ID}\r\n", srv_send);
    json_decref(cmd);
    srv_wait_eof(fd);
}

static void test_id_matching_interleaved(void **state)
{
    pid_t srv = srv_start(script_interleaved);
    struct qmp *q = open_ok(NULL);
    struct vqh_err err;
    json_t *r, *ev;

    (void)state;
    r = qmp_cmd(q, "query-status", NULL, 30000, &err);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "paused");
    json_decref(r);
    /* The event that came before the reply was kept, with QEMU's timestamp. */
    ev = qmp_next_event(q, 0, &err);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "STOP");
    assert_true(qmp_event_time(ev) == 1700000000.25);
    json_decref(ev);
    assert_null(qmp_next_event(q, 0, &err));
    assert_string_equal(err.msg, "qmp src1: waiting for an event: timed out after 0 ms");
    qmp_close(q);
    srv_finish(srv);
}

/* Three events and the reply in one write: several messages per read. */
static void script_events(int fd)
{
    json_t *cmd;

    srv_handshake(fd);
    cmd = srv_recv(fd, "cont");
    srv_reply(fd, cmd,
              "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 1}, \"event\": \"A\"}\r\n"
              "{\"timestamp\": {\"seconds\": 2, \"microseconds\": 2}, \"event\": \"B\", "
              "\"data\": {\"n\": 2}}\r\n"
              "{\"return\": {}, \"id\": $ID}\r\n"
              "{\"timestamp\": {\"seconds\": 3, \"microseconds\": 3}, \"event\": \"C\"}\r\n",
              srv_send);
    json_decref(cmd);
    srv_wait_eof(fd);
}

static void count_event(void *arg, const json_t *ev)
{
    (void)ev;
    (*(int *)arg)++;
}

static void test_events_queued_in_order(void **state)
{
    int seen = 0;
    struct qmp_opts o = {.label = "src1", .on_event = count_event, .event_arg = &seen};
    pid_t srv = srv_start(script_events);
    struct vqh_err err;
    struct qmp *q = qmp_open(sock, 30000, &o, &err);
    json_t *r, *ev;
    const char *names[] = {"A", "B", "C"};

    (void)state;
    assert_non_null(q);
    r = qmp_cmd(q, "cont", NULL, 30000, &err);
    assert_non_null(r);
    json_decref(r);
    assert_int_equal(seen, 2); /* C was not read yet: it came after the reply */
    for (int i = 0; i < 3; i++) {
        ev = qmp_next_event(q, 30000, &err);
        assert_non_null(ev);
        assert_string_equal(json_string_value(json_object_get(ev, "event")), names[i]);
        assert_true(qmp_event_time(ev) == (i + 1) + (i + 1) / 1e6);
        json_decref(ev);
    }
    assert_int_equal(seen, 3);
    qmp_close(q);
    srv_finish(srv);
}

static void script_pump(int fd)
{
    json_t *cmd;

    srv_handshake(fd);
    /* One whole event and the first half of another: the second completes only after the
     * client's next command, so what qmp_pump can see is exactly A. */
    srv_send(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 1}, \"event\": \"MIGRATION\", "
                 "\"data\": {\"status\": \"completed\"}}\r\n{\"timestamp\": {\"seconds\": 2, ");
    cmd = srv_recv(fd, "query-status");
    srv_reply(fd, cmd, "\"microseconds\": 2}, \"event\": \"B\"}\r\n{\"return\": {}, \"id\": $ID}\r\n", srv_send);
    json_decref(cmd);
}

static void test_pump_reads_what_is_there(void **state)
{
    int seen = 0;
    pid_t srv = srv_start(script_pump);
    struct vqh_err err;
    struct qmp *q = open_ok(NULL);
    struct pollfd pfd = {.fd = qmp_fd(q), .events = POLLIN};
    json_t *r, *ev;

    (void)state;
    assert_true(pfd.fd >= 0);
    qmp_set_event_fn(q, count_event, &seen);
    /* The event may have come with the handshake's last reply (then it is buffered already) or
     * after it (then the socket turns readable). */
    assert_true(qmp_pump(q, &err));
    for (int i = 0; i < 300 && seen == 0; i++) {
        poll(&pfd, 1, 100);
        assert_true(qmp_pump(q, &err));
    }
    /* The whole event reached the hook and waits in the queue; the half one waits. */
    assert_true(qmp_pump(q, &err));
    assert_int_equal(seen, 1);
    r = qmp_cmd(q, "query-status", NULL, 30000, &err);
    assert_non_null(r);
    json_decref(r);
    assert_int_equal(seen, 2);
    ev = qmp_next_event(q, 0, &err);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "MIGRATION");
    json_decref(ev);
    ev = qmp_next_event(q, 0, &err);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "B");
    json_decref(ev);
    /* The server is gone: pumping says the connection broke. */
    srv_finish(srv);
    assert_false(qmp_pump(q, &err));
    assert_int_equal(err.kind, VQH_ERR_CLOSED);
    assert_int_equal(qmp_fd(q), -1);
    qmp_close(q);
}

/* ---- failures ------------------------------------------------------------------------------ */

static void script_errors(int fd)
{
    json_t *cmd;

    srv_handshake(fd);
    cmd = srv_recv(fd, "device_del");
    srv_reply(fd, cmd, "{\"id\": $ID, \"error\": {\"class\": \"DeviceNotFound\", "
                       "\"desc\": \"Device 'vqh9' not found\"}}\r\n", srv_send);
    json_decref(cmd);
    /* A command QEMU could not parse comes back without an id. */
    cmd = srv_recv(fd, "query-status");
    srv_send(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n");
    json_decref(cmd);
    cmd = srv_recv(fd, "query-status");
    srv_send(fd, "{\"return\": oops}\r\n");
    json_decref(cmd);
    /* The stream is still usable after a bad line. */
    cmd = srv_recv(fd, "query-name");
    srv_reply(fd, cmd, "{\"return\": {\"name\": \"vqh-src1\"}, \"id\": $ID}\r\n", srv_send);
    json_decref(cmd);
    cmd = srv_recv(fd, "query-status");
    srv_send(fd, "{\"return\": {\"sta");
    json_decref(cmd);
}

static void test_error_replies(void **state)
{
    pid_t srv = srv_start(script_errors);
    struct qmp *q = open_ok(NULL);
    struct vqh_err err;
    json_t *r;

    (void)state;
    assert_null(qmp_cmd(q, "device_del", json_pack("{s:s}", "id", "vqh9"), 30000, &err));
    assert_string_equal(err.msg, "qmp src1: device_del: DeviceNotFound: Device 'vqh9' not found");
    assert_int_equal(err.kind, VQH_ERR_REFUSED);
    assert_null(qmp_cmd(q, "query-status", NULL, 30000, &err));
    assert_string_equal(err.msg, "qmp src1: query-status: GenericError: JSON parse error");
    assert_null(qmp_cmd(q, "query-status", NULL, 30000, &err));
    assert_string_equal(err.msg,
                        "qmp src1: query-status: malformed JSON from QMP: {\"return\": oops}");
    r = qmp_cmd(q, "query-name", NULL, 30000, &err);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "vqh-src1");
    json_decref(r);
    /* The server closes in the middle of the reply. */
    assert_null(qmp_cmd(q, "query-status", NULL, 30000, &err));
    assert_string_equal(err.msg, "qmp src1: query-status: connection closed in the middle of a "
                                 "message: {\"return\": {\"sta");
    assert_int_equal(err.kind, VQH_ERR_CLOSED);
    assert_null(qmp_cmd(q, "cont", NULL, 30000, &err));
    assert_string_equal(err.msg, "qmp src1: cont: connection closed");
    assert_int_equal(err.kind, VQH_ERR_CLOSED);
    assert_null(qmp_next_event(q, 30000, &err));
    assert_string_equal(err.msg, "qmp src1: waiting for an event: connection closed");
    qmp_close(q);
    srv_finish(srv);
}

static void script_silent(int fd)
{
    srv_handshake(fd);
    srv_recv(fd, "query-status");
    srv_wait_eof(fd);
}

static void test_timeout_when_silent(void **state)
{
    pid_t srv = srv_start(script_silent);
    struct qmp *q = open_ok(NULL);
    struct vqh_err err;

    (void)state;
    assert_null(qmp_cmd(q, "query-status", NULL, 300, &err));
    assert_string_equal(err.msg, "qmp src1: query-status: timed out after 300 ms");
    assert_int_equal(err.kind, VQH_ERR_TIMEOUT);
    qmp_close(q);
    srv_finish(srv);
}

static bool fake_dead;

static bool fake_alive(void *arg, struct vqh_err *why)
{
    (*(int *)arg)++;
    if (fake_dead)
        vqh_err_set(why, "killed by signal 9 (Killed)");
    return !fake_dead;
}

/* The server stays silent but connected: only the liveness hook can end these 60 s waits early. */
static void test_liveness_ends_wait(void **state)
{
    int calls = 0;
    struct qmp_opts o = {.label = "src1", .alive = fake_alive, .alive_arg = &calls};
    pid_t srv = srv_start(script_silent);
    struct vqh_err err;
    struct qmp *q;

    (void)state;
    fake_dead = false;
    q = qmp_open(sock, 30000, &o, &err);
    assert_non_null(q);
    fake_dead = true;
    calls = 0;
    assert_null(qmp_cmd(q, "query-status", NULL, 60000, &err));
    assert_string_equal(err.msg, "qmp src1: query-status: QEMU died: killed by signal 9 (Killed)");
    assert_int_equal(err.kind, VQH_ERR_DIED);
    assert_int_equal(calls, 1);
    assert_null(qmp_wait_event(q, "MIGRATION", 60000, NULL, &err));
    assert_string_equal(err.msg, "qmp src1: waiting for event MIGRATION: QEMU died: "
                                 "killed by signal 9 (Killed)");
    qmp_close(q);
    srv_finish(srv);

    /* While connecting: no socket will ever appear, and the process is gone. */
    assert_null(qmp_open(rundir_path(rd, "never.sock"), 60000, &o, &err));
    assert_string_equal(err.msg, "qmp src1: connect: QEMU died: killed by signal 9 (Killed)");
}

/* QEMU's last words, then its death: what it said must win over "QEMU died". */
static int sync_fds[2];

static void script_last_words(int fd)
{
    srv_handshake(fd);
    srv_send(fd, "{\"timestamp\": {\"seconds\": 2, \"microseconds\": 0}, \"event\": \"SHUTDOWN\", "
                 "\"data\": {\"guest\": true, \"reason\": \"guest-panic\"}}\r\n");
    if (write(sync_fds[1], "x", 1) != 1)
        srv_die("sync write failed");
    srv_wait_eof(fd);
}

static void test_dead_qemu_last_events_first(void **state)
{
    const char *fail[] = {"SHUTDOWN", NULL};
    int calls = 0;
    struct qmp_opts o = {.label = "src1", .alive = fake_alive, .alive_arg = &calls};
    struct vqh_err err;
    struct qmp *q;
    pid_t srv;
    char c;

    (void)state;
    assert_int_equal(pipe(sync_fds), 0);
    srv = srv_start(script_last_words);
    fake_dead = false;
    q = qmp_open(sock, 30000, &o, &err);
    assert_non_null(q);
    assert_int_equal(read(sync_fds[0], &c, 1), 1); /* the event is in our socket now */
    fake_dead = true;
    assert_null(qmp_wait_event(q, "MIGRATION", 60000, fail, &err));
    assert_string_equal(err.msg, "qmp src1: waiting for event MIGRATION: got event SHUTDOWN first "
                                 "(data: {\"guest\":true,\"reason\":\"guest-panic\"})");
    assert_null(qmp_wait_event(q, "MIGRATION", 60000, fail, &err));
    assert_string_equal(err.msg, "qmp src1: waiting for event MIGRATION: QEMU died: "
                                 "killed by signal 9 (Killed)");
    qmp_close(q);
    srv_finish(srv);
    close(sync_fds[0]);
    close(sync_fds[1]);
}

static void test_connect_timeout(void **state)
{
    struct qmp_opts o = {.label = "dst1"};
    const char *never = rundir_path(rd, "never.sock");
    char expect[VQH_ERR_MAX];
    struct vqh_err err;

    (void)state;
    assert_null(qmp_open(never, 200, &o, &err));
    snprintf(expect, sizeof(expect),
             "qmp dst1: connect: no QMP server at %s after 200 ms: No such file or directory",
             never);
    assert_string_equal(err.msg, expect);
}

static void script_slow(int fd)
{
    json_t *cmd;

    srv_send_slowly(fd, GREETING);
    cmd = srv_recv(fd, "qmp_capabilities");
    srv_reply(fd, cmd, "{\"return\": {}, \"id\": $ID}\r\n", srv_send_slowly);
    json_decref(cmd);
    cmd = srv_recv(fd, "query-migrate");
    srv_reply(fd, cmd,
              "{\"timestamp\": {\"seconds\": 5, \"microseconds\": 0}, \"event\": \"MIGRATION\", "
              "\"data\": {\"status\": \"active\"}}\r\n"
              "{\"return\": {\"status\": \"active\", \"ram\": {\"transferred\": 12345}}, "
              "\"id\": $ID}\r\n", srv_send_slowly);
    json_decref(cmd);
    srv_wait_eof(fd);
}

static void test_partial_writes(void **state)
{
    pid_t srv = srv_start(script_slow);
    struct qmp *q = open_ok(NULL);
    struct vqh_err err;
    json_t *r, *ev;

    (void)state;
    r = qmp_cmd(q, "query-migrate", NULL, 30000, &err);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "ram"), "transferred")),
                     12345);
    json_decref(r);
    ev = qmp_next_event(q, 0, &err);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "data"), "status")),
                        "active");
    json_decref(ev);
    qmp_close(q);
    srv_finish(srv);
}

static void script_shutdown_first(int fd)
{
    srv_handshake(fd);
    srv_send(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"RESUME\"}\r\n"
                 "{\"timestamp\": {\"seconds\": 2, \"microseconds\": 0}, \"event\": \"SHUTDOWN\", "
                 "\"data\": {\"guest\": false, \"reason\": \"host-signal\"}}\r\n"
                 "{\"timestamp\": {\"seconds\": 3, \"microseconds\": 0}, \"event\": \"MIGRATION\", "
                 "\"data\": {\"status\": \"completed\"}}\r\n");
    srv_wait_eof(fd);
}

static void test_wait_event_fail_names(void **state)
{
    const char *fail[] = {"SHUTDOWN", "BLOCK_IO_ERROR", NULL};
    pid_t srv = srv_start(script_shutdown_first);
    struct qmp *q = open_ok(NULL);
    struct vqh_err err;
    json_t *ev;

    (void)state;
    assert_null(qmp_wait_event(q, "MIGRATION", 30000, fail, &err));
    assert_string_equal(err.msg, "qmp src1: waiting for event MIGRATION: got event SHUTDOWN first "
                                 "(data: {\"guest\":false,\"reason\":\"host-signal\"})");
    /* Without failure names the wait skips what is not asked for. */
    ev = qmp_wait_event(q, "MIGRATION", 30000, NULL, &err);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "data"), "status")),
                        "completed");
    json_decref(ev);
    assert_null(qmp_wait_event(q, "RESUME", 100, NULL, &err));
    assert_string_equal(err.msg, "qmp src1: waiting for event RESUME: timed out after 100 ms");
    qmp_close(q);
    srv_finish(srv);
}

static void script_not_qmp(int fd)
{
    srv_send(fd, "{\"hello\": 1}\r\n");
    srv_wait_eof(fd);
}

static void test_not_a_greeting(void **state)
{
    pid_t srv = srv_start(script_not_qmp);
    struct qmp_opts o = {.label = "src1"};
    struct vqh_err err;

    (void)state;
    assert_null(qmp_open(sock, 30000, &o, &err));
    assert_string_equal(err.msg, "qmp src1: greeting: the first message is not a QMP greeting");
    srv_finish(srv);
}

/* ---- run directory ------------------------------------------------------------------------- */

static void test_rundir_private_and_removed(void **state)
{
    struct vqh_err err;
    struct rundir *r = rundir_create(rundir_base(rd), &err);
    const char *a, *base;
    char cmd[600];
    struct stat st;

    (void)state;
    assert_non_null(r);
    base = rundir_base(r);
    assert_int_equal(strncmp(base, rundir_base(rd), strlen(rundir_base(rd))), 0);
    assert_int_equal(stat(base, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    a = rundir_path(r, "qemu-src1.log");
    if (!a || !base)
        fail();
    assert_ptr_equal(a, rundir_path(r, "qemu-src1.log")); /* stable: owned by r */
    assert_int_equal(strlen(a), strlen(base) + 14);
    assert_string_equal(a + strlen(base), "/qemu-src1.log");
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/d/e && touch %s %s/d/e/f && ln -s / %s/root", base, a,
             base, base);
    assert_int_equal(system(cmd), 0);
    assert_true(rundir_remove(r, &err));
    assert_int_equal(stat(base, &st), -1); /* gone, and the symlink was not followed */
    assert_int_equal(stat("/", &st), 0);
    rundir_free(r);
}

static void test_rundir_tmpdir_and_sun_path(void **state)
{
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    char longdir[200], name[100];
    struct vqh_err err;
    struct rundir *r;

    (void)state;
    setenv("TMPDIR", rundir_base(rd), 1);
    r = rundir_create(NULL, &err);
    assert_non_null(r);
    assert_int_equal(strncmp(rundir_base(r), rundir_base(rd), strlen(rundir_base(rd))), 0);
    /* A socket name that cannot fit. */
    memset(name, 'q', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_null(rundir_sock_path(r, name, &err));
    assert_non_null(strstr(err.msg, "more than sun_path holds (107): set TMPDIR"));
    assert_non_null(rundir_sock_path(r, "qmp-dst12.sock", &err));
    assert_true(rundir_remove(r, &err));
    rundir_free(r);

    /* A TMPDIR so long that no socket could fit: refused up front. */
    snprintf(longdir, sizeof(longdir), "%s/%s", rundir_base(rd),
             "a-very-long-directory-name-that-leaves-no-room-for-sockets-at-all-x");
    assert_int_equal(mkdir(longdir, 0700), 0);
    setenv("TMPDIR", longdir, 1);
    assert_null(rundir_create(NULL, &err));
    assert_non_null(strstr(err.msg, "leaves no room for unix socket names"));
    assert_non_null(strstr(err.msg, "set TMPDIR to a shorter directory"));
    if (old)
        setenv("TMPDIR", old, 1);
    else
        unsetenv("TMPDIR");
    free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_and_capabilities),
        cmocka_unit_test(test_id_matching_interleaved),
        cmocka_unit_test(test_events_queued_in_order),
        cmocka_unit_test(test_error_replies),
        cmocka_unit_test(test_timeout_when_silent),
        cmocka_unit_test(test_liveness_ends_wait),
        cmocka_unit_test(test_dead_qemu_last_events_first),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_partial_writes),
        cmocka_unit_test(test_wait_event_fail_names),
        cmocka_unit_test(test_pump_reads_what_is_there),
        cmocka_unit_test(test_not_a_greeting),
        cmocka_unit_test(test_rundir_private_and_removed),
        cmocka_unit_test(test_rundir_tmpdir_and_sun_path),
    };

    /* A write to a server that has gone must fail, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
