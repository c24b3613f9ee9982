/*
 * read_sheet.c — what the spreadsheet readers (XLSX, XLS) share once a
 * sheet row has been decoded: finding the header below title or report
 * rows, holding back trailer and totals rows at the end, skipping blank
 * rows, numbering data rows and reporting ragged ones.
 *
 * A reader hands over its sheet rows one at a time through a pull
 * function (each row borrowed until the next pull); the framer copies
 * them into a small ring of slots, because two things need a few rows
 * ahead, exactly as in the CSV reader:
 *   - the header: the first SHEET_SAMPLE rows with a value are read at
 *     open; leading rows much narrower than the rest (at most half as many
 *     values as the most common width) are titles or report lines and are
 *     skipped with a notice each; the next one is the header (a
 *     header_line hint names the sheet row instead, and every row above it
 *     is skipped with a notice);
 *   - trailers: a row that looks like a trailer (a lone value under a
 *     header at least three columns wide, or a few values
 *     one of which starts with a word like "total", "records", "count";
 *     a sparse row is not enough, as in a sheet a missing cell is just an
 *     empty one) is held while more are
 *     read: if only such rows follow up to the end of the sheet, they are
 *     trailers, skipped with a notice each; otherwise they are data,
 *     returned in order. At most SHEET_HOLD are held. The keep_trailers
 *     hint turns this off.
 * The header keeps its columns up to its last name. A data row loses empty
 * cells past both its last value and the header's width, and gets empty
 * fields up to the header's width; a row still wider than the header is
 * returned with a notice. Blank rows (no value at all, or left out of the
 * sheet) are counted in the dialect and skipped.
 *
 * A row the reader cut at a cap (ds__sheet_row.error) is never blank, a
 * title or a trailer: it is returned as it came, with the fields before
 * the cap and the error; as the header it stops the file.
 *
 * An error of the reader while rows are held comes after them: the held
 * rows are data, returned first. Memory stays flat: the ring of slots,
 * each with capped field and raw-text buffers.
 */
#include "agent/read/read_int.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHEET_HOLD 16                           /* rows held ahead at most */
#define SHEET_SAMPLE 12                         /* rows looked at to find the header */
#define SHEET_NRECS (SHEET_HOLD + 2)            /* slots: held, being read, returned */
#define SHEET_ROW_MAX ((size_t)4 * 1024 * 1024) /* bytes of one row's fields */
#define SHEET_RAW_MAX ((size_t)64 * 1024)       /* bytes of a row's raw text kept */

struct srec {
    struct ds_buf cells; /* the fields, each followed by a NUL */
    struct ds_buf raw;   /* the row's text as the reader gave it, capped */
    size_t *offs;        /* owned: field offsets in cells */
    size_t *lens;        /* owned: field lengths */
    size_t n;            /* fields */
    size_t filled;       /* fields with a value */
    size_t width;        /* index of the last field with a value + 1 */
    long line;           /* sheet row, 1-based */
    int error;           /* enum ds_read_row_error, or 0 */
    size_t error_field;  /* the field over the cap, or 0 */
    char error_msg[96];  /* which cap */
};

struct sheet {
    struct ds_reader *r;                  /* borrow: dialect and notices */
    char *path;                           /* owned: for error reports */
    const char *what;                     /* "XLSX" or "XLS", for messages */
    void *src;                            /* owned: the reader's state */
    ds__sheet_pull_fn pull;               /* reads the next sheet row */
    ds__sheet_free_fn free_src;           /* frees src */
    struct srec recs[SHEET_NRECS];        /* the ring */
    size_t head;                          /* slot of the first queued row */
    size_t qlen;                          /* rows queued */
    int at_end;                           /* the reader has no more rows */
    int deferred;                         /* an error met while reading ahead, or 0 */
    struct ds_error deferred_err;         /* its details */
    int keep_trailers;                    /* the hint: never take a trailer */
    long last_line;                       /* sheet row of the last row pulled */
    long nrows;                           /* data rows returned */
    int failed;                           /* the error that stopped reading, or 0 */
    struct ds_buf hcells;                 /* the header's fields */
    struct ds_buf hraw;                   /* the header's raw text */
    size_t hn;                            /* header fields */
    size_t *hlens;                        /* owned */
    const char **hptrs;                   /* owned */
    const char *ptrs[DS_READ_MAX_FIELDS]; /* field pointers of the returned row */
};

