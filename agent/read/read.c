/*
 * read.c — ds_read_open picks the reader for a file by content, the other
 * ds_read_* calls forward to it; the notices and error helpers every reader
 * shares live here too.
 *
 * The format is recognised by the file's first bytes, never by its name
 * (a PMS may call an Excel file .csv): "PK\3\4" (or an empty zip's
 * "PK\5\6") is XLSX, the OLE2 signature is XLS, BEGIN:VCALENDAR (after an
 * optional byte order mark and blank space, in any case) is ICS, anything
 * else is delimited text.
 *
 * Invariant: a reader returned by ds_read_open always has ops, impl, a
 * header and a dialect; ds_read_close is the only way to free it.
 */
#include "agent/read/read.h"

#include "agent/core/alloc.h"
#include "agent/read/read_int.h"

#include "agent/core/buf.h"
#include "agent/core/fsafe.h"
#include "agent/os/os_fs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAGIC_LEN 64 /* leading bytes looked at */

enum kind { KIND_CSV, KIND_XLSX, KIND_XLS, KIND_ICS };

/* Reads up to n leading bytes of the file fd is open on, whatever its
 * offset. Returns the count or DS_EIO. */
static int read_magic(int fd, unsigned char *p, size_t n)
{
    size_t got = 0;
    size_t k;

    while (got < n) {
        k = 0;
        if (ds_os_pread(fd, p + got, n - got, (int64_t)got, &k) != 0) {
            if (errno == EINTR) {
                continue;
            }
            return DS_EIO;
        }
        if (k == 0) {
            break;
        }
        got += k;
    }
    return (int)got;
}

/* BEGIN:VCALENDAR in UTF-8 (optionally with a BOM) or ASCII-range UTF-16. */
static int is_ics(const unsigned char *p, size_t n)
{
    static const char tag[] = "BEGIN:VCALENDAR";
    char text[MAGIC_LEN];
    size_t k = 0;
    size_t i = 0;
    int wide = 0;

    if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff))) {
        wide = 1;
        i = 2;
    }
    else if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
        i = 3;
    }
    for (; i < n && k < sizeof(text); i++) {
        if (p[i] == 0 && wide) {
            continue;
        }
        if (k == 0 && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) {
            continue;
        }
        text[k++] = (char)p[i];
    }
    return k >= sizeof(tag) - 1 && strncasecmp(text, tag, sizeof(tag) - 1) == 0;
}

static enum kind sniff_kind(const unsigned char *p, size_t n)
{
    static const unsigned char zip[] = {'P', 'K', 3, 4};
    static const unsigned char zip_empty[] = {'P', 'K', 5, 6};
    static const unsigned char ole[] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};

    if (n >= 4 && (memcmp(p, zip, 4) == 0 || memcmp(p, zip_empty, 4) == 0)) {
        return KIND_XLSX;
    }
    if (n >= sizeof(ole) && memcmp(p, ole, sizeof(ole)) == 0) {
        return KIND_XLS;
    }
    if (is_ics(p, n)) {
        return KIND_ICS;
    }
    return KIND_CSV;
}

