/*
 * test_read_csv.c — the CSV reader on small synthetic files: header, BOM,
 * line endings, delimiter and quote sniffing, quoting and the RFC 4180 edge
 * cases, blank lines, title lines above the header and trailer lines at the
 * end, row and line numbers, ragged rows, invalid UTF-8, size caps, empty
 * files. Encodings have their own test (test_read_encoding.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/core/ascii.h"
#include "agent/os/os_proc.h"
#include "agent/read/read.h"

#include <csv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A temporary file holding the test input; removed by its test. */
struct tmp {
    char path[64];
};

static void tmp_write(struct tmp *t, const void *data, size_t len)
{
    int fd;

    snprintf(t->path, sizeof(t->path), "/tmp/ds-test-csv-XXXXXX");
    fd = mkstemp(t->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void tmp_remove(struct tmp *t)
{
    unlink(t->path);
}

/* Opens a file holding s (NUL-terminated) with optional hints. */
static struct ds_reader *open_str(struct tmp *t, const char *s, const struct ds_read_hints *h)
{
    struct ds_reader *r = NULL;
    struct ds_error err;

    ds_error_clear(&err);
    tmp_write(t, s, strlen(s));
    assert_int_equal(ds_read_open(t->path, h, &r, &err), 0);
    assert_non_null(r);
    return r;
}

static void assert_fields(const struct ds_row *row, size_t n, const char *const *want)
{
    assert_int_equal(row->nfields, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(row->fields[i], want[i]);
        assert_int_equal(row->lens[i], strlen(want[i]));
    }
}

static void test_header_and_rows(void **state)
{
    static const char *const h[] = {"id", "name", "city"};
    static const char *const r1[] = {"1", "Ann", "Springfield"};
    static const char *const r2[] = {"2", "Bob", "Shelbyville"};
    struct tmp t;
    struct ds_reader *r =
        open_str(&t, "id,name,city\n1,Ann,Springfield\n2,Bob,Shelbyville\n", NULL);
    const struct ds_row *hdr = ds_read_header(r);
    struct ds_row row;

    (void)state;
    assert_fields(hdr, 3, h);
    assert_int_equal(hdr->row, 0);
    assert_int_equal(hdr->line, 1);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 3, r1);
    assert_int_equal(row.row, 1);
    assert_int_equal(row.line, 2);
    assert_int_equal(row.raw_len, strlen("1,Ann,Springfield"));
    assert_memory_equal(row.raw, "1,Ann,Springfield", row.raw_len);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 3, r2);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 3);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    ds_read_close(&r);
    assert_null(r);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_bom_and_crlf(void **state)
{
    static const char *const h[] = {"Patient ID", "Name"};
    static const char *const r1[] = {"7", "Zo\xc3\xab"};
    struct tmp t;
    struct ds_reader *r = open_str(&t, "\xef\xbb\xbfPatient ID,Name\r\n7,Zo\xc3\xab\r\n\r\n", NULL);
    struct ds_row row;

    (void)state;
    assert_fields(ds_read_header(r), 2, h);
    assert_int_equal(ds_read_header(r)->raw_len, strlen("Patient ID,Name"));
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 2, r1);
    assert_int_equal(row.line, 2);
    assert_int_equal(row.raw_len, strlen("7,Zo\xc3\xab"));
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

/* no_raw: the rows come without their text (the fields unchanged), the
 * header keeps its own. */
static void test_no_raw(void **state)
{
    static const char *const r1[] = {"7", "Zo\xc3\xab", "multi\nline"};
    static const char *const r2[] = {"8", "Al", ""};
    struct ds_read_hints h;
    struct tmp t;
    struct ds_reader *r;
    struct ds_row row;

    (void)state;
    memset(&h, 0, sizeof(h));
    h.no_raw = 1;
    r = open_str(&t, "id,name,note\n7,Zo\xc3\xab,\"multi\nline\"\n8,Al,\n", &h);
    assert_int_equal(ds_read_header(r)->raw_len, strlen("id,name,note"));
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 3, r1);
    assert_int_equal(row.raw_len, 0);
    assert_string_equal(row.raw, "");
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 3, r2);
    assert_int_equal(row.raw_len, 0);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

/* A file the source checked says its fields are checked UTF-8 (the mapper
 * then does not check them again); one iconv decoded does not. */
