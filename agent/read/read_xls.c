/*
 * read_xls.c — the legacy Excel (XLS, BIFF in an OLE2 compound file)
 * reader, built on freexl.
 *
 * freexl parses the whole workbook when it opens it, so unlike the other
 * readers this one is not streaming: memory grows with the file. The format
 * bounds it (BIFF8 holds at most 65536 rows by 256 columns per sheet) and
 * the file size is capped at XLS_MAX_FILE before freexl sees it. Rows are
 * then handed over one at a time.
 *
 * Cells become text: strings as freexl decodes them (UTF-8); integers in
 * decimal; other numbers with up to 15 significant digits (what Excel
 * shows); dates, times and date-times, which freexl recognises by the
 * cell's format in either date system, as ISO 8601 (YYYY-MM-DD, HH:MM:SS,
 * YYYY-MM-DDTHH:MM:SS). The sheet is the first one or the hinted one; the
 * first row that is not blank is the header (or the hinted sheet row);
 * missing cells at the end of a row are empty fields up to the header's
 * width; blank rows are skipped and counted.
 *
 * A password-protected workbook, and an encrypted XLSX (which is an OLE2
 * file holding an "EncryptedPackage" stream, so it lands here), are refused
 * with that reason.
 */
#include "agent/read/read_int.h"

#include "agent/core/buf.h"

#include <fcntl.h>
#include <freexl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XLS_MAX_FILE ((off_t)256 * 1024 * 1024) /* bytes of an .xls file */
#define XLS_ROW_MAX ((size_t)4 * 1024 * 1024)   /* bytes of one row's fields */
#define XLS_RAW_MAX ((size_t)64 * 1024)         /* bytes of a row's raw text kept */

struct xls_reader {
    struct ds_reader *r;                  /* borrow: for the dialect and notices */
    char *path;                           /* owned: for error reports */
    const void *h;                        /* freexl's handle */
    unsigned rows;                        /* rows in the sheet */
    unsigned short cols;                  /* columns in the sheet */
    unsigned next;                        /* next sheet row to read (0-based) */
    long line;                            /* sheet row (1-based) of the current row */
    size_t n;                             /* fields in the current row */
    struct ds_buf cells;                  /* its fields, each followed by a NUL */
    struct ds_buf raw;                    /* its fields joined by tabs, capped */
    size_t offs[DS_READ_MAX_FIELDS];      /* field offsets */
    size_t lens[DS_READ_MAX_FIELDS];      /* field lengths */
    const char *ptrs[DS_READ_MAX_FIELDS]; /* field pointers of the returned row */
    long nrows;                           /* data rows returned */
    int failed;                           /* the error that stopped reading, or 0 */
    struct ds_buf hcells;                 /* the header's fields */
    struct ds_buf hraw;                   /* the header's raw text */
    size_t hn;                            /* header fields */
    size_t *hlens;                        /* owned */
    const char **hptrs;                   /* owned */
};

static int xls_next(void *impl, struct ds_row *row, struct ds_error *err);
static void xls_close(void *impl);

static const struct ds__read_ops xls_ops = {
    .next = xls_next,
    .close = xls_close,
};

/* Why freexl could not open the file, for a person. */
static const char *open_reason(int rc)
{
    switch (rc) {
    case FREEXL_INSUFFICIENT_MEMORY:
        return "out of memory";
    case FREEXL_INVALID_CFBF_HEADER:
    case FREEXL_CFBF_INVALID_SIGNATURE:
    case FREEXL_CFBF_INVALID_SECTOR_SIZE:
        return "not a valid OLE2 compound file";
    case FREEXL_CFBF_READ_ERROR:
    case FREEXL_CFBF_SEEK_ERROR:
        return "the file is truncated";
    case FREEXL_BIFF_WORKBOOK_NOT_FOUND:
        return "the compound file holds no Excel workbook";
    case FREEXL_UNSUPPORTED_CHARSET:
    case FREEXL_INVALID_CHARACTER:
        return "text in a code page that cannot be converted";
    default:
        return "the workbook is damaged";
    }
}