static int sheet_next(void *impl, struct ds_row *row, struct ds_error *err);
static void sheet_close(void *impl);

static const struct ds__read_ops sheet_ops = {
    .next = sheet_next,
    .close = sheet_close,
};

/* ------------------------------------------------------------------------ */
/* The ring                                                                 */

static struct srec *q_at(struct sheet *s, size_t i)
{
    return &s->recs[(s->head + i) % SHEET_NRECS];
}

static struct srec *q_pop(struct sheet *s)
{
    struct srec *rec = q_at(s, 0);

    s->head = (s->head + 1) % SHEET_NRECS;
    s->qlen--;
    return rec;
}

/* Copies a pulled row into rec. */
static int copy_row(struct srec *rec, const struct ds__sheet_row *in)
{
    size_t room;
    int rc;

    if (in->n > DS_READ_MAX_FIELDS) {
        return DS_ETOOBIG;
    }
    ds_buf_reset(&rec->cells);
    ds_buf_reset(&rec->raw);
    rec->n = 0;
    rec->filled = 0;
    rec->width = 0;
    rec->line = in->line;
    rec->error = in->error;
    rec->error_field = in->error_field;
    snprintf(rec->error_msg, sizeof(rec->error_msg), "%s",
             in->error != 0 && in->error_msg != NULL ? in->error_msg : "");
    for (size_t i = 0; i < in->n; i++) {
        rec->offs[i] = rec->cells.len;
        rec->lens[i] = in->lens[i];
        rc = ds_buf_append(&rec->cells, in->cells + in->offs[i], in->lens[i]);
        if (rc == 0) {
            rc = ds_buf_append(&rec->cells, "", 1);
        }
        if (rc != 0) {
            return rc;
        }
        if (in->lens[i] > 0) {
            rec->filled++;
            rec->width = i + 1;
        }
    }
    rec->n = in->n;
    room = rec->raw.max - rec->raw.len;
    (void)ds_buf_append(&rec->raw, in->raw != NULL ? in->raw : "",
                        in->raw_len < room ? in->raw_len : room);
    return 0;
}

/* Reads the next row with a value into the back of the queue: 1, 0 at the
 * end, or a negative code with err filled. Blank rows are counted. */
static int pull_filled(struct sheet *s, struct ds_error *err)
{
    struct ds__sheet_row in;
    struct srec *rec;
    int rc;

    if (s->at_end) {
        return 0;
    }
    rec = q_at(s, s->qlen);
    for (;;) {
        memset(&in, 0, sizeof(in));
        rc = s->pull(s->src, &in, err);
        if (rc <= 0) {
            s->at_end = 1;
            return rc;
        }
        /* Rows a sheet leaves out (XLSX writes no empty ones) are blank. */
        if (in.line > s->last_line + 1) {
            s->r->dialect.blank_lines += in.line - s->last_line - 1;
        }
        if (in.line > s->last_line) {
            s->last_line = in.line;
        }
        rc = copy_row(rec, &in);
        if (rc != 0) {
            s->at_end = 1;
            return ds__read_fail(err, rc, s->path, s->nrows + 1, NULL,
                                 "%s: sheet row %ld is larger than the limit", s->what, in.line);
        }
        if (rec->filled > 0 || rec->error != 0) {
            s->qlen++;
            return 1;
        }
        s->r->dialect.blank_lines++;
    }
}