static void test_utf8_checked(void **state)
{
    static const unsigned char utf16[] = {0xff, 0xfe, 'a', 0,   ',', 0,   'b', 0,    '\n',
                                          0,    '1',  0,   ',', 0,   '2', 0,   '\n', 0};
    struct tmp t;
    struct ds_reader *r = open_str(&t, "id,name\n7,Zo\xc3\xab\n8,\"A,l\"\n", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_int_equal(row.utf8_checked, 1);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_string_equal(row.fields[1], "A,l");
    assert_int_equal(row.utf8_checked, 1);
    ds_read_close(&r);
    tmp_remove(&t);

    tmp_write(&t, utf16, sizeof(utf16));
    assert_int_equal(ds_read_open(t.path, NULL, &r, NULL), 0);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_string_equal(row.fields[1], "2");
    assert_int_equal(row.utf8_checked, 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_cr_only(void **state)
{
    struct tmp t;
    struct ds_reader *r = open_str(&t, "a,b\r1,2\r3,4\r", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_int_equal(row.line, 2);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_int_equal(row.line, 3);
    assert_string_equal(row.fields[1], "4");
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

/* The delimiter of a two-column file s, as the reader sniffed it. */
static void check_sniffed(const char *s, const char *a, const char *b)
{
    struct tmp t;
    struct ds_reader *r = open_str(&t, s, NULL);
    struct ds_row row;

    assert_int_equal(ds_read_header(r)->nfields, 2);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_int_equal(row.nfields, 2);
    assert_string_equal(row.fields[0], a);
    assert_string_equal(row.fields[1], b);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_sniff(void **state)
{
    (void)state;
    check_sniffed("a;b\n1,5;2\n", "1,5", "2");
    check_sniffed("a\tb\nx, y\tz\n", "x, y", "z");
    check_sniffed("a|b\n1;2|3\n", "1;2", "3");
    check_sniffed("a,b\n1;2;3,4\n", "1;2;3", "4");
    /* Commas inside quotes do not count. */
    check_sniffed("\"x,y,z\";b\n1;2\n", "1", "2");
    /* Blank lines before the header are skipped by the sniffer too. */
    check_sniffed("\n  \na|b\n1|2\n", "1", "2");
}

static void test_hints(void **state)
{
    struct ds_read_hints h = {.delimiter = '|', .quote = '~', .encoding = "UTF-8"};
    struct ds_read_hints bad = {.delimiter = '"', .quote = 0, .encoding = NULL};
    struct ds_read_hints enc = {.delimiter = 0, .quote = 0, .encoding = "no-such-encoding"};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;

    (void)state;
    r = open_str(&t, "~a,b~|c\n~x| \"y\"~|2\n", &h);
    assert_string_equal(ds_read_header(r)->fields[0], "a,b");
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_string_equal(row.fields[0], "x| \"y\"");
    assert_string_equal(row.fields[1], "2");
    ds_read_close(&r);
    assert_int_equal(ds_read_open(t.path, &bad, &r, &err), DS_EINVAL);
    assert_string_equal(err.field, "delimiter");
    assert_int_equal(ds_read_open(t.path, &enc, &r, &err), DS_EINVAL);
    assert_string_equal(err.field, "encoding");
    assert_null(r);
    tmp_remove(&t);
}

static void test_quoted(void **state)
{
    static const char *const r1[] = {"Smith, J", "He said \"hi\"\nsecond line"};
    static const char *const r2[] = {"last", "x"};
    struct tmp t;
    struct ds_reader *r =
        open_str(&t, "name,note\n\"Smith, J\",\"He said \"\"hi\"\"\nsecond line\"\nlast,x\n", NULL);
    struct ds_row row;
    const char *raw1 = "\"Smith, J\",\"He said \"\"hi\"\"\nsecond line\"";

    (void)state;
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 2, r1);
    assert_int_equal(row.row, 1);
    assert_int_equal(row.line, 2);
    assert_int_equal(row.raw_len, strlen(raw1));
    assert_memory_equal(row.raw, raw1, row.raw_len);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 2, r2);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 4);
    assert_true(row.line > row.row + 1);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_quoted_crlf_inside(void **state)
{
    struct tmp t;
    struct ds_reader *r = open_str(&t, "a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_string_equal(row.fields[1], "x\r\ny");
    assert_int_equal(row.line, 2);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 4);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_blank_lines(void **state)
{
    struct tmp t;
    struct ds_reader *r = open_str(&t, "\n\na,b\n\n1,2\n   \n,\n \"\" , \n3,4", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_header(r)->line, 3);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_int_equal(row.row, 1);
    assert_int_equal(row.line, 5);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 9);
    assert_string_equal(row.fields[0], "3");
    assert_string_equal(row.fields[1], "4");
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_ragged(void **state)
{
    static const char *const short_row[] = {"1", "2"};
    static const char *const long_row[] = {"1", "2", "3", "4"};
    struct tmp t;
    struct ds_reader *r = open_str(&t, "a,b,c\n1,2\n1,2,3,4\n", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 2, short_row);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 4, long_row);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    assert_int_equal(ds_read_dialect(r)->ragged_rows, 2);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_invalid_utf8(void **state)
{
    struct ds_read_hints u8 = {.encoding = "utf-8"};
    struct tmp t;
    struct ds_reader *r = open_str(&t, "a,b\n1,2\n\n3,\"x\ny\xff\"\n4,5\n", &u8);
    struct ds_error err;
    struct ds_row row;

    (void)state;
    ds_error_clear(&err);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_int_equal(err.code, DS_EPARSE);
    assert_int_equal(err.row, 2);
    assert_non_null(strstr(err.msg, "not valid UTF-8"));
    assert_non_null(strstr(err.msg, "line 5"));
    assert_non_null(strstr(err.msg, "byte offset 15"));
    assert_string_equal(err.file, t.path);
    /* The reader stays failed. */
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    ds_read_close(&r);
    /* Without the hint, the same bytes are Windows-1252. */
    r = open_str(&t, "a,b\n1,2\n\n3,\"x\ny\xff\"\n4,5\n", NULL);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[1], "x\ny\xc3\xbf");
    assert_string_equal(ds_read_dialect(r)->encoding, "windows-1252");
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_invalid_utf8_forms(void **state)
{
    static const char *const bad[] = {
        "a\n\xc0\xaf\n",         /* overlong '/' */
        "a\n\xed\xa0\x80\n",     /* surrogate */
        "a\n\xf4\x90\x80\x80\n", /* past U+10FFFF */
        "a\nx\xe2\x82\n",        /* truncated */
    };
    struct ds_read_hints u8 = {.encoding = "UTF8"};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = open_str(&t, bad[i], &u8);
        assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
        assert_non_null(strstr(err.msg, "line 2"));
        ds_read_close(&r);
        tmp_remove(&t);
    }
    /* A NUL byte, and an invalid header. */
    tmp_write(&t, "a\nx\0y\n", 6);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "NUL"));
    assert_string_equal(err.field, "a");
    ds_read_close(&r);
    tmp_remove(&t);
    tmp_write(&t, "na\xefme\n1\n", 8);
    assert_int_equal(ds_read_open(t.path, &u8, &r, &err), DS_EPARSE);
    assert_null(r);
    assert_non_null(strstr(err.msg, "line 1"));
    tmp_remove(&t);
}

/* Reads a row that must be whole with the given first field. */
static void want_row(struct ds_reader *r, long n, const char *first)
{
    struct ds_error err;
    struct ds_row row;

    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.error, DS_READ_ROW_OK);
    assert_string_equal(row.error_msg, "");
    assert_int_equal(row.row, n);
    assert_string_equal(row.fields[0], first);
}

/* A file of three rows whose second holds mid (its first field "2"): rows
 * 1 and 3 read normally, row 2 comes back cut with the error. */
static void three_rows(const char *mid, size_t mid_len, int error, size_t field, size_t kept)
{
    static const char head[] = "id,note,x\n1,a,b\n";
    static const char tail[] = "3,d,e\n";
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    size_t n = sizeof(head) - 1 + mid_len + sizeof(tail) - 1;
    char *p = malloc(n);

    assert_non_null(p);
    memcpy(p, head, sizeof(head) - 1);
    memcpy(p + sizeof(head) - 1, mid, mid_len);
    memcpy(p + sizeof(head) - 1 + mid_len, tail, sizeof(tail) - 1);
    tmp_write(&t, p, n);
    free(p);
    ds_error_clear(&err);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    want_row(r, 1, "1");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 3);
    assert_int_equal(row.error, error);
    assert_int_equal(row.error_field, field);
    assert_true(row.error_msg[0] != '\0');
    assert_int_equal(row.nfields, kept);
    if (kept > 0) {
        assert_string_equal(row.fields[0], "2");
    }
    assert_true(row.raw_len <= (size_t)64 * 1024);
    want_row(r, 3, "3");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_field_caps(void **state)
{
    size_t big = (size_t)DS_READ_MAX_FIELD + 1;
    char *s = malloc(3 * big + 64);
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    size_t n;

    (void)state;
    assert_non_null(s);
    /* Exactly at the cap: fine. */
    memcpy(s, "a\n", 2);
    memset(s + 2, 'x', (size_t)DS_READ_MAX_FIELD);
    memcpy(s + 2 + (size_t)DS_READ_MAX_FIELD, "\n", 2);
    r = open_str(&t, s, NULL);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.lens[0], (size_t)DS_READ_MAX_FIELD);
    assert_int_equal(row.error, DS_READ_ROW_OK);
    ds_read_close(&r);
    tmp_remove(&t);
    /* One past, unquoted: row 2 is cut at field 2, rows 1 and 3 are read. */
    memcpy(s, "2,", 2);
    memset(s + 2, 'x', big);
    memcpy(s + 2 + big, ",c\n", 3);
    three_rows(s, big + 5, DS_READ_ROW_FIELD_TOO_LONG, 2, 1);
    /* Quoted and closed, one past the cap. */
    memcpy(s, "2,\"", 3);
    memset(s + 3, 'x', big);
    memcpy(s + 3 + big, "\",c\n", 4);
    three_rows(s, big + 7, DS_READ_ROW_FIELD_TOO_LONG, 2, 1);
    /* Quoted, three times the cap, with line breaks, doubled quotes, a
     * delimiter and a quote followed by spaces inside: skipped to its
     * real end, and row 3 starts on the right line. */
    memcpy(s, "2,\"", 3);
    n = 3;
    for (size_t i = 0; i < 3 * big / 8; i++) {
        memcpy(s + n, i % 2 == 0 ? "ab\ncd,\"\"" : "\"\"  \"\"\r\nx", 8);
        n += 8;
    }
    memcpy(s + n, "\",c\n", 4);
    three_rows(s, n + 4, DS_READ_ROW_FIELD_TOO_LONG, 2, 1);
    /* The long field ends the last line of the file (no final newline). */
    memcpy(s, "a\n1\n2,", 6);
    memset(s + 6, 'z', big);
    s[6 + big] = '\0';
    r = open_str(&t, s, NULL);
    want_row(r, 1, "1");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.error, DS_READ_ROW_FIELD_TOO_LONG);
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);
    tmp_remove(&t);
    free(s);
    /* A quote never closed: no end of the row is ever found, so the file
     * stops there, after the rows before it. */
    big = 4 * (size_t)DS_READ_MAX_FIELD;
    s = malloc(big + 8);
    assert_non_null(s);
    memcpy(s, "a\n\"", 3);
    memset(s + 3, 'y', big);
    s[3 + big] = '\0';
    r = open_str(&t, s, NULL);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "line 2"));
    ds_read_close(&r);
    tmp_remove(&t);
    free(s);
}

