/*
 * read_int.h — what the format readers share with the dispatch in read.c.
 *
 * ds_read_open picks one reader per file; the reader fills in its
 * operations, its private state, the header row and the dialect, and adds
 * notices through ds__read_notice. The text source (read_encoding.c) turns
 * the bytes of a text file in any supported encoding into UTF-8 for the CSV
 * and ICS readers. Only read.c and the readers include this file.
 */
#ifndef DS_READ_READ_INT_H
#define DS_READ_READ_INT_H

#include "agent/read/read.h"
#include "agent/os/os_cc.h"

#include <sys/types.h>

struct ds__read_ops {
    /* Same contract as ds_read_next_row. */
    int (*next)(void *impl, struct ds_row *row, struct ds_error *err);
    /* Frees impl and everything it owns (including the header storage). */
    void (*close)(void *impl);
};

struct ds_reader {
    const struct ds__read_ops *ops;                     /* the format's reader */
    void *impl;                                         /* owned: its state */
    struct ds_row header;                               /* points into impl's storage */
    struct ds_read_dialect dialect;                     /* filled by the reader */
    struct ds_read_notice notices[DS_READ_MAX_NOTICES]; /* the first notices */
    size_t nnotices;                                    /* entries used in notices */
    long total_notices;                                 /* all notices, listed or not */
};

/* Adds a notice to r (see ds_read_notices for what is kept). */
void ds__read_notice(struct ds_reader *r, int kind, long line, long row, const char *fmt, ...)
    DS_PRINTF(5, 6);

/* Fills err (NULL-safe) with the file, row, field (may be NULL) and a
 * message, and returns code. */
int ds__read_fail(struct ds_error *err, int code, const char *path, long row, const char *field,
                  const char *fmt, ...) DS_PRINTF(6, 7);

/* Each reader opens the file fd is open on (borrowed for the call; path
 * names it in errors) into r: on success r->ops, r->impl, r->header and
 * r->dialect are set; on failure r->impl is left NULL. A reader that keeps
 * reading takes a descriptor of its own (ds_fsafe_reopen). Errors as for
 * ds_read_open. */
int ds__read_csv_open(int fd, const char *path, const struct ds_read_hints *hints,
                      struct ds_reader *r, struct ds_error *err);
int ds__read_xlsx_open(int fd, const char *path, const struct ds_read_hints *hints,
                       struct ds_reader *r, struct ds_error *err);
int ds__read_xls_open(int fd, const char *path, const struct ds_read_hints *hints,
                      struct ds_reader *r, struct ds_error *err);
int ds__read_ics_open(int fd, const char *path, const struct ds_read_hints *hints,
                      struct ds_reader *r, struct ds_error *err);

/* Does the text start with a word that trailer and totals lines use
 * ("total", "records", "count", "end of", ...), after leading spaces and
 * '*', '-', '#', '='? */
int ds__read_trailer_word(const char *s, size_t n);

/* ------------------------------------------------------------------------ */
/* Sheet framing (read_sheet.c): the XLSX and XLS readers decode sheet rows */
/* and hand them over; the framer finds the header below title rows, holds */
/* back trailer rows, skips blank rows and numbers the data rows.          */

/* A sheet row as a reader decoded it, borrowed until its next pull. */
struct ds__sheet_row {
    size_t n;              /* fields (cells from column A to the last one given) */
    const char *cells;     /* the fields' bytes */
    const size_t *offs;    /* where each field starts in cells */
    const size_t *lens;    /* each field's length */
    const char *raw;       /* the row's text for error reports (may be NULL) */
    size_t raw_len;        /* its length */
    long line;             /* sheet row, 1-based */
    int error;             /* enum ds_read_row_error: the cap the row broke (the fields are
                              those before it), or 0 */
    size_t error_field;    /* the field over the cap (1-based), or 0 */
    const char *error_msg; /* which cap, without values (NULL when error is 0) */
};

/* Writes the message of a row error (enum ds_read_row_error) about field
 * (1-based) into msg; row_max is the reader's cap on a row's bytes. */
void ds__read_row_msg(char *msg, size_t size, int error, size_t field, size_t row_max);

/* Reads the next sheet row (blank ones included) into *row: 1, 0 at the
 * end of the sheet, or a negative DS_E* code with err filled. */
typedef int (*ds__sheet_pull_fn)(void *src, struct ds__sheet_row *row, struct ds_error *err);

/* Frees the reader's state. */
typedef void (*ds__sheet_free_fn)(void *src);

/* Finds the header (hints: header_line, keep_trailers) and makes r read
 * src's rows: on success r->ops, r->impl and r->header are set (the
 * dialect's header_line too; the caller fills in the rest of the dialect).
 * steals src: freed with free_src on failure too. what ("XLSX", "XLS")
 * starts each message. Errors as for ds_read_open. */
int ds__read_sheet_open(struct ds_reader *r, const char *path, const char *what,
                        const struct ds_read_hints *hints, void *src, ds__sheet_pull_fn pull,
                        ds__sheet_free_fn free_src, struct ds_error *err);

/* ------------------------------------------------------------------------ */
/* Text source: a file's bytes in its encoding -> UTF-8 (read_encoding.c)   */

struct ds__read_src; /* opaque */

/* Opens the file fd is open on (borrowed for the call; the source reads
 * through a descriptor of its own) for reading as text; path names it in
 * errors. encoding is the hint (NULL: sniff the
 * byte order mark, UTF-16 without one, else UTF-8 that turns into
 * windows-1252 at the first byte that is not UTF-8 if no other non-ASCII
 * text came before). new: free with ds__read_src_close.
 * Errors: DS_EIO, DS_EINVAL (unknown encoding, field "encoding"), DS_ENOMEM. */
int ds__read_src_open(int fd, const char *path, const char *encoding, struct ds__read_src **out,
                      struct ds_error *err);

/* Decodes the next bytes into buf (cap >= 64): returns how many (always
 * whole UTF-8 sequences), 0 at the end, or a negative DS_E* code with
 * ds__read_src_what() and ds__read_src_offset() describing the problem. */
ssize_t ds__read_src_read(struct ds__read_src *s, unsigned char *buf, size_t cap);

/* What went wrong in the last failed read ("not valid UTF-8", ...). */
const char *ds__read_src_what(const struct ds__read_src *s);

/* Byte offset in the file of the problem (or of the next byte to decode). */
long long ds__read_src_offset(const struct ds__read_src *s);

/* The encoding in use ("utf-8", "utf-8-bom", "utf-16le", "windows-1252",
 * or the hint as given). It may change from "utf-8" to "windows-1252"
 * while reading. 1 in *hinted when it came from the hint. */
const char *ds__read_src_encoding(const struct ds__read_src *s, int *hinted);

/* 1 when every byte the source hands over was checked (UTF-8) or made by
 * its own tables (Windows-1252, Latin-1) — valid UTF-8 past doubt; 0 when
 * it comes from iconv, whose output the source takes as it is. */
int ds__read_src_checked(const struct ds__read_src *s);

void ds__read_src_close(struct ds__read_src **s);

/* The length of the longest prefix of p[0..n) that is well-formed UTF-8
 * (n when all of it is): no overlong forms, surrogates or code points past
 * U+10FFFF; a sequence cut by the end of p is not part of the prefix. */
size_t ds__read_utf8_valid(const unsigned char *p, size_t n);

#endif
