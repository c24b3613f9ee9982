/*
 * read_xls.c — the legacy Excel (XLS, BIFF in an OLE2 compound file)
 * reader, built on freexl, which runs in a child process.
 *
 * freexl 1.0.6 reads past its buffers on some damaged files (a fuzzer
 * found one; it is kept in tests/fuzz/corpus/read_xls/). So the
 * workbook is parsed in a child process: this program started again with
 * the hidden subcommand `__read-xls` (agent/os/os_proc.h: posix_spawn, or
 * CreateProcess on Windows), its stdin the file the agent opened and
 * checked (never reopened by name: the export folder is hostile), its
 * stdout a pipe to the parent, under limits (no core file, CPU time,
 * memory; a Job Object on Windows). Every program that reads files calls
 * ds_read_child_dispatch first in main(). The child opens the file with freexl,
 * turns each cell into text and streams the sheet's rows to the parent
 * over a pipe; the parent checks them and hands them to the sheet framer
 * (read_sheet.c), which finds the header below title rows, holds back
 * trailer rows, skips blank rows and numbers the data rows. A child that
 * crashes, exits early or says nothing for XLS_CHILD_TIMEOUT_MS is an
 * error naming the file and the last sheet row received, never a crash of
 * the agent. The child's stderr is the null device (a sanitizer report or
 * a library's message could quote the file), and it leaves without running
 * exit handlers.
 *
 * A cell longer than DS_READ_MAX_FIELD (32767 characters can take more
 * bytes than that in UTF-8), or a row whose cells together pass
 * XLS_ROW_MAX, cuts that row: it comes with the cells before the one over
 * the cap and ds_row.error, and reading goes on. A sheet wider than
 * DS_READ_MAX_FIELDS columns (BIFF8 has 256) is damaged: the file stops.
 *
 * freexl parses the whole workbook when it opens it, so the child's memory
 * grows with the file; the format bounds it (BIFF8 holds at most 65536
 * rows by 256 columns per sheet) and the file size is capped at
 * XLS_MAX_FILE before freexl sees it. The parent's memory stays flat: the
 * pipe blocks the child while the parent has not asked for more rows.
 *
 * Cells become text: strings as freexl decodes them (UTF-8); integers in
 * decimal; other numbers with up to 15 significant digits (what Excel
 * shows); dates, times and date-times, which freexl recognises by the
 * cell's format in either date system, as ISO 8601 (YYYY-MM-DD, HH:MM:SS,
 * YYYY-MM-DDTHH:MM:SS). The sheet is the first one or the hinted one.
 *
 * A password-protected workbook, and an encrypted XLSX (which is an OLE2
 * file holding an "EncryptedPackage" stream, so it lands here), are refused
 * with that reason (the child looks for the stream before freexl opens
 * the file).
 *
 * The child's command line is `PROGRAM __read-xls SHEET`, SHEET the hinted
 * sheet's name in hexadecimal (no quoting to get wrong on either
 * platform), or "-" for the first sheet.
 *
 * The pipe carries messages of a type byte, a 32-bit length (host order)
 * and the payload:
 *   'S' the sheet's name (after the workbook opened);
 *   'R' a sheet row: its 0-based index, cell count, row error (enum
 *       ds_read_row_error) and the field over the cap (32 bits each), then
 *       each cell's length (32 bits) and bytes; a row with an error holds
 *       the cells before the one over the cap;
 *   'E' an error: its DS_E* code (32 bits), the length of the field name
 *       (one byte), the field name, then the message;
 *   'D' the end of the sheet.
 */
#include "agent/read/read_int.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/fsafe.h"
#include "agent/os/os_cc.h"
#include "agent/os/os_proc.h"

