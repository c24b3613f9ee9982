/*
 * log.c — PHI-free logging to stderr. One line per call, written with one
 * fwrite so lines from the ingest thread and the loop do not interleave.
 */
#include "agent/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static enum ds_log_level log_level = DS_LOG_INFO; /* set once at start-up */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

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

void ds_log(enum ds_log_level level, const char *fmt, ...)
{
    char line[1024];
    size_t n;
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level > log_level) {
        return;
    }
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
    fwrite(line, 1, n, stderr);
}
