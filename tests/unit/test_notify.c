/*
 * test_notify.c — the service notifications: the lines reach
 * $NOTIFY_SOCKET unchanged, and READY, RELOADING and STOPPING reach the
 * hook the Windows service reports to its manager with.
 */
#include "agent/core/notify.h"
#include "agent/os/os_notify.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int seen[8];
static int calls;

static void hook(enum ds_os_service_event event, void *ctx)
{
    assert_ptr_equal(ctx, &calls);
    seen[calls++ % 8] = (int)event;
}

static void test_hook(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    calls = 0;
    ds_os_ready_hook_set(hook, &calls);
    assert_int_equal(ds_notify("READY=1\nSTATUS=running"), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(seen[0], DS_OS_SERVICE_READY);
    assert_int_equal(ds_notify("WATCHDOG=1\nSTATUS=READY=1 is not a line of its own"), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(ds_notify_printf("%s", "STOPPING=1"), 0);
    assert_int_equal(ds_notify("RELOADING=1\n"), 0);
    assert_int_equal(calls, 3);
    assert_int_equal(seen[1], DS_OS_SERVICE_STOPPING);
    assert_int_equal(seen[2], DS_OS_SERVICE_RELOADING);
    ds_os_ready_hook_set(NULL, NULL);
    assert_int_equal(ds_notify("READY=1"), 0);
    assert_int_equal(calls, 3);
}

static void test_socket(void **state)
{
    struct sockaddr_un sa;
    char path[64];
    char buf[128];
    ssize_t n;
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/ds-notify-%ld.sock", (long)getpid());
    unlink(path);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(ds_notify("READY=1\nSTATUS=2 folder(s)"), 0);
    n = recv(fd, buf, sizeof(buf) - 1, 0);
    assert_int_equal(n, (ssize_t)strlen("READY=1\nSTATUS=2 folder(s)"));
    buf[n] = '\0';
    assert_string_equal(buf, "READY=1\nSTATUS=2 folder(s)");
    setenv("NOTIFY_SOCKET", "relative.sock", 1);
    assert_int_not_equal(ds_notify("READY=1"), 0);
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook),
        cmocka_unit_test(test_socket),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
