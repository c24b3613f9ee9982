/*
 * os_net.h — the local endpoint the running agent answers its command line
 * on (agent/service/control.c), where the platforms differ: its name, who
 * may reach it, and who is asking.
 *
 * Both sides speak through libuv's uv_pipe_t, which is a unix stream
 * socket on POSIX and a named pipe on Windows:
 *   POSIX    STATE_DIR/control.sock, mode 0660 (the service user and its
 *            group), the asker's uid from SO_PEERCRED;
 *   Windows  \\.\pipe\dentsync-HASH, HASH 16 hex digits of FNV-1a over the
 *            state directory's path (ASCII letters folded, `/` read as `\`,
 *            no trailing separator), so each agent on a machine has its
 *            own; the pipe's default security lets only its owner, the
 *            administrators and LocalSystem write to it; the asker's user
 *            from the client process's token.
 */
#ifndef DS_OS_NET_H
#define DS_OS_NET_H

#include <stddef.h>
#include <uv.h>

#define DS_OS_CONTROL_NAME_MAX 108 /* bytes of a name, the NUL included (sun_path) */

/* The endpoint's name for the agent of state_dir into buf. 0, or
 * DS_ETOOBIG when it does not fit an endpoint's name. */
int ds_os_control_name(const char *state_dir, char *buf, size_t size);

/* Before listening on name: removes what a previous run left (POSIX: a
 * stale socket file; Windows: nothing, a pipe dies with its server). */
void ds_os_control_stale(const char *name);

/* After binding server to name: who may connect (POSIX: mode 0660).
 * 0, or non-zero when that could not be set. */
int ds_os_control_restrict(uv_pipe_t *server, const char *name);

/* After closing the server: removes name (POSIX: the socket file). */
void ds_os_control_gone(const char *name);

/* 1 when the peer of the accepted connection is the superuser (root;
 * LocalSystem or an elevated administrator on Windows) or the user this
 * process runs as; else 0 (also when that cannot be learnt). */
int ds_os_control_peer_privileged(uv_pipe_t *conn);

#endif
