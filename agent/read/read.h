/*
 * read.h — the streaming interface every export reader sits behind.
 *
 *   open (with optional hints) -> header -> next row ... -> close
 *
 * Rows come out one at a time with their fields as UTF-8, their data-row
 * number (1-based, the header and skipped lines not counted; stable across
 * re-reads of the same file, because it is the identity of the row on the
 * wire) and their physical line, and the raw text of the row for error
 * reports. Memory stays flat whatever the file size: a row's storage is
 * reused by the next call, and every field and row has a hard cap.
 *
 * Only the CSV reader (libcsv) exists so far; XLSX, XLS and ICS readers
 * plug in behind ds_read_open by file type.
 */
#ifndef DS_READ_READ_H
#define DS_READ_READ_H

#include "agent/core/error.h"

#include <stddef.h>

#define DS_READ_MAX_FIELD (64 * 1024) /* bytes in one field */
#define DS_READ_MAX_FIELDS 1024       /* fields in one row */

/* Optional hints from the folder config or the template; zero means "sniff". */
struct ds_read_hints {
    int delimiter;        /* ',', ';', '\t', '|' or 0 */
    int quote;            /* '"', '~', ... or 0 */
    const char *encoding; /* "utf-8", "windows-1252", ... or NULL */
};

/* One row, borrowed from the reader: valid until the next call on it. */
struct ds_row {
    size_t nfields;             /* number of fields */
    const char *const *fields;  /* NUL-terminated UTF-8 values */
    const size_t *lens;         /* their lengths in bytes */
    long row;                   /* data-row number, 1-based; 0 for the header */
    long line;                  /* physical line where the row starts, 1-based */
    const char *raw;            /* the row's text as read (for error reports) */
    size_t raw_len;             /* its length */
};

struct ds_reader; /* opaque */

/* Opens path and reads up to and including the header row.
 * new: *out is freed with ds_read_close. hints may be NULL.
 * Errors: DS_EIO (cannot open or read), DS_EPARSE (no header), DS_ENOMEM. */
int ds_read_open(const char *path, const struct ds_read_hints *hints, struct ds_reader **out,
                 struct ds_error *err);

/* The header row. borrow: valid until ds_read_close. */
const struct ds_row *ds_read_header(const struct ds_reader *r);

/* Reads the next data row into *row (borrowed until the next call).
 * Returns 1 for a row, 0 at the end of the file, or a negative DS_E* code
 * (DS_EPARSE with err->row/line for malformed input, DS_ETOOBIG, DS_EIO). */
int ds_read_next_row(struct ds_reader *r, struct ds_row *row, struct ds_error *err);

/* Closes the file and frees the reader. NULL-safe; sets *r to NULL. */
void ds_read_close(struct ds_reader **r);

#endif
