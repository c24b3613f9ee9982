/*
 * read_csv.c — the delimited-text reader (CSV, TSV, ';' and '|' files),
 * built on libcsv's streaming parser.
 *
 * libcsv pushes fields and row ends through callbacks, while ds_read_next_row
 * pulls one row at a time. The two meet by feeding libcsv one physical line
 * piece at a time: the bytes up to and including the next CR or LF, or up to
 * the end of the current 64 KiB block. libcsv ends a row only on a CR or LF,
 * so each feed completes at most one row, and the reader stops feeding as
 * soon as one is complete. No queue of rows is needed and memory stays flat:
 * one block, one row's fields (reused), one row's raw text (cut at a cap).
 *
 * What the reader does with the file:
 *   - a UTF-8 byte order mark is skipped; a UTF-16 one is refused (not yet
 *     supported), as is any field that is not valid UTF-8 or holds a NUL;
 *   - the delimiter is the hint, else the most frequent of , ; TAB | outside
 *     quotes on the first non-blank line (ties in that order, none: ',');
 *   - the quote is the hint, else '"'; quoted fields may hold delimiters,
 *     doubled quotes and line breaks; CRLF, LF and CR all end a line;
 *   - unquoted fields lose leading and trailing spaces and tabs (libcsv's
 *     default); a stray quote inside an unquoted field is kept as text;
 *   - a row whose fields are all empty (a blank line, or only delimiters) is
 *     skipped and not numbered; the first other row is the header;
 *   - rows with more or fewer fields than the header are returned as they are.
 *
 * Invariants: row numbers count returned data rows only, so they are stable
 * across re-reads of the same bytes; line is the physical line (1-based) on
 * which the row's first byte lies; after an error the reader stays failed and
 * returns the same code.
 */
#include "agent/read/read_int.h"

#include "agent/core/buf.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CSV_BLOCK ((size_t)64 * 1024)         /* bytes read from the file at a time */
#define CSV_ROW_MAX ((size_t)4 * 1024 * 1024) /* bytes of one row's fields together */
#define CSV_RAW_MAX ((size_t)64 * 1024)       /* bytes of a row's raw text kept; the rest is cut */

struct csv_reader {
    int fd;                               /* the open file */
    int delim;                            /* the delimiter in use */
    char *path;                           /* owned: for error reports */
    struct csv_parser parser;             /* libcsv state */
    int parser_live;                      /* parser needs csv_free */
    unsigned char *block;                 /* owned: CSV_BLOCK bytes */
    size_t blen;                          /* bytes in block */
    size_t bpos;                          /* next byte to feed */
    int eof;                              /* read() reported the end */
    int finished;                         /* csv_fini has run */
    long line;                            /* physical line of the next byte */
    int prev_cr;                          /* the last byte fed was a CR */
    int in_row;                           /* a row has begun */
    int row_done;                         /* libcsv ended the row */
    long row_line;                        /* line on which the row began */
    int cb_rc;                            /* first error raised in a callback */
    const char *cb_msg;                   /* its description */
    size_t nfields;                       /* fields in the row so far */
    struct ds_buf cells;                  /* the fields, each followed by a NUL */
    struct ds_buf raw;                    /* the row's text, capped */
    size_t offs[DS_READ_MAX_FIELDS];      /* field offsets in cells */
    size_t lens[DS_READ_MAX_FIELDS];      /* field lengths */
    const char *ptrs[DS_READ_MAX_FIELDS]; /* field pointers, set when complete */
    long nrows;                           /* data rows returned */
    int failed;                           /* the error that stopped reading, or 0 */
    struct ds_buf hcells;                 /* the header's fields */
    struct ds_buf hraw;                   /* the header's raw text */
    size_t hn;                            /* number of header fields */
    size_t *hlens;                        /* owned: header field lengths */
    const char **hptrs;                   /* owned: header field pointers */
};

static int csv_next(void *impl, struct ds_row *row, struct ds_error *err);
static void csv_close(void *impl);