#include <freexl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XLS_MAX_FILE ((off_t)256 * 1024 * 1024) /* bytes of an .xls file */
#define XLS_ROW_MAX ((size_t)4 * 1024 * 1024)   /* bytes of one row's fields */
#define XLS_RAW_MAX ((size_t)64 * 1024)         /* bytes of a row's raw text kept */
#define XLS_PIPE_BUF ((size_t)64 * 1024)        /* bytes buffered each way */
#define XLS_CHILD_TIMEOUT_MS (120 * 1000)       /* silence of the child before it is killed */
#define XLS_CHILD_CPU_SECONDS 600u              /* CPU time of the child */
#define XLS_CHILD_SUBCOMMAND "__read-xls"
#define XLS_SHEET_MAX 255 /* bytes of a hinted sheet name */
/* The child's memory: the format bounds what freexl holds (see above).
 * Not under AddressSanitizer, which reserves terabytes of address space. */
#if defined(__SANITIZE_ADDRESS__)
#define XLS_CHILD_MEMORY ((size_t)0)
#else
#define XLS_CHILD_MEMORY ((size_t)4096 * 1024 * 1024)
#endif
/* The payload of one message: a row's text, its index, count and error, a length per cell. */
#define XLS_MSG_MAX (XLS_ROW_MAX + 16 + (size_t)4 * DS_READ_MAX_FIELDS)

/* The parent's end: the child and the row being handed over. */
struct xls_src {
    char *path;                      /* owned: for error reports */
    struct ds_os_child *child;       /* the child, or NULL once reaped */
    unsigned char *in;               /* owned: XLS_PIPE_BUF bytes read ahead */
    size_t in_pos;                   /* next byte to take from in */
    size_t in_len;                   /* bytes in in */
    struct ds_buf msg;               /* the current message's payload */
    int type;                        /* its type */
    int done;                        /* 'D' was received */
    long line;                       /* sheet row (1-based) of the last row received */
    struct ds_buf raw;               /* the row's fields joined by tabs, capped */
    char err_msg[96];                /* the row error's message */
    size_t offs[DS_READ_MAX_FIELDS]; /* field offsets in msg */
    size_t lens[DS_READ_MAX_FIELDS]; /* field lengths */
};

/* The child's end: a buffered writer to its stdout. */
struct xls_out {
    size_t len;                      /* bytes in buf */
    unsigned char buf[XLS_PIPE_BUF]; /* pending bytes */
};

static void xls_src_free(void *src);

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

/* Does the file at path (the child's own descriptor) hold the UTF-16
 * stream name "EncryptedPackage" in its first 64 KiB (the directory of an
 * encrypted OOXML file)? */
