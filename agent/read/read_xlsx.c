/*
 * read_xlsx.c — the Excel (XLSX, Office Open XML) reader: libzip opens the
 * archive, expat streams each part, and the sheet is pulled one row at a
 * time, never held whole.
 *
 * The workbook part names the sheets and the date system (1900 or 1904),
 * its relationships part says where each sheet's XML is, styles name each
 * cell format's number format, and the shared strings are the one table
 * kept in memory (capped in count and bytes). The sheet is then parsed in
 * 64 KiB pieces: at the end of each <row> the parser is suspended, the row
 * is handed over, and the next call resumes it. Memory stays flat in the
 * number of rows.
 *
 * Cells become text: shared and inline strings as they are; booleans
 * TRUE/FALSE; error values (#N/A, ...) as written; numbers as Excel stored
 * them, except that a number whose cell format is a date or time format
 * (the built-in ones 14-22, 27-36, 45-47, 50-58, or a custom format with
 * date or time codes outside quotes and brackets) is a serial date, handed
 * over as ISO 8601: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS (local, no zone) or
 * HH:MM:SS. Missing cells inside a row, and at its end up to the header's
 * width, are empty fields; a row wider than the header is returned with a
 * notice. The row number of
 * a row is its sheet row (line); empty rows are skipped as blank; the first
 * row that is not blank is the header, unless a header_line hint names the
 * sheet row.
 *
 * A cell longer than DS_READ_MAX_FIELD (inline, or a shared string that
 * long, which is kept as "too long" rather than as text), a cell past
 * column DS_READ_MAX_FIELDS, or a row over XLSX_ROW_MAX cuts the row: the
 * cells before it are kept, the rest of the row is parsed but dropped
 * (the cell text buffer stays capped), and the row comes back with
 * ds_row.error while reading goes on.
 *
 * Hostile archives: an encrypted entry, an entry whose uncompressed size
 * passes XLSX_MAX_PART or whose ratio to its compressed size passes
 * XLSX_MAX_RATIO (a zip bomb), more bytes than an entry declares, a
 * document type declaration (entity expansion), too many shared strings or
 * cell formats: each is an error naming the part, never a crash or a
 * memory blow-up.
 */
#include "agent/read/read_int.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/fsafe.h"
#include "agent/os/os_cc.h"

#include <expat.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#define XLSX_CHUNK ((size_t)64 * 1024)                 /* bytes fed to expat at a time */
#define XLSX_MAX_PART ((zip_uint64_t)2 << 30)          /* uncompressed bytes of the sheet */
#define XLSX_MAX_SMALL_PART ((zip_uint64_t)256 << 20)  /* workbook, rels, styles, strings */
#define XLSX_BOMB_FLOOR ((zip_uint64_t)16 << 20)       /* ratio checked above this size */
#define XLSX_MAX_RATIO 500                             /* uncompressed / compressed */
#define XLSX_MAX_SST_BYTES ((size_t)256 * 1024 * 1024) /* shared strings' text together */
#define XLSX_MAX_SST_COUNT ((size_t)8 * 1024 * 1024)   /* shared strings */
#define XLSX_MAX_XF 65536                              /* cell formats */
#define XLSX_MAX_SHEETS 1024                           /* sheets in the workbook */
#define XLSX_ROW_MAX ((size_t)4 * 1024 * 1024)         /* bytes of one row's fields */
#define XLSX_RAW_MAX ((size_t)64 * 1024)               /* bytes of a row's raw text kept */
#define XLSX_MAX_COL 16384                             /* Excel's last column, XFD */

enum fmt_kind { FMT_NONE = 0, FMT_DATE = 1, FMT_TIME = 2, FMT_DATETIME = 3 };

