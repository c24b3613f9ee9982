/*
 * log.c — PHI-free logging to stderr, and the names of the DSC_E* codes.
 *
 * Each line is formatted into a local buffer and written with one write(2),
 * so lines from concurrent request threads never interleave.
 */
#include "cloud/log.h"
#include "cloud/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info"};

void dsc_log(enum dsc_log_level level, const char *fmt, ...)
{
    char line[1024];
    size_t n;
    struct timespec ts;
    struct tm tm;
    va_list ap;
    ssize_t w;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
                          level_names[level]);
    va_start(ap, fmt);
    if (n < sizeof(line)) {
        n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    }
    va_end(ap);
    if (n >= sizeof(line) - 1) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere left to report a failing stderr */
}

const char *dsc_strerror(int code)
{
    switch (code) {
    case DSC_OK:
        return "success";
    case DSC_ENOMEM:
        return "out of memory";
    case DSC_EINVAL:
        return "invalid argument";
    case DSC_ENOTFOUND:
        return "not found";
    case DSC_EEXIST:
        return "already exists";
    case DSC_EDB:
        return "database error";
    case DSC_EUNAVAIL:
        return "database unavailable";
    case DSC_EBUSY:
        return "busy, try again";
    case DSC_ETOOBIG:
        return "too large";
    case DSC_EIO:
        return "input/output error";
    case DSC_EPERM:
        return "not permitted";
    default:
        return "unknown error";
    }
}