/* Does the file hold the UTF-16 stream name "EncryptedPackage" in its
 * first 64 KiB (the directory of an encrypted OOXML file)? */
static int is_encrypted_ooxml(const char *path)
{
    static const char name[] = "E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0";
    unsigned char buf[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf));
    close(fd);
    return n > 0 && memmem(buf, (size_t)n, name, sizeof(name) - 1) != NULL;
}

/* Appends one field to the row. */
static int put_field(struct xls_reader *x, const char *s, size_t len)
{
    size_t room;
    int rc;

    if (x->n >= DS_READ_MAX_FIELDS || len > (size_t)DS_READ_MAX_FIELD) {
        return DS_ETOOBIG;
    }
    x->offs[x->n] = x->cells.len;
    x->lens[x->n] = len;
    rc = ds_buf_append(&x->cells, s, len);
    if (rc == 0) {
        rc = ds_buf_append(&x->cells, "", 1);
    }
    if (rc != 0) {
        return rc;
    }
    room = x->raw.max - x->raw.len;
    if (x->n > 0 && room > 0) {
        (void)ds_buf_append(&x->raw, "\t", 1);
        room--;
    }
    (void)ds_buf_append(&x->raw, s, len < room ? len : room);
    x->n++;
    return 0;
}

/* Reads sheet row x->next into the row buffers. Returns the number of
 * fields with a value, or an error. */
static int load_row(struct xls_reader *x, struct ds_error *err)
{
    size_t width = 0;
    int filled = 0;
    int rc;

    x->n = 0;
    ds_buf_reset(&x->cells);
    ds_buf_reset(&x->raw);
    x->line = (long)x->next + 1;
    for (unsigned short c = 0; c < x->cols; c++) {
        FreeXL_CellValue v;
        char num[64];
        const char *s = "";
        size_t len;

        if (freexl_get_cell_value(x->h, x->next, c, &v) != FREEXL_OK) {
            return ds__read_fail(err, DS_EPARSE, x->path, x->nrows + 1, NULL,
                                 "XLS: cell in column %u of sheet row %ld cannot be read",
                                 (unsigned)c + 1, x->line);
        }
        switch (v.type) {
        case FREEXL_CELL_INT:
            snprintf(num, sizeof(num), "%d", v.value.int_value);
            s = num;
            break;
        case FREEXL_CELL_DOUBLE:
            snprintf(num, sizeof(num), "%.15g", v.value.double_value);
            s = num;
            break;
        case FREEXL_CELL_TEXT:
        case FREEXL_CELL_SST_TEXT:
        case FREEXL_CELL_DATE:
        case FREEXL_CELL_TIME:
            s = v.value.text_value != NULL ? v.value.text_value : "";
            break;
        case FREEXL_CELL_DATETIME:
            snprintf(num, sizeof(num), "%s", v.value.text_value != NULL ? v.value.text_value : "");
            if (strlen(num) > 10 && num[10] == ' ') {
                num[10] = 'T';
            }
            s = num;
            break;
        default:
            break;
        }
        len = strlen(s);
        if (ds__read_utf8_valid((const unsigned char *)s, len) != len) {
            return ds__read_fail(err, DS_EPARSE, x->path, x->nrows + 1, NULL,
                                 "XLS: text that is not valid UTF-8 in column %u of sheet row "
                                 "%ld",
                                 (unsigned)c + 1, x->line);
        }
        rc = put_field(x, s, len);
        if (rc != 0) {
            return ds__read_fail(err, rc, x->path, x->nrows + 1, NULL,
                                 "XLS: sheet row %ld is larger than the limit", x->line);
        }
        if (len > 0) {
            filled++;
            width = x->n;
        }
    }
    /* Cells past the last value, beyond the header's width, are not fields. */
    while (x->n > width && x->n > x->hn) {
        x->n--;
        x->cells.len = x->offs[x->n];
    }
    return filled;
}

