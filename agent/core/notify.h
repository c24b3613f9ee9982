/*
 * notify.h — the systemd service notification protocol (sd_notify), spoken
 * directly over $NOTIFY_SOCKET so the agent needs no libsystemd.
 *
 * Under a unit with Type=notify, systemd passes the path of a datagram
 * socket in NOTIFY_SOCKET; the service sends "READY=1" once it serves,
 * "WATCHDOG=1" at least every WATCHDOG_USEC/2 microseconds when the unit
 * has WatchdogSec=, "STATUS=..." for `systemctl status`, and "STOPPING=1"
 * when it begins to stop. Without NOTIFY_SOCKET every call does nothing and
 * returns 0, so the same binary runs from a terminal.
 *
 * STATUS lines carry counts only: never patient data.
 *
 * The platform half is agent/os/os_notify.h: on Windows nothing is sent,
 * and the service code learns READY and STOPPING through its hook.
 */
#ifndef DS_CORE_NOTIFY_H
#define DS_CORE_NOTIFY_H

#include "agent/os/os_cc.h"

#include <stdint.h>

/* Sends state (one or more "KEY=VALUE" lines) to $NOTIFY_SOCKET. 0 when
 * sent or when there is no socket to send to; DS_EIO, DS_ETOOBIG. */
int ds_notify(const char *state);

/* ds_notify with a printf format. */
int ds_notify_printf(const char *fmt, ...) DS_PRINTF(1, 2);

/* The watchdog interval systemd expects, in microseconds: WATCHDOG_USEC
 * when set and (if WATCHDOG_PID is set) meant for this process; else 0.
 * Ping at half of it. */
uint64_t ds_notify_watchdog_usec(void);

#endif
