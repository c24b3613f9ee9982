/*
 * read_int.h — what a format reader provides to the dispatch in read.c.
 *
 * ds_read_open picks one reader per file; the reader fills in its
 * operations, its private state and the header row. Only read.c and the
 * readers include this file.
 */
#ifndef DS_READ_READ_INT_H
#define DS_READ_READ_INT_H

#include "agent/read/read.h"

struct ds__read_ops {
    /* Same contract as ds_read_next_row. */
    int (*next)(void *impl, struct ds_row *row, struct ds_error *err);
    /* Frees impl and everything it owns (including the header storage). */
    void (*close)(void *impl);
};

struct ds_reader {
    const struct ds__read_ops *ops; /* the format's reader */
    void *impl;                     /* owned: its state */
    struct ds_row header;           /* points into impl's storage */
};

/* Opens a CSV (or TSV, or other delimited text) file into r: on success
 * r->ops, r->impl and r->header are set; on failure r is left untouched.
 * Errors as for ds_read_open. */
int ds__read_csv_open(const char *path, const struct ds_read_hints *hints, struct ds_reader *r,
                      struct ds_error *err);

#endif