int ds__read_fail(struct ds_error *err, int code, const char *path, long row, const char *field,
                  const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return code;
    }
    err->code = code;
    err->row = row;
    if (path != NULL) {
        (void)ds_str_copy(err->file, sizeof(err->file), path);
    }
    (void)ds_str_copy(err->field, sizeof(err->field), field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

int ds__read_trailer_word(const char *s, size_t n)
{
    static const char *const words[] = {
        "total",   "grand total", "sum",     "record count", "records", "record(s)",
        "count",   "row count",   "rows",    "end of",       "eof",     "trailer",
        "summary", "number of",   "printed", "page ",
    };

    while (n > 0 && (*s == ' ' || *s == '*' || *s == '-' || *s == '#' || *s == '=')) {
        s++;
        n--;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t k = strlen(words[i]);

        if (n >= k && strncasecmp(s, words[i], k) == 0 &&
            (n == k || !((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))) {
            return 1;
        }
    }
    return 0;
}

void ds__read_notice(struct ds_reader *r, int kind, long line, long row, const char *fmt, ...)
{
    struct ds_read_notice *n;
    va_list ap;

    r->total_notices++;
    if (r->nnotices >= DS_READ_MAX_NOTICES ||
        (kind == DS_READ_NOTICE_RAGGED && r->nnotices >= DS_READ_MAX_NOTICES / 2)) {
        return;
    }
    n = &r->notices[r->nnotices++];
    n->kind = kind;
    n->line = line;
    n->row = row;
    va_start(ap, fmt);
    vsnprintf(n->msg, sizeof(n->msg), fmt, ap);
    va_end(ap);
}

int ds_read_open_fd(int fd, const char *path, const struct ds_read_hints *hints,
                    struct ds_reader **out, struct ds_error *err)
{
    struct ds_reader *r = NULL;
    unsigned char magic[MAGIC_LEN];
    int n;
    int rc = 0;

    *out = NULL;
    if (err != NULL) {
        ds_error_clear(err);
        (void)ds_str_copy(err->file, sizeof(err->file), path);
    }
    n = read_magic(fd, magic, sizeof(magic));
    if (n < 0) {
        rc = ds__read_fail(err, n, path, 0, NULL, "cannot open or read the file");
        goto out;
    }
    r = ds_calloc(1, sizeof(*r));
    if (r == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    switch (sniff_kind(magic, (size_t)n)) {
    case KIND_XLSX:
        rc = ds__read_xlsx_open(fd, path, hints, r, err);
        break;
    case KIND_XLS:
        rc = ds__read_xls_open(fd, path, hints, r, err);
        break;
    case KIND_ICS:
        rc = ds__read_ics_open(fd, path, hints, r, err);
        break;
    default:
        rc = ds__read_csv_open(fd, path, hints, r, err);
        break;
    }
    if (rc != 0) {
        goto out;
    }
    r->header.error = DS_READ_ROW_OK;
    r->header.error_msg = "";
    *out = r;
    r = NULL;
out:
    ds_free(r);
    return rc;
}

int ds_read_open(const char *path, const struct ds_read_hints *hints, struct ds_reader **out,
                 struct ds_error *err)
{
    int fd = ds_fsafe_open_file(path, 1, NULL, NULL);
    int rc;

    if (fd < 0) {
        *out = NULL;
        if (err != NULL) {
            ds_error_clear(err);
        }
        return ds__read_fail(err, DS_EIO, path, 0, NULL, "cannot open or read the file");
    }
    rc = ds_read_open_fd(fd, path, hints, out, err);
    close(fd);
    return rc;
}

const struct ds_row *ds_read_header(const struct ds_reader *r)
{
    return &r->header;
}

const struct ds_read_dialect *ds_read_dialect(const struct ds_reader *r)
{
    return &r->dialect;
}

const struct ds_read_notice *ds_read_notices(const struct ds_reader *r, size_t *n, long *total)
{
    if (n != NULL) {
        *n = r->nnotices;
    }
    if (total != NULL) {
        *total = r->total_notices;
    }
    return r->notices;
}

int ds_read_next_row(struct ds_reader *r, struct ds_row *row, struct ds_error *err)
{
    row->error = DS_READ_ROW_OK;
    row->error_field = 0;
    row->error_msg = "";
    row->utf8_checked = 0;
    return r->ops->next(r->impl, row, err);
}

void ds__read_row_msg(char *msg, size_t size, int error, size_t field, size_t row_max)
{
    switch (error) {
    case DS_READ_ROW_FIELD_TOO_LONG:
        snprintf(msg, size, "field %zu is longer than the limit of %zu bytes", field,
                 (size_t)DS_READ_MAX_FIELD);
        break;
    case DS_READ_ROW_TOO_MANY_COLUMNS:
        snprintf(msg, size, "more than %d fields", DS_READ_MAX_FIELDS);
        break;
    default:
        snprintf(msg, size,
                 "the fields up to field %zu are longer together than the limit of %zu bytes",
                 field, row_max);
        break;
    }
}

const char *ds_read_row_error_code(int error)
{
    switch (error) {
    case DS_READ_ROW_FIELD_TOO_LONG:
        return "FIELD_TOO_LONG";
    case DS_READ_ROW_TOO_MANY_COLUMNS:
        return "TOO_MANY_COLUMNS";
    case DS_READ_ROW_TOO_LARGE:
        return "ROW_TOO_LARGE";
    default:
        return "";
    }
}

void ds_read_close(struct ds_reader **r)
{
    if (r == NULL || *r == NULL) {
        return;
    }
    (*r)->ops->close((*r)->impl);
    ds_free(*r);
    *r = NULL;
}
