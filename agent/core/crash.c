/*
 * crash.c — the test-only crash switch and pause points (see crash.h).
 *
 * The switch's state is process-wide by nature (it models the process
 * dying); it is initialised once through pthread_once, so the ingest thread
 * and the loop may reach points concurrently.
 */
#include "agent/core/crash.h"

#include "agent/os/os_fs.h"
#include "agent/os/os_proc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t crash_once = PTHREAD_ONCE_INIT;
static char crash_name[128];   /* the armed point, "" when off */
static long crash_after = 1;   /* fire at this hit */
static atomic_long crash_hits; /* hits of the armed point so far */
static char pause_name[128];   /* the pause point, "" when off */
static long pause_ms;          /* how long it sleeps */

static void pause_init(void)
{
    const char *at = getenv("DENTSYNC_PAUSE_AT");
    const char *colon = at != NULL ? strchr(at, ':') : NULL;
    size_t n;

    if (colon == NULL) {
        return;
    }
    n = (size_t)(colon - at);
    if (n >= sizeof(pause_name)) {
        return;
    }
    memcpy(pause_name, at, n);
    pause_name[n] = '\0';
    pause_ms = strtol(colon + 1, NULL, 10);
}

static void crash_init(void)
{
    const char *at = getenv("DENTSYNC_CRASH_AT");
    const char *colon;
    size_t n;

    pause_init();

    if (at == NULL || at[0] == '\0') {
        return;
    }
    colon = strchr(at, ':');
    n = colon != NULL ? (size_t)(colon - at) : strlen(at);
    if (n >= sizeof(crash_name)) {
        return;
    }
    memcpy(crash_name, at, n);
    crash_name[n] = '\0';
    if (colon != NULL) {
        crash_after = strtol(colon + 1, NULL, 10);
        if (crash_after < 1) {
            crash_after = 1;
        }
    }
}

/* Appends name to $DENTSYNC_CRASH_LOG, if set. */
static void log_point(const char *name)
{
    const char *log = getenv("DENTSYNC_CRASH_LOG");
    int fd;

    if (log != NULL) {
        fd = ds_os_create_private(log, DS_OS_APPEND);
        if (fd >= 0) {
            (void)!write(fd, name, strlen(name));
            (void)!write(fd, "\n", 1);
            ds_os_fsync(fd);
            close(fd);
        }
    }
}

void ds_crash_point(const char *name)
{
    pthread_once(&crash_once, crash_init);
    if (crash_name[0] == '\0' || strcmp(name, crash_name) != 0) {
        return;
    }
    if (atomic_fetch_add(&crash_hits, 1) + 1 < crash_after) {
        return;
    }
    log_point(name);
    ds_os_kill_self();
}

void ds_crash_pause(const char *name)
{
    struct timespec ts;

    pthread_once(&crash_once, crash_init);
    if (pause_name[0] == '\0' || strcmp(name, pause_name) != 0 || pause_ms <= 0) {
        return;
    }
    log_point(name);
    ts.tv_sec = pause_ms / 1000;
    ts.tv_nsec = (pause_ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