static int is_encrypted_ooxml(const char *path)
{
    static const char name[] = "E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0";
    static unsigned char buf[65536];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        return 0; /* freexl says why next */
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    for (size_t i = 0; n >= sizeof(name) - 1 && i <= n - (sizeof(name) - 1); i++) {
        if (buf[i] == 'E' && memcmp(buf + i, name, sizeof(name) - 1) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The child                                                                */

static int out_flush(struct xls_out *o)
{
    if (ds_os_child_write(o->buf, o->len) != 0) {
        return -1;
    }
    o->len = 0;
    return 0;
}

static int out_put(struct xls_out *o, const void *p, size_t n)
{
    const unsigned char *b = p;

    while (n > 0) {
        size_t k = sizeof(o->buf) - o->len;

        if (k == 0) {
            if (out_flush(o) != 0) {
                return -1;
            }
            continue;
        }
        if (k > n) {
            k = n;
        }
        memcpy(o->buf + o->len, b, k);
        o->len += k;
        b += k;
        n -= k;
    }
    return 0;
}

static int out_u32(struct xls_out *o, uint32_t v)
{
    return out_put(o, &v, sizeof(v));
}

static int out_head(struct xls_out *o, int type, size_t len)
{
    unsigned char t = (unsigned char)type;

    return out_put(o, &t, 1) != 0 || out_u32(o, (uint32_t)len) != 0 ? -1 : 0;
}

/* Sends an error and leaves. */
static void child_fail(struct xls_out *o, int code, const char *field, const char *fmt, ...)
    DS_PRINTF(4, 5) __attribute__((noreturn));

static void child_fail(struct xls_out *o, int code, const char *field, const char *fmt, ...)
{
    char msg[200];
    size_t flen = strlen(field) & 0xff;
    size_t mlen;
    va_list ap;

    va_start(ap, fmt);
    /* A false positive of the analyzer (va_start is right above). NOLINTNEXTLINE */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mlen = strlen(msg);
    if (out_head(o, 'E', 4 + 1 + flen + mlen) == 0 && out_u32(o, (uint32_t)code) == 0) {
        unsigned char fl = (unsigned char)flen;

        (void)(out_put(o, &fl, 1) == 0 && out_put(o, field, flen) == 0 &&
               out_put(o, msg, mlen) == 0 && out_flush(o) == 0);
    }
    ds_os_child_exit(0);
}

/* The text of one cell into num (or a pointer to freexl's text). */
static const char *cell_text(const FreeXL_CellValue *v, char *num, size_t size)
{
    switch (v->type) {
    case FREEXL_CELL_INT:
        snprintf(num, size, "%d", v->value.int_value);
        return num;
    case FREEXL_CELL_DOUBLE:
        snprintf(num, size, "%.15g", v->value.double_value);
        return num;
    case FREEXL_CELL_TEXT:
    case FREEXL_CELL_SST_TEXT:
    case FREEXL_CELL_DATE:
    case FREEXL_CELL_TIME:
        return v->value.text_value != NULL ? v->value.text_value : "";
    case FREEXL_CELL_DATETIME:
        snprintf(num, size, "%s", v->value.text_value != NULL ? v->value.text_value : "");
        if (strlen(num) > 10 && num[10] == ' ') {
            num[10] = 'T';
        }
        return num;
    default:
        return "";
    }
}

/* Sends sheet row r: its cells up to the last one with a value, or those
 * before the first one over a cap with the error. */
static void child_row(struct xls_out *o, const void *h, unsigned r, unsigned short cols)
{
    FreeXL_CellValue v;
    char num[64];
    const char *s;
    size_t width = 0;
    size_t bytes = 0;
    uint32_t error = DS_READ_ROW_OK;
    uint32_t efield = 0;

    for (unsigned short c = 0; c < cols; c++) {
        size_t len;

        if (freexl_get_cell_value(h, r, c, &v) != FREEXL_OK) {
            child_fail(o, DS_EPARSE, "", "XLS: cell in column %u of sheet row %u cannot be read",
                       (unsigned)c + 1, r + 1);
        }
        s = cell_text(&v, num, sizeof(num));
        len = strlen(s);
        if (len > (size_t)DS_READ_MAX_FIELD || bytes + len > XLS_ROW_MAX) {
            error = len > (size_t)DS_READ_MAX_FIELD ? DS_READ_ROW_FIELD_TOO_LONG
                                                    : DS_READ_ROW_TOO_LARGE;
            efield = (uint32_t)c + 1;
            width = c; /* the cells before it, empty ones included */
            break;
        }
        bytes += len;
        if (len > 0) {
            width = (size_t)c + 1;
        }
    }
    if (out_head(o, 'R', 16 + 4 * width + bytes) != 0 || out_u32(o, r) != 0 ||
        out_u32(o, (uint32_t)width) != 0 || out_u32(o, error) != 0 || out_u32(o, efield) != 0) {
        ds_os_child_exit(1);
    }
    for (size_t c = 0; c < width; c++) {
        if (freexl_get_cell_value(h, r, (unsigned short)c, &v) != FREEXL_OK) {
            ds_os_child_exit(1);
        }
        s = cell_text(&v, num, sizeof(num));
        if (out_u32(o, (uint32_t)strlen(s)) != 0 || out_put(o, s, strlen(s)) != 0) {
            ds_os_child_exit(1);
        }
    }
}

/* Opens the workbook, picks the sheet and streams its rows. Never returns.
 * freexl takes only a path; the file is the checked descriptor the parent
 * passed down as stdin, and the child opens it through the path of its own
 * descriptor (ds_fsafe_fd_path: /proc/self/fd/0 on Linux, which the kernel
 * resolves to the inode the descriptor holds, so nothing put under the
 * file's name since can take its place). The sheet is the one named want,
 * or, when index is above 0, the one at that position (1-based). */
__attribute__((noreturn)) static void child_main(const char *want, int index)
{
    static struct xls_out o;
    char path[4096];
    const void *h = NULL;
    const char *name = NULL;
    unsigned info = 0;
    unsigned nsheets = 0;
    unsigned rows = 0;
    unsigned short cols = 0;
    unsigned short sheet;
    int rc;

    o.len = 0;
    ds_fsafe_fd_path(0, path, sizeof(path));
    if (is_encrypted_ooxml(path)) {
        child_fail(&o, DS_EPARSE, "", "XLSX: the workbook is encrypted (password-protected)");
    }
    rc = freexl_open(path, &h);
    if (rc != FREEXL_OK) {
        child_fail(&o, rc == FREEXL_INSUFFICIENT_MEMORY ? DS_ENOMEM : DS_EPARSE, "",
                   "XLS: %s (freexl error %d)", open_reason(rc), rc);
    }
    if (freexl_get_info(h, FREEXL_BIFF_PASSWORD, &info) == FREEXL_OK &&
        info == FREEXL_BIFF_OBFUSCATED) {
        child_fail(&o, DS_EPARSE, "", "XLS: the workbook is encrypted (password-protected)");
    }
    if (freexl_get_info(h, FREEXL_BIFF_SHEET_COUNT, &nsheets) != FREEXL_OK || nsheets == 0) {
        child_fail(&o, DS_EPARSE, "", "XLS: the workbook has no sheet");
    }
    for (sheet = 0; sheet < nsheets && sheet < 0xffff; sheet++) {
        if (freexl_get_worksheet_name(h, sheet, &name) != FREEXL_OK) {
            name = NULL;
        }
        if (index > 0 ? sheet + 1 == index
                      : want == NULL || (name != NULL && strcmp(name, want) == 0)) {
            break;
        }
    }
    if (sheet == nsheets) {
        child_fail(&o, DS_ENOTFOUND, "sheet",
                   index > 0 ? "XLS: the workbook has no sheet at that position"
                             : "XLS: the workbook has no sheet of that name");
    }
    if (freexl_select_active_worksheet(h, sheet) != FREEXL_OK ||
        freexl_worksheet_dimensions(h, &rows, &cols) != FREEXL_OK) {
        child_fail(&o, DS_EPARSE, "", "XLS: the sheet cannot be read");
    }
    if (cols > DS_READ_MAX_FIELDS) {
        child_fail(&o, DS_ETOOBIG, "", "XLS: the sheet has more columns than the limit");
    }
    name = name != NULL ? name : "";
    if (out_head(&o, 'S', strlen(name)) != 0 || out_put(&o, name, strlen(name)) != 0) {
        ds_os_child_exit(1);
    }
    for (unsigned r = 0; r < rows; r++) {
        child_row(&o, h, r, cols);
    }
    if (out_head(&o, 'D', 0) != 0 || out_flush(&o) != 0) {
        ds_os_child_exit(1);
    }
    freexl_close(h);
    ds_os_child_exit(0);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

void ds_read_child_dispatch(int argc, char **argv)
{
    static const struct ds_os_child_limits lim = {XLS_CHILD_MEMORY, XLS_CHILD_CPU_SECONDS};
    char want[XLS_SHEET_MAX + 1];
    const char *hex;
    size_t n;

    if (argc < 2 || strcmp(argv[1], XLS_CHILD_SUBCOMMAND) != 0) {
        ds_os_child_routes();
        return;
    }
    ds_os_child_limit_self(&lim);
    hex = argc == 3 ? argv[2] : "";
    n = strlen(hex);
    if (strcmp(hex, "-") == 0) {
        child_main(NULL, 0);
    }
    if (hex[0] == '#') {
        char *end = NULL;
        long index = strtol(hex + 1, &end, 10);

        if (end == hex + 1 || *end != '\0' || index < 1 || index > 0xffff) {
            ds_os_child_exit(2);
        }
        child_main(NULL, (int)index);
    }
    if (n == 0 || n % 2 != 0 || n / 2 > XLS_SHEET_MAX) {
        ds_os_child_exit(2);
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            ds_os_child_exit(2);
        }
        want[i] = (char)(hi * 16 + lo);
    }
    want[n / 2] = '\0';
    child_main(want, 0);
}

/* ------------------------------------------------------------------------ */
/* The parent                                                               */

/* Reads n bytes from the child into p: 0, or -1 at its end or silence. */
static int in_get(struct xls_src *x, void *p, size_t n)
{
    unsigned char *b = p;

    while (n > 0) {
        if (x->in_pos == x->in_len) {
            long k = x->child != NULL
                         ? ds_os_child_read(x->child, x->in, XLS_PIPE_BUF, XLS_CHILD_TIMEOUT_MS)
                         : -1;

            if (k <= 0) {
                return -1;
            }
            x->in_pos = 0;
            x->in_len = (size_t)k;
        }
        size_t k = x->in_len - x->in_pos < n ? x->in_len - x->in_pos : n;

        memcpy(b, x->in + x->in_pos, k);
        x->in_pos += k;
        b += k;
        n -= k;
    }
    return 0;
}

/* Stops the child (if it still runs) and reaps it; *how how it ended. */
static void reap(struct xls_src *x, int kill_it, struct ds_os_child_exit *how)
{
    ds_os_child_finish(x->child, kill_it, how);
    x->child = NULL;
}

/* The child stopped without saying why: an error naming how it ended. */
static int child_died(struct xls_src *x, struct ds_error *err)
{
    char where[64];
    struct ds_os_child_exit how;

    /* A silent child is killed; one that closed its end is waited for. */
    reap(x, 1, &how);
    if (x->line > 0) {
        snprintf(where, sizeof(where), "after sheet row %ld", x->line);
    }
    else {
        snprintf(where, sizeof(where), "before the first sheet row");
    }
    if (how.crashed) {
        return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL,
                             "XLS: the workbook crashed the parser (%s) %s; the file is damaged",
                             how.how, where);
    }
    if (how.killed && how.code < 0) {
        return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL,
                             "XLS: the parser stopped answering %s", where);
    }
    return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL,
                         "XLS: the parser failed (%s) %s; the file is damaged", how.how, where);
}

