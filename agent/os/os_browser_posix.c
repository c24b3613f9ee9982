/*
 * os_browser_posix.c — os_open_url through xdg-open (os_browser.h), which a
 * Linux desktop has; a server has none and the link stays printed only.
 */
#include "agent/os/os_browser.h"

#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

int os_open_url(const char *url)
{
    char *argv[] = {"xdg-open", (char *)url, NULL};
    pid_t pid;
    int status;

    if (posix_spawnp(&pid, "xdg-open", NULL, NULL, argv, environ) != 0) {
        return -1;
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return -1;
    }
    return 0;
}
