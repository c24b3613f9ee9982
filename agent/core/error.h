/*
 * error.h — the error convention every dentsync module follows.
 *
 * Functions return int: 0 on success or a negative DS_E* code, which
 * ds_strerror() names. Details meant for a person (file, row, field and a
 * message) go into an optional struct ds_error the caller passes; NULL means
 * "the code is enough". Messages never carry patient values: a field's name
 * and the kind of problem, not its content.
 */
#ifndef DS_CORE_ERROR_H
#define DS_CORE_ERROR_H

#include "agent/os/os_cc.h"

#include <stddef.h>

enum {
    DS_OK = 0,
    DS_ENOMEM = -1,    /* an allocation failed */
    DS_EIO = -2,       /* a read, write or file system call failed */
    DS_EINVAL = -3,    /* an argument or an input value is not acceptable */
    DS_ETOOBIG = -4,   /* a bounded buffer (field, row, batch) would overflow */
    DS_ENOTFOUND = -5, /* no such file, record, template, section */
    DS_ESTORE = -6,    /* the local queue (SQLite) failed */
    DS_EPARSE = -7,    /* malformed input: CSV, JSON, INI */
    DS_ECONFIG = -8,   /* the configuration is not valid */
    DS_ENET = -9,      /* network or HTTP transport failure (retryable) */
    DS_EREJECT = -10,  /* the cloud refused the request for good */
    DS_EBUSY = -11,    /* the resource is in use; try again later */
    DS_EEXIST = -12,   /* it exists already */
    DS_ECORRUPT = -13, /* stored state is damaged */
    DS_ESTOP = -14,    /* the operation was cancelled by a stop request */
    DS_ERELOAD = -15,  /* stopped to start again with a new configuration */
    DS_EFULL = -16,    /* no space left on the device (the queue could not grow) */
};

/* What went wrong, for a person. All members are optional: empty string or
 * 0 when unknown. */
struct ds_error {
    int code;       /* the DS_E* code */
    char file[256]; /* the input file concerned, if any */
    long row;       /* 1-based data row or line, 0 if none */
    char field[64]; /* the column or config key concerned, if any */
    char msg[256];  /* what happened, without patient values */
};

/* The name of a DS_E* code, e.g. "out of memory". Never NULL. */
const char *ds_strerror(int code);

/* Clears err (NULL-safe). */
void ds_error_clear(struct ds_error *err);

/* Sets err->code and err->msg from a printf format; leaves file, row and
 * field as they are so callers can fill them before or after. NULL-safe.
 * Returns code, so `return ds_error_set(err, DS_EINVAL, "...")` reads well. */
int ds_error_set(struct ds_error *err, int code, const char *fmt, ...) DS_PRINTF(3, 4);

/* Formats err as "FILE:ROW: field FIELD: MSG" (parts that are unknown are
 * left out) into buf. Returns buf. */
const char *ds_error_format(const struct ds_error *err, char *buf, size_t size);

#endif