static uint32_t get_u32(const char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Reads the next message into x->type and x->msg: 0, or an error
 * (the child's own, or one describing how it ended). */
static int next_msg(struct xls_src *x, struct ds_error *err)
{
    unsigned char type;
    uint32_t len;
    char field[256];
    size_t flen;

    if (in_get(x, &type, 1) != 0 || in_get(x, &len, sizeof(len)) != 0) {
        return child_died(x, err);
    }
    if (len > XLS_MSG_MAX) {
        reap(x, 1, NULL);
        return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL,
                             "XLS: the parser sent a bad message after sheet row %ld", x->line);
    }
    ds_buf_reset(&x->msg);
    while (x->msg.len < len) {
        char chunk[4096];
        size_t k = len - x->msg.len < sizeof(chunk) ? len - x->msg.len : sizeof(chunk);

        if (in_get(x, chunk, k) != 0) {
            return child_died(x, err);
        }
        if (ds_buf_append(&x->msg, chunk, k) != 0) {
            return ds__read_fail(err, DS_ENOMEM, x->path, 0, NULL, "out of memory");
        }
    }
    x->type = type;
    if (type != 'E') {
        return 0;
    }
    reap(x, 0, NULL);
    if (len < 5 || 5 + (size_t)(unsigned char)x->msg.data[4] > len) {
        return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL, "XLS: the parser failed");
    }
    flen = (unsigned char)x->msg.data[4];
    memcpy(field, x->msg.data + 5, flen);
    field[flen] = '\0';
    return ds__read_fail(err, (int)get_u32(x->msg.data), x->path, 0, flen > 0 ? field : NULL,
                         "%.*s", (int)(len - 5 - flen), x->msg.data + 5 + flen);
}

