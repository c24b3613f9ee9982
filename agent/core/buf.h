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

/* Empties the buffer, keeping its memory. */
void ds_buf_reset(struct ds_buf *b);

/* Makes room for n more bytes (and a terminator) past len, for a writer
 * that fills b->data + b->len itself and then sets len (and the
 * terminator). DS_ETOOBIG past the cap, DS_ENOMEM. */
int ds_buf_reserve(struct ds_buf *b, size_t n);

/* Appends n bytes. DS_ETOOBIG past the cap, DS_ENOMEM. */
int ds_buf_append(struct ds_buf *b, const void *p, size_t n);

int ds_buf_append_str(struct ds_buf *b, const char *s);

int ds_buf_printf(struct ds_buf *b, const char *fmt, ...) DS_PRINTF(2, 3);

/* Hands the data over: the caller frees it with ds_free(). The buffer is left
 * empty. Returns "" (allocated) for an empty buffer; NULL on DS_ENOMEM. */
char *ds_buf_steal(struct ds_buf *b);

/* Copies src into dst (size bytes), always terminated, cutting what does
 * not fit. Returns 0, or DS_ETOOBIG when src was cut. */
int ds_str_copy(char *dst, size_t size, const char *src);

#endif
