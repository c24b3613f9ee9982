/*
 * os_notify.h — telling the service manager how the agent is doing.
 *
 * On Linux that is systemd's notification socket ($NOTIFY_SOCKET, one
 * datagram per message: os_notify_posix.c). Windows has no such socket:
 * its service control manager learns the state from the service's own
 * code (SetServiceStatus), so os_notify_win.c sends nothing and the
 * service code sets a hook instead, called on both platforms whenever the
 * agent says READY=1, RELOADING=1 or STOPPING=1 (agent/core/notify.c), to
 * report SERVICE_RUNNING or SERVICE_STOP_PENDING.
 *
 * agent/core/notify.h is what the rest of the agent calls.
 */
#ifndef DS_OS_NOTIFY_H
#define DS_OS_NOTIFY_H

#include <stdint.h>

enum ds_os_service_event {
    DS_OS_SERVICE_READY = 1,     /* serving (READY=1) */
    DS_OS_SERVICE_RELOADING = 2, /* starting again with a new configuration */
    DS_OS_SERVICE_STOPPING = 3,  /* stopping (STOPPING=1) */
};

typedef void (*ds_os_ready_hook_fn)(enum ds_os_service_event event, void *ctx);

/* Sets (or, with NULL, clears) the hook; one at a time. Called by the
 * thread that calls ds_notify (the loop's). In agent/core/notify.c. */
void ds_os_ready_hook_set(ds_os_ready_hook_fn fn, void *ctx);

/* Hands state (KEY=VALUE lines) to the service manager. 0 when sent or
 * when there is none to send to; DS_EINVAL, DS_EIO. */
int ds_os_notify_send(const char *state);

/* The watchdog interval the service manager expects, in microseconds
 * (see ds_notify_watchdog_usec); 0 when it expects none. */
uint64_t ds_os_notify_watchdog_usec(void);

#endif