/* Reads one more row ahead; an error is kept for after the queued rows.
 * 1, 0 at the end (or at the error). */
static int read_ahead(struct sheet *s)
{
    int rc;

    if (s->deferred != 0) {
        return 0;
    }
    ds_error_clear(&s->deferred_err);
    rc = pull_filled(s, &s->deferred_err);
    if (rc < 0) {
        s->deferred = rc;
        return 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Titles and trailers                                                      */

static int maybe_trailer(const struct sheet *s, const struct srec *rec)
{
    if (s->keep_trailers || rec->error != 0) {
        return 0;
    }
    /* A sheet has no shorter rows (a missing cell is an empty one), so
     * the CSV reader's "fewer fields" sign becomes a lone value (a count,
     * a sum under its column) under a header at least three columns wide. */
    if (s->hn >= 3 && rec->filled == 1) {
        return 1;
    }
    if (rec->filled < 3 || rec->filled * 2 <= s->hn) {
        for (size_t i = 0; i < rec->n; i++) {
            if (ds__read_trailer_word(rec->cells.data + rec->offs[i], rec->lens[i])) {
                return 1;
            }
        }
    }
    return 0;
}

/* Is the held row at the front of the queue data? 0 when it and all that
 * follow it up to the end of the sheet look like trailers. */
static int held_is_data(struct sheet *s)
{
    for (size_t i = 0;; i++) {
        if (i == s->qlen) {
            if (s->qlen >= SHEET_HOLD || read_ahead(s) == 0) {
                return s->qlen >= SHEET_HOLD || s->deferred != 0;
            }
        }
        if (!maybe_trailer(s, q_at(s, i))) {
            return 1;
        }
    }
}

static void skip_title(struct sheet *s, const char *why)
{
    struct srec *rec = q_pop(s);

    s->r->dialect.title_lines++;
    ds__read_notice(s->r, DS_READ_NOTICE_TITLE, rec->line, 0, "%s (%zu value(s))", why,
                    rec->filled);
}

/* Leaves the header at the front of the queue, the rows above it skipped. */
static int find_header(struct sheet *s, long hint_line, struct ds_error *err)
{
    size_t mode = 0;
    size_t mode_count = 0;

    while (s->qlen < SHEET_SAMPLE && read_ahead(s) > 0) {
    }
    if (hint_line > 0) {
        for (;;) {
            if (s->qlen == 0 && read_ahead(s) == 0) {
                break;
            }
            if (q_at(s, 0)->line >= hint_line) {
                break;
            }
            skip_title(s, "row above the configured header skipped");
        }
    }
    if (s->qlen == 0 && s->deferred != 0) {
        if (err != NULL) {
            *err = s->deferred_err;
        }
        return s->deferred;
    }
    if (s->qlen == 0) {
        return hint_line > 0 ? ds__read_fail(err, DS_EPARSE, s->path, 0, "header_line",
                                             "%s: no row %ld in the sheet", s->what, hint_line)
                             : ds__read_fail(err, DS_EPARSE, s->path, 0, NULL,
                                             "%s: no header row (the sheet is empty)", s->what);
    }
    if (hint_line > 0) {
        if (q_at(s, 0)->line != hint_line) {
            return ds__read_fail(err, DS_EPARSE, s->path, 0, "header_line",
                                 "%s: sheet row %ld is empty, it cannot be the header", s->what,
                                 hint_line);
        }
        return 0;
    }
    /* The most common width (ties: the wider); leading rows at most half
     * as wide are titles. */
    for (size_t i = 0; i < s->qlen; i++) {
        size_t same = 0;

        for (size_t j = 0; j < s->qlen; j++) {
            same += q_at(s, j)->width == q_at(s, i)->width;
        }
        if (same > mode_count || (same == mode_count && q_at(s, i)->width > mode)) {
            mode = q_at(s, i)->width;
            mode_count = same;
        }
    }
    while (s->qlen > 1 && q_at(s, 0)->width * 2 <= mode && q_at(s, 0)->error == 0) {
        skip_title(s, "title row above the header skipped");
    }
    return 0;
}

/* Moves the row at the front of the queue into the header storage. */
static int keep_header(struct sheet *s)
{
    struct srec *rec = q_pop(s);
    int rc;

    s->hn = rec->width;
    s->hlens = ds_calloc(s->hn + 1, sizeof(*s->hlens));
    s->hptrs = ds_calloc(s->hn + 1, sizeof(*s->hptrs));
    if (s->hlens == NULL || s->hptrs == NULL) {
        return DS_ENOMEM;
    }
    rc = ds_buf_append(&s->hcells, rec->cells.data, rec->cells.len);
    if (rc == 0) {
        rc = ds_buf_append(&s->hraw, rec->raw.data != NULL ? rec->raw.data : "", rec->raw.len);
    }
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < s->hn; i++) {
        s->hlens[i] = rec->lens[i];
        s->hptrs[i] = s->hcells.data + rec->offs[i];
    }
    s->r->dialect.header_line = rec->line;
    s->r->header.nfields = s->hn;
    s->r->header.fields = s->hptrs;
    s->r->header.lens = s->hlens;
    s->r->header.row = 0;
    s->r->header.line = rec->line;
    s->r->header.raw = s->hraw.data != NULL ? s->hraw.data : "";
    s->r->header.raw_len = s->hraw.len;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The reader's operations                                                  */

int ds__read_sheet_open(struct ds_reader *r, const char *path, const char *what,
                        const struct ds_read_hints *hints, void *src, ds__sheet_pull_fn pull,
                        ds__sheet_free_fn free_src, struct ds_error *err)
{
    struct sheet *s = NULL;
    int rc;

    s = ds_calloc(1, sizeof(*s));
    if (s == NULL) {
        free_src(src);
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    s->r = r;
    s->what = what;
    s->src = src;
    s->pull = pull;
    s->free_src = free_src;
    s->keep_trailers = hints != NULL && hints->keep_trailers;
    ds_buf_init(&s->hcells, SHEET_ROW_MAX);
    ds_buf_init(&s->hraw, SHEET_RAW_MAX);
    s->path = ds_strdup(path);
    if (s->path == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < SHEET_NRECS; i++) {
        ds_buf_init(&s->recs[i].cells, SHEET_ROW_MAX);
        ds_buf_init(&s->recs[i].raw, SHEET_RAW_MAX);
        s->recs[i].offs = ds_calloc(DS_READ_MAX_FIELDS, sizeof(size_t));
        s->recs[i].lens = ds_calloc(DS_READ_MAX_FIELDS, sizeof(size_t));
        if (s->recs[i].offs == NULL || s->recs[i].lens == NULL) {
            rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
            goto out;
        }
    }
    rc = find_header(s, hints != NULL ? hints->header_line : 0, err);
    if (rc != 0) {
        goto out;
    }
    if (q_at(s, 0)->error != 0) {
        rc = ds__read_fail(err, DS_ETOOBIG, path, 0, NULL, "%s: the header row (sheet row %ld): %s",
                           what, q_at(s, 0)->line, q_at(s, 0)->error_msg);
        goto out;
    }
    rc = keep_header(s);
    if (rc != 0) {
        rc = ds__read_fail(err, rc, path, 0, NULL, "out of memory");
        goto out;
    }
    r->ops = &sheet_ops;
    r->impl = s;
    s = NULL;
out:
    sheet_close(s);
    return rc;
}

/* The next row from the queue or the reader: 1, 0 at the end, or an
 * error (a deferred one once the queue is empty). */
static int fetch(struct sheet *s, struct srec **out, struct ds_error *err)
{
    int rc;

    if (s->qlen == 0 && s->deferred != 0) {
        if (err != NULL) {
            *err = s->deferred_err;
        }
        return s->deferred;
    }
    if (s->qlen == 0) {
        rc = pull_filled(s, err);
        if (rc <= 0) {
            return rc;
        }
    }
    *out = q_pop(s);
    return 1;
}

/* Fits a data row to the header: empty cells past its last value and the
 * header's width go, missing ones up to the header's width are empty
 * fields; numbers it and notes a row still wider than the header. */
static void frame_row(struct sheet *s, struct srec *rec)
{
    if (rec->n > s->hn) {
        rec->n = rec->width > s->hn ? rec->width : s->hn;
    }
    for (size_t i = 0; i < rec->n; i++) {
        s->ptrs[i] = rec->cells.data + rec->offs[i];
    }
    for (size_t i = rec->n; i < s->hn; i++) {
        rec->lens[i] = 0;
        s->ptrs[i] = "";
    }
    if (rec->n < s->hn) {
        rec->n = s->hn;
    }
    s->nrows++;
    if (rec->n > s->hn) {
        s->r->dialect.ragged_rows++;
        ds__read_notice(s->r, DS_READ_NOTICE_RAGGED, rec->line, s->nrows,
                        "row has %zu field(s), the header %zu", rec->n, s->hn);
    }
}

static int sheet_next(void *impl, struct ds_row *row, struct ds_error *err)
{
    struct sheet *s = impl;
    struct srec *rec = NULL;
    int rc;

    if (s->failed != 0) {
        return ds__read_fail(err, s->failed, s->path, s->nrows + 1, NULL,
                             "reading stopped after an earlier error");
    }
    rc = fetch(s, &rec, err);
    if (rc < 0) {
        s->failed = rc;
        if (err != NULL) {
            err->row = s->nrows + 1;
        }
        return rc;
    }
    if (rc == 0 || rec == NULL) {
        return 0;
    }
    if (maybe_trailer(s, rec)) {
        /* Hold it: put it back at the front while looking ahead. */
        s->head = (s->head + SHEET_NRECS - 1) % SHEET_NRECS;
        s->qlen++;
        if (!held_is_data(s)) {
            while (s->qlen > 0) {
                rec = q_pop(s);
                s->r->dialect.trailer_lines++;
                ds__read_notice(s->r, DS_READ_NOTICE_TRAILER, rec->line, 0,
                                "trailer or totals row skipped (%zu field(s), %zu with a value)",
                                rec->width, rec->filled);
            }
            return 0;
        }
        rec = q_pop(s);
    }
    if (rec->error != 0) {
        /* Cut at a cap: the fields before it, as they came. */
        for (size_t i = 0; i < rec->n; i++) {
            s->ptrs[i] = rec->cells.data + rec->offs[i];
        }
        s->nrows++;
        row->error = rec->error;
        row->error_field = rec->error_field;
        row->error_msg = rec->error_msg;
    }
    else {
        frame_row(s, rec);
    }
    row->nfields = rec->n;
    row->fields = s->ptrs;
    row->lens = rec->lens;
    row->row = s->nrows;
    row->line = rec->line;
    row->raw = rec->raw.data != NULL ? rec->raw.data : "";
    row->raw_len = rec->raw.len;
    return 1;
}

static void sheet_close(void *impl)
{
    struct sheet *s = impl;

    if (s == NULL) {
        return;
    }
    if (s->free_src != NULL) {
        s->free_src(s->src);
    }
    for (size_t i = 0; i < SHEET_NRECS; i++) {
        ds_buf_close(&s->recs[i].cells);
        ds_buf_close(&s->recs[i].raw);
        ds_free(s->recs[i].offs);
        ds_free(s->recs[i].lens);
    }
    ds_buf_close(&s->hcells);
    ds_buf_close(&s->hraw);
    ds_free(s->hlens);
    ds_free(s->hptrs);
    ds_free(s->path);
    ds_free(s);
}
