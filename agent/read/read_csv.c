/*
 * read_csv.c — the delimited-text reader (CSV, TSV, ';' and '|' files),
 * built on libcsv's streaming parser over the text source of
 * read_encoding.c (which hands over UTF-8 whatever the file's encoding).
 *
 * libcsv pushes fields and row ends through callbacks, while
 * ds_read_next_row pulls one row at a time. The two meet by feeding libcsv
 * one physical line piece at a time: the bytes up to and including the
 * next CR or LF, or up to the end of the current 64 KiB block. libcsv ends
 * a row only on a CR or LF, so each feed completes at most one record, and
 * the reader stops feeding as soon as one is complete.
 *
 * Most records need none of libcsv's state across blocks: every field is
 * unquoted, or quoted and closed within the same block (line breaks inside
 * the quotes included). fast_line splits those itself, with the results
 * libcsv would give, and hands the rest (stray quotes, text after a
 * closing quote, records cut by the block edge) to libcsv at a record
 * boundary, where libcsv holds no state. This more than doubles the speed
 * on ordinary exports.
 *
 * Records are parsed into a small ring of slots (CSV_NRECS). Two things
 * need a few records ahead, and only these:
 *   - the header: the first CSV_SAMPLE records are read at open; leading
 *     records much narrower than the rest (at most half as many values as
 *     the most common width) are titles or report lines and are skipped
 *     with a notice; the next one is the header (a header_line hint names
 *     it instead);
 *   - trailers: a record that looks like a trailer (fewer fields than the
 *     header with at most half of them filled, or a few values one of
 *     which starts with a word like "total", "records", "count", "end of")
 *     is held while more are read: if only such records follow up to the
 *     end of the file, they are trailers, skipped with a notice each;
 *     otherwise they are data, returned in order. At most CSV_HOLD are
 *     held; more than that cannot be a trailer.
 * Memory stays flat: the ring, one 64 KiB block, and each slot's capped
 * field and raw-text buffers.
 *
 * What else the reader does:
 *   - the quote is the hint, else the one of " ~ ' that opens and closes
 *     fields most often in the first block (" when none does);
 *   - the delimiter is the hint, else the one of , ; TAB | whose count per
 *     line (outside quotes) is the same on the most lines of the first
 *     block (ties: the higher count, then that order; none: ',');
 *   - quoted fields may hold delimiters, doubled quotes and line breaks;
 *     CRLF, LF and CR all end a line; unquoted fields lose leading and
 *     trailing spaces and tabs (libcsv's default); a stray quote inside an
 *     unquoted field is kept as text; a quote left open at the end of the
 *     file is an error naming the line where its row starts;
 *   - a record whose fields are all empty is blank: skipped, not numbered,
 *     counted in the dialect;
 *   - a data row with more or fewer fields than the header is returned as
 *     it is, with a notice;
 *   - a NUL byte in a field is an error (the text source has already made
 *     sure everything else is valid UTF-8);
 *   - a record over a cap (a field longer than DS_READ_MAX_FIELD, more
 *     than DS_READ_MAX_FIELDS fields, more than CSV_ROW_MAX bytes of
 *     fields) keeps the fields before the one over the cap and is read to
 *     its end without keeping more: the fields that follow are dropped as
 *     libcsv hands them over, and the field libcsv is collecting is cut
 *     back after each piece (trim_pending), so its buffer stays near one
 *     block whatever the length of the field. The record is returned with
 *     ds_row.error set; only a quote left open to the end of the file, where
 *     no end of the record is ever found, stops the file.
 *
 * Invariants: row numbers count returned data rows only, so they are stable
 * across re-reads of the same bytes; line is the physical line (1-based) on
 * which the record's first byte lies; after an error the reader stays
 * failed and returns the same code.
 */
#include "agent/read/read_int.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"

#include <csv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_BLOCK ((size_t)64 * 1024)         /* decoded bytes fed at a time */
#define CSV_ROW_MAX ((size_t)4 * 1024 * 1024) /* bytes of one row's fields together */
#define CSV_RAW_MAX ((size_t)64 * 1024)       /* bytes of a row's raw text kept; the rest is cut */
#define CSV_HOLD 16                           /* records held ahead at most */
#define CSV_NRECS (CSV_HOLD + 2)              /* slots: held, being parsed, returned */
#define CSV_SAMPLE 12                         /* records looked at to find the header */
#define CSV_SNIFF_LINES 64                    /* lines looked at to sniff the delimiter */

/* One record (physical row) as parsed. */
struct rec {
    long line;                       /* line on which it starts */
    size_t n;                        /* number of fields */
    size_t filled;                   /* fields that are not empty */
    size_t width;                    /* index of the last non-empty field + 1 */
    int has_nul;                     /* a field holds a NUL byte (libcsv path only) */
    int error;                       /* enum ds_read_row_error: the cap it broke, or 0 */
    size_t error_field;              /* the field over the cap (1-based), or 0 */
    char error_msg[96];              /* which cap, without values */
    struct ds_buf cells;             /* the fields, each followed by a NUL */
    struct ds_buf raw;               /* the record's text, capped */
    size_t offs[DS_READ_MAX_FIELDS]; /* field offsets in cells */
    size_t lens[DS_READ_MAX_FIELDS]; /* field lengths */
};

