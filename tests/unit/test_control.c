/*
 * test_control.c — the control endpoint's client (a uv_pipe_t on a loop of
 * its own) against the server on another thread's loop: one line each way,
 * a privileged peer, the answer to a command the owner does not offer; no
 * agent (DS_ENOTFOUND), an endpoint that never answers (DS_EIO after the
 * timeout), and a state directory too long for an endpoint's name.
 */
#include "agent/service/control.h"

#include "agent/os/os_net.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int sync_calls;

static void op_sync_now(void *ctx)
{
    (void)ctx;
    sync_calls++;
}

static int op_status(void *ctx, struct ds_buf *b)
{
    (void)ctx;
    return ds_buf_append_str(b, "\"busy\":0,");
}

struct server {
    uv_loop_t loop;
    uv_async_t stop;
    struct ds_control *control;
    pthread_t thread;
};

static void on_stop(uv_async_t *a)
{
    struct server *s = a->data;

    ds_control_free(&s->control);
    uv_close((uv_handle_t *)&s->stop, NULL);
}

static void *serve(void *arg)
{
    struct server *s = arg;

    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void server_start(struct server *s, const char *dir)
{
    struct ds_control_ops ops;
    struct ds_config cfg;
    struct ds_error err;

    memset(&ops, 0, sizeof(ops));
    memset(&cfg, 0, sizeof(cfg));
    ops.sync_now = op_sync_now;
    ops.status = op_status;
    cfg.state_dir = (char *)dir;
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(ds_control_new(&s->loop, &cfg, &ops, &s->control, &err), 0);
    uv_async_init(&s->loop, &s->stop, on_stop);
    s->stop.data = s;
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    uv_async_send(&s->stop);
    pthread_join(s->thread, NULL);
    assert_int_equal(uv_loop_close(&s->loop), 0);
}

static void test_round_trip(void **state)
{
    char dir[] = "/tmp/ds-test-control-XXXXXX";
    char name[DS_OS_CONTROL_NAME_MAX];
    struct server s;
    json_t *doc = NULL;
    struct ds_buf answer;

    (void)state;
    assert_non_null(mkdtemp(dir));
    server_start(&s, dir);
    assert_int_equal(ds_control_ask(dir, "sync-now", 5000, &doc), 0);
    assert_true(json_is_true(json_object_get(doc, "ok")));
    json_decref(doc);
    assert_int_equal(sync_calls, 1);
    ds_buf_init(&answer, DS_CONTROL_MAX_ANSWER);
    assert_int_equal(ds_control_request(dir, "status", &answer, 5000), 0);
    assert_string_equal(answer.data, "{\"ok\":true,\"busy\":0}");
    ds_buf_reset(&answer);
    /* This process's own user is privileged; the owner offers no reload. */
    assert_int_equal(ds_control_request(dir, "reload", &answer, 5000), 0);
    assert_string_equal(answer.data, "{\"ok\":false,\"error\":\"unknown command\"}");
    ds_buf_close(&answer);
    server_stop(&s);
    /* The endpoint is gone with the server. */
    assert_int_equal(ds_os_control_name(dir, name, sizeof(name)), 0);
    assert_int_not_equal(access(name, F_OK), 0);
    assert_int_equal(ds_control_ask(dir, "status", 5000, NULL), DS_ENOTFOUND);
    rmdir(dir);
}

/* A listener that accepts and never answers: the client gives up after
 * its timeout with DS_EIO. */
static void test_silent_endpoint(void **state)
{
    char dir[] = "/tmp/ds-test-control-XXXXXX";
    struct sockaddr_un sa;
    struct ds_buf answer;
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    assert_int_equal(ds_os_control_name(dir, sa.sun_path, sizeof(sa.sun_path)), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    ds_buf_init(&answer, DS_CONTROL_MAX_ANSWER);
    assert_int_equal(ds_control_request(dir, "status", &answer, 200), DS_EIO);
    ds_buf_close(&answer);
    close(fd);
    unlink(sa.sun_path);
    rmdir(dir);
}

static void test_long_state_dir(void **state)
{
    char dir[200];
    char name[DS_OS_CONTROL_NAME_MAX];
    struct ds_buf answer;

    (void)state;
    memset(dir, 'd', sizeof(dir) - 1);
    dir[0] = '/';
    dir[sizeof(dir) - 1] = '\0';
    assert_int_equal(ds_os_control_name(dir, name, sizeof(name)), DS_ETOOBIG);
    ds_buf_init(&answer, DS_CONTROL_MAX_ANSWER);
    assert_int_equal(ds_control_request(dir, "status", &answer, 200), DS_ETOOBIG);
    ds_buf_close(&answer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_silent_endpoint),
        cmocka_unit_test(test_long_state_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
