/*
 * read.h — the streaming interface every export reader sits behind.
 *
 *   open (with optional hints) -> dialect, header -> next row ... -> close
 *
 * ds_read_open recognises the format from the file's first bytes (a zip
 * archive is XLSX, an OLE2 compound file is XLS, BEGIN:VCALENDAR is ICS,
 * anything else is delimited text) and never from its name, which a PMS may
 * get wrong. Rows come out one at a time with their fields as valid UTF-8,
 * their data-row number (1-based, the header and skipped lines not counted;
 * stable across re-reads of the same file, because it is the identity of
 * the row on the wire) and their physical line, and the raw text of the row
 * for error reports. Memory stays flat whatever the file size: a row's
 * storage is reused by the next call, and every field and row has a hard
 * cap. A row over a cap (a field longer than DS_READ_MAX_FIELD, more than
 * DS_READ_MAX_FIELDS fields, or more bytes than a row may hold) is not the
 * end of the file: the reader skips the rest of it in bounded memory and
 * returns it with error set (its fields cut before the one over the cap),
 * and reading goes on with the next row. Only input whose row boundaries
 * are lost (a quote left open to the end of the file) stops the file.
 *
 * Nothing is dropped silently: a line that is read but not returned as a row
 * (a title above the header, a trailer or totals line at the end, a
 * recurring event that cannot be expanded) and a row whose width differs
 * from the header's are recorded as notices (ds_read_notices). Blank lines
 * (no values at all) are the one exception: they carry nothing to lose and
 * are only counted in the dialect.
 *
 * docs/formats.md describes what each reader accepts and each error.
 */
#ifndef DS_READ_READ_H
#define DS_READ_READ_H

#include "agent/core/error.h"

#include <stddef.h>

#define DS_READ_MAX_FIELD (64 * 1024) /* bytes in one field */
#define DS_READ_MAX_FIELDS 1024       /* fields in one row */
#define DS_READ_MAX_NOTICES 256       /* notices kept; more are only counted */

/* Optional hints from the folder config or the template; zero or NULL means
 * "sniff" (or the default). A hint always wins over what is sniffed. */
struct ds_read_hints {
    int delimiter;         /* CSV: ',', ';', '\t', '|' or 0 */
    int quote;             /* CSV: '"', '~', ... or 0 */
    const char *encoding;  /* CSV/ICS: "utf-8", "windows-1252", "utf-16le", any iconv name */
    long header_line;      /* CSV: physical line of the header row (1-based), or 0 */
    int keep_trailers;     /* CSV: 1 = never take end lines for a trailer */
    int no_raw;            /* CSV: 1 = data rows come without their raw text (raw_len 0):
                              for a caller that never reports it, the copy is saved */
    const char *sheet;     /* XLSX/XLS: the sheet's name, or NULL for the first */
    int sheet_index;       /* XLSX/XLS: the sheet at this 1-based position in the workbook
                              (wins over sheet; DS_ENOTFOUND past the last), or 0 */
    int window_days_back;  /* ICS: expand recurrences from this many days ago (0: 365) */
    int window_days_ahead; /* ICS: ... up to this many days ahead (0: 365) */
};

/* What the reader found out about the file. borrow: valid until close;
 * trailer_lines is final once ds_read_next_row has returned 0. */
struct ds_read_dialect {
    const char *format; /* "csv", "xlsx", "xls" or "ics" */
    char encoding[32];  /* "utf-8", "utf-8-bom", "utf-16le", "windows-1252", ... */
    int encoding_hint;  /* 1: the encoding came from a hint, not from sniffing */
    int delimiter;      /* CSV: the delimiter in use; 0 for other formats */
    int quote;          /* CSV: the quote character in use; 0 for other formats */
    long header_line;   /* line (CSV) or sheet row (XLSX, XLS) of the header */
    long title_lines;   /* lines above the header skipped as titles */
    long trailer_lines; /* lines at the end skipped as trailers or totals */
    long blank_lines;   /* blank lines (no values) skipped */
    long ragged_rows;   /* data rows with more or fewer fields than the header */
    char sheet[128];    /* XLSX, XLS: the sheet read */
    int sheet_index;    /* XLSX, XLS: its 1-based position in the workbook */
    /* ICS: a recurring event's occurrence dated (UTC, YYYYMMDD) before this
     * day lies outside the window of this read and of every later one,
     * whatever its time zone; "" for other formats. */
    char aged_before[9];
};

/* Kinds of notice. */
enum ds_read_notice_kind {
    DS_READ_NOTICE_TITLE = 1,   /* a line above the header, skipped */
    DS_READ_NOTICE_TRAILER = 2, /* a trailer, count or totals line at the end, skipped */
    DS_READ_NOTICE_RAGGED = 3,  /* a data row whose width differs from the header's (returned) */
    DS_READ_NOTICE_SKIPPED = 4, /* something else read but not returned as a row */
};