struct xlsx_reader {
    struct ds_reader *r;   /* borrow: for the dialect */
    char *path;            /* owned: for error reports */
    zip_t *za;             /* the archive */
    zip_file_t *zf;        /* the sheet's entry, streamed */
    const char *part;      /* the part being parsed, for messages */
    zip_uint64_t left;     /* bytes the entry may still yield */
    XML_Parser xp;         /* the sheet's parser */
    int xml_final;         /* the last piece was given to expat */
    int cb_rc;             /* first error raised in a callback */
    char cb_msg[128];      /* its description */
    int date1904;          /* the workbook uses the 1904 date system */
    struct ds_buf sst;     /* shared strings, each followed by a NUL */
    size_t *sst_off;       /* owned: their offsets */
    size_t nsst;           /* shared strings */
    size_t sst_cap;        /* entries allocated in sst_off */
    unsigned char *xf;     /* owned: enum fmt_kind per cell format */
    size_t nxf;            /* cell formats */
    struct ds_buf numfmts; /* custom formats: "id\tcode\n" lines (styles parse only) */
    int depth_t;           /* inside a <t> that counts */
    int in_si;             /* inside <si> */
    int in_rph;            /* inside <rPh> (phonetic text, skipped) */
    int in_xfs;            /* inside <cellXfs> */
    struct ds_buf text;    /* text of the current cell or string */
    int text_over;         /* the current cell or string is longer than text may hold */
    /* workbook */
    char sheet_rid[128];  /* r:id of the chosen sheet */
    char sheet_name[128]; /* its name */
    const char *want;     /* the hinted sheet name, or NULL */
    int want_index;       /* the hinted sheet position (1-based), or 0 */
    int sheet_index;      /* the chosen sheet's position */
    int nsheets;          /* sheets seen */
    char target[512];     /* the chosen sheet's part name */
    /* sheet rows */
    long row_num;                    /* sheet row of the row being parsed */
    long last_row;                   /* sheet row of the previous row */
    int row_done;                    /* a </row> was seen */
    size_t n;                        /* fields in the row */
    size_t filled;                   /* of which not empty */
    long col;                        /* column of the current cell (0-based) */
    long next_col;                   /* column a cell without r= gets */
    char ctype[16];                  /* t= of the current cell */
    long cstyle;                     /* s= of the current cell */
    int in_c;                        /* inside <c> */
    int in_v;                        /* inside <v> */
    int in_is;                       /* inside <is> */
    struct ds_buf cells;             /* the row's fields, each followed by a NUL */
    struct ds_buf raw;               /* the row's fields joined by tabs, capped */
    int row_err;                     /* enum ds_read_row_error: the row is cut, or 0 */
    size_t row_err_field;            /* the field over the cap */
    char row_err_msg[96];            /* which cap */
    size_t offs[DS_READ_MAX_FIELDS]; /* field offsets in cells */
    size_t lens[DS_READ_MAX_FIELDS]; /* field lengths */
};

static void xlsx_close(void *impl);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* The local name of an element (after any namespace prefix). */
static const char *local(const char *name)
{
    const char *colon = strrchr(name, ':');

    return colon != NULL ? colon + 1 : name;
}

static const char *attr(const char **atts, const char *name)
{
    for (size_t i = 0; atts[i] != NULL; i += 2) {
        if (strcmp(local(atts[i]), name) == 0) {
            return atts[i + 1];
        }
    }
    return NULL;
}

static void cb_fail(struct xlsx_reader *x, int code, const char *fmt, ...) DS_PRINTF(3, 4);

static void cb_fail(struct xlsx_reader *x, int code, const char *fmt, ...)
{
    va_list ap;

    if (x->cb_rc != 0) {
        return;
    }
    x->cb_rc = code;
    va_start(ap, fmt);
    /* The analyzer loses va_start through expat's callbacks. NOLINTNEXTLINE */
    vsnprintf(x->cb_msg, sizeof(x->cb_msg), fmt, ap);
    va_end(ap);
    XML_StopParser(x->xp, XML_FALSE);
}

static void XMLCALL on_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
    struct xlsx_reader *x = data;

    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    cb_fail(x, DS_EPARSE, "a document type declaration is not allowed");
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
    struct xlsx_reader *x = data;
    int rc;

    if (x->depth_t == 0 && !x->in_v) {
        return;
    }
    rc = ds_buf_append(&x->text, s, (size_t)len);
    if (rc == DS_ETOOBIG) {
        x->text_over = 1; /* the cell or string is cut; what follows is dropped */
    }
    else if (rc != 0) {
        cb_fail(x, rc, "out of memory");
    }
}

/* A new expat parser wired to x with the given element handlers. */
static XML_Parser new_parser(struct xlsx_reader *x, XML_StartElementHandler start,
                             XML_EndElementHandler end)
{
    XML_Parser p = XML_ParserCreate(NULL);

    if (p == NULL) {
        return NULL;
    }
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, start, end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    return p;
}

static int fail(struct xlsx_reader *x, struct ds_error *err, int code, const char *fmt, ...)
    DS_PRINTF(4, 5);

static int fail(struct xlsx_reader *x, struct ds_error *err, int code, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    /* As in cb_fail: a false positive of the analyzer. NOLINTNEXTLINE */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return ds__read_fail(err, code, x->path, 1, NULL, "XLSX: %s", msg);
}

