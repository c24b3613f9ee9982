/*
 * os_notify_win.c — os_notify.h on Windows: there is no notification
 * socket; the service code learns READY and STOPPING through the hook
 * (ds_os_ready_hook_set) and reports them to the service control manager.
 * The manager has no watchdog of this kind.
 */
#include "agent/os/os_notify.h"

#include <stddef.h>

int ds_os_notify_send(const char *state)
{
    (void)state;
    return 0;
}

uint64_t ds_os_notify_watchdog_usec(void)
{
    return 0;
}
