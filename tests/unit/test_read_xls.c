/*
 * test_read_xls.c — the XLS reader on a workbook LibreOffice wrote (the
 * committed fixture tests/fuzz/corpus/read_xls/patients.xls, made once
 * from a CSV with `soffice --headless --convert-to xls`): strings in UTF-8,
 * integers, decimals, dates, date-times and times as ISO, blank rows,
 * empty cells; the sheet and header hints; damaged and encrypted files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/read/read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fixture's path (make runs the tests with DS_TEST_SRCDIR set). */
static void fixture(char *buf, size_t size)
{
    const char *dir = getenv("DS_TEST_SRCDIR");

    snprintf(buf, size, "%s/tests/fuzz/corpus/read_xls/patients.xls", dir != NULL ? dir : ".");
}

static void test_fixture(void **state)
{
    static const char *const h[] = {"Patient ID", "Name", "DOB", "Seen", "At", "Balance", "Note"};
    static const char *const r1[] = {"1001",       "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m",
                                     "1931-07-04", "2024-03-27T15:45:30",
                                     "09:30:00",   "-12.5",
                                     "a, b"};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    char path[4096];

    (void)state;
    fixture(path, sizeof(path));
    assert_int_equal(ds_read_open(path, NULL, &r, &err), 0);
    assert_string_equal(ds_read_dialect(r)->format, "xls");
    assert_string_equal(ds_read_dialect(r)->sheet, "patients");
    assert_int_equal(ds_read_header(r)->nfields, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(ds_read_header(r)->fields[i], h[i]);
    }
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.row, 1);
    assert_int_equal(row.line, 2);
    assert_int_equal(row.nfields, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(row.fields[i], r1[i]);
    }
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 4);
    assert_int_equal(row.nfields, 7);
    assert_string_equal(row.fields[1], "Bob");
    assert_string_equal(row.fields[6], "");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[5], "1234.25");
    assert_string_equal(row.fields[4], "17:05:00");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(ds_read_dialect(r)->blank_lines, 1);
    ds_read_close(&r);
}

static void test_hints(void **state)
{
    struct ds_read_hints sheet = {.sheet = "nope"};
    struct ds_read_hints line = {.header_line = 2};
    struct ds_read_hints blank = {.header_line = 3};
    struct ds_reader *r = NULL;
    struct ds_error err;
    char path[4096];

    (void)state;
    fixture(path, sizeof(path));
    assert_int_equal(ds_read_open(path, &sheet, &r, &err), DS_ENOTFOUND);
    assert_string_equal(err.field, "sheet");
    assert_int_equal(ds_read_open(path, &line, &r, &err), 0);
    assert_string_equal(ds_read_header(r)->fields[0], "1001");
    assert_int_equal(ds_read_dialect(r)->title_lines, 1);
    ds_read_close(&r);
    assert_int_equal(ds_read_open(path, &blank, &r, &err), DS_EPARSE);
    assert_string_equal(err.field, "header_line");
}

/* Writes the first n bytes of data (or the bytes themselves) to a file. */
static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_damaged(void **state)
{
    static const unsigned char ole[] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
    unsigned char buf[8192];
    struct ds_reader *r = NULL;
    struct ds_error err;
    char path[4096];
    char tmp[] = "/tmp/ds-test-xls-XXXXXX";
    FILE *f;
    size_t n;
    int fd = mkstemp(tmp);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    fixture(path, sizeof(path));
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    /* Truncated. */
    write_file(tmp, buf, n / 3);
    assert_true(ds_read_open(tmp, NULL, &r, &err) < 0);
    assert_non_null(strstr(err.msg, "XLS"));
    assert_string_equal(err.file, tmp);
    assert_null(r);
    /* The signature and garbage. */
    memset(buf + sizeof(ole), 0x5a, 1024);
    write_file(tmp, buf, 1024);
    assert_int_equal(ds_read_open(tmp, NULL, &r, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "XLS"));
    /* An encrypted XLSX is an OLE2 file with an EncryptedPackage stream. */
    for (size_t i = 0; i < 16; i++) {
        buf[512 + 2 * i] = (unsigned char)"EncryptedPackage"[i];
        buf[513 + 2 * i] = 0;
    }
    write_file(tmp, buf, 1024);
    assert_int_equal(ds_read_open(tmp, NULL, &r, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "encrypted"));
    unlink(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_hints),
        cmocka_unit_test(test_damaged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