/* Opens an entry after checking it is neither encrypted nor a bomb. */
static int open_entry(struct xlsx_reader *x, const char *name, zip_uint64_t max, zip_file_t **out,
                      struct ds_error *err)
{
    zip_stat_t st;
    zip_int64_t idx;

    *out = NULL;
    x->part = name;
    idx = zip_name_locate(x->za, name, 0);
    if (idx < 0) {
        return fail(x, err, DS_ENOTFOUND, "part %s is missing", name);
    }
    zip_stat_init(&st);
    if (zip_stat_index(x->za, (zip_uint64_t)idx, 0, &st) != 0) {
        return fail(x, err, DS_EPARSE, "part %s cannot be read", name);
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        return fail(x, err, DS_EPARSE, "part %s is encrypted (password-protected workbook)", name);
    }
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) {
        return fail(x, err, DS_EPARSE, "part %s has no size", name);
    }
    if (st.size > max) {
        return fail(x, err, DS_ETOOBIG, "part %s is %llu bytes uncompressed, over the limit", name,
                    (unsigned long long)st.size);
    }
    if (st.size > XLSX_BOMB_FLOOR && st.size / (st.comp_size + 1) > XLSX_MAX_RATIO) {
        return fail(x, err, DS_ETOOBIG,
                    "part %s expands %llu times (a zip bomb?), over the limit of %d", name,
                    (unsigned long long)(st.size / (st.comp_size + 1)), XLSX_MAX_RATIO);
    }
    *out = zip_fopen_index(x->za, (zip_uint64_t)idx, 0);
    if (*out == NULL) {
        return fail(x, err, DS_EPARSE, "part %s cannot be opened (%s)", name, zip_strerror(x->za));
    }
    x->left = st.size;
    return 0;
}

/* Feeds expat the next piece of zf. 1 fed, 0 when the last piece was fed
 * before, or an error. */
static int feed(struct xlsx_reader *x, XML_Parser p, zip_file_t *zf, struct ds_error *err)
{
    void *buf;
    zip_int64_t n;

    if (x->xml_final) {
        return 0;
    }
    buf = XML_GetBuffer(p, (int)XLSX_CHUNK);
    if (buf == NULL) {
        return fail(x, err, DS_ENOMEM, "out of memory");
    }
    n = zip_fread(zf, buf, XLSX_CHUNK);
    if (n < 0) {
        return fail(x, err, DS_EPARSE, "part %s is damaged or truncated (%s)", x->part,
                    zip_file_strerror(zf));
    }
    if ((zip_uint64_t)n > x->left) {
        return fail(x, err, DS_ETOOBIG, "part %s is longer than it declares", x->part);
    }
    x->left -= (zip_uint64_t)n;
    x->xml_final = n == 0;
    if (XML_ParseBuffer(p, (int)n, n == 0) == XML_STATUS_ERROR && x->cb_rc == 0) {
        return fail(x, err, DS_EPARSE, "part %s: %s at line %lu", x->part,
                    XML_ErrorString(XML_GetErrorCode(p)),
                    (unsigned long)XML_GetCurrentLineNumber(p));
    }
    if (x->cb_rc != 0) {
        return fail(x, err, x->cb_rc, "part %s: %s", x->part, x->cb_msg);
    }
    return 1;
}

/* Parses a whole (small) part with the given handlers. A missing part is
 * DS_ENOTFOUND (the caller decides whether that matters). */