struct csv_reader {
    struct ds_reader *r;                  /* borrow: for notices and the dialect */
    struct ds__read_src *src;             /* owned: the decoded text */
    char *path;                           /* owned: for error reports */
    int delim;                            /* the delimiter in use */
    int quote;                            /* the quote in use */
    int keep_trailers;                    /* the hint: never take a trailer */
    int no_raw;                           /* the hint: data rows without their raw text */
    struct csv_parser parser;             /* libcsv state */
    int parser_live;                      /* parser needs csv_free */
    unsigned char *block;                 /* owned: CSV_BLOCK decoded bytes and a sentinel */
    unsigned char cls[256];               /* byte classes for fast_line */
    size_t blen;                          /* bytes in block */
    size_t bpos;                          /* next byte to feed */
    int eof;                              /* the source reported the end */
    int finished;                         /* csv_fini has run */
    long line;                            /* physical line of the next byte */
    int prev_cr;                          /* the last byte fed was a CR */
    struct rec *recs;                     /* owned: CSV_NRECS slots */
    unsigned char busy[CSV_NRECS];        /* slot is held, parsed into or returned */
    int q[CSV_NRECS];                     /* held records, oldest first (ring) */
    size_t qhead;                         /* first entry of q */
    size_t qlen;                          /* entries in q */
    int out;                              /* slot returned last, or -1 */
    struct rec *cur;                      /* slot being parsed into */
    int in_row;                           /* a record has begun */
    int row_done;                         /* libcsv ended the record */
    int cb_rc;                            /* first error raised in a callback */
    const char *cb_msg;                   /* its description */
    int at_end;                           /* no record left in the file */
    int deferred;                         /* an error met while reading ahead, or 0 */
    struct ds_error deferred_err;         /* its details */
    size_t bad_field;                     /* field of a NUL error (SIZE_MAX: none) */
    long nrows;                           /* data rows returned */
    int failed;                           /* the error that stopped reading, or 0 */
    const char *ptrs[DS_READ_MAX_FIELDS]; /* field pointers of the returned row */
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
/* Sniffing                                                                 */

static int is_sep(unsigned char ch)
{
    return ch == ',' || ch == ';' || ch == '\t' || ch == '|' || ch == '\r' || ch == '\n';
}

/* The quote character that opens and closes fields most often in p[0..n). */
static int sniff_quote(const unsigned char *p, size_t n)
{
    static const int cand[] = {'"', '~', '\''};
    size_t best_score = 0;
    int best = '"';

    for (size_t k = 0; k < sizeof(cand) / sizeof(cand[0]); k++) {
        size_t opens = 0;
        size_t closes = 0;
        size_t score;

        for (size_t i = 0; i < n; i++) {
            if (p[i] != cand[k]) {
                continue;
            }
            opens += i == 0 || is_sep(p[i - 1]);
            closes += i + 1 == n || is_sep(p[i + 1]);
        }
        score = opens < closes ? opens : closes;
        if (score > best_score && (cand[k] != '\'' || score >= 2)) {
            best_score = score;
            best = cand[k];
        }
    }
    return best;
}

/* The delimiter whose per-line count (outside quotes) repeats on the most
 * lines of p[0..n); complete says the last line is whole. */
static int sniff_delimiter(const unsigned char *p, size_t n, int quote, int complete)
{
    static const int cand[] = {',', ';', '\t', '|'};
    unsigned counts[CSV_SNIFF_LINES][4];
    unsigned cur[4] = {0, 0, 0, 0};
    size_t lines = 0;
    size_t best_score = 0;
    unsigned best_count = 0;
    int best = ',';
    int quoted = 0;
    int content = 0;

    for (size_t i = 0; i <= n && lines < CSV_SNIFF_LINES; i++) {
        int end = i == n;

        if (!end && p[i] == quote) {
            quoted = !quoted;
            content = 1;
            continue;
        }
        if (!end && quoted) {
            continue;
        }
        if (end || p[i] == '\r' || p[i] == '\n') {
            if (content && (!end || complete)) {
                memcpy(counts[lines++], cur, sizeof(cur));
            }
            memset(cur, 0, sizeof(cur));
            content = 0;
            continue;
        }
        for (int k = 0; k < 4; k++) {
            cur[k] += p[i] == cand[k];
        }
        if (p[i] != ' ' && p[i] != '\t') {
            content = 1;
        }
    }
    for (int k = 0; k < 4; k++) {
        for (size_t a = 0; a < lines; a++) {
            size_t same = 0;

            if (counts[a][k] == 0) {
                continue;
            }
            for (size_t b = 0; b < lines; b++) {
                same += counts[b][k] == counts[a][k];
            }
            if (same > best_score || (same == best_score && counts[a][k] > best_count)) {
                best_score = same;
                best_count = counts[a][k];
                best = cand[k];
            }
        }
    }
    return best;
}

/* Checks the hints; fills *delim and *quote (0: sniff). */
static int check_hints(const char *path, const struct ds_read_hints *h, int *delim, int *quote,
                       struct ds_error *err)
{
    *delim = 0;
    *quote = 0;
    if (h == NULL) {
        return 0;
    }
    if (h->quote != 0) {
        if (h->quote < 0x21 || h->quote > 0x7e) {
            return ds__read_fail(err, DS_EINVAL, path, 0, "quote", "not a usable quote character");
        }
        *quote = h->quote;
    }
    if (h->delimiter != 0) {
        if ((h->delimiter != '\t' && (h->delimiter < 0x20 || h->delimiter > 0x7e)) ||
            h->delimiter == (*quote != 0 ? *quote : '"')) {
            return ds__read_fail(err, DS_EINVAL, path, 0, "delimiter", "not a usable delimiter");
        }
        *delim = h->delimiter;
    }
    if (h->header_line < 0) {
        return ds__read_fail(err, DS_EINVAL, path, 0, "header_line", "not a line number");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* libcsv callbacks                                                         */

/* Marks the record as over a cap (the first one it breaks is kept): what
 * follows of it is dropped. */
static void rec_cut(struct rec *rec, int error, size_t field)
{
    if (rec->error != 0) {
        return;
    }
    rec->error = error;
    rec->error_field = field;
    ds__read_row_msg(rec->error_msg, sizeof(rec->error_msg), error, field, CSV_ROW_MAX);
}

static void on_field(void *s, size_t len, void *data)
{
    struct csv_reader *c = data;
    struct rec *rec = c->cur;
    int rc;

    if (c->cb_rc != 0 || rec->error != 0) {
        return;
    }
    if (rec->n >= DS_READ_MAX_FIELDS) {
        rec_cut(rec, DS_READ_ROW_TOO_MANY_COLUMNS, (size_t)DS_READ_MAX_FIELDS + 1);
        return;
    }
    if (len > (size_t)DS_READ_MAX_FIELD) {
        rec_cut(rec, DS_READ_ROW_FIELD_TOO_LONG, rec->n + 1);
        return;
    }
    rec->offs[rec->n] = rec->cells.len;
    rec->lens[rec->n] = len;
    if (len > 0 && memchr(s, '\0', len) != NULL) {
        rec->has_nul = 1;
    }
    rc = ds_buf_append(&rec->cells, s, len);
    if (rc == 0) {
        rc = ds_buf_append(&rec->cells, "", 1);
    }
    if (rc == DS_ETOOBIG) {
        rec->cells.len = rec->offs[rec->n]; /* the field did not fit: not kept */
        if (rec->cells.data != NULL) {
            rec->cells.data[rec->cells.len] = '\0';
        }
        rec_cut(rec, DS_READ_ROW_TOO_LARGE, rec->n + 1);
        return;
    }
    if (rc != 0) {
        c->cb_rc = rc;
        c->cb_msg = "out of memory";
        return;
    }
    rec->n++;
    if (len > 0) {
        rec->filled++;
        rec->width = rec->n;
    }
}

static void on_row(int term, void *data)
{
    struct csv_reader *c = data;

    (void)term;
    if (!c->in_row) {
        c->in_row = 1;
        c->cur->line = c->line;
    }
    c->row_done = 1;
}

/* ------------------------------------------------------------------------ */
/* Feeding                                                                  */

/* Fills the block with decoded text. Sets eof when the source has no more. */
static int fill_block(struct csv_reader *c, struct ds_error *err)
{
    ssize_t k;

    c->bpos = 0;
    c->blen = 0;
    while (!c->eof && CSV_BLOCK - c->blen >= 64) {
        k = ds__read_src_read(c->src, c->block + c->blen, CSV_BLOCK - c->blen);
        if (k < 0 && c->blen > 0) {
            break; /* the source stays failed: reported at the next fill */
        }
        if (k < 0) {
            return ds__read_fail(err, (int)k, c->path, c->nrows + 1, NULL,
                                 "%s at line %ld (byte offset %lld)", ds__read_src_what(c->src),
                                 c->line, ds__read_src_offset(c->src));
        }
        if (k == 0) {
            c->eof = 1;
            break;
        }
        c->blen += (size_t)k;
    }
    c->block[c->blen] = '\n'; /* the sentinel fast_line relies on */
    /* The source may have turned from UTF-8 to Windows-1252. */
    snprintf(c->r->dialect.encoding, sizeof(c->r->dialect.encoding), "%s",
             ds__read_src_encoding(c->src, NULL));
    return 0;
}

/* Does the piece hold something that begins a record (not only blanks)? */
static int has_content(const struct csv_reader *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == c->delim || (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')) {
            return 1;
        }
    }
    return 0;
}

static void raw_append(struct csv_reader *c, const unsigned char *p, size_t n)
{
    struct ds_buf *raw = &c->cur->raw;
    size_t room = raw->max - raw->len;

    if (c->no_raw) {
        return; /* past the header, for a caller that never shows it */
    }
    /* The raw text is for error reports: past the cap it is cut, which is
     * not an error. Allocation failure leaves it short as well. */
    (void)ds_buf_append(raw, p, n < room ? n : room);
}

/* The end of the line piece starting at p: one past the first CR or LF, or
 * end when there is none. */
static const unsigned char *piece_end(const unsigned char *p, const unsigned char *end)
{
    while (p < end) {
        if (*p == '\n' || *p == '\r') {
            return p + 1;
        }
        p++;
    }
    return end;
}

/* Makes room for need bytes in the record's cells. 0, or -1 past the cap. */
static int cells_reserve(struct rec *rec, size_t need)
{
    struct ds_buf *b = &rec->cells;
    size_t cap;
    char *p;

    if (need + 1 <= b->cap) {
        return 0;
    }
    if (need > b->max) {
        return -1;
    }
    cap = b->cap != 0 ? b->cap : 256;
    while (cap < need + 1) {
        cap *= 2;
    }
    p = ds_realloc(b->data, cap);
    if (p == NULL) {
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Byte classes for the fast path. */
enum { B_TEXT = 0, B_DELIM, B_QUOTE, B_CR, B_LF, B_NUL };

#define FAST_DQ_MAX 16 /* fields with doubled quotes the fast path takes in one record */

/* The fast path: parses one whole record that needs nothing of libcsv's
 * state across blocks — every field either unquoted and free of the quote
 * character, or quoted and closed in this block, its line breaks kept as
 * text (the record's physical lines are counted) — with the
 * same results libcsv gives (spaces around unquoted fields and outside
 * quotes dropped, doubled quotes, a line of spaces is no record). One pass
 * over the bytes with a class table finds the fields (the block ends with
 * an LF sentinel so the inner loops need no bounds check); the record is
 * then copied with one memcpy and cut in place. Returns 1 when it consumed the
 * line (*got: 1 a record is in c->cur, 0 the line was blank), 0 when the
 * line must go through libcsv (nothing consumed). */
static int fast_line(struct csv_reader *c, int *got)
{
    const unsigned char *cls = c->cls;
    const unsigned char *p = c->block + c->bpos;
    const unsigned char *end = c->block + c->blen;
    const unsigned char *i = p;
    const unsigned char *eol;
    struct rec *rec = c->cur;
    size_t n = 0;
    size_t filled = 0;
    size_t width = 0;
    long breaks = 0;        /* line breaks inside quoted fields */
    size_t dq[FAST_DQ_MAX]; /* the fields holding doubled quotes */
    size_t ndq = 0;
    size_t room = (size_t)(end - p);
    char *data;
    unsigned char k;

    if (c->prev_cr && *p == '\n') {
        return 0; /* the LF of a CRLF cut by the block edge */
    }
    /* First the bytes are only looked at: where each field starts and
     * ends in the block. Only a record that passes is copied (below). */
    for (;;) {
        const unsigned char *fs;
        const unsigned char *fe;

        if (n >= DS_READ_MAX_FIELDS) {
            return 0;
        }
        while (*i <= ' ' && (*i == ' ' || *i == '\t') && *i != c->delim) {
            i++;
        }
        if (cls[*i] == B_QUOTE) {
            fs = ++i;
            for (;;) {
                while (cls[*i] == B_TEXT || cls[*i] == B_DELIM) {
                    i++;
                }
                if (*i == c->quote && i[1] == c->quote) {
                    if (ndq == 0 || dq[ndq - 1] != n) {
                        if (ndq == FAST_DQ_MAX) {
                            return 0;
                        }
                        dq[ndq++] = n;
                    }
                    i += 2;
                    continue;
                }
                if ((*i != '\r' && *i != '\n') || i == end) {
                    break;
                }
                /* A line break inside the quotes is text, as libcsv keeps
                 * it; CRLF is one line. Its end must be in this block. */
                if (*i == '\n' || i[1] != '\n') {
                    breaks++;
                }
                i++;
            }
            if (*i != c->quote) {
                return 0; /* closed in a later block, or never; or a NUL */
            }
            fe = i++;
            while ((*i == ' ' || *i == '\t') && *i != c->delim) {
                i++;
            }
            k = cls[*i];
            if (k != B_DELIM && k != B_CR && k != B_LF) {
                return 0; /* text after the closing quote */
            }
        }
        else {
            fs = i;
            /* Four bytes a step while they are all text: fewer branches
             * and increments per byte. */
            while (cls[i[0]] == B_TEXT && cls[i[1]] == B_TEXT && cls[i[2]] == B_TEXT &&
                   cls[i[3]] == B_TEXT) {
                i += 4;
            }
            while ((k = cls[*i]) == B_TEXT) {
                i++;
            }
            if (k == B_QUOTE || k == B_NUL) {
                return 0; /* a stray quote (libcsv keeps it as text), or a NUL */
            }
            fe = i;
            while (fe > fs && fe[-1] <= ' ' && (fe[-1] == ' ' || fe[-1] == '\t') &&
                   fe[-1] != c->delim) {
                fe--;
            }
        }
        /* With doubled quotes this is more than the value's length: such
         * a field near the cap goes to libcsv, which says exactly. */
        if ((size_t)(fe - fs) > (size_t)DS_READ_MAX_FIELD) {
            return 0;
        }
        rec->offs[n] = (size_t)(fs - p);
        rec->lens[n++] = (size_t)(fe - fs);
        if (fe > fs) {
            filled++;
            width = n;
        }
        if (k != B_DELIM) {
            break;
        }
        i++; /* a line ending in a delimiter has an empty last field */
    }
    /* i is on the CR or LF that ends the line, or on the sentinel. */
    eol = i;
    if (eol == end && !c->eof) {
        return 0; /* the line goes on in the next block */
    }
    if (*eol == '\r' && eol + 1 == end && !c->eof) {
        return 0; /* its LF may be in the next block */
    }
    if (n == 1 && filled == 0 && rec->lens[0] == 0 && c->quote != *p) {
        const unsigned char *j = p;

        while (j < eol && (*j == ' ' || *j == '\t')) {
            j++;
        }
        if (j == eol) {
            *got = 0; /* only spaces: libcsv makes no record of it */
            goto consumed;
        }
    }
    /* The record's text is copied at once and each field cut in place: a
     * NUL where it ends (on the delimiter, a space, the closing quote or
     * the line's end, never inside another field), doubled quotes made
     * one. */
    if (cells_reserve(rec, room + 1) != 0) {
        return 0;
    }
    data = rec->cells.data;
    memcpy(data, p, (size_t)(eol - p));
    for (size_t f = 0; f < n; f++) {
        data[rec->offs[f] + rec->lens[f]] = '\0';
    }
    for (size_t d = 0; d < ndq; d++) {
        char *v = data + rec->offs[dq[d]];
        size_t len = rec->lens[dq[d]];
        size_t w = 0;

        for (size_t r = 0; r < len; r++) {
            v[w++] = v[r];
            if (v[r] == (char)c->quote) {
                r++; /* inside quotes, every quote is one of a pair */
            }
        }
        v[w] = '\0';
        rec->lens[dq[d]] = w;
    }
    rec->n = n;
    rec->filled = filled;
    rec->width = width;
    rec->cells.len = (size_t)(eol - p) + 1;
    rec->line = c->line;
    ds_buf_reset(&rec->raw);
    raw_append(c, p, (size_t)(eol - p));
    *got = 1;
consumed:
    c->line += breaks;
    if (eol < end) {
        c->line++;
        eol += *eol == '\r' && eol + 1 < end && eol[1] == '\n' ? 2 : 1;
    }
    c->bpos = (size_t)(eol - c->block);
    c->prev_cr = 0;
    return 1;
}

/* In a record over a cap, cuts back the field libcsv is collecting (its
 * bytes are dropped anyway) so that its buffer cannot grow with the field.
 * What libcsv's next steps depend on is kept: whether spaces followed the
 * field's text or a closing quote (spaces zero or not), and enough bytes
 * that dropping those spaces and the quote (entry_pos -= spaces + 1) stays
 * inside the buffer. These members are part of csv.h's public struct. */
static void trim_pending(struct csv_parser *p)
{
    if (p->entry_pos <= 4096) {
        return;
    }
    p->spaces = p->spaces > 0 ? 1 : 0;
    p->entry_pos = p->spaces + 1;
}

/* Feeds libcsv until it completes a record in c->cur. 1: a record is
 * complete; 0: the file ended with no further record; negative: error. */
static int feed_row(struct csv_reader *c, struct ds_error *err)
{
    struct rec *rec = c->cur;
    const unsigned char *p;
    size_t n;
    size_t done;
    int rc;

    c->in_row = 0;
    c->row_done = 0;
    rec->n = 0;
    rec->filled = 0;
    rec->width = 0;
    rec->has_nul = 0;
    rec->error = 0;
    rec->error_field = 0;
    rec->error_msg[0] = '\0';
    ds_buf_reset(&rec->cells);
    ds_buf_reset(&rec->raw);
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
                return ds__read_fail(err, DS_EPARSE, c->path, c->nrows + 1, NULL,
                                     "quoted field not closed at the end of the file (row "
                                     "starts at line %ld)",
                                     rec->line);
            }
            break;
        }
        if (!c->in_row) {
            int got = 0;

            if (fast_line(c, &got)) {
                if (got) {
                    return 1;
                }
                continue;
            }
            rec->n = 0;
            rec->filled = 0;
            rec->width = 0;
            ds_buf_reset(&rec->cells);
        }
        p = c->block + c->bpos;
        n = (size_t)(piece_end(p, c->block + c->blen) - p);
        if (!c->in_row && has_content(c, p, n)) {
            c->in_row = 1;
            rec->line = c->line;
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
            return ds__read_fail(err, rc, c->path, c->nrows + 1, NULL,
                                 "CSV parser failed at line %ld", rec->line);
        }
        if (c->cb_rc != 0) {
            break;
        }
        /* libcsv buffers a field until it ends: a field already over the
         * cap cuts the record, and the buffer is kept from growing. */
        if (c->parser.entry_pos > (size_t)DS_READ_MAX_FIELD + 1) {
            rec_cut(rec, DS_READ_ROW_FIELD_TOO_LONG, rec->n + 1);
        }
        if (rec->error != 0) {
            trim_pending(&c->parser);
        }
        if (c->row_done) {
            break;
        }
    }
    if (c->cb_rc != 0) {
        return ds__read_fail(err, c->cb_rc, c->path, c->nrows + 1, NULL,
                             "%s (row starts at line %ld)", c->cb_msg, rec->line);
    }
    return c->row_done ? 1 : 0;
}

/* A free slot (one always exists: at most CSV_HOLD are held). */
static int slot_take(struct csv_reader *c)
{
    for (int i = 0; i < CSV_NRECS; i++) {
        if (!c->busy[i]) {
            c->busy[i] = 1;
            return i;
        }
    }
    return -1;
}

/* Reads the next record that is not blank from the file into a new slot.
 * 1 (*idx set), 0 at the end, or an error. */
static int read_raw(struct csv_reader *c, int *idx, struct ds_error *err)
{
    struct rec *rec;
    int slot = slot_take(c);
    int rc;

    if (slot < 0) {
        return ds__read_fail(err, DS_ETOOBIG, c->path, c->nrows + 1, NULL, "too many records held");
    }
    rec = &c->recs[slot];
    c->cur = rec;
    for (;;) {
        rc = feed_row(c, err);
        if (rc <= 0) {
            c->busy[slot] = 0;
            return rc;
        }
        if (rec->filled > 0 || rec->error != 0) {
            break;
        }
        c->r->dialect.blank_lines++;
    }
    while (rec->raw.len > 0 &&
           (rec->raw.data[rec->raw.len - 1] == '\n' || rec->raw.data[rec->raw.len - 1] == '\r')) {
        rec->raw.data[--rec->raw.len] = '\0';
    }
    for (size_t i = 0; rec->has_nul && i < rec->n; i++) {
        if (memchr(rec->cells.data + rec->offs[i], '\0', rec->lens[i]) != NULL) {
            c->busy[slot] = 0;
            c->bad_field = i;
            return ds__read_fail(err, DS_EPARSE, c->path, c->nrows + 1,
                                 i < c->hn ? c->hptrs[i] : NULL,
                                 "contains a NUL byte at line %ld (binary data?)", rec->line);
        }
    }
    *idx = slot;
    return 1;
}

static void q_push(struct csv_reader *c, int idx)
{
    c->q[(c->qhead + c->qlen) % CSV_NRECS] = idx;
    c->qlen++;
}

static int q_pop(struct csv_reader *c)
{
    int idx = c->q[c->qhead];

    c->qhead = (c->qhead + 1) % CSV_NRECS;
    c->qlen--;
    return idx;
}

static int q_at(const struct csv_reader *c, size_t i)
{
    return c->q[(c->qhead + i) % CSV_NRECS];
}

/* Reads one more record into the queue. 1, 0 at the end, or negative: the
 * error is kept (deferred) for when the queue is drained. */
static int read_ahead(struct csv_reader *c)
{
    int idx = -1;
    int rc;

    if (c->deferred != 0) {
        return c->deferred;
    }
    if (c->at_end) {
        return 0;
    }
    rc = read_raw(c, &idx, &c->deferred_err);
    if (rc < 0) {
        c->deferred = rc;
        return rc;
    }
    if (rc == 0) {
        c->at_end = 1;
        return 0;
    }
    q_push(c, idx);
    return 1;
}

/* The next record: held ones first. 1 (*idx), 0 at the end, or error. */
static int fetch(struct csv_reader *c, int *idx, struct ds_error *err)
{
    int rc;

    if (c->qlen == 0) {
        rc = read_ahead(c);
        if (rc < 0) {
            if (err != NULL) {
                *err = c->deferred_err;
                err->row = c->nrows + 1;
                if (c->bad_field < c->hn) {
                    (void)ds_str_copy(err->field, sizeof(err->field), c->hptrs[c->bad_field]);
                }
            }
            return rc;
        }
        if (rc == 0) {
            return 0;
        }
    }
    *idx = q_pop(c);
    return 1;
}

/* Could the record be a trailer (if nothing but such records follows)? */
static int maybe_trailer(const struct csv_reader *c, const struct rec *rec)
{
    if (c->keep_trailers || rec->error != 0) {
        return 0;
    }
    if (rec->n < c->hn && rec->filled * 2 <= c->hn) {
        return 1;
    }
    if (rec->filled < 3 || rec->filled * 2 <= c->hn) {
        for (size_t i = 0; i < rec->n; i++) {
            if (ds__read_trailer_word(rec->cells.data + rec->offs[i], rec->lens[i])) {
                return 1;
            }
        }
    }
    return 0;
}

/* Skips the held trailer records (all of them) with a notice each. */
static void drop_trailers(struct csv_reader *c, int first)
{
    int idx = first;

    for (;;) {
        ds__read_notice(c->r, DS_READ_NOTICE_TRAILER, c->recs[idx].line, 0,
                        "trailer or totals line skipped (%zu field(s), %zu with a value)",
                        c->recs[idx].n, c->recs[idx].filled);
        c->r->dialect.trailer_lines++;
        c->busy[idx] = 0;
        if (c->qlen == 0) {
            break;
        }
        idx = q_pop(c);
    }
}

/* ------------------------------------------------------------------------ */
/* The header                                                               */

/* Copies the record into the header storage. */
static int keep_header(struct csv_reader *c, const struct rec *rec)
{
    int rc;

    c->hlens = ds_calloc(rec->n, sizeof(*c->hlens));
    c->hptrs = ds_calloc(rec->n, sizeof(*c->hptrs));
    if (c->hlens == NULL || c->hptrs == NULL) {
        return DS_ENOMEM;
    }
    rc = ds_buf_append(&c->hcells, rec->cells.data, rec->cells.len);
    if (rc == 0) {
        rc = ds_buf_append(&c->hraw, rec->raw.data != NULL ? rec->raw.data : "", rec->raw.len);
    }
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < rec->n; i++) {
        c->hlens[i] = rec->lens[i];
        c->hptrs[i] = c->hcells.data + rec->offs[i];
    }
    c->hn = rec->n;
    return 0;
}

