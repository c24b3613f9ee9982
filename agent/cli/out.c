/*
 * out.c — shared by the commands: the queue opened read-only, or for
 * writing with a failure explained the same way by each, and times written
 * for a person (out.h).
 */
#include "agent/cli/out.h"
#include "agent/cli/commands.h"
#include "agent/core/clock.h"
#include "state/store_status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A queue not created yet, said the same way by every command. */
static int no_queue(const char *name, const char *queue)
{
    fprintf(stderr, "dentsync %s: no queue at %s yet (the agent has not run)\n", name, queue);
    return DS_EXIT_RUNTIME;
}

int ds_out_open(const char *name, const char *config_path, int missing_ok, struct ds_config **cfg,
                struct ds_store **st)
{
    struct ds_error err;
    char queue[4096];
    char msg[600];
    int rc;

    *cfg = NULL;
    *st = NULL;
    ds_error_clear(&err);
    if (ds_config_load(config_path, cfg, stderr) != 0) {
        return DS_EXIT_CONFIG;
    }
    rc = ds_config_queue_path(*cfg, queue, sizeof(queue));
    if (rc == 0) {
        rc = ds_store_open_readonly(queue, st, &err);
    }
    if (rc == DS_ENOTFOUND && missing_ok) {
        return DS_EXIT_OK;
    }
    if (rc == DS_ENOTFOUND) {
        no_queue(name, queue);
        ds_config_free(cfg);
        return DS_EXIT_RUNTIME;
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync %s: %s\n", name, ds_error_format(&err, msg, sizeof(msg)));
        ds_config_free(cfg);
        return DS_EXIT_RUNTIME;
    }
    return DS_EXIT_OK;
}

int ds_out_open_write(const char *name, const struct ds_config *cfg, int missing_ok,
                      struct ds_store **st)
{
    struct ds_error err;
    struct stat sb;
    char queue[4096];
    int rc;

    *st = NULL;
    ds_error_clear(&err);
    rc = ds_config_queue_path(cfg, queue, sizeof(queue));
    if (rc == 0 && stat(queue, &sb) != 0 && errno == ENOENT) {
        return missing_ok ? DS_EXIT_OK : no_queue(name, queue);
    }
    if (rc == 0) {
        rc = ds_store_open(queue, st, &err);
    }
    if (rc == 0) {
        rc = ds_store_check(*st, &err);
    }
    if (rc != 0) {
        ds_store_close(st);
        return ds_out_queue_failed(name, cfg, rc, &err);
    }
    return DS_EXIT_OK;
}

int ds_out_queue_failed(const char *name, const struct ds_config *cfg, int rc,
                        const struct ds_error *err)
{
    char queue[4096];
    char msg[600];

    ds_error_format(err, msg, sizeof(msg));
    /* One line, as the log writes it: SQLite's own text may hold newlines. */
    for (char *c = msg; *c != '\0'; c++) {
        if (*c == '\n' || *c == '\r') {
            *c = ' ';
        }
    }
    fprintf(stderr, "dentsync %s: %s\n", name, msg[0] != '\0' ? msg : ds_strerror(rc));
    if (ds_config_queue_path(cfg, queue, sizeof(queue)) == 0 && access(queue, F_OK) == 0 &&
        access(queue, W_OK) != 0) {
        fprintf(stderr,
                "dentsync %s: %s is not writable by this user: run it as root or the "
                "service user (the dentsync group may only read the queue)\n",
                name, queue);
    }
    else if (rc == DS_EBUSY) {
        fprintf(stderr,
                "dentsync %s: another process holds the queue locked; try again once it "
                "is done\n",
                name);
    }
    return DS_EXIT_RUNTIME;
}

double ds_out_now(void)
{
    return ds_clock_now();
}

const char *ds_out_time(double t, char *buf, size_t size)
{
    time_t secs = (time_t)t;
    struct tm tm;

    if (t <= 0 || localtime_r(&secs, &tm) == NULL ||
        strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        snprintf(buf, size, "-");
    }
    return buf;
}

const char *ds_out_iso(double t, char *buf, size_t size)
{
    time_t secs = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&secs, &tm) == NULL ||
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, size, "%s", "");
    }
    return buf;
}

const char *ds_out_ago(double t, double now, char *buf, size_t size)
{
    double d = now - t;
    const char *pre = "";
    const char *post = " ago";

    if (t <= 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    if (d < 0) {
        d = -d;
        pre = "in ";
        post = "";
    }
    if (d < 120) {
        snprintf(buf, size, "%s%.0fs%s", pre, d, post);
    }
    else if (d < 7200) {
        snprintf(buf, size, "%s%.0fm%s", pre, d / 60, post);
    }
    else if (d < 172800) {
        snprintf(buf, size, "%s%.0fh%s", pre, d / 3600, post);
    }
    else {
        snprintf(buf, size, "%s%.0fd%s", pre, d / 86400, post);
    }
    return buf;
}

int ds_out_parse_count(const char *text, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v <= 0) {
        return DS_EINVAL;
    }
    *out = v;
    return 0;
}

/* Reads 1 to max digits at *p into *v, between lo and hi, and moves *p
 * past them. 0, or -1. */
static int take_number(const char **p, int max, int lo, int hi, int *v)
{
    int n = 0;
    int k = 0;

    while (k < max && (*p)[k] >= '0' && (*p)[k] <= '9') {
        n = n * 10 + ((*p)[k] - '0');
        k++;
    }
    if (k == 0 || n < lo || n > hi) {
        return -1;
    }
    *p += k;
    *v = n;
    return 0;
}

/* Parses YYYY-MM-DD, optionally followed by T or a space and HH:MM or
 * HH:MM:SS, into *tm (local time; the rest of *tm untouched). The whole
 * text must be used. 0, or -1. */
static int parse_local_time(const char *s, struct tm *tm)
{
    int y = 0;
    int mo = 0;
    int d = 0;
    int h = 0;
    int mi = 0;
    int sec = 0;

    if (take_number(&s, 4, 0, 9999, &y) != 0 || *s++ != '-' ||
        take_number(&s, 2, 1, 12, &mo) != 0 || *s++ != '-' || take_number(&s, 2, 1, 31, &d) != 0) {
        return -1;
    }
    if (*s == 'T' || *s == ' ') {
        s++;
        if (take_number(&s, 2, 0, 23, &h) != 0 || *s++ != ':' ||
            take_number(&s, 2, 0, 59, &mi) != 0) {
            return -1;
        }
        if (*s == ':') {
            s++;
            if (take_number(&s, 2, 0, 60, &sec) != 0) {
                return -1;
            }
        }
    }
    if (*s != '\0') {
        return -1;
    }
    tm->tm_year = y - 1900;
    tm->tm_mon = mo - 1;
    tm->tm_mday = d;
    tm->tm_hour = h;
    tm->tm_min = mi;
    tm->tm_sec = sec;
    return 0;
}

int ds_out_parse_since(const char *text, double now, double *out)
{
    struct tm tm;
    char *end = NULL;
    double v;
    time_t t;

    errno = 0;
    v = strtod(text, &end);
    if (errno == 0 && end != text && v >= 0 && end[0] != '\0' && end[1] == '\0' &&
        strchr("smhd", end[0]) != NULL && strchr(text, '-') == NULL) {
        double unit = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : 86400;

        *out = now - v * unit;
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    if (parse_local_time(text, &tm) != 0) {
        return DS_EINVAL;
    }
    tm.tm_isdst = -1;
    t = mktime(&tm);
    if (t == (time_t)-1) {
        return DS_EINVAL;
    }
    *out = (double)t;
    return 0;
}