static int parse_part(struct xlsx_reader *x, const char *name, XML_StartElementHandler start,
                      XML_EndElementHandler end, struct ds_error *err)
{
    zip_file_t *zf = NULL;
    int rc;

    x->xp = NULL;
    x->xml_final = 0;
    rc = open_entry(x, name, XLSX_MAX_SMALL_PART, &zf, err);
    if (rc != 0) {
        goto out;
    }
    x->xp = new_parser(x, start, end);
    if (x->xp == NULL) {
        rc = fail(x, err, DS_ENOMEM, "out of memory");
        goto out;
    }
    do {
        rc = feed(x, x->xp, zf, err);
    } while (rc == 1);
out:
    if (x->xp != NULL) {
        XML_ParserFree(x->xp);
        x->xp = NULL;
    }
    if (zf != NULL) {
        zip_fclose(zf);
    }
    x->xml_final = 0;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Workbook, relationships, styles, shared strings                          */

static void XMLCALL wb_start(void *data, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx_reader *x = data;
    const char *el = local(name);
    const char *v;

    if (strcmp(el, "workbookPr") == 0) {
        v = attr(atts, "date1904");
        x->date1904 = v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
    }
    else if (strcmp(el, "sheet") == 0) {
        const char *sname = attr(atts, "name");
        const char *rid = attr(atts, "id");

        if (++x->nsheets > XLSX_MAX_SHEETS) {
            cb_fail(x, DS_ETOOBIG, "too many sheets");
            return;
        }
        if (sname == NULL || rid == NULL || x->sheet_rid[0] != '\0') {
            return;
        }
        if (x->want_index > 0 ? x->nsheets == x->want_index
                              : x->want == NULL || strcmp(x->want, sname) == 0) {
            x->sheet_index = x->nsheets;
            snprintf(x->sheet_rid, sizeof(x->sheet_rid), "%s", rid);
            snprintf(x->sheet_name, sizeof(x->sheet_name), "%s", sname);
        }
    }
}

static void XMLCALL no_end(void *data, const XML_Char *name)
{
    (void)data;
    (void)name;
}

static void XMLCALL rels_start(void *data, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx_reader *x = data;
    const char *id;
    const char *target;

    if (strcmp(local(name), "Relationship") != 0) {
        return;
    }
    id = attr(atts, "Id");
    target = attr(atts, "Target");
    if (id == NULL || target == NULL || strcmp(id, x->sheet_rid) != 0) {
        return;
    }
    if (target[0] == '/') {
        snprintf(x->target, sizeof(x->target), "%s", target + 1);
    }
    else {
        snprintf(x->target, sizeof(x->target), "xl/%s", target);
    }
}

/* The kind of a number format code: dates and times by their codes outside
 * quoted text, escapes and [bracketed] parts ([h], [m], [s] are elapsed
 * time). */
static int code_kind(const char *code)
{
    int date = 0;
    int time = 0;
    int m = 0;

    for (const char *p = code; *p != '\0'; p++) {
        char ch = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);

        if (ch == '"') {
            p = strchr(p + 1, '"');
            if (p == NULL) {
                break;
            }
            continue;
        }
        if (ch == '\\' || ch == '_' || ch == '*') {
            if (p[1] == '\0') {
                break;
            }
            p++;
            continue;
        }
        if (ch == '[') {
            const char *close = strchr(p, ']');

            if (close == NULL) {
                break;
            }
            if (p[1] == 'h' || p[1] == 'H' || p[1] == 's' || p[1] == 'S' || p[1] == 'm' ||
                p[1] == 'M') {
                time = 1;
            }
            p = close;
            continue;
        }
        if (ch == ';') {
            break; /* the first section decides */
        }
        date |= ch == 'y' || ch == 'd';
        time |= ch == 'h' || ch == 's';
        m |= ch == 'm';
    }
    if (m && !time) {
        date = 1;
    }
    return (date ? FMT_DATE : 0) | (time ? FMT_TIME : 0);
}

static int builtin_kind(long id)
{
    if ((id >= 14 && id <= 17) || (id >= 27 && id <= 31) || (id >= 34 && id <= 36) ||
        (id >= 50 && id <= 58)) {
        return FMT_DATE;
    }
    if ((id >= 18 && id <= 21) || (id >= 32 && id <= 33) || (id >= 45 && id <= 47)) {
        return FMT_TIME;
    }
    if (id == 22) {
        return FMT_DATETIME;
    }
    return FMT_NONE;
}

/* The kind of number format id: a custom one from styles, else built in. */
static int fmt_kind(const struct xlsx_reader *x, long id)
{
    const char *p = x->numfmts.data;
    char key[32];
    size_t klen = (size_t)snprintf(key, sizeof(key), "%ld\t", id);

    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');

        if (strncmp(p, key, klen) == 0) {
            return p[klen] - '0';
        }
        if (eol == NULL) {
            break;
        }
        p = eol + 1;
    }
    return builtin_kind(id);
}

static void XMLCALL styles_start(void *data, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx_reader *x = data;
    const char *el = local(name);

    if (strcmp(el, "numFmt") == 0) {
        const char *id = attr(atts, "numFmtId");
        const char *code = attr(atts, "formatCode");

        if (id != NULL && code != NULL &&
            ds_buf_printf(&x->numfmts, "%ld\t%d\n", strtol(id, NULL, 10), code_kind(code)) != 0) {
            cb_fail(x, DS_ETOOBIG, "too many number formats");
        }
    }
    else if (strcmp(el, "cellXfs") == 0) {
        x->in_xfs = 1;
    }
    else if (strcmp(el, "xf") == 0 && x->in_xfs) {
        const char *id = attr(atts, "numFmtId");

        if (x->nxf >= XLSX_MAX_XF) {
            cb_fail(x, DS_ETOOBIG, "too many cell formats");
            return;
        }
        x->xf[x->nxf++] = (unsigned char)fmt_kind(x, id != NULL ? strtol(id, NULL, 10) : 0);
    }
}

