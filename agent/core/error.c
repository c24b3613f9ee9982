/*
 * error.c — error codes and the person-facing error record.
 */
#include "agent/core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ds_strerror(int code)
{
    switch (code) {
    case DS_OK:
        return "success";
    case DS_ENOMEM:
        return "out of memory";
    case DS_EIO:
        return "input/output error";
    case DS_EINVAL:
        return "invalid value";
    case DS_ETOOBIG:
        return "too big";
    case DS_ENOTFOUND:
        return "not found";
    case DS_ESTORE:
        return "local queue error";
    case DS_EPARSE:
        return "parse error";
    case DS_ECONFIG:
        return "configuration error";
    case DS_ENET:
        return "network error";
    case DS_EREJECT:
        return "rejected by the cloud";
    case DS_EBUSY:
        return "busy";
    case DS_EEXIST:
        return "already exists";
    case DS_ECORRUPT:
        return "stored state is damaged";
    case DS_ESTOP:
        return "stopped";
    case DS_ERELOAD:
        return "reloading the configuration";
    case DS_EFULL:
        return "no space left on the device";
    default:
        return "unknown error";
    }
}

void ds_error_clear(struct ds_error *err)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
}

int ds_error_set(struct ds_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return code;
    }
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

const char *ds_error_format(const struct ds_error *err, char *buf, size_t size)
{
    size_t n = 0;

    if (size == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (err == NULL) {
        return buf;
    }
    if (err->file[0] != '\0') {
        n += (size_t)snprintf(buf + n, size - n, "%s:", err->file);
        if (n < size && err->row > 0) {
            n += (size_t)snprintf(buf + n, size - n, "%ld:", err->row);
        }
        if (n < size) {
            n += (size_t)snprintf(buf + n, size - n, " ");
        }
    }
    if (n < size && err->field[0] != '\0') {
        n += (size_t)snprintf(buf + n, size - n, "field %s: ", err->field);
    }
    if (n < size) {
        snprintf(buf + n, size - n, "%s", err->msg[0] != '\0' ? err->msg : ds_strerror(err->code));
    }
    return buf;
}
