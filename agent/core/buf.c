/*
 * buf.c — capped growing buffers.
 */
#include "agent/core/buf.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ds_buf_init(struct ds_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void ds_buf_close(struct ds_buf *b)
{
    if (b == NULL) {
        return;
    }
    ds_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static int buf_reserve(struct ds_buf *b, size_t extra)
{
    size_t need;
    size_t cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra) {
        return DS_ETOOBIG;
    }
    need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    cap = b->cap != 0 ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    p = ds_realloc(b->data, cap);
    if (p == NULL) {
        return DS_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int ds_buf_reserve(struct ds_buf *b, size_t n)
{
    return buf_reserve(b, n);
}

int ds__buf_append_grow(struct ds_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);

    if (rc != 0) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ds_buf_append_str(struct ds_buf *b, const char *s)
{
    return ds_buf_append(b, s, strlen(s));
}

/* "00" to "99", for ds_fmt_int. */
static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                            "25262728293031323334353637383940414243444546474849"
                            "50515253545556575859606162636465666768697071727374"
                            "75767778798081828384858687888990919293949596979899";

size_t ds_fmt_int(char *dst, long long v, int width)
{
    char tmp[DS_FMT_INT_MAX];
    /* The magnitude as unsigned: -LLONG_MIN does not fit a long long. */
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    size_t nd = 0;
    size_t n = 0;

    if (width > 20) {
        width = 20;
    }
    /* Two digits a division, from the end. */
    while (u >= 100) {
        const char *d = pairs + 2 * (u % 100);

        tmp[nd++] = d[1];
        tmp[nd++] = d[0];
        u /= 100;
    }
    if (u >= 10) {
        tmp[nd++] = pairs[2 * u + 1];
        tmp[nd++] = pairs[2 * u];
    }
    else {
        tmp[nd++] = (char)('0' + u);
    }
    if (v < 0) {
        dst[n++] = '-';
    }
    for (long pad = (long)width - (long)nd - (v < 0); pad > 0; pad--) {
        dst[n++] = '0';
    }
    while (nd > 0) {
        dst[n++] = tmp[--nd];
    }
    return n;
}

int ds_buf_append_int(struct ds_buf *b, long long v, int width)
{
    char tmp[DS_FMT_INT_MAX];

    return ds_buf_append(b, tmp, ds_fmt_int(tmp, v, width));
}

int ds_buf_printf(struct ds_buf *b, const char *fmt, ...)
{
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_list ap;
    int n;
    int rc;

    /* Formatted straight into the room left when it fits (the usual case
     * once the buffer has grown), else measured, grown and formatted again. */
    va_start(ap, fmt);
    n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (room > 0) {
        if (n >= 0 && (size_t)n < room && (size_t)n <= b->max - b->len) {
            b->len += (size_t)n;
            return 0;
        }
        b->data[b->len] = '\0';
    }
    if (n < 0) {
        return DS_EINVAL;
    }
    rc = buf_reserve(b, (size_t)n);
    if (rc != 0) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *ds_buf_steal(struct ds_buf *b)
{
    char *p = b->data;

    if (p == NULL) {
        p = ds_calloc(1, 1);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

int ds_str_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (size == 0) {
        return DS_ETOOBIG;
    }
    if (n >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return DS_ETOOBIG;
    }
    memcpy(dst, src, n + 1);
    return 0;
}