static void XMLCALL styles_end(void *data, const XML_Char *name)
{
    struct xlsx_reader *x = data;

    if (strcmp(local(name), "cellXfs") == 0) {
        x->in_xfs = 0;
    }
}

static void XMLCALL sst_start(void *data, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx_reader *x = data;
    const char *el = local(name);

    (void)atts;
    if (strcmp(el, "si") == 0) {
        x->in_si = 1;
        x->text_over = 0;
        ds_buf_reset(&x->text);
    }
    else if (strcmp(el, "rPh") == 0) {
        x->in_rph = 1;
    }
    else if (strcmp(el, "t") == 0 && x->in_si && !x->in_rph) {
        x->depth_t = 1;
    }
}

static void XMLCALL sst_end(void *data, const XML_Char *name)
{
    struct xlsx_reader *x = data;
    const char *el = local(name);
    int rc;

    if (strcmp(el, "t") == 0) {
        x->depth_t = 0;
    }
    else if (strcmp(el, "rPh") == 0) {
        x->in_rph = 0;
    }
    else if (strcmp(el, "si") == 0 && x->in_si) {
        x->in_si = 0;
        if (x->nsst >= XLSX_MAX_SST_COUNT) {
            cb_fail(x, DS_ETOOBIG, "more shared strings than the limit");
            return;
        }
        if (x->nsst == x->sst_cap) {
            size_t cap = x->sst_cap != 0 ? x->sst_cap * 2 : 1024;
            size_t *p = ds_realloc(x->sst_off, cap * sizeof(*p));

            if (p == NULL) {
                cb_fail(x, DS_ENOMEM, "out of memory");
                return;
            }
            x->sst_off = p;
            x->sst_cap = cap;
        }
        if (x->text_over) {
            /* Too long to be a field: a cell that uses it cuts its row. */
            x->sst_off[x->nsst++] = SIZE_MAX;
            return;
        }
        x->sst_off[x->nsst] = x->sst.len;
        rc = ds_buf_append(&x->sst, x->text.data != NULL ? x->text.data : "", x->text.len);
        if (rc == 0) {
            rc = ds_buf_append(&x->sst, "", 1);
        }
        if (rc != 0) {
            cb_fail(x, rc,
                    rc == DS_ETOOBIG ? "shared strings larger than the limit" : "out of memory");
            return;
        }
        x->nsst++;
    }
}