static void test_too_many_fields(void **state)
{
    size_t n = (size_t)DS_READ_MAX_FIELDS + 5;
    char *s = malloc(2 * n + 8);

    (void)state;
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = i == 0 ? '2' : 'x';
        s[2 * i + 1] = ',';
    }
    s[2 * n - 1] = '\n';
    three_rows(s, 2 * n, DS_READ_ROW_TOO_MANY_COLUMNS, (size_t)DS_READ_MAX_FIELDS + 1,
               (size_t)DS_READ_MAX_FIELDS);
    free(s);
}

static void test_row_too_large(void **state)
{
    /* Fields at the field cap, more of them than the row cap holds. */
    size_t nf = 4 * 1024 * 1024 / (size_t)DS_READ_MAX_FIELD + 2;
    size_t len = 2 + nf * ((size_t)DS_READ_MAX_FIELD + 1);
    char *s = malloc(len);
    size_t p = 2;
    size_t field;

    (void)state;
    assert_non_null(s);
    memcpy(s, "2,", 2);
    for (size_t i = 0; i < nf; i++) {
        memset(s + p, 'a' + (int)(i % 26), (size_t)DS_READ_MAX_FIELD);
        p += (size_t)DS_READ_MAX_FIELD;
        s[p++] = i + 1 < nf ? ',' : '\n';
    }
    /* 64 fields of 64 KiB fill 4 MiB with their terminators past it: the
     * 64th (field 65 of the row) does not fit. */
    field = 4 * 1024 * 1024 / ((size_t)DS_READ_MAX_FIELD + 1) + 2;
    three_rows(s, len, DS_READ_ROW_TOO_LARGE, field, field - 1);
    free(s);
}