/* The next sheet row with a value. 1, 0 at the end, or an error. */
static int next_filled(struct xls_reader *x, struct ds_error *err)
{
    int rc;

    while (x->next < x->rows) {
        rc = load_row(x, err);
        x->next++;
        if (rc < 0) {
            return rc;
        }
        if (rc > 0) {
            return 1;
        }
        x->r->dialect.blank_lines++;
    }
    return 0;
}

int ds__read_xls_open(const char *path, const struct ds_read_hints *hints, struct ds_reader *r,
                      struct ds_error *err)
{
    struct xls_reader *x = NULL;
    long hint_line = hints != NULL ? hints->header_line : 0;
    const char *want = hints != NULL ? hints->sheet : NULL;
    const char *name = NULL;
    unsigned info = 0;
    unsigned nsheets = 0;
    unsigned short sheet = 0;
    struct stat sb;
    int rc;

    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    x->r = r;
    ds_buf_init(&x->cells, XLS_ROW_MAX);
    ds_buf_init(&x->raw, XLS_RAW_MAX);
    ds_buf_init(&x->hcells, XLS_ROW_MAX);
    ds_buf_init(&x->hraw, XLS_RAW_MAX);
    x->path = strdup(path);
    if (x->path == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    if (stat(path, &sb) != 0) {
        rc = ds__read_fail(err, DS_EIO, path, 0, NULL, "cannot open the file");
        goto out;
    }
    if (sb.st_size > XLS_MAX_FILE) {
        rc = ds__read_fail(err, DS_ETOOBIG, path, 0, NULL,
                           "XLS: the file is larger than the limit (%lld bytes)",
                           (long long)XLS_MAX_FILE);
        goto out;
    }
    if (is_encrypted_ooxml(path)) {
        rc = ds__read_fail(err, DS_EPARSE, path, 0, NULL,
                           "XLSX: the workbook is encrypted (password-protected)");
        goto out;
    }
    rc = freexl_open(path, &x->h);
    if (rc != FREEXL_OK) {
        x->h = NULL;
        rc = ds__read_fail(err, rc == FREEXL_INSUFFICIENT_MEMORY ? DS_ENOMEM : DS_EPARSE, path, 0,
                           NULL, "XLS: %s (freexl error %d)", open_reason(rc), rc);
        goto out;
    }
    if (freexl_get_info(x->h, FREEXL_BIFF_PASSWORD, &info) == FREEXL_OK &&
        info == FREEXL_BIFF_OBFUSCATED) {
        rc = ds__read_fail(err, DS_EPARSE, path, 0, NULL,
                           "XLS: the workbook is encrypted (password-protected)");
        goto out;
    }
    if (freexl_get_info(x->h, FREEXL_BIFF_SHEET_COUNT, &nsheets) != FREEXL_OK || nsheets == 0) {
        rc = ds__read_fail(err, DS_EPARSE, path, 0, NULL, "XLS: the workbook has no sheet");
        goto out;
    }
    for (sheet = 0; sheet < nsheets && sheet < 0xffff; sheet++) {
        if (freexl_get_worksheet_name(x->h, sheet, &name) != FREEXL_OK) {
            name = NULL;
        }
        if (want == NULL || (name != NULL && strcmp(name, want) == 0)) {
            break;
        }
    }
    if (sheet == nsheets) {
        rc = ds__read_fail(err, DS_ENOTFOUND, path, 0, "sheet",
                           "XLS: the workbook has no sheet of that name");
        goto out;
    }
    if (freexl_select_active_worksheet(x->h, sheet) != FREEXL_OK ||
        freexl_worksheet_dimensions(x->h, &x->rows, &x->cols) != FREEXL_OK) {
        rc = ds__read_fail(err, DS_EPARSE, path, 0, NULL, "XLS: the sheet cannot be read");
        goto out;
    }
    if (x->cols > DS_READ_MAX_FIELDS) {
        rc = ds__read_fail(err, DS_ETOOBIG, path, 0, NULL,
                           "XLS: the sheet has more columns than the limit");
        goto out;
    }
    for (;;) {
        rc = next_filled(x, err);
        if (rc == 0) {
            rc = ds__read_fail(err, DS_EPARSE, path, 0, hint_line > 0 ? "header_line" : NULL,
                               "XLS: no header row (the sheet is empty or too short)");
        }
        if (rc < 0) {
            goto out;
        }
        if (hint_line == 0 || x->line >= hint_line) {
            break;
        }
        r->dialect.title_lines++;
        ds__read_notice(r, DS_READ_NOTICE_TITLE, x->line, 0,
                        "row above the configured header skipped (%zu field(s))", x->n);
    }
    if (hint_line > 0 && x->line != hint_line) {
        rc = ds__read_fail(err, DS_EPARSE, path, 0, "header_line",
                           "XLS: sheet row %ld is empty, it cannot be the header", hint_line);
        goto out;
    }
    /* The header keeps only the columns up to its last name. */
    while (x->n > 0 && x->lens[x->n - 1] == 0) {
        x->n--;
    }
    x->hlens = calloc(x->n + 1, sizeof(*x->hlens));
    x->hptrs = calloc(x->n + 1, sizeof(*x->hptrs));
    if (x->hlens == NULL || x->hptrs == NULL ||
        ds_buf_append(&x->hcells, x->cells.data, x->cells.len) != 0 ||
        ds_buf_append(&x->hraw, x->raw.data != NULL ? x->raw.data : "", x->raw.len) != 0) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < x->n; i++) {
        x->hlens[i] = x->lens[i];
        x->hptrs[i] = x->hcells.data + x->offs[i];
    }
    x->hn = x->n;
    r->dialect.format = "xls";
    snprintf(r->dialect.encoding, sizeof(r->dialect.encoding), "utf-8");
    snprintf(r->dialect.sheet, sizeof(r->dialect.sheet), "%s", name != NULL ? name : "");
    r->dialect.header_line = x->line;
    r->ops = &xls_ops;
    r->impl = x;
    r->header.nfields = x->hn;
    r->header.fields = x->hptrs;
    r->header.lens = x->hlens;
    r->header.row = 0;
    r->header.line = x->line;
    r->header.raw = x->hraw.data != NULL ? x->hraw.data : "";
    r->header.raw_len = x->hraw.len;
    x = NULL;
    rc = 0;
out:
    xls_close(x);
    return rc;
}