static const struct ds__read_ops csv_ops = {
    .next = csv_next,
    .close = csv_close,
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/* Copies src into dst[size], cut to fit. */
static void copy_cut(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Fills err (NULL-safe) and returns code. field may be NULL. */
static int csv_fail(const struct csv_reader *c, struct ds_error *err, int code, long row,
                    const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int csv_fail(const struct csv_reader *c, struct ds_error *err, int code, long row,
                    const char *field, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (err == NULL) {
        va_end(ap);
        return code;
    }
    err->code = code;
    err->row = row;
    if (c != NULL && c->path != NULL) {
        copy_cut(err->file, sizeof(err->file), c->path);
    }
    copy_cut(err->field, sizeof(err->field), field != NULL ? field : "");
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------------------ */
/* Validation and sniffing                                                  */

/* 0 when p[0..n) is well-formed UTF-8 without NUL; 1 for a NUL byte; 2 for
 * anything else (overlong forms, surrogates, code points past U+10FFFF and
 * truncated sequences included). */
static int utf8_check(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char b = p[i];
        size_t k;
        unsigned long cp;

        if (b == 0) {
            return 1;
        }
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            k = 1;
            cp = b & 0x1fu;
        }
        else if (b >= 0xe0 && b <= 0xef) {
            k = 2;
            cp = b & 0x0fu;
        }
        else if (b >= 0xf0 && b <= 0xf4) {
            k = 3;
            cp = b & 0x07u;
        }
        else {
            return 2;
        }
        if (n - i <= k) {
            return 2;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80) {
                return 2;
            }
            cp = (cp << 6) | (p[i + j] & 0x3fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 2;
        }
        i += k + 1;
    }
    return 0;
}

/* The most frequent candidate delimiter outside quotes on the first line
 * that is not blank, in p[0..n). Ties go to the earlier candidate. */
static int sniff_delimiter(const unsigned char *p, size_t n, int quote)
{
    static const int cand[] = {',', ';', '\t', '|'};
    size_t count[4] = {0, 0, 0, 0};
    size_t i = 0;
    int quoted = 0;
    int best = 0;

    /* Skip blank lines. */
    for (;;) {
        size_t j = i;

        while (j < n && (p[j] == ' ' || p[j] == '\t')) {
            j++;
        }
        if (j < n && (p[j] == '\r' || p[j] == '\n')) {
            i = j + 1;
            continue;
        }
        break;
    }
    for (; i < n; i++) {
        if (p[i] == quote) {
            quoted = !quoted;
            continue;
        }
        if (quoted) {
            continue;
        }
        if (p[i] == '\r' || p[i] == '\n') {
            break;
        }
        for (int k = 0; k < 4; k++) {
            if (p[i] == cand[k]) {
                count[k]++;
            }
        }
    }
    for (int k = 1; k < 4; k++) {
        if (count[k] > count[best]) {
            best = k;
        }
    }
    return cand[best];
}

/* Checks the hints; fills *delim (0: sniff) and *quote. */
static int check_hints(const struct ds_read_hints *h, int *delim, int *quote, struct ds_error *err)
{
    *delim = 0;
    *quote = '"';
    if (h == NULL) {
        return 0;
    }
    if (h->encoding != NULL && strcasecmp(h->encoding, "utf-8") != 0 &&
        strcasecmp(h->encoding, "utf8") != 0) {
        return csv_fail(NULL, err, DS_EINVAL, 0, "encoding", "encoding not supported yet");
    }
    if (h->quote != 0) {
        if (h->quote < 0x21 || h->quote > 0x7e) {
            return csv_fail(NULL, err, DS_EINVAL, 0, "quote", "not a usable quote character");
        }
        *quote = h->quote;
    }
    if (h->delimiter != 0) {
        if ((h->delimiter != '\t' && (h->delimiter < 0x20 || h->delimiter > 0x7e)) ||
            h->delimiter == *quote) {
            return csv_fail(NULL, err, DS_EINVAL, 0, "delimiter", "not a usable delimiter");
        }
        *delim = h->delimiter;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* libcsv callbacks                                                         */

static void on_field(void *s, size_t len, void *data)
{
    struct csv_reader *c = data;
    int rc;

    if (c->cb_rc != 0) {
        return;
    }
    if (c->nfields >= DS_READ_MAX_FIELDS) {
        c->cb_rc = DS_ETOOBIG;
        c->cb_msg = "row has more fields than the limit";
        return;
    }
    if (len > (size_t)DS_READ_MAX_FIELD) {
        c->cb_rc = DS_ETOOBIG;
        c->cb_msg = "field longer than the limit";
        return;
    }
    c->offs[c->nfields] = c->cells.len;
    c->lens[c->nfields] = len;
    rc = ds_buf_append(&c->cells, s, len);
    if (rc == 0) {
        rc = ds_buf_append(&c->cells, "", 1);
    }
    if (rc != 0) {
        c->cb_rc = rc;
        c->cb_msg = rc == DS_ETOOBIG ? "row longer than the limit" : "out of memory";
        return;
    }
    c->nfields++;
}

static void on_row(int term, void *data)
{
    struct csv_reader *c = data;

    (void)term;
    if (!c->in_row) {
        c->in_row = 1;
        c->row_line = c->line;
    }
    c->row_done = 1;
}

/* ------------------------------------------------------------------------ */
/* Feeding                                                                  */

/* Reads the next block. Sets eof when the file has no more bytes. */
static int fill_block(struct csv_reader *c, struct ds_error *err)
{
    ssize_t k;

    c->bpos = 0;
    c->blen = 0;
    while (c->blen < CSV_BLOCK) {
        k = read(c->fd, c->block + c->blen, CSV_BLOCK - c->blen);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return csv_fail(c, err, DS_EIO, 0, NULL, "cannot read the file");
        }
        if (k == 0) {
            c->eof = 1;
            break;
        }
        c->blen += (size_t)k;
    }
    return 0;
}

/* Does the piece hold something that begins a row (not only blanks)? */
static int has_content(const struct csv_reader *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == c->delim || (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')) {
            return 1;
        }
    }
    return 0;
}

static void reset_row(struct csv_reader *c)
{
    c->in_row = 0;
    c->row_done = 0;
    c->nfields = 0;
    ds_buf_reset(&c->cells);
    ds_buf_reset(&c->raw);
}

static void raw_append(struct csv_reader *c, const unsigned char *p, size_t n)
{
    size_t room = c->raw.max - c->raw.len;

    /* The raw text is for error reports: past the cap it is cut, which is
     * not an error. Allocation failure leaves it short as well. */
    (void)ds_buf_append(&c->raw, p, n < room ? n : room);
}

/* Feeds libcsv until it completes a row. 1: a row is complete; 0: the file
 * ended with no further row; negative: error (err filled). */
static int feed_row(struct csv_reader *c, struct ds_error *err)
{
    const unsigned char *p;
    const unsigned char *end;
    size_t n;
    size_t done;
    int rc;

    reset_row(c);
    for (;;) {
        if (c->bpos == c->blen) {
            if (!c->eof) {
                rc = fill_block(c, err);
                if (rc != 0) {
                    return rc;
                }
                continue;
            }
            if (c->finished) {
                return 0;
            }
            c->finished = 1;
            /* Strict mode for the end only: an unterminated quoted field is
             * an error, while stray quotes inside rows stay lenient. */
            csv_set_opts(&c->parser, (unsigned char)(csv_get_opts(&c->parser) | CSV_STRICT));
            if (csv_fini(&c->parser, on_field, on_row, c) != 0) {
                return csv_fail(c, err, DS_EPARSE, c->nrows + 1, NULL,
                                "quoted field not closed (row starts at line %ld)", c->row_line);
            }
            break;
        }
        p = c->block + c->bpos;
        n = c->blen - c->bpos;
        for (end = p; end < p + n && *end != '\r' && *end != '\n'; end++) {
        }
        if (end < p + n) {
            n = (size_t)(end - p) + 1;
        }
        if (!c->in_row && has_content(c, p, n)) {
            c->in_row = 1;
            c->row_line = c->line;
        }
        if (c->in_row) {
            raw_append(c, p, n);
        }
        done = csv_parse(&c->parser, p, n, on_field, on_row, c);
        c->bpos += n;
        if (p[n - 1] == '\n') {
            if (!(n == 1 && c->prev_cr)) {
                c->line++;
            }
            c->prev_cr = 0;
        }
        else if (p[n - 1] == '\r') {
            c->line++;
            c->prev_cr = 1;
        }
        else {
            c->prev_cr = 0;
        }
        if (done != n) {
            rc = csv_error(&c->parser) == CSV_ENOMEM ? DS_ENOMEM : DS_ETOOBIG;
            return csv_fail(c, err, rc, c->nrows + 1, NULL, "CSV parser failed at line %ld",
                            c->row_line);
        }
        if (c->cb_rc != 0) {
            break;
        }
        /* libcsv buffers a field until it ends; bound that buffer too. */
        if (csv_get_buffer_size(&c->parser) > (size_t)DS_READ_MAX_FIELD + CSV_BLOCK) {
            c->cb_rc = DS_ETOOBIG;
            c->cb_msg = "field longer than the limit";
            break;
        }
        if (c->row_done) {
            break;
        }
    }
    if (c->cb_rc != 0) {
        return csv_fail(c, err, c->cb_rc, c->nrows + 1, NULL, "%s (row starts at line %ld)",
                        c->cb_msg, c->row_line);
    }
    return c->row_done ? 1 : 0;
}

/* Reads the next row that is not blank and checks it. row is the number it
 * gets if it is a data row (0 for the header). 1, 0 at the end, or error. */
static int next_record(struct csv_reader *c, long row, struct ds_error *err)
{
    const char *field;
    int bad;
    int rc;

    for (;;) {
        int blank = 1;

        rc = feed_row(c, err);
        if (rc <= 0) {
            return rc;
        }
        for (size_t i = 0; i < c->nfields; i++) {
            if (c->lens[i] != 0) {
                blank = 0;
                break;
            }
        }
        if (!blank) {
            break;
        }
    }
    while (c->raw.len > 0 &&
           (c->raw.data[c->raw.len - 1] == '\n' || c->raw.data[c->raw.len - 1] == '\r')) {
        c->raw.data[--c->raw.len] = '\0';
    }
    for (size_t i = 0; i < c->nfields; i++) {
        c->ptrs[i] = c->cells.data + c->offs[i];
        bad = utf8_check((const unsigned char *)c->ptrs[i], c->lens[i]);
        if (bad == 0) {
            continue;
        }
        field = row > 0 && i < c->hn ? c->hptrs[i] : NULL;
        return csv_fail(c, err, DS_EPARSE, row, field, "%s at line %ld",
                        bad == 1 ? "contains a NUL byte" : "not valid UTF-8", c->row_line);
    }
    return 1;
}

/* Copies the current record into the header storage. */
static int keep_header(struct csv_reader *c)
{
    int rc;

    c->hlens = calloc(c->nfields, sizeof(*c->hlens));
    c->hptrs = calloc(c->nfields, sizeof(*c->hptrs));
    if (c->hlens == NULL || c->hptrs == NULL) {
        return DS_ENOMEM;
    }
    rc = ds_buf_append(&c->hcells, c->cells.data, c->cells.len);
    if (rc == 0) {
        rc = ds_buf_append(&c->hraw, c->raw.data != NULL ? c->raw.data : "", c->raw.len);
    }
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < c->nfields; i++) {
        c->hlens[i] = c->lens[i];
        c->hptrs[i] = c->hcells.data + c->offs[i];
    }
    c->hn = c->nfields;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The reader's operations                                                  */

int ds__read_csv_open(const char *path, const struct ds_read_hints *hints, struct ds_reader *r,
                      struct ds_error *err)
{
    static const unsigned char bom8[] = {0xef, 0xbb, 0xbf};
    struct csv_reader *c = NULL;
    long header_line;
    int delim;
    int quote;
    int rc;

    rc = check_hints(hints, &delim, &quote, err);
    if (rc != 0) {
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    c->fd = -1;
    c->line = 1;
    ds_buf_init(&c->cells, CSV_ROW_MAX);
    ds_buf_init(&c->raw, CSV_RAW_MAX);
    ds_buf_init(&c->hcells, CSV_ROW_MAX);
    ds_buf_init(&c->hraw, CSV_RAW_MAX);
    c->path = strdup(path);
    c->block = malloc(CSV_BLOCK);
    if (c->path == NULL || c->block == NULL) {
        rc = csv_fail(c, err, DS_ENOMEM, 0, NULL, "out of memory");
        goto out;
    }
    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        rc = csv_fail(c, err, DS_EIO, 0, NULL, "cannot open the file");
        goto out;
    }
    rc = fill_block(c, err);
    if (rc != 0) {
        goto out;
    }
    if (c->blen >= 2 && ((c->block[0] == 0xff && c->block[1] == 0xfe) ||
                         (c->block[0] == 0xfe && c->block[1] == 0xff))) {
        rc = csv_fail(c, err, DS_EPARSE, 0, NULL,
                      "not valid UTF-8 at line 1 (UTF-16 is not supported yet)");
        goto out;
    }
    if (c->blen >= sizeof(bom8) && memcmp(c->block, bom8, sizeof(bom8)) == 0) {
        c->bpos = sizeof(bom8);
    }
    if (delim == 0) {
        delim = sniff_delimiter(c->block + c->bpos, c->blen - c->bpos, quote);
    }
    if (csv_init(&c->parser, CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) {
        rc = csv_fail(c, err, DS_ENOMEM, 0, NULL, "out of memory");
        goto out;
    }
    c->parser_live = 1;
    c->delim = delim;
    csv_set_delim(&c->parser, (unsigned char)delim);
    csv_set_quote(&c->parser, (unsigned char)quote);
    csv_set_blk_size(&c->parser, 4096);
    rc = next_record(c, 0, err);
    if (rc == 0) {
        rc = csv_fail(c, err, DS_EPARSE, 0, NULL, "no header row (the file is empty)");
    }
    if (rc < 0) {
        goto out;
    }
    header_line = c->row_line;
    rc = keep_header(c);
    if (rc != 0) {
        rc = csv_fail(c, err, rc, 0, NULL, "out of memory");
        goto out;
    }
    r->ops = &csv_ops;
    r->impl = c;
    r->header.nfields = c->hn;
    r->header.fields = c->hptrs;
    r->header.lens = c->hlens;
    r->header.row = 0;
    r->header.line = header_line;
    r->header.raw = c->hraw.data != NULL ? c->hraw.data : "";
    r->header.raw_len = c->hraw.len;
    c = NULL;
    rc = 0;
out:
    csv_close(c);
    return rc;
}

static int csv_next(void *impl, struct ds_row *row, struct ds_error *err)
{
    struct csv_reader *c = impl;
    int rc;

    if (c->failed != 0) {
        return csv_fail(c, err, c->failed, 0, NULL, "reading stopped after an earlier error");
    }
    rc = next_record(c, c->nrows + 1, err);
    if (rc < 0) {
        c->failed = rc;
        return rc;
    }
    if (rc == 0) {
        return 0;
    }
    c->nrows++;
    row->nfields = c->nfields;
    row->fields = c->ptrs;
    row->lens = c->lens;
    row->row = c->nrows;
    row->line = c->row_line;
    row->raw = c->raw.data != NULL ? c->raw.data : "";
    row->raw_len = c->raw.len;
    return 1;
}

static void csv_close(void *impl)
{
    struct csv_reader *c = impl;

    if (c == NULL) {
        return;
    }
    if (c->parser_live) {
        csv_free(&c->parser);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    ds_buf_close(&c->cells);
    ds_buf_close(&c->raw);
    ds_buf_close(&c->hcells);
    ds_buf_close(&c->hraw);
    free(c->hlens);
    free(c->hptrs);
    free(c->block);
    free(c->path);
    free(c);
}
