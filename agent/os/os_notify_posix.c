/*
 * os_notify_posix.c — os_notify.h on Linux: sd_notify over $NOTIFY_SOCKET,
 * one datagram per call on a unix socket, a path or an abstract name
 * ("@name").
 */
#include "agent/os/os_notify.h"

#include "agent/core/error.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ds_os_notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    size_t len;
    ssize_t n;
    int fd = -1;
    int rc = 0;

    if (path == NULL || path[0] == '\0' || state == NULL) {
        return 0;
    }
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
        return DS_EINVAL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@') {
        sa.sun_path[0] = '\0'; /* an abstract socket */
    }
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return DS_EIO;
    }
    do {
        n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != strlen(state)) {
        rc = DS_EIO;
    }
    close(fd);
    return rc;
}

uint64_t ds_os_notify_watchdog_usec(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end = NULL;
    unsigned long long v;

    if (usec == NULL || usec[0] == '\0') {
        return 0;
    }
    if (pid != NULL && pid[0] != '\0') {
        long p = strtol(pid, &end, 10);

        if (end == pid || *end != '\0' || p != (long)getpid()) {
            return 0;
        }
    }
    errno = 0;
    v = strtoull(usec, &end, 10);
    if (errno != 0 || end == usec || *end != '\0') {
        return 0;
    }
    return (uint64_t)v;
}
