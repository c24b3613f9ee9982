/*
 * test_read_encoding.c — the same rows written in every encoding the
 * readers accept (UTF-8, UTF-8 with BOM, UTF-16LE/BE with and without BOM,
 * Windows-1252, Latin-1, any iconv name as a hint) must read to the same
 * UTF-8 values; broken text fails with its line and byte offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/read/read.h"

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The reference text, UTF-8. */
static const char sample[] =
    "id,name,note\r\n"
    "1,Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m,\"\xe2\x80\x9cquoted\xe2\x80\x9d, "
    "\xe2\x82\xac 5 \xe2\x80\x93 ok\"\r\n"
    "2,Bob,plain\r\n";

/* The same in Windows-1252. */
static const char sample_1252[] = "id,name,note\r\n"
                                  "1,Zo\xeb \xc5ngstr\xf6m,\"\x93quoted\x94, \x80 5 \x96 ok\"\r\n"
                                  "2,Bob,plain\r\n";

struct tmp {
    char path[64];
};

static void tmp_write(struct tmp *t, const void *data, size_t len)
{
    int fd;

    snprintf(t->path, sizeof(t->path), "/tmp/ds-test-enc-XXXXXX");
    fd = mkstemp(t->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Converts the UTF-8 s to encoding `to` into out (prefixed with bom). */
static size_t convert(const char *s, const char *to, const char *bom, size_t bom_len, char *out,
                      size_t size)
{
    iconv_t cd = iconv_open(to, "UTF-8");
    char *in = (char *)s;
    size_t ileft = strlen(s);
    char *op = out + bom_len;
    size_t oleft = size - bom_len;

    assert_true(cd != (iconv_t)-1);
    memcpy(out, bom, bom_len);
    assert_true(iconv(cd, &in, &ileft, &op, &oleft) != (size_t)-1);
    iconv_close(cd);
    return size - oleft;
}

/* Reads the file and checks it gives the reference rows. */
static void check_rows(const void *data, size_t len, const struct ds_read_hints *h,
                       const char *encoding)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;

    tmp_write(&t, data, len);
    assert_int_equal(ds_read_open(t.path, h, &r, &err), 0);
    assert_string_equal(ds_read_dialect(r)->encoding, encoding);
    assert_int_equal(ds_read_header(r)->nfields, 3);
    assert_string_equal(ds_read_header(r)->fields[0], "id");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[1], "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m");
    assert_string_equal(row.fields[2],
                        "\xe2\x80\x9cquoted\xe2\x80\x9d, \xe2\x82\xac 5 \xe2\x80\x93 ok");
    assert_int_equal(row.line, 2);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[1], "Bob");
    assert_int_equal(row.line, 3);
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);
    unlink(t.path);
}

static void test_same_rows_every_encoding(void **state)
{
    struct ds_read_hints cp = {.encoding = "cp1252"};
    struct ds_read_hints u16 = {.encoding = "UTF-16"};
    struct ds_read_hints u16be = {.encoding = "utf-16be"};
    char buf[1024];
    size_t n;

    (void)state;
    check_rows(sample, strlen(sample), NULL, "utf-8");
    n = convert(sample, "UTF-8", "\xef\xbb\xbf", 3, buf, sizeof(buf));
    check_rows(buf, n, NULL, "utf-8-bom");
    n = convert(sample, "UTF-16LE", "\xff\xfe", 2, buf, sizeof(buf));
    check_rows(buf, n, NULL, "utf-16le");
    check_rows(buf, n, &u16, "UTF-16");
    n = convert(sample, "UTF-16BE", "\xfe\xff", 2, buf, sizeof(buf));
    check_rows(buf, n, NULL, "utf-16be");
    check_rows(buf, n, &u16, "UTF-16");
    n = convert(sample, "UTF-16LE", "", 0, buf, sizeof(buf));
    check_rows(buf, n, NULL, "utf-16le");
    n = convert(sample, "UTF-16BE", "", 0, buf, sizeof(buf));
    check_rows(buf, n, NULL, "utf-16be");
    check_rows(buf, n, &u16be, "utf-16be");
    check_rows(sample_1252, strlen(sample_1252), NULL, "windows-1252");
    check_rows(sample_1252, strlen(sample_1252), &cp, "cp1252");
}