static void skip_title(struct csv_reader *c, int idx)
{
    ds__read_notice(c->r, DS_READ_NOTICE_TITLE, c->recs[idx].line, 0,
                    "title line above the header skipped (%zu field(s))", c->recs[idx].n);
    c->r->dialect.title_lines++;
    c->busy[idx] = 0;
}

/* Reads ahead and leaves the header at the front of the queue, the titles
 * before it skipped. */
static int find_header(struct csv_reader *c, long hint_line, struct ds_error *err)
{
    size_t width[CSV_SAMPLE];
    size_t mode = 0;
    size_t mode_count = 0;
    int rc;

    while (c->qlen < CSV_SAMPLE) {
        rc = read_ahead(c);
        if (rc <= 0) {
            break;
        }
    }
    if (c->qlen == 0 && c->deferred != 0) {
        if (err != NULL) {
            *err = c->deferred_err;
        }
        return c->deferred;
    }
    if (c->qlen == 0) {
        return ds__read_fail(err, DS_EPARSE, c->path, 0, NULL,
                             "no header row (the file is empty or blank)");
    }
    if (hint_line > 0) {
        for (;;) {
            if (c->qlen == 0 && read_ahead(c) <= 0) {
                return ds__read_fail(err, DS_EPARSE, c->path, 0, "header_line",
                                     "no row starts at the configured header line %ld", hint_line);
            }
            if (c->recs[q_at(c, 0)].line >= hint_line) {
                break;
            }
            skip_title(c, q_pop(c));
        }
        if (c->recs[q_at(c, 0)].line != hint_line) {
            return ds__read_fail(err, DS_EPARSE, c->path, 0, "header_line",
                                 "no row starts at the configured header line %ld", hint_line);
        }
        return 0;
    }
    /* The most common width (ties: the wider); leading records at most half
     * as wide are titles. */
    for (size_t i = 0; i < c->qlen; i++) {
        width[i] = c->recs[q_at(c, i)].width;
    }
    for (size_t i = 0; i < c->qlen; i++) {
        size_t same = 0;

        for (size_t j = 0; j < c->qlen; j++) {
            same += width[j] == width[i];
        }
        if (same > mode_count || (same == mode_count && width[i] > mode)) {
            mode = width[i];
            mode_count = same;
        }
    }
    while (c->qlen > 1 && c->recs[q_at(c, 0)].width * 2 <= mode && c->recs[q_at(c, 0)].error == 0) {
        skip_title(c, q_pop(c));
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The reader's operations                                                  */

int ds__read_csv_open(int fd, const char *path, const struct ds_read_hints *hints,
                      struct ds_reader *r, struct ds_error *err)
{
    struct csv_reader *c = NULL;
    struct rec *hrec;
    int delim;
    int quote;
    int hinted = 0;
    int idx;
    int rc;

    rc = check_hints(path, hints, &delim, &quote, err);
    if (rc != 0) {
        goto out;
    }
    c = ds_calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    c->r = r;
    c->out = -1;
    c->bad_field = SIZE_MAX;
    c->line = 1;
    c->keep_trailers = hints != NULL && hints->keep_trailers;
    ds_buf_init(&c->hcells, CSV_ROW_MAX);
    ds_buf_init(&c->hraw, CSV_RAW_MAX);
    c->path = ds_strdup(path);
    c->block = ds_malloc(CSV_BLOCK + 1);
    c->recs = ds_calloc(CSV_NRECS, sizeof(*c->recs));
    if (c->path == NULL || c->block == NULL || c->recs == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    for (int i = 0; i < CSV_NRECS; i++) {
        ds_buf_init(&c->recs[i].cells, CSV_ROW_MAX);
        ds_buf_init(&c->recs[i].raw, CSV_RAW_MAX);
    }
    rc = ds__read_src_open(fd, path, hints != NULL ? hints->encoding : NULL, &c->src, err);
    if (rc != 0) {
        goto out;
    }
    rc = fill_block(c, err);
    if (rc != 0) {
        goto out;
    }
    if (quote == 0) {
        quote = sniff_quote(c->block, c->blen);
    }
    if (delim == 0) {
        delim = sniff_delimiter(c->block, c->blen, quote, c->eof);
    }
    if (delim == quote) {
        rc = ds__read_fail(err, DS_EINVAL, path, 0, "quote", "the quote is the delimiter");
        goto out;
    }
    if (csv_init(&c->parser, CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    c->parser_live = 1;
    c->delim = delim;
    c->quote = quote;
    c->cls[(unsigned char)delim] = B_DELIM;
    c->cls[(unsigned char)quote] = B_QUOTE;
    c->cls['\r'] = B_CR;
    c->cls['\n'] = B_LF;
    c->cls[0] = B_NUL;
    csv_set_delim(&c->parser, (unsigned char)delim);
    csv_set_quote(&c->parser, (unsigned char)quote);
    csv_set_blk_size(&c->parser, 4096);
    r->dialect.format = "csv";
    r->dialect.delimiter = delim;
    r->dialect.quote = quote;
    rc = find_header(c, hints != NULL ? hints->header_line : 0, err);
    if (rc != 0) {
        goto out;
    }
    idx = q_pop(c);
    hrec = &c->recs[idx];
    if (hrec->error != 0) {
        rc = ds__read_fail(err, DS_ETOOBIG, path, 0, NULL, "header row (line %ld): %s", hrec->line,
                           hrec->error_msg);
        goto out;
    }
    rc = keep_header(c, hrec);
    if (rc != 0) {
        rc = ds__read_fail(err, rc, path, 0, NULL, "out of memory");
        goto out;
    }
    c->busy[idx] = 0;
    /* The records read ahead with the header keep their text; csv_next
     * hands none over. */
    c->no_raw = hints != NULL && hints->no_raw;
    snprintf(r->dialect.encoding, sizeof(r->dialect.encoding), "%s",
             ds__read_src_encoding(c->src, &hinted));
    r->dialect.encoding_hint = hinted;
    r->dialect.header_line = hrec->line;
    r->ops = &csv_ops;
    r->impl = c;
    r->header.nfields = c->hn;
    r->header.fields = c->hptrs;
    r->header.lens = c->hlens;
    r->header.row = 0;
    r->header.line = hrec->line;
    r->header.raw = c->hraw.data != NULL ? c->hraw.data : "";
    r->header.raw_len = c->hraw.len;
    c = NULL;
    rc = 0;
out:
    csv_close(c);
    return rc;
}

/* Decides whether the held record idx (a possible trailer) is data: 1 data,
 * 0 trailer (everything up to the end looks like one). */
static int held_is_data(struct csv_reader *c)
{
    for (size_t i = 0;; i++) {
        if (i == c->qlen) {
            if (c->qlen >= CSV_HOLD) {
                return 1;
            }
            if (read_ahead(c) < 0) {
                return 1; /* the error comes after the held records */
            }
            if (c->at_end && i == c->qlen) {
                return 0;
            }
        }
        if (!maybe_trailer(c, &c->recs[q_at(c, i)])) {
            return 1;
        }
    }
}

static int csv_next(void *impl, struct ds_row *row, struct ds_error *err)
{
    struct csv_reader *c = impl;
    struct rec *rec;
    int idx = -1;
    int rc;

    if (c->failed != 0) {
        return ds__read_fail(err, c->failed, c->path, c->nrows + 1, NULL,
                             "reading stopped after an earlier error");
    }
    if (c->out >= 0) {
        c->busy[c->out] = 0;
        c->out = -1;
    }
    rc = fetch(c, &idx, err);
    if (rc < 0) {
        c->failed = rc;
        return rc;
    }
    if (rc == 0) {
        return 0;
    }
    rec = &c->recs[idx];
    if (maybe_trailer(c, rec) && !held_is_data(c)) {
        drop_trailers(c, idx);
        return 0;
    }
    c->out = idx;
    c->nrows++;
    for (size_t i = 0; i < rec->n; i++) {
        c->ptrs[i] = rec->cells.data + rec->offs[i];
    }
    if (rec->error != 0) {
        row->error = rec->error;
        row->error_field = rec->error_field;
        row->error_msg = rec->error_msg;
    }
    else if (rec->n != c->hn) {
        c->r->dialect.ragged_rows++;
        ds__read_notice(c->r, DS_READ_NOTICE_RAGGED, rec->line, c->nrows,
                        "row has %zu field(s), the header %zu", rec->n, c->hn);
    }
    row->nfields = rec->n;
    row->fields = c->ptrs;
    row->lens = rec->lens;
    row->row = c->nrows;
    row->line = rec->line;
    row->raw = rec->raw.data != NULL && !c->no_raw ? rec->raw.data : "";
    row->raw_len = c->no_raw ? 0 : rec->raw.len;
    /* The fields are pieces of the source's text cut at ASCII bytes, and
     * a NUL in one stopped the file (read_raw). */
    row->utf8_checked = ds__read_src_checked(c->src);
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
    ds__read_src_close(&c->src);
    if (c->recs != NULL) {
        for (int i = 0; i < CSV_NRECS; i++) {
            ds_buf_close(&c->recs[i].cells);
            ds_buf_close(&c->recs[i].raw);
        }
    }
    ds_buf_close(&c->hcells);
    ds_buf_close(&c->hraw);
    ds_free(c->hlens);
    ds_free(c->hptrs);
    ds_free(c->recs);
    ds_free(c->block);
    ds_free(c->path);
    ds_free(c);
}