/* ------------------------------------------------------------------------ */
/* Serial dates                                                             */

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil(long long z, long long *y, unsigned *m, unsigned *d)
{
    long long era;
    unsigned doe;
    unsigned yoe;
    unsigned doy;
    unsigned mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

/* Writes serial (a cell value) as ISO text of the given kind into out.
 * Returns 0, or -1 when the value is not a usable serial. */
static int serial_iso(const char *v, int kind, int date1904, char *out, size_t size)
{
    char *end = NULL;
    double s = strtod(v, &end);
    long long days;
    long long secs;
    long long y;
    unsigned mo;
    unsigned d;

    if (end == v || *end != '\0' || !isfinite(s) || s < 0 || s > 2958466.0) {
        return -1;
    }
    days = (long long)floor(s);
    secs = llround((s - (double)days) * 86400.0);
    if (secs >= 86400) {
        days++;
        secs -= 86400;
    }
    if (kind == FMT_TIME) {
        snprintf(out, size, "%02lld:%02lld:%02lld", secs / 3600, secs / 60 % 60, secs % 60);
        return 0;
    }
    if (days < 1 && !date1904) {
        if (!(kind & FMT_TIME)) {
            return -1;
        }
        snprintf(out, size, "%02lld:%02lld:%02lld", secs / 3600, secs / 60 % 60, secs % 60);
        return 0;
    }
    if (date1904) {
        days -= 24107; /* 1904-01-01 is serial 0 */
    }
    else if (days >= 61) {
        days -= 25569; /* 1970-01-01 is serial 25569 */
    }
    else if (days < 60) {
        days -= 25568; /* before Excel's phantom 1900-02-29 */
    }
    else {
        return -1; /* serial 60, the 29th of February 1900, never existed */
    }
    civil(days, &y, &mo, &d);
    if (kind == FMT_DATE) {
        snprintf(out, size, "%04lld-%02u-%02u", y, mo, d);
    }
    else {
        snprintf(out, size, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", y, mo, d, secs / 3600,
                 secs / 60 % 60, secs % 60);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The sheet                                                                */

/* Column index (0-based) of a cell reference like "AB12", or -1. */
static long ref_col(const char *ref)
{
    long col = 0;
    int n = 0;

    for (; *ref >= 'A' && *ref <= 'Z'; ref++) {
        col = col * 26 + (*ref - 'A' + 1);
        if (++n > 3) {
            return -1;
        }
    }
    return n == 0 || col > XLSX_MAX_COL ? -1 : col - 1;
}

/* Appends one field (with its NUL) to the row. */
static int put_field(struct xlsx_reader *x, const char *s, size_t len)
{
    int rc;

    if (x->n >= DS_READ_MAX_FIELDS) {
        return DS_ETOOBIG;
    }
    if (len > (size_t)DS_READ_MAX_FIELD) {
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
    if (x->n > 0) {
        size_t room = x->raw.max - x->raw.len;

        (void)ds_buf_append(&x->raw, "\t", room > 0 ? 1 : 0);
    }
    {
        size_t room = x->raw.max - x->raw.len;

        (void)ds_buf_append(&x->raw, s, len < room ? len : room);
    }
    x->n++;
    x->filled += len > 0;
    return 0;
}

/* The current cell's text as the value handed over; *len its length. */
static const char *cell_value(struct xlsx_reader *x, char *tmp, size_t size, size_t *len)
{
    const char *v = x->text.data != NULL ? x->text.data : "";
    int kind;

    *len = x->text.len;
    if (strcmp(x->ctype, "s") == 0) {
        char *end = NULL;
        long i = strtol(v, &end, 10);

        if (end == v || *end != '\0' || i < 0 || (size_t)i >= x->nsst) {
            cb_fail(x, DS_EPARSE, "a shared string index out of range at row %ld", x->row_num);
            *len = 0;
            return "";
        }
        if (x->sst_off[i] == SIZE_MAX) {
            x->text_over = 1;
            *len = 0;
            return "";
        }
        v = x->sst.data + x->sst_off[i];
        *len = strlen(v);
        return v;
    }
    if (strcmp(x->ctype, "b") == 0) {
        v = strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ? "TRUE" : "FALSE";
        *len = strlen(v);
        return v;
    }
    if (x->ctype[0] != '\0' && strcmp(x->ctype, "n") != 0) {
        return v; /* str, inlineStr, e, d */
    }
    kind = x->cstyle >= 0 && (size_t)x->cstyle < x->nxf ? x->xf[x->cstyle] : FMT_NONE;
    if (kind != FMT_NONE && *len > 0 && serial_iso(v, kind, x->date1904, tmp, size) == 0) {
        *len = strlen(tmp);
        return tmp;
    }
    return v;
}

/* Cuts the row at a cap: the fields so far stay, the rest is dropped. */
static void row_cut(struct xlsx_reader *x, int error, size_t field)
{
    if (x->n > 0) {
        x->cells.len = x->offs[x->n - 1] + x->lens[x->n - 1] + 1; /* a partly added field goes */
    }
    else {
        x->cells.len = 0;
    }
    if (x->cells.data != NULL) {
        x->cells.data[x->cells.len] = '\0';
    }
    x->row_err = error;
    x->row_err_field = field;
    ds__read_row_msg(x->row_err_msg, sizeof(x->row_err_msg), error, field, XLSX_ROW_MAX);
}

static void XMLCALL sheet_start(void *data, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx_reader *x = data;
    const char *el = local(name);
    const char *v;

    if (x->cb_rc != 0) {
        return;
    }
    if (strcmp(el, "row") == 0) {
        v = attr(atts, "r");
        x->row_num = v != NULL ? strtol(v, NULL, 10) : x->last_row + 1;
        if (x->row_num <= x->last_row) {
            x->row_num = x->last_row + 1;
        }
        x->n = 0;
        x->filled = 0;
        x->next_col = 0;
        x->row_err = 0;
        ds_buf_reset(&x->cells);
        ds_buf_reset(&x->raw);
    }
    else if (strcmp(el, "c") == 0) {
        v = attr(atts, "r");
        x->col = v != NULL ? ref_col(v) : x->next_col;
        if (x->col < 0 || x->col < x->next_col) {
            cb_fail(x, DS_EPARSE, "a cell reference is bad or out of order at row %ld", x->row_num);
            return;
        }
        v = attr(atts, "t");
        snprintf(x->ctype, sizeof(x->ctype), "%s", v != NULL ? v : "");
        v = attr(atts, "s");
        x->cstyle = v != NULL ? strtol(v, NULL, 10) : -1;
        x->in_c = 1;
        x->text_over = 0;
        ds_buf_reset(&x->text);
    }
    else if (strcmp(el, "v") == 0 && x->in_c) {
        x->in_v = 1;
    }
    else if (strcmp(el, "is") == 0 && x->in_c) {
        x->in_is = 1;
    }
    else if (strcmp(el, "rPh") == 0) {
        x->in_rph = 1;
    }
    else if (strcmp(el, "t") == 0 && x->in_is && !x->in_rph) {
        x->depth_t = 1;
    }
}

static void XMLCALL sheet_end(void *data, const XML_Char *name)
{
    struct xlsx_reader *x = data;
    const char *el = local(name);
    char tmp[80];
    const char *v;
    size_t len;
    int rc = 0;

    if (x->cb_rc != 0) {
        return;
    }
    if (strcmp(el, "v") == 0) {
        x->in_v = 0;
    }
    else if (strcmp(el, "t") == 0) {
        x->depth_t = 0;
    }
    else if (strcmp(el, "rPh") == 0) {
        x->in_rph = 0;
    }
    else if (strcmp(el, "is") == 0) {
        x->in_is = 0;
    }
    else if (strcmp(el, "c") == 0 && x->in_c) {
        x->in_c = 0;
        if (x->row_err != 0) {
            return; /* the row is cut: the rest of it is dropped */
        }
        if (x->col >= DS_READ_MAX_FIELDS) {
            row_cut(x, DS_READ_ROW_TOO_MANY_COLUMNS, (size_t)DS_READ_MAX_FIELDS + 1);
            return;
        }
        v = cell_value(x, tmp, sizeof(tmp), &len);
        if (x->text_over) {
            row_cut(x, DS_READ_ROW_FIELD_TOO_LONG, (size_t)x->col + 1);
            return;
        }
        while (rc == 0 && (long)x->n < x->col) {
            rc = put_field(x, "", 0);
        }
        if (rc == 0) {
            rc = put_field(x, v, len);
        }
        if (rc == DS_ETOOBIG) {
            row_cut(x, DS_READ_ROW_TOO_LARGE, x->n + 1);
            return;
        }
        if (rc != 0) {
            cb_fail(x, rc, "out of memory");
            return;
        }
        x->next_col = x->col + 1;
    }
    else if (strcmp(el, "row") == 0) {
        x->last_row = x->row_num;
        x->row_done = 1;
        XML_StopParser(x->xp, XML_TRUE);
    }
}

/* Parses on until a row ends. 1: a row (maybe blank), 0: the sheet ended,
 * or an error. */
static int next_sheet_row(struct xlsx_reader *x, struct ds_error *err)
{
    XML_ParsingStatus ps;
    int rc;

    x->row_done = 0;
    for (;;) {
        XML_GetParsingStatus(x->xp, &ps);
        if (ps.parsing == XML_SUSPENDED) {
            if (XML_ResumeParser(x->xp) == XML_STATUS_ERROR && x->cb_rc == 0) {
                return fail(x, err, DS_EPARSE, "part %s: %s at line %lu", x->part,
                            XML_ErrorString(XML_GetErrorCode(x->xp)),
                            (unsigned long)XML_GetCurrentLineNumber(x->xp));
            }
            if (x->cb_rc != 0) {
                return fail(x, err, x->cb_rc, "part %s: %s", x->part, x->cb_msg);
            }
        }
        else if (ps.parsing == XML_FINISHED) {
            return 0;
        }
        else {
            rc = feed(x, x->xp, x->zf, err);
            if (rc <= 0) {
                return rc;
            }
        }
        if (x->row_done) {
            return 1;
        }
    }
}

/* The sheet framer's pull: the next sheet row, blank or not. */
static int xlsx_pull(void *src, struct ds__sheet_row *row, struct ds_error *err)
{
    struct xlsx_reader *x = src;
    int rc;

    rc = next_sheet_row(x, err);
    if (rc <= 0) {
        return rc;
    }
    row->n = x->n;
    row->cells = x->cells.data != NULL ? x->cells.data : "";
    row->offs = x->offs;
    row->lens = x->lens;
    row->raw = x->raw.data;
    row->raw_len = x->raw.len;
    row->line = x->row_num;
    row->error = x->row_err;
    row->error_field = x->row_err_field;
    row->error_msg = x->row_err_msg;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The reader's operations                                                  */

int ds__read_xlsx_open(int fd, const char *path, const struct ds_read_hints *hints,
                       struct ds_reader *r, struct ds_error *err)
{
    struct xlsx_reader *x = NULL;
    int zerr = 0;
    int zfd = -1;
    int rc;

    x = ds_calloc(1, sizeof(*x));
    if (x == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    x->r = r;
    x->want = hints != NULL ? hints->sheet : NULL;
    x->want_index = hints != NULL && hints->sheet_index > 0 ? hints->sheet_index : 0;
    ds_buf_init(&x->sst, XLSX_MAX_SST_BYTES);
    ds_buf_init(&x->numfmts, (size_t)1 << 20);
    ds_buf_init(&x->text, (size_t)DS_READ_MAX_FIELD);
    ds_buf_init(&x->cells, XLSX_ROW_MAX);
    ds_buf_init(&x->raw, XLSX_RAW_MAX);
    x->path = ds_strdup(path);
    x->xf = ds_malloc(XLSX_MAX_XF);
    if (x->path == NULL || x->xf == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    /* libzip reads through a descriptor of its own on the checked file;
     * it closes it with the archive. */
    zfd = ds_fsafe_reopen(fd);
    if (zfd < 0) {
        rc = ds__read_fail(err, DS_EIO, path, 0, NULL, "cannot open the file");
        goto out;
    }
    x->za = zip_fdopen(zfd, 0, &zerr);
    if (x->za != NULL) {
        zfd = -1;
    }
    if (x->za == NULL) {
        rc = ds__read_fail(err, zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ ? DS_EIO : DS_EPARSE,
                           path, 0, NULL,
                           "XLSX: not a readable zip archive (damaged or truncated, zip error "
                           "%d)",
                           zerr);
        goto out;
    }
    rc = parse_part(x, "xl/workbook.xml", wb_start, no_end, err);
    if (rc != 0) {
        goto out;
    }
    if (x->sheet_rid[0] == '\0') {
        rc = x->want_index > 0 && x->nsheets > 0
                 ? ds__read_fail(err, DS_ENOTFOUND, path, 0, "sheet",
                                 "XLSX: the workbook has no sheet at that position")
             : x->want != NULL
                 ? ds__read_fail(err, DS_ENOTFOUND, path, 0, "sheet",
                                 "XLSX: the workbook has no sheet of that name")
                 : ds__read_fail(err, DS_EPARSE, path, 0, NULL, "XLSX: the workbook has no sheet");
        goto out;
    }
    rc = parse_part(x, "xl/_rels/workbook.xml.rels", rels_start, no_end, err);
    if (rc == 0 && x->target[0] == '\0') {
        rc = ds__read_fail(err, DS_EPARSE, path, 0, NULL, "XLSX: the sheet's part is not named");
    }
    if (rc != 0) {
        goto out;
    }
    rc = parse_part(x, "xl/styles.xml", styles_start, styles_end, err);
    if (rc == 0 || rc == DS_ENOTFOUND) {
        rc = parse_part(x, "xl/sharedStrings.xml", sst_start, sst_end, err);
    }
    if (rc != 0 && rc != DS_ENOTFOUND) {
        goto out;
    }
    ds_buf_close(&x->numfmts);
    if (err != NULL) {
        ds_error_clear(err);
        (void)ds_str_copy(err->file, sizeof(err->file), path);
    }
    rc = open_entry(x, x->target, XLSX_MAX_PART, &x->zf, err);
    if (rc != 0) {
        goto out;
    }
    x->xp = new_parser(x, sheet_start, sheet_end);
    if (x->xp == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    r->dialect.format = "xlsx";
    snprintf(r->dialect.encoding, sizeof(r->dialect.encoding), "utf-8");
    snprintf(r->dialect.sheet, sizeof(r->dialect.sheet), "%s", x->sheet_name);
    r->dialect.sheet_index = x->sheet_index;
    rc = ds__read_sheet_open(r, path, "XLSX", hints, x, xlsx_pull, xlsx_close, err);
    x = NULL;
out:
    if (zfd >= 0) {
        close(zfd);
    }
    xlsx_close(x);
    return rc;
}

static void xlsx_close(void *impl)
{
    struct xlsx_reader *x = impl;

    if (x == NULL) {
        return;
    }
    if (x->xp != NULL) {
        XML_ParserFree(x->xp);
    }
    if (x->zf != NULL) {
        zip_fclose(x->zf);
    }
    if (x->za != NULL) {
        zip_discard(x->za);
    }
    ds_buf_close(&x->sst);
    ds_buf_close(&x->numfmts);
    ds_buf_close(&x->text);
    ds_buf_close(&x->cells);
    ds_buf_close(&x->raw);
    ds_free(x->sst_off);
    ds_free(x->xf);
    ds_free(x->path);
    ds_free(x);
}