/* The sheet framer's pull. */
static int xls_pull(void *src, struct ds__sheet_row *row, struct ds_error *err)
{
    struct xls_src *x = src;
    size_t pos = 16;
    uint32_t n;
    uint32_t error;
    uint32_t efield;
    int rc;

    if (x->done) {
        return 0;
    }
    rc = next_msg(x, err);
    if (rc != 0) {
        return rc;
    }
    if (x->type == 'D') {
        x->done = 1;
        reap(x, 0, NULL);
        return 0;
    }
    if (x->type != 'R' || x->msg.len < 16) {
        reap(x, 1, NULL);
        return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL,
                             "XLS: the parser sent a bad message after sheet row %ld", x->line);
    }
    x->line = (long)get_u32(x->msg.data) + 1;
    n = get_u32(x->msg.data + 4);
    error = get_u32(x->msg.data + 8);
    efield = get_u32(x->msg.data + 12);
    if (error > DS_READ_ROW_TOO_LARGE || (error != 0 && (efield == 0 || n >= efield))) {
        reap(x, 1, NULL);
        return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL,
                             "XLS: the parser sent a bad message after sheet row %ld", x->line);
    }
    if (n > DS_READ_MAX_FIELDS) {
        return ds__read_fail(err, DS_ETOOBIG, x->path, 0, NULL,
                             "XLS: sheet row %ld has more columns than the limit", x->line);
    }
    ds_buf_reset(&x->raw);
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        size_t room;

        if (x->msg.len - pos < 4 || x->msg.len - pos - 4 < get_u32(x->msg.data + pos)) {
            reap(x, 1, NULL);
            return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL,
                                 "XLS: the parser sent a bad message after sheet row %ld", x->line);
        }
        len = get_u32(x->msg.data + pos);
        x->offs[i] = pos + 4;
        x->lens[i] = len;
        pos += 4 + len;
        if (ds__read_utf8_valid((const unsigned char *)x->msg.data + x->offs[i], len) != len) {
            return ds__read_fail(err, DS_EPARSE, x->path, 0, NULL,
                                 "XLS: text that is not valid UTF-8 in column %u of sheet row "
                                 "%ld",
                                 (unsigned)i + 1, x->line);
        }
        room = x->raw.max - x->raw.len;
        if (i > 0 && room > 0) {
            (void)ds_buf_append(&x->raw, "\t", 1);
            room--;
        }
        (void)ds_buf_append(&x->raw, x->msg.data + x->offs[i], len < room ? len : room);
    }
    row->n = n;
    row->cells = x->msg.data;
    row->offs = x->offs;
    row->lens = x->lens;
    row->raw = x->raw.data;
    row->raw_len = x->raw.len;
    row->line = x->line;
    row->error = (int)error;
    row->error_field = efield;
    row->error_msg = NULL;
    if (error != 0) {
        ds__read_row_msg(x->err_msg, sizeof(x->err_msg), (int)error, efield, XLS_ROW_MAX);
        row->error_msg = x->err_msg;
    }
    return 1;
}

