/*
 * os_net_posix.c — os_net.h on POSIX: a unix socket in the state
 * directory; the peer's uid from SO_PEERCRED.
 */
#include "agent/os/os_net.h"

#include "agent/core/error.h"

#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONTROL_SOCKET "control.sock"

int ds_os_control_name(const char *state_dir, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", state_dir, CONTROL_SOCKET);

    if (n < 0 || (size_t)n >= size || (size_t)n >= DS_OS_CONTROL_NAME_MAX) {
        return DS_ETOOBIG;
    }
    return 0;
}

void ds_os_control_stale(const char *name)
{
    (void)unlink(name);
}

int ds_os_control_restrict(uv_pipe_t *server, const char *name)
{
    (void)server;
    return chmod(name, 0660);
}

void ds_os_control_gone(const char *name)
{
    (void)unlink(name);
}

int ds_os_control_peer_privileged(uv_pipe_t *conn)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    if (uv_fileno((uv_handle_t *)conn, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return 0;
    }
    return cred.uid == 0 || cred.uid == geteuid();
}