/* Peak resident memory in KiB. */
static long peak_kib(void)
{
    long kib = ds_os_peak_memory_kib();

    assert_true(kib >= 0);
    return kib;
}

static void test_cap_bounds_memory(void **state)
{
    /* A 32 MiB quoted field with line breaks: reading it past the cap must
     * not hold it. The file is written in pieces, never whole in memory. */
    static const size_t total = (size_t)32 * 1024 * 1024;
    char piece[4096];
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    long before;
    FILE *f;
    int fd;

    (void)state;
    memset(piece, 'q', sizeof(piece));
    piece[100] = '\n';
    snprintf(t.path, sizeof(t.path), "/tmp/ds-test-csv-XXXXXX");
    fd = mkstemp(t.path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("id,note\n1,a\n2,\"", f);
    for (size_t n = 0; n < total; n += sizeof(piece)) {
        assert_int_equal(fwrite(piece, 1, sizeof(piece), f), sizeof(piece));
    }
    fputs("\"\n3,c\n", f);
    assert_int_equal(fclose(f), 0);
    before = peak_kib();
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    want_row(r, 1, "1");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.error, DS_READ_ROW_FIELD_TOO_LONG);
    want_row(r, 3, "3");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);
    /* Held in memory, the field alone would add 32 MiB. */
    assert_true(peak_kib() - before < 12 * 1024);
    tmp_remove(&t);
}

static void test_unterminated_quote(void **state)
{
    struct tmp t;
    struct ds_reader *r = open_str(&t, "a,b\n1,2\n3,\"never closed\n4,5\n", NULL);
    struct ds_error err;
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_int_equal(err.row, 2);
    assert_non_null(strstr(err.msg, "line 3"));
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_empty_and_missing(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct tmp t;

    (void)state;
    tmp_write(&t, "", 0);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), DS_EPARSE);
    assert_null(r);
    tmp_remove(&t);
    tmp_write(&t, "\xef\xbb\xbf\r\n  \n,,\n", 11);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), DS_EPARSE);
    tmp_remove(&t);
    assert_int_equal(ds_read_open("/nonexistent/ds-test.csv", NULL, &r, &err), DS_EIO);
    assert_string_equal(err.file, "/nonexistent/ds-test.csv");
    tmp_write(&t, "PK\x03\x04rest", 8);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), DS_EPARSE);
    assert_non_null(ds_ascii_casestr(err.msg, "XLSX"));
    assert_string_equal(err.file, t.path);
    tmp_remove(&t);
}

/* The notices of r of one kind, as "line:row" pairs joined by spaces. */
static void notices_of(const struct ds_reader *r, int kind, char *buf, size_t size)
{
    size_t n = 0;
    const struct ds_read_notice *list = ds_read_notices(r, &n, NULL);
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        if (list[i].kind == kind) {
            used += (size_t)snprintf(buf + used, size - used, "%s%ld:%ld", used > 0 ? " " : "",
                                     list[i].line, list[i].row);
        }
    }
}

/* Reads every data row of s; returns how many, the first field of each
 * joined by '|' into firsts. */