static void test_hinted_encodings(void **state)
{
    struct ds_read_hints latin1 = {.encoding = "ISO-8859-1"};
    struct ds_read_hints l9 = {.encoding = "ISO-8859-15"};
    struct ds_read_hints bad = {.encoding = "no-such-encoding"};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;

    (void)state;
    tmp_write(&t, "a\n\xa4\x80\xe9\n", 5);
    assert_int_equal(ds_read_open(t.path, &latin1, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[0], "\xc2\xa4\xc2\x80\xc3\xa9");
    ds_read_close(&r);
    assert_int_equal(ds_read_open(t.path, &l9, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[0], "\xe2\x82\xac\xc2\x80\xc3\xa9");
    ds_read_close(&r);
    /* Sniffed: Windows-1252 (0x80 is the euro sign). */
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[0], "\xc2\xa4\xe2\x82\xac\xc3\xa9");
    ds_read_close(&r);
    assert_int_equal(ds_read_open(t.path, &bad, &r, &err), DS_EINVAL);
    assert_string_equal(err.field, "encoding");
    assert_null(r);
    unlink(t.path);
}

/* A Windows-1252 byte far into a file that was ASCII so far: the reader
 * switches there, and everything before is unchanged. */
static void test_late_switch(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    char *s = malloc(400000);
    size_t n = 0;
    long rows = 0;

    (void)state;
    assert_non_null(s);
    n += (size_t)snprintf(s + n, 400000 - n, "id,name\n");
    for (int i = 1; i <= 20000; i++) {
        n += (size_t)snprintf(s + n, 400000 - n, "%d,%s\n", i, i == 15000 ? "Ren\xe9" : "Ann");
    }
    tmp_write(&t, s, n);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_string_equal(ds_read_dialect(r)->encoding, "utf-8");
    while (ds_read_next_row(r, &row, &err) == 1) {
        rows++;
        if (rows == 15000) {
            assert_string_equal(row.fields[1], "Ren\xc3\xa9");
        }
    }
    assert_int_equal(rows, 20000);
    assert_string_equal(ds_read_dialect(r)->encoding, "windows-1252");
    ds_read_close(&r);
    unlink(t.path);
    free(s);
}

static void test_broken_text(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;

    (void)state;
    /* UTF-8 text, then a byte that is not UTF-8: mixed, an error. */
    tmp_write(&t, "a\nZo\xc3\xab\nRen\xe9\n", 12);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "not valid UTF-8"));
    assert_non_null(strstr(err.msg, "line 3"));
    assert_non_null(strstr(err.msg, "byte offset 10"));
    assert_int_equal(err.row, 2);
    ds_read_close(&r);
    unlink(t.path);
    /* UTF-16 cut in the middle of a character. */
    tmp_write(&t,
              "\xff\xfe"
              "a\0\n\0b\0\n\0c",
              11);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "cut in the middle"));
    assert_non_null(strstr(err.msg, "byte offset 10"));
    ds_read_close(&r);
    unlink(t.path);
    /* A lone surrogate. */
    tmp_write(&t,
              "\xff\xfe"
              "a\0\n\0\x00\xd8x\0\n\0",
              12);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "not valid"));
    assert_non_null(strstr(err.msg, "byte offset 6"));
    ds_read_close(&r);
    unlink(t.path);
    /* UTF-16 holding U+0000. */
    tmp_write(&t,
              "\xff\xfe"
              "a\0\n\0x\0\0\0\n\0",
              12);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "NUL"));
    ds_read_close(&r);
    unlink(t.path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_rows_every_encoding),
        cmocka_unit_test(test_hinted_encodings),
        cmocka_unit_test(test_late_switch),
        cmocka_unit_test(test_broken_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
