/*
 * log.c — PHI-free logging to stderr and, optionally, to a file rotated by
 * size. One line per call — "LEVEL CODE message" after the time or the
 * journal's priority — written with one write per destination, so lines
 * from the ingest thread and the loop do not interleave.
 *
 * When stderr is the journal (JOURNAL_STREAM names stderr's device and
 * inode, as systemd sets it), each line starts with its syslog priority,
 * "<3>" for an error to "<7>" for debug, and carries no timestamp: the
 * journal keeps both. Otherwise a line starts with its UTC time.
 *
 * The file (ds_log_open_file) is opened 0600 in append mode; a line that
 * would take it past its size is written after a rotation, NAME -> NAME.1
 * -> ... -> NAME.KEEP (the oldest dropped). A mutex guards the file, its
 * size and the rotation. A file that cannot be written is given up with one
 * line on stderr; stderr always gets every line.
 */
#include "agent/core/log.h"

#include "agent/core/error.h"
#include "agent/os/os_fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum ds_log_level log_level = DS_LOG_INFO; /* set once at start-up */

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int level_priority[] = {3, 4, 6, 7}; /* syslog: err, warning, info, debug */

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static int journal; /* 1: stderr is the journal */

/* The log file; guarded by file_lock. */
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static int file_fd = -1;     /* -1: no file */
static char file_path[4096]; /* its name */
static long long file_size;  /* bytes in it now */
static long long file_max;   /* rotate past this */
static int file_keep;        /* rotated files kept */

static void journal_detect(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    struct ds_file_id id;

    if (js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && ds_os_fd_id(2, &id) == 0 &&
        (unsigned long long)id.dev == dev && (unsigned long long)id.ino == ino) {
        journal = 1;
    }
}

int ds_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void ds_log_set_level(enum ds_log_level level)
{
    log_level = level;
}

int ds_log_journal(void)
{
    pthread_once(&journal_once, journal_detect);
    return journal;
}

/* Opens file_path for appending; with file_lock held. */
static int file_reopen(void)
{
    struct ds_file_id id;

    if (file_fd >= 0) {
        close(file_fd);
    }
    file_fd = ds_os_create_private(file_path, DS_OS_APPEND);
    if (file_fd < 0) {
        return DS_EIO;
    }
    file_size = ds_os_fd_id(file_fd, &id) == 0 ? (long long)id.size : 0;
    return 0;
}

/* NAME.(k) -> NAME.(k+1) for k = keep-1 .. 1, NAME -> NAME.1, a new NAME;
 * with file_lock held. */
static int file_rotate(void)
{
    char from[4200];
    char to[4200];
    int e;

    for (int k = file_keep - 1; k >= 1; k--) {
        snprintf(from, sizeof(from), "%s.%d", file_path, k);
        snprintf(to, sizeof(to), "%s.%d", file_path, k + 1);
        e = ds_os_rename(from, to, 1);
        if (e != 0 && e != ENOENT) {
            return DS_EIO;
        }
    }
    snprintf(to, sizeof(to), "%s.1", file_path);
    e = ds_os_rename(file_path, to, 1);
    if (e != 0 && e != ENOENT) {
        return DS_EIO;
    }
    return file_reopen();
}

int ds_log_open_file(const char *path, long long max_bytes, int keep)
{
    int rc = 0;

    pthread_mutex_lock(&file_lock);
    if (file_fd >= 0) {
        close(file_fd);
        file_fd = -1;
    }
    if (path == NULL || path[0] == '\0') {
        goto out;
    }
    if (strlen(path) >= sizeof(file_path)) {
        rc = DS_ETOOBIG;
        goto out;
    }
    snprintf(file_path, sizeof(file_path), "%s", path);
    file_max = max_bytes > 0 ? max_bytes : 10LL * 1024 * 1024;
    file_keep = keep > 0 ? keep : 1;
    rc = file_reopen();
out:
    pthread_mutex_unlock(&file_lock);
    return rc;
}

void ds_log_close_file(void)
{
    pthread_mutex_lock(&file_lock);
    if (file_fd >= 0) {
        close(file_fd);
        file_fd = -1;
    }
    pthread_mutex_unlock(&file_lock);
}

/* Appends one timestamped line to the file, rotating first if needed. */
static void file_write(const char *line, size_t n)
{
    int failed = 0;

    pthread_mutex_lock(&file_lock);
    if (file_fd < 0) {
        goto out;
    }
    if (file_size > 0 && file_size + (long long)n > file_max && file_rotate() != 0) {
        failed = 1;
        goto out;
    }
    if (write(file_fd, line, n) != (ssize_t)n) {
        failed = 1;
        goto out;
    }
    file_size += (long long)n;
out:
    if (failed && file_fd >= 0) {
        close(file_fd);
        file_fd = -1;
    }
    pthread_mutex_unlock(&file_lock);
    if (failed) {
        static const char msg[] = "log: cannot write the log file; logging to stderr only\n";

        fwrite(msg, 1, sizeof(msg) - 1, stderr);
    }
}

void ds_log(enum ds_log_level level, const char *code, const char *fmt, ...)
{
    char line[1024];
    size_t n;
    size_t body;
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level > log_level) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    body = n;
    n += (size_t)snprintf(line + n, sizeof(line) - n, "%-5s %s ", level_names[level],
                          code != NULL && code[0] != '\0' ? code : "-");
    va_start(ap, fmt);
    if (n < sizeof(line)) {
        n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    }
    va_end(ap);
    if (n >= sizeof(line) - 1) {
        n = sizeof(line) - 2;
    }
    /* One line per event: a newline inside a message would split it. */
    for (size_t i = body; i < n; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    line[n++] = '\n';
    if (ds_log_journal()) {
        char prio[4] = {'<', (char)('0' + level_priority[level]), '>', '\0'};
        char out[1030];
        size_t m = n - body;

        memcpy(out, prio, 3);
        memcpy(out + 3, line + body, m);
        fwrite(out, 1, m + 3, stderr);
    }
    else {
        fwrite(line, 1, n, stderr);
    }
    file_write(line, n);
}
