/*
 * error.h — the error convention of the cloud API (dentsync-cloud).
 *
 * Functions return int: 0 on success or a negative DSC_E* code, which
 * dsc_strerror() names. The HTTP layer maps codes to status codes in one
 * place (api.c): DSC_EUNAVAIL and DSC_EBUSY become 503 with Retry-After,
 * everything unexpected becomes 500.
 */
#ifndef DSC_ERROR_H
#define DSC_ERROR_H

enum {
    DSC_OK = 0,
    DSC_ENOMEM = -1,    /* an allocation failed */
    DSC_EINVAL = -2,    /* an argument or an input value is not acceptable */
    DSC_ENOTFOUND = -3, /* no such practice, token, job */
    DSC_EEXIST = -4,    /* it exists already */
    DSC_EDB = -5,       /* the database refused a statement */
    DSC_EUNAVAIL = -6,  /* the database cannot be reached (retryable) */
    DSC_EBUSY = -7,     /* a lock, deadlock or timeout: try again (retryable) */
    DSC_ETOOBIG = -8,   /* a bounded buffer would overflow */
    DSC_EIO = -9,       /* a system call failed */
    DSC_EPERM = -10,    /* the role or the request is not allowed to do this */
};

/* The name of a DSC_E* code, e.g. "database unavailable". Never NULL. */
const char *dsc_strerror(int code);

#endif