static long read_all(struct ds_reader *r, char *firsts, size_t size)
{
    struct ds_error err;
    struct ds_row row;
    size_t used = 0;
    long n = 0;
    int rc;

    firsts[0] = '\0';
    for (;;) {
        rc = ds_read_next_row(r, &row, &err);
        assert_true(rc >= 0);
        if (rc == 0) {
            break;
        }
        n++;
        assert_int_equal(row.row, n);
        used += (size_t)snprintf(firsts + used, size - used, "%s%s", n > 1 ? "|" : "",
                                 row.nfields > 0 ? row.fields[0] : "");
        assert_true(used < size);
    }
    return n;
}

static void test_quote_sniff(void **state)
{
    static const char *const r1[] = {"1", "Ann, M", "say ~hi~"};
    struct tmp t;
    struct ds_reader *r =
        open_str(&t, "~PatId~,~PatFname~,~Note~\r\n1,~Ann, M~,~say ~~hi~~~\r\n", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_dialect(r)->quote, '~');
    assert_int_equal(ds_read_dialect(r)->delimiter, ',');
    assert_string_equal(ds_read_dialect(r)->format, "csv");
    assert_string_equal(ds_read_header(r)->fields[1], "PatFname");
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 3, r1);
    ds_read_close(&r);
    tmp_remove(&t);
    /* A double quote elsewhere does not win over ~ fields. */
    r = open_str(&t, "~a~,~b~\n~5\" pipe~,~x~\n", NULL);
    assert_int_equal(ds_read_dialect(r)->quote, '~');
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_string_equal(row.fields[0], "5\" pipe");
    ds_read_close(&r);
    tmp_remove(&t);
}

/* One table written in every dialect the sniffer knows: delimiter , ; TAB
 * or |, quote " ~ or ', lines ending in LF, CRLF or CR. Fields hold the
 * delimiter, the quote (doubled), a line break and non-ASCII text, so every
 * file needs its quoting; each must be sniffed right and read to the same
 * rows. */
static void test_same_rows_every_dialect(void **state)
{
    static const char *const table[4][4] = {
        {"Patient ID", "Name", "Note", "Balance"},
        {"1001", "Zo\xc3\xab, A; B|C\tD", "said Qhi", "-12.5"},
        {"1002", "Bob", "two\nlines", ""},
        {"1003", "M\xc3\xbcller", "Q", "7"},
    };
    static const char delims[] = {',', ';', '\t', '|'};
    static const char quotes[] = {'"', '~', '\''};
    static const char *const eols[] = {"\n", "\r\n", "\r"};
    char text[1024];
    char want[64];

    (void)state;
    for (size_t d = 0; d < sizeof(delims); d++) {
        for (size_t q = 0; q < sizeof(quotes); q++) {
            for (size_t e = 0; e < 3; e++) {
                struct ds_reader *r;
                struct ds_row row;
                struct tmp t;
                size_t len = 0;

                /* Every field quoted; Q in the table stands for the quote. */
                for (size_t i = 0; i < 4; i++) {
                    for (size_t j = 0; j < 4; j++) {
                        text[len++] = quotes[q];
                        for (const char *c = table[i][j]; *c != '\0'; c++) {
                            if (*c == 'Q') {
                                text[len++] = quotes[q];
                                text[len++] = quotes[q];
                            }
                            else if (*c == '\n') {
                                len +=
                                    (size_t)snprintf(text + len, sizeof(text) - len, "%s", eols[e]);
                            }
                            else {
                                text[len++] = *c;
                            }
                        }
                        text[len++] = quotes[q];
                        if (j < 3) {
                            text[len++] = delims[d];
                        }
                    }
                    len += (size_t)snprintf(text + len, sizeof(text) - len, "%s", eols[e]);
                }
                text[len] = '\0';
                r = open_str(&t, text, NULL);
                assert_int_equal(ds_read_dialect(r)->delimiter, delims[d]);
                assert_int_equal(ds_read_dialect(r)->quote, quotes[q]);
                assert_fields(ds_read_header(r), 4, table[0]);
                for (size_t i = 1; i < 4; i++) {
                    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
                    assert_int_equal(row.row, (long)i);
                    assert_int_equal(row.nfields, 4);
                    for (size_t j = 0; j < 4; j++) {
                        size_t k = 0;

                        for (const char *c = table[i][j]; *c != '\0'; c++) {
                            if (*c == '\n') {
                                k += (size_t)snprintf(want + k, sizeof(want) - k, "%s", eols[e]);
                            }
                            else {
                                want[k++] = *c == 'Q' ? quotes[q] : *c;
                            }
                        }
                        want[k] = '\0';
                        assert_string_equal(row.fields[j], want);
                    }
                }
                assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
                assert_int_equal(ds_read_dialect(r)->trailer_lines, 0);
                ds_read_close(&r);
                tmp_remove(&t);
            }
        }
    }
}