static void xls_src_free(void *src)
{
    struct xls_src *x = src;

    if (x == NULL) {
        return;
    }
    reap(x, 1, NULL);
    ds_buf_close(&x->msg);
    ds_buf_close(&x->raw);
    ds_free(x->in);
    ds_free(x->path);
    ds_free(x);
}

int ds__read_xls_open(int file, const char *path, const struct ds_read_hints *hints,
                      struct ds_reader *r, struct ds_error *err)
{
    struct xls_src *x = NULL;
    static const struct ds_os_child_limits lim = {XLS_CHILD_MEMORY, XLS_CHILD_CPU_SECONDS};
    const char *want = hints != NULL ? hints->sheet : NULL;
    char hex[2 * XLS_SHEET_MAX + 1];
    const char *args[3] = {XLS_CHILD_SUBCOMMAND, hex, NULL};
    struct ds_file_id id;
    int rc;

    x = ds_calloc(1, sizeof(*x));
    if (x == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    ds_buf_init(&x->msg, XLS_MSG_MAX);
    ds_buf_init(&x->raw, XLS_RAW_MAX);
    x->path = ds_strdup(path);
    x->in = ds_malloc(XLS_PIPE_BUF);
    if (x->path == NULL || x->in == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    if (ds_fsafe_fd_id(file, &id) != 0) {
        rc = ds__read_fail(err, DS_EIO, path, 0, NULL, "cannot open the file");
        goto out;
    }
    if (id.size > XLS_MAX_FILE) {
        rc = ds__read_fail(err, DS_ETOOBIG, path, 0, NULL,
                           "XLS: the file is larger than the limit (%lld bytes)",
                           (long long)XLS_MAX_FILE);
        goto out;
    }
    if (want != NULL && strlen(want) > XLS_SHEET_MAX) {
        rc = ds__read_fail(err, DS_ENOTFOUND, path, 0, "sheet",
                           "XLS: the workbook has no sheet of that name");
        goto out;
    }
    /* The sheet travels as its name in hexadecimal, as #N for a position
     * (1-based), or as - for the first. */
    snprintf(hex, sizeof(hex), "-");
    if (hints != NULL && hints->sheet_index > 0) {
        snprintf(hex, sizeof(hex), "#%d", hints->sheet_index);
    }
    else {
        for (size_t i = 0; want != NULL && want[i] != '\0'; i++) {
            snprintf(hex + 2 * i, 3, "%02x", (unsigned)(unsigned char)want[i]);
        }
    }
    rc = ds_os_child_start(args, file, &lim, &x->child);
    if (rc != 0) {
        rc = ds__read_fail(err, rc == DS_ENOMEM ? DS_ENOMEM : DS_EIO, path, 0, NULL,
                           "XLS: cannot start the parser (%s)",
                           rc == DS_EINVAL ? "this program does not run it" : ds_strerror(rc));
        goto out;
    }
    rc = next_msg(x, err);
    if (rc == 0 && x->type != 'S') {
        rc = ds__read_fail(err, DS_EPARSE, path, 0, NULL,
                           "XLS: the parser sent a bad message before the first row");
    }
    if (rc != 0) {
        goto out;
    }
    r->dialect.format = "xls";
    snprintf(r->dialect.encoding, sizeof(r->dialect.encoding), "utf-8");
    snprintf(r->dialect.sheet, sizeof(r->dialect.sheet), "%.*s", (int)x->msg.len,
             x->msg.data != NULL ? x->msg.data : "");
    /* The child names the sheet, not its position: known when it was
     * chosen by position, or is the first one. */
    r->dialect.sheet_index = hints != NULL && hints->sheet_index > 0 ? hints->sheet_index
                             : want == NULL                          ? 1
                                                                     : 0;
    rc = ds__read_sheet_open(r, path, "XLS", hints, x, xls_pull, xls_src_free, err);
    x = NULL;
out:
    xls_src_free(x);
    return rc;
}