/* One thing the reader did that a person may want to know. */
struct ds_read_notice {
    int kind;     /* enum ds_read_notice_kind */
    long line;    /* physical line, sheet row or calendar line; 0 if none */
    long row;     /* data row concerned (ragged rows); 0 for skipped lines */
    char msg[96]; /* what and why, without values from the file */
};

/* Why a row was cut (ds_row.error). */
enum ds_read_row_error {
    DS_READ_ROW_OK = 0,               /* the row is whole */
    DS_READ_ROW_FIELD_TOO_LONG = 1,   /* a field is longer than DS_READ_MAX_FIELD */
    DS_READ_ROW_TOO_MANY_COLUMNS = 2, /* more than DS_READ_MAX_FIELDS fields */
    DS_READ_ROW_TOO_LARGE = 3,        /* the fields together are more than a row may hold */
};

/* One row, borrowed from the reader: valid until the next call on it. */
struct ds_row {
    size_t nfields;            /* number of fields */
    const char *const *fields; /* NUL-terminated UTF-8 values */
    const size_t *lens;        /* their lengths in bytes */
    long row;                  /* data-row number, 1-based; 0 for the header */
    long line;                 /* physical line where the row starts, 1-based */
    const char *raw;           /* the row's text as read (for error reports) */
    size_t raw_len;            /* its length */
    int error;                 /* enum ds_read_row_error: 0, or the cap the row broke; the
                                  fields are then those before the one over the cap */
    size_t error_field;        /* the field (1-based) over the cap, 0 if none in particular */
    const char *error_msg;     /* which cap, without values from the file; "" if none */
    int utf8_checked;          /* 1: the reader itself checked every field is valid UTF-8
                                  without NUL, so its consumers need not check again */
};

struct ds_reader; /* opaque */

/* Call first in main() of every program that reads files. The XLS parser
 * runs as this program started again with a hidden subcommand (read_xls.c):
 * when argv is that command line, this runs the parser and never returns;
 * otherwise it marks the program as one that can start it, and returns. A
 * program that never called it refuses XLS files with an error rather than
 * run itself again. */
void ds_read_child_dispatch(int argc, char **argv);

/* Process-wide set-up of the readers, once, before any thread reads: the
 * calendar reader's time zones are made to come from ds_os_zoneinfo_dir
 * (on Windows the zoneinfo shipped beside the program; libical would look
 * where it was built). Nothing on Linux. */
void ds_read_setup(void);

/* Opens path and reads up to and including the header row.
 * new: *out is freed with ds_read_close. hints may be NULL.
 * Errors: DS_EIO (cannot open or read), DS_EPARSE (no header, malformed),
 * DS_EINVAL (a bad hint), DS_ETOOBIG, DS_ENOMEM. */
int ds_read_open(const char *path, const struct ds_read_hints *hints, struct ds_reader **out,
                 struct ds_error *err);

/* The same on a file already open and checked (fd, borrowed for the call;
 * the reader reads through descriptors of its own on the same file, never
 * a new lookup of a name). path only names the file in errors. */
int ds_read_open_fd(int fd, const char *path, const struct ds_read_hints *hints,
                    struct ds_reader **out, struct ds_error *err);

/* The header row. borrow: valid until ds_read_close. */
const struct ds_row *ds_read_header(const struct ds_reader *r);

/* The sniffed (or hinted) dialect. borrow: valid until ds_read_close. */
const struct ds_read_dialect *ds_read_dialect(const struct ds_reader *r);

/* The notices so far, oldest first. borrow: valid until ds_read_close.
 * *n is how many are in the list (at most DS_READ_MAX_NOTICES), *total how
 * many there were (either pointer may be NULL). Skipped lines are always
 * kept in the list; ragged-row notices stop being listed once half of it
 * is used, and are then only counted. */
const struct ds_read_notice *ds_read_notices(const struct ds_reader *r, size_t *n, long *total);

/* Reads the next data row into *row (borrowed until the next call).
 * Returns 1 for a row (row->error set when it broke a cap: see above), 0 at
 * the end of the file, or a negative DS_E* code (DS_EPARSE with err->row
 * and the line or offset in err->msg for malformed input, DS_ETOOBIG when
 * the header or something other than a row is over a cap, DS_EIO). After
 * an error the reader stays failed. */
int ds_read_next_row(struct ds_reader *r, struct ds_row *row, struct ds_error *err);

/* The code of a row error for the queue and reports: "FIELD_TOO_LONG",
 * "TOO_MANY_COLUMNS", "ROW_TOO_LARGE" ("" for DS_READ_ROW_OK). */
const char *ds_read_row_error_code(int error);

/* Closes the file and frees the reader. NULL-safe; sets *r to NULL. */
void ds_read_close(struct ds_reader **r);

#endif