static void test_title_and_trailer(void **state)
{
    char buf[256];
    struct tmp t;
    struct ds_reader *r = open_str(&t,
                                   "Patient Export Report\r\n"
                                   "Printed 03/27/2024, page 1\r\n"
                                   "\r\n"
                                   "id,first,last,city\r\n"
                                   "1,A,B,X\r\n"
                                   "2,C,D,Y\r\n"
                                   "Total records: 2\r\n",
                                   NULL);
    const struct ds_read_dialect *d = ds_read_dialect(r);
    long total = 0;

    (void)state;
    assert_int_equal(d->delimiter, ',');
    assert_int_equal(d->header_line, 4);
    assert_int_equal(d->title_lines, 2);
    assert_int_equal(ds_read_header(r)->line, 4);
    assert_string_equal(ds_read_header(r)->fields[0], "id");
    notices_of(r, DS_READ_NOTICE_TITLE, buf, sizeof(buf));
    assert_string_equal(buf, "1:0 2:0");
    assert_int_equal(read_all(r, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "1|2");
    assert_int_equal(d->trailer_lines, 1);
    notices_of(r, DS_READ_NOTICE_TRAILER, buf, sizeof(buf));
    assert_string_equal(buf, "7:0");
    (void)ds_read_notices(r, NULL, &total);
    assert_int_equal(total, 3);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_trailer_shapes(void **state)
{
    struct ds_read_hints keep = {.keep_trailers = 1};
    char buf[256];
    struct tmp t;
    struct ds_reader *r;

    (void)state;
    /* A totals line with a few values. */
    r = open_str(&t, "id,name,amount\n1,A,5\n2,B,6\n,Total,11\n", NULL);
    assert_int_equal(read_all(r, buf, sizeof(buf)), 2);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 1);
    ds_read_close(&r);
    tmp_remove(&t);
    /* A shorter last row, and two trailer lines. */
    r = open_str(&t, "a,b,c,d\n1,2,3,4\nTRL,000001\nEOF", NULL);
    assert_int_equal(read_all(r, buf, sizeof(buf)), 1);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 2);
    notices_of(r, DS_READ_NOTICE_TRAILER, buf, sizeof(buf));
    assert_string_equal(buf, "3:0 4:0");
    ds_read_close(&r);
    tmp_remove(&t);
    /* The hint keeps them as rows. */
    r = open_str(&t, "a,b,c,d\n1,2,3,4\nTRL,000001\nEOF", &keep);
    assert_int_equal(read_all(r, buf, sizeof(buf)), 3);
    assert_string_equal(buf, "1|TRL|EOF");
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 0);
    ds_read_close(&r);
    tmp_remove(&t);
    /* Short rows followed by data are data (and ragged). */
    r = open_str(&t, "a,b,c,d\n1,2,3,4\nx\ntotal\n5,6,7,8\n", NULL);
    assert_int_equal(read_all(r, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "1|x|total|5");
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 0);
    assert_int_equal(ds_read_dialect(r)->ragged_rows, 2);
    notices_of(r, DS_READ_NOTICE_RAGGED, buf, sizeof(buf));
    assert_string_equal(buf, "3:2 4:3");
    ds_read_close(&r);
    tmp_remove(&t);
    /* A full-width last row is data, whatever it says. */
    r = open_str(&t, "a,b,c\n1,2,3\nTotal,Jones,7\n", NULL);
    assert_int_equal(read_all(r, buf, sizeof(buf)), 2);
    ds_read_close(&r);
    tmp_remove(&t);
    /* A header-only file with a count trailer. */
    r = open_str(&t, "a;b;c\nRecords: 0\n", NULL);
    assert_int_equal(read_all(r, buf, sizeof(buf)), 0);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 1);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_header_hint(void **state)
{
    struct ds_read_hints h = {.header_line = 2};
    struct ds_read_hints bad = {.header_line = 3};
    struct ds_reader *r = NULL;
    struct ds_error err;
    char buf[64];
    struct tmp t;

    (void)state;
    r = open_str(&t, "x,y\nid,name\n\n1,a\n", &h);
    assert_string_equal(ds_read_header(r)->fields[0], "id");
    assert_int_equal(ds_read_dialect(r)->title_lines, 1);
    assert_int_equal(read_all(r, buf, sizeof(buf)), 1);
    ds_read_close(&r);
    assert_int_equal(ds_read_open(t.path, &bad, &r, &err), DS_EPARSE);
    assert_string_equal(err.field, "header_line");
    assert_non_null(strstr(err.msg, "line 3"));
    tmp_remove(&t);
}

static void test_sniff_past_title(void **state)
{
    struct tmp t;
    struct ds_reader *r = open_str(&t, "Report, generated today\na;b;c\n1;2,5;3\n4;5;6\n", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_dialect(r)->delimiter, ';');
    assert_int_equal(ds_read_header(r)->nfields, 3);
    assert_int_equal(ds_read_header(r)->line, 2);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_string_equal(row.fields[1], "2,5");
    ds_read_close(&r);
    tmp_remove(&t);
}

/* RFC 4180: empty quoted fields, doubled quotes, line breaks inside quotes,
 * a trailing delimiter, spaces around quotes, no final line break. */
