/*
 * os_proc_posix.c — os_proc.h on POSIX: posix_spawn of /proc/self/exe (the
 * running binary's inode, even if a package upgrade replaced its name),
 * a pipe read with poll(2), waitpid.
 */
#include "agent/os/os_proc.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;

#define MAX_ARGS 8

struct ds_os_child {
    pid_t pid; /* 0 once reaped */
    int fd;    /* the pipe's read end, or -1 */
};

static int routes;

void ds_os_child_routes(void)
{
    routes = 1;
}

int ds_os_child_start(const char *const *args, int in_fd, const struct ds_os_child_limits *lim,
                      struct ds_os_child **out)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    char exe[4096];
    size_t exe_len = sizeof(exe);
    char *argv[MAX_ARGS + 2];
    sigset_t none;
    sigset_t def;
    struct ds_os_child *c;
    int fds[2] = {-1, -1};
    int n = 0;
    int rc;

    (void)lim; /* the child applies them to itself (ds_os_child_limit_self) */
    *out = NULL;
    if (!routes) {
        return DS_EINVAL;
    }
    if (access("/proc/self/exe", X_OK) == 0) {
        snprintf(exe, sizeof(exe), "/proc/self/exe");
    }
    else if (uv_exepath(exe, &exe_len) != 0) {
        return DS_EIO;
    }
    argv[n++] = exe;
    while (args[n - 1] != NULL && n <= MAX_ARGS) {
        argv[n] = (char *)args[n - 1];
        n++;
    }
    if (args[n - 1] != NULL) {
        return DS_EINVAL;
    }
    argv[n] = NULL;
    c = ds_calloc(1, sizeof(*c));
    if (c == NULL) {
        return DS_ENOMEM;
    }
    c->fd = -1;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        ds_free(c);
        return DS_EIO;
    }
    /* Only the three descriptors reach the child: everything else the
     * agent opens is close-on-exec. Signals come back to their defaults
     * and none is blocked, whatever this thread had. */
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGHUP);
    rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0) {
        rc = posix_spawnattr_init(&attr);
        if (rc != 0) {
            posix_spawn_file_actions_destroy(&fa);
        }
    }
    if (rc != 0) {
        close(fds[0]);
        close(fds[1]);
        ds_free(c);
        return DS_ENOMEM;
    }
    if (posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO) != 0 ||
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawnattr_setsigmask(&attr, &none) != 0 ||
        posix_spawnattr_setsigdefault(&attr, &def) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0) {
        rc = DS_ENOMEM;
    }
    else {
        rc = posix_spawn(&c->pid, exe, &fa, &attr, argv, environ) == 0 ? 0 : DS_EIO;
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        ds_free(c);
        return rc;
    }
    c->fd = fds[0];
    *out = c;
    return 0;
}

long ds_os_child_read(struct ds_os_child *c, void *buf, size_t size, int timeout_ms)
{
    for (;;) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        ssize_t k;
        int prc = poll(&pfd, 1, timeout_ms);

        if (prc < 0 && errno == EINTR) {
            continue;
        }
        if (prc < 0) {
            return DS_EIO;
        }
        if (prc == 0) {
            return DS_EBUSY;
        }
        k = read(c->fd, buf, size);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        return k < 0 ? DS_EIO : (long)k;
    }
}

void ds_os_child_finish(struct ds_os_child *c, int kill_it, struct ds_os_child_exit *how)
{
    int st = 0;

    if (how != NULL) {
        memset(how, 0, sizeof(*how));
    }
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    if (c->pid > 0) {
        if (kill_it) {
            (void)kill(c->pid, SIGKILL);
        }
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    if (how != NULL) {
        how->killed = kill_it;
        if (WIFSIGNALED(st)) {
            how->crashed = WTERMSIG(st) != SIGKILL || !kill_it;
            how->code = -1;
            snprintf(how->how, sizeof(how->how), "signal %d", WTERMSIG(st));
        }
        else {
            how->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            snprintf(how->how, sizeof(how->how), "exit status %d", how->code);
        }
    }
    ds_free(c);
}

void ds_os_child_limit_self(const struct ds_os_child_limits *lim)
{
    struct rlimit rl = {0, 0};

    /* A core file would hold the workbook's cells. */
    (void)setrlimit(RLIMIT_CORE, &rl);
    if (lim != NULL && lim->cpu_seconds > 0) {
        rl.rlim_cur = lim->cpu_seconds;
        rl.rlim_max = lim->cpu_seconds;
        (void)setrlimit(RLIMIT_CPU, &rl);
    }
    if (lim != NULL && lim->memory > 0) {
        rl.rlim_cur = lim->memory;
        rl.rlim_max = lim->memory;
        (void)setrlimit(RLIMIT_AS, &rl);
    }
}

int ds_os_child_write(const void *p, size_t n)
{
    const unsigned char *b = p;

    while (n > 0) {
        ssize_t k = write(STDOUT_FILENO, b, n);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

void ds_os_child_exit(int code)
{
    _exit(code);
}

int ds_os_stop_signals(int sig[DS_OS_STOP_SIGNALS_MAX])
{
    sig[0] = SIGINT;
    sig[1] = SIGTERM;
    return 2;
}

int ds_os_reload_signal(void)
{
    return SIGHUP;
}

void ds_os_whoami(char *buf, size_t size)
{
    snprintf(buf, size, "uid %ld", (long)geteuid());
}

void ds_os_kill_self(void)
{
    kill(getpid(), SIGKILL);
    _exit(137);
}

size_t ds_os_alloc_size(void *p)
{
    return malloc_usable_size(p);
}

int ds_os_children_left(void)
{
    return waitpid(-1, NULL, WNOHANG) != -1;
}

long ds_os_peak_memory_kib(void)
{
    struct rusage ru;

    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}
