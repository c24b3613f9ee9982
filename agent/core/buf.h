/*
 * buf.h — a growing byte buffer with a hard cap.
 *
 * Every buffer that grows with outside input has a cap; going past it
 * returns DS_ETOOBIG instead of eating the practice PC's memory. The data is
 * always NUL-terminated (the terminator is not counted in len).
 */
#ifndef DS_CORE_BUF_H
#define DS_CORE_BUF_H

#include "agent/os/os_cc.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ds_buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes used, excluding the terminator */
    size_t cap; /* bytes allocated */
    size_t max; /* hard cap on len */
};

/* Embeds an empty buffer that may hold up to max bytes. */
void ds_buf_init(struct ds_buf *b, size_t max);

/* Frees the data; the buffer can be reused after ds_buf_init. NULL-safe. */
void ds_buf_close(struct ds_buf *b);

/* Empties the buffer, keeping its memory. Inline: the mapper and the
 * CSV reader empty a few buffers per field and row. */
static inline void ds_buf_reset(struct ds_buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

/* Makes room for n more bytes (and a terminator) past len, for a writer
 * that fills b->data + b->len itself and then sets len (and the
 * terminator). DS_ETOOBIG past the cap, DS_ENOMEM. */
int ds_buf_reserve(struct ds_buf *b, size_t n);

/* ds_buf_append when the room is not there yet. */
int ds__buf_append_grow(struct ds_buf *b, const void *p, size_t n);

/* Copies n bytes, w <= n <= 2 * w, as the first w and the last w of them
 * (which may overlap). Called with w a constant, the moves are of that
 * fixed size. */
static inline void ds__buf_copy_ends(char *d, const char *s, size_t n, size_t w)
{
    uint64_t a = 0;
    uint64_t z = 0;

    memcpy(&a, s, w);
    memcpy(&z, s + n - w, w);
    memcpy(d, &a, w);
    memcpy(d + n - w, &z, w);
}

/* Copies n bytes, n at most 16, with moves of a fixed size: most pieces
 * the mapper appends are that short, and a call to memcpy cost more than
 * the copy. No loop: the compiler would make one a call to memcpy. */
static inline void ds__buf_copy_short(char *d, const char *s, size_t n)
{
    if (n >= 8) {
        ds__buf_copy_ends(d, s, n, 8);
    }
    else if (n >= 4) {
        ds__buf_copy_ends(d, s, n, 4);
    }
    else if (n >= 2) {
        ds__buf_copy_ends(d, s, n, 2);
    }
    else if (n == 1) {
        d[0] = s[0];
    }
}

/* Appends n bytes. DS_ETOOBIG past the cap, DS_ENOMEM. Inline: the mapper
 * appends a few dozen pieces per row, nearly always into room it has. */
static inline int ds_buf_append(struct ds_buf *b, const void *p, size_t n)
{
    /* cap - len is 0 for a buffer never grown. */
    if (n < b->cap - b->len && n <= b->max - b->len) {
        if (n <= 16) {
            ds__buf_copy_short(b->data + b->len, p, n);
        }
        else {
            memcpy(b->data + b->len, p, n);
        }
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return ds__buf_append_grow(b, p, n);
}

int ds_buf_append_str(struct ds_buf *b, const char *s);

int ds_buf_printf(struct ds_buf *b, const char *fmt, ...) DS_PRINTF(2, 3);

/* Room ds_fmt_int needs: a sign, 19 digits, and zeros up to a width of 20. */
#define DS_FMT_INT_MAX 24

/* Writes v in decimal at dst, zero-padded to width digits and sign (as
 * printf's "%0*lld"; width 0: no padding, at most 20), without a terminator;
 * returns the bytes written (at most DS_FMT_INT_MAX). For the hot paths that
 * format a number per row: no vsnprintf. */
size_t ds_fmt_int(char *dst, long long v, int width);

/* Appends v as ds_fmt_int writes it. */
int ds_buf_append_int(struct ds_buf *b, long long v, int width);

/* Hands the data over: the caller frees it with ds_free(). The buffer is left
 * empty. Returns "" (allocated) for an empty buffer; NULL on DS_ENOMEM. */
char *ds_buf_steal(struct ds_buf *b);

/* Copies src into dst (size bytes), always terminated, cutting what does
 * not fit. Returns 0, or DS_ETOOBIG when src was cut. */
int ds_str_copy(char *dst, size_t size, const char *src);

#endif