static void test_rfc4180(void **state)
{
    static const char *const r1[] = {"", "x\"y", ""};
    static const char *const r2[] = {"q", "z", "m\r\nn"};
    static const char *const r3[] = {"\"", "", "last"};
    struct tmp t;
    struct ds_reader *r =
        open_str(&t, "a,b,c\r\n\"\",\"x\"\"y\",\r\n \"q\" ,z,\"m\r\nn\"\r\n\"\"\"\",,last", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 3, r1);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 3, r2);
    assert_int_equal(row.line, 3);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 3, r3);
    assert_int_equal(row.line, 5);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    assert_int_equal(ds_read_dialect(r)->ragged_rows, 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

/* Line breaks of each kind inside quotes are text; the rows after them
 * start on the right physical lines, and a row's raw text is all its
 * lines. */
static void test_breaks_in_quotes(void **state)
{
    static const char *const r1[] = {"1", "x\r\ny"};
    static const char *const r2[] = {"2", "p\rq\nr"};
    static const char *const r3[] = {"3", "z"};
    struct tmp t;
    struct ds_reader *r = open_str(&t, "a,b\n1,\"x\r\ny\"\n2,\"p\rq\nr\"\r\n3,z\n", NULL);
    struct ds_row row;

    (void)state;
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 2, r1);
    assert_int_equal(row.line, 2);
    assert_int_equal(row.raw_len, strlen("1,\"x\r\ny\""));
    assert_memory_equal(row.raw, "1,\"x\r\ny\"", row.raw_len);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 2, r2);
    assert_int_equal(row.line, 4);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_fields(&row, 2, r3);
    assert_int_equal(row.line, 7);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

/* Doubled quotes in many fields of one record, a field of quotes only,
 * and spaces around quotes: the same values however many such fields. */
static void test_doubled_quotes(void **state)
{
    char text[1024];
    size_t len = 0;
    struct tmp t;
    struct ds_reader *r;
    struct ds_row row;

    (void)state;
    for (int f = 0; f < 21; f++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%sh%d", f > 0 ? "," : "", f);
    }
    text[len++] = '\n';
    for (int f = 0; f < 20; f++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s \"a\"\"%d\" ", f > 0 ? "," : "",
                                f);
    }
    len += (size_t)snprintf(text + len, sizeof(text) - len, ",\"\"\"\"\n\"x\"\"\",y");
    for (int f = 2; f < 21; f++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, ",%d", f);
    }
    text[len++] = '\n';
    text[len] = '\0';
    assert_true(len < sizeof(text));
    r = open_str(&t, text, NULL);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_int_equal(row.nfields, 21);
    for (int f = 0; f < 20; f++) {
        char want[16];

        snprintf(want, sizeof(want), "a\"%d", f);
        assert_string_equal(row.fields[f], want);
        assert_int_equal(row.lens[f], strlen(want));
    }
    assert_string_equal(row.fields[20], "\"");
    assert_int_equal(row.lens[20], 1);
    assert_int_equal(ds_read_next_row(r, &row, NULL), 1);
    assert_string_equal(row.fields[0], "x\"");
    assert_int_equal(row.lens[0], 2);
    assert_string_equal(row.fields[1], "y");
    assert_string_equal(row.fields[20], "20");
    assert_int_equal(ds_read_next_row(r, &row, NULL), 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

static void test_header_only_and_garbage(void **state)
{
    unsigned char junk[4096];
    unsigned seed = 7;
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    int rc;

    (void)state;
    r = open_str(&t, "id,name\r\n", NULL);
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 0);
    ds_read_close(&r);
    tmp_remove(&t);
    /* Binary garbage: a clean error naming the file, or rows; never more. */
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof(junk); i++) {
            seed = seed * 1103515245u + 12345u;
            junk[i] = (unsigned char)(seed >> 16);
        }
        tmp_write(&t, junk, sizeof(junk));
        rc = ds_read_open(t.path, NULL, &r, &err);
        if (rc == 0) {
            do {
                rc = ds_read_next_row(r, &row, &err);
            } while (rc == 1);
            ds_read_close(&r);
        }
        if (rc < 0) {
            assert_string_equal(err.file, t.path);
            assert_true(err.msg[0] != '\0');
        }
        tmp_remove(&t);
    }
}

/* ------------------------------------------------------------------------ */
/* The fast path against libcsv itself                                      */

/* Rows as libcsv gives them, flattened: fields joined by \x1f, rows by
 * \x1e, records whose fields are all empty left out. */
struct flat {
    char *s;
    size_t len;
    size_t cap;
    int row_empty; /* every field of the current record so far is empty */
    size_t row_start;
};

static void flat_put(struct flat *f, const void *p, size_t n)
{
    if (f->len + n + 1 > f->cap) {
        f->cap = (f->len + n + 1) * 2;
        f->s = realloc(f->s, f->cap);
        assert_non_null(f->s);
    }
    memcpy(f->s + f->len, p, n);
    f->len += n;
    f->s[f->len] = '\0';
}

static void flat_field(void *p, size_t n, void *data)
{
    struct flat *f = data;

    flat_put(f, p, n);
    flat_put(f, "\x1f", 1);
    if (n > 0) {
        f->row_empty = 0;
    }
}

static void flat_row(int term, void *data)
{
    struct flat *f = data;

    (void)term;
    if (f->row_empty) {
        f->len = f->row_start;
    }
    else {
        flat_put(f, "\x1e", 1);
    }
    f->row_start = f->len;
    f->row_empty = 1;
}

/* Random lines over a small alphabet that is mostly plain text, so both
 * the fast path and libcsv see many lines; every reader row must equal
 * libcsv's. */