static int xls_next(void *impl, struct ds_row *row, struct ds_error *err)
{
    struct xls_reader *x = impl;
    int rc;

    if (x->failed != 0) {
        return ds__read_fail(err, x->failed, x->path, x->nrows + 1, NULL,
                             "reading stopped after an earlier error");
    }
    rc = next_filled(x, err);
    if (rc < 0) {
        x->failed = rc;
        return rc;
    }
    if (rc == 0) {
        return 0;
    }
    x->nrows++;
    for (size_t i = 0; i < x->n; i++) {
        x->ptrs[i] = x->cells.data + x->offs[i];
    }
    if (x->n > x->hn) {
        x->r->dialect.ragged_rows++;
        ds__read_notice(x->r, DS_READ_NOTICE_RAGGED, x->line, x->nrows,
                        "row has %zu field(s), the header %zu", x->n, x->hn);
    }
    row->nfields = x->n;
    row->fields = x->ptrs;
    row->lens = x->lens;
    row->row = x->nrows;
    row->line = x->line;
    row->raw = x->raw.data != NULL ? x->raw.data : "";
    row->raw_len = x->raw.len;
    return 1;
}

static void xls_close(void *impl)
{
    struct xls_reader *x = impl;

    if (x == NULL) {
        return;
    }
    if (x->h != NULL) {
        freexl_close(x->h);
    }
    ds_buf_close(&x->cells);
    ds_buf_close(&x->raw);
    ds_buf_close(&x->hcells);
    ds_buf_close(&x->hraw);
    free(x->hlens);
    free(x->hptrs);
    free(x->path);
    free(x);
}
