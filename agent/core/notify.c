/*
 * notify.c — the service notification protocol (notify.h): the lines go to
 * the platform's service manager (agent/os/os_notify_*.c), and READY=1,
 * RELOADING=1 and STOPPING=1 also to the hook the service code may set
 * (how the Windows service reports its state).
 */
#include "agent/core/notify.h"

#include "agent/core/error.h"
#include "agent/os/os_notify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static ds_os_ready_hook_fn hook_fn;
static void *hook_ctx;

void ds_os_ready_hook_set(ds_os_ready_hook_fn fn, void *ctx)
{
    hook_fn = fn;
    hook_ctx = ctx;
}

/* Calls the hook for each state line of state it knows. */
static void call_hook(const char *state)
{
    static const struct {
        const char *line;
        enum ds_os_service_event event;
    } events[] = {
        {"READY=1", DS_OS_SERVICE_READY},
        {"RELOADING=1", DS_OS_SERVICE_RELOADING},
        {"STOPPING=1", DS_OS_SERVICE_STOPPING},
    };
    const char *p = state;

    while (hook_fn != NULL && *p != '\0') {
        size_t n = strcspn(p, "\n");

        for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
            if (n == strlen(events[i].line) && memcmp(p, events[i].line, n) == 0) {
                hook_fn(events[i].event, hook_ctx);
            }
        }
        p += n;
        if (*p == '\n') {
            p++;
        }
    }
}

int ds_notify(const char *state)
{
    if (state == NULL) {
        return 0;
    }
    call_hook(state);
    return ds_os_notify_send(state);
}

int ds_notify_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    /* A false positive of the analyzer (va_start is right above). NOLINTNEXTLINE */
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        return DS_ETOOBIG;
    }
    return ds_notify(buf);
}

uint64_t ds_notify_watchdog_usec(void)
{
    return ds_os_notify_watchdog_usec();
}