static void test_fast_path_matches_libcsv(void **state)
{
    static const char alphabet[] = "ab  ,,,\"\r\n\t;x";
    struct ds_read_hints h = {
        .delimiter = ',', .quote = '"', .encoding = "utf-8", .header_line = 1, .keep_trailers = 1};
    unsigned seed = 12345;
    int compared = 0;
    struct tmp t;

    (void)state;
    for (int round = 0; round < 300; round++) {
        char text[600];
        size_t n = 0;
        struct flat want = {NULL, 0, 0, 1, 0};
        struct flat got = {NULL, 0, 0, 1, 0};
        struct csv_parser p;
        struct ds_reader *r = NULL;
        struct ds_error err;
        struct ds_row row;
        int open_at_end;
        int rc;

        n = (size_t)snprintf(text, sizeof(text), "h1,h2\n");
        for (int i = 0; i < 200; i++) {
            seed = seed * 1103515245u + 12345u;
            text[n++] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        /* Close any open quote so the file is well-formed. */
        {
            int open = 0;

            for (size_t i = 0; i < n; i++) {
                open ^= text[i] == '"';
            }
            if (open) {
                text[n++] = '"';
            }
        }
        text[n] = '\0';
        assert_int_equal(csv_init(&p, CSV_APPEND_NULL | CSV_STRICT_FINI), 0);
        csv_set_delim(&p, ',');
        csv_set_quote(&p, '"');
        assert_int_equal(csv_parse(&p, text, n, flat_field, flat_row, &want), n);
        p.options |= CSV_STRICT;
        open_at_end = csv_fini(&p, flat_field, flat_row, &want) != 0;
        csv_free(&p);
        tmp_write(&t, text, n);
        assert_int_equal(ds_read_open(t.path, &h, &r, &err), 0);
        flat_field((void *)"h1", 2, &got);
        flat_field((void *)"h2", 2, &got);
        flat_row(0, &got);
        for (;;) {
            rc = ds_read_next_row(r, &row, &err);
            if (rc < 0) {
                /* Only a quote left open at the end may fail. */
                assert_true(open_at_end);
                assert_non_null(strstr(err.msg, "not closed"));
                break;
            }
            if (rc == 0) {
                break;
            }
            for (size_t i = 0; i < row.nfields; i++) {
                flat_field((void *)row.fields[i], row.lens[i], &got);
            }
            flat_row(0, &got);
        }
        ds_read_close(&r);
        tmp_remove(&t);
        if (open_at_end) {
            free(want.s);
            free(got.s);
            continue;
        }
        if (want.len != got.len || memcmp(want.s, got.s, want.len) != 0) {
            fprintf(stderr, "round %d differs on input:\n%s\n", round, text);
        }
        assert_int_equal(want.len, got.len);
        assert_memory_equal(want.s, got.s, want.len);
        free(want.s);
        free(got.s);
        compared++;
    }
    assert_true(compared >= 150);
}

/* Many rows of varying length, so fields cross the 64 KiB block edges. */
static void test_streaming(void **state)
{
    const long n = 20000;
    FILE *f;
    struct tmp t;
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    char want[64];
    long i;
    int fd;

    (void)state;
    snprintf(t.path, sizeof(t.path), "/tmp/ds-test-csv-XXXXXX");
    fd = mkstemp(t.path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("id;text;more\r\n", f);
    for (i = 1; i <= n; i++) {
        fprintf(f, "%ld;\"%0*ld\";%s\r\n", i, (int)(i % 37) + 1, i,
                i % 100 == 0 ? "\"a\nb\"" : "x");
    }
    fclose(f);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    long line = 2;
    for (i = 1; i <= n; i++) {
        assert_int_equal(ds_read_next_row(r, &row, &err), 1);
        assert_int_equal(row.row, i);
        assert_int_equal(row.line, line);
        snprintf(want, sizeof(want), "%0*ld", (int)(i % 37) + 1, i);
        assert_string_equal(row.fields[1], want);
        line += i % 100 == 0 ? 2 : 1;
    }
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);
    tmp_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_rows),
        cmocka_unit_test(test_bom_and_crlf),
        cmocka_unit_test(test_no_raw),
        cmocka_unit_test(test_utf8_checked),
        cmocka_unit_test(test_cr_only),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_hints),
        cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_quoted_crlf_inside),
        cmocka_unit_test(test_blank_lines),
        cmocka_unit_test(test_ragged),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_invalid_utf8_forms),
        cmocka_unit_test(test_field_caps),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_row_too_large),
        cmocka_unit_test(test_cap_bounds_memory),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_quote_sniff),
        cmocka_unit_test(test_same_rows_every_dialect),
        cmocka_unit_test(test_title_and_trailer),
        cmocka_unit_test(test_trailer_shapes),
        cmocka_unit_test(test_header_hint),
        cmocka_unit_test(test_sniff_past_title),
        cmocka_unit_test(test_rfc4180),
        cmocka_unit_test(test_breaks_in_quotes),
        cmocka_unit_test(test_doubled_quotes),
        cmocka_unit_test(test_header_only_and_garbage),
        cmocka_unit_test(test_fast_path_matches_libcsv),
        cmocka_unit_test(test_streaming),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
