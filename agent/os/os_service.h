/*
 * os_service.h — the agent under the platform's service manager, and its
 * registration there (`dentsync service`, `dentsync run --service`).
 *
 * On Windows the agent is a service of the Service Control Manager:
 * `run --service` enters its dispatcher and runs the same daemon as
 * `dentsync run`; a stop or shutdown from the manager ends it the way
 * SIGTERM does on Linux. On Linux the service is the systemd unit
 * (installer/systemd/dentsync.service) and these calls only say so.
 */
#ifndef DS_OS_SERVICE_H
#define DS_OS_SERVICE_H

#include <stddef.h>

/* A stop asked by the service manager. It is called on the manager's own
 * thread, so it may only hand the request over to the loop (uv_async_send). */
typedef void (*os_service_stop_fn)(void *ctx);

/* Registers the daemon's stop (fn NULL: none, before the daemon goes). A
 * stop that came while none was registered is called at once: the daemon
 * was still starting, or between a reload's two runs. */
void os_service_on_stop(os_service_stop_fn fn, void *ctx);

/* The daemon is up (watching, its control socket open): the service
 * manager is told that the service runs. Nothing outside a service.
 * `run --service` calls it on the daemon's READY=1 (ds_os_ready_hook_set,
 * agent/os/os_notify.h). */
void os_service_ready(void);

/* `run --service`: runs run(ctx) as the service and returns its exit code.
 * Returns 2 (a usage error) with a message on stderr where the program
 * was not started by a service manager, or has none to talk to. */
int os_service_dispatch(int (*run)(void *ctx), void *ctx);

/* `dentsync service VERB` (install, uninstall, start, stop, status), the
 * service running `run --service -c config_path`. Prints what it did on
 * stdout, an error on stderr. Returns 0 done, 1 failed, 2 no such verb or
 * no such thing on this platform. */
int os_service_manage(const char *verb, const char *config_path);

/* What a person does about a problem `doctor`, `status` or `check-config`
 * found, in the platform's own terms (chmod and systemctl on Linux; the
 * service's account and `dentsync service` on Windows). */
enum os_fix {
    OS_FIX_START,         /* the agent is not running */
    OS_FIX_FOLDER_READ,   /* the service's account cannot read an export folder */
    OS_FIX_STATE_CREATE,  /* state_dir is absent */
    OS_FIX_STATE_WRITE,   /* the service's account cannot write state_dir */
    OS_FIX_STATE_PRIVATE, /* others may read the queue's folder */
    OS_FIX_QUEUE_PRIVATE, /* others may read the queue */
    OS_FIX_TOKEN_PRIVATE, /* others may read a token file */
    OS_FIX_TOKEN_READ,    /* the service's account cannot read its token file */
    OS_FIX_DNS            /* the cloud's host name does not resolve */
};

/* The fix, one phrase, no trailing period. Never NULL. */
const char *os_service_fix(enum os_fix what);

/* The security identifier, in text, of the service's own account: on
 * Windows NT SERVICE\dentsync is S-1-5-80- followed by the SHA-1 of the
 * upper-case service name (UTF-16LE) as five little-endian 32-bit numbers,
 * the same on every machine, whether the service is installed or not. The
 * agent's private files grant it access (agent/os/os_fs_win.c), so the
 * service reads the token that `dentsync setup` wrote as an administrator.
 * NULL where services have no such identity (Linux: the account is the
 * dentsync user), or when the digest cannot be made. Computed once. */
const char *os_service_sid(void);

/* os_service_sid's derivation for any service name (ASCII), on every
 * platform (agent/os/os_service_sid.c): writes "S-1-5-80-…" into out. 0,
 * or -1 (empty or not ASCII, out too small, no SHA-1). The tests check it
 * against an identifier Windows publishes. */
int os_service_sid_of(const char *name, char *out, size_t size);

#endif
