/*
 * test_read_xls.c — the XLS reader on a workbook LibreOffice wrote (the
 * committed fixture tests/fuzz/corpus/read_xls/patients.xls, made once
 * from a CSV with `soffice --headless --convert-to xls`): strings in UTF-8,
 * integers, decimals, dates, date-times and times as ISO, blank rows,
 * empty cells; the sheet and header hints; damaged and encrypted files.
 * Also: title rows above the header and trailer rows under the data (a
 * report LibreOffice converted from CSV, report-title-trailer.xls), and a
 * workbook on which freexl 1.0.6 reads out of bounds: the parser runs in a
 * child process, so it ends as an error naming the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/os/os_fs.h"
#include "agent/os/os_proc.h"
#include "agent/read/read.h"
#include "tests/unit/scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fixture's path (make runs the tests with DS_TEST_SRCDIR set). */
static void fixture_named(char *buf, size_t size, const char *name)
{
    const char *dir = getenv("DS_TEST_SRCDIR");

    snprintf(buf, size, "%s/tests/fuzz/corpus/read_xls/%s", dir != NULL ? dir : ".", name);
}

static void fixture(char *buf, size_t size)
{
    fixture_named(buf, size, "patients.xls");
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

/* Two title rows above the header, a blank row, then "Total records: 3"
 * and a lone sum under its column at the end. */
static void test_title_trailer(void **state)
{
    static const char *const names[] = {"Ann", "Bob", "Cy"};
    static const long lines[] = {4, 5, 7};
    const struct ds_read_notice *notices;
    struct ds_read_hints keep = {.keep_trailers = 1};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    char path[4096];
    size_t n = 0;

    (void)state;
    fixture_named(path, sizeof(path), "report-title-trailer.xls");
    assert_int_equal(ds_read_open(path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_dialect(r)->header_line, 3);
    assert_int_equal(ds_read_dialect(r)->title_lines, 2);
    assert_int_equal(ds_read_header(r)->nfields, 4);
    assert_string_equal(ds_read_header(r)->fields[0], "Patient ID");
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ds_read_next_row(r, &row, &err), 1);
        assert_int_equal(row.row, (long)i + 1);
        assert_int_equal(row.line, lines[i]);
        assert_int_equal(row.nfields, 4);
        assert_string_equal(row.fields[1], names[i]);
    }
    assert_string_equal(row.fields[3], "");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 2);
    assert_int_equal(ds_read_dialect(r)->blank_lines, 1);
    notices = ds_read_notices(r, &n, NULL);
    assert_int_equal(n, 4);
    assert_int_equal(notices[0].kind, DS_READ_NOTICE_TITLE);
    assert_int_equal(notices[0].line, 1);
    assert_int_equal(notices[1].line, 2);
    assert_int_equal(notices[2].kind, DS_READ_NOTICE_TRAILER);
    assert_int_equal(notices[2].line, 8);
    assert_int_equal(notices[3].kind, DS_READ_NOTICE_TRAILER);
    assert_int_equal(notices[3].line, 9);
    ds_read_close(&r);
    /* keep_trailers: the same two rows come out as data. */
    assert_int_equal(ds_read_open(path, &keep, &r, &err), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    }
    assert_string_equal(row.fields[2], "17.5");
    assert_int_equal(row.line, 9);
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 0);
    ds_read_close(&r);
}

/* freexl 1.0.6 reads past a stack buffer on this file. Without a
 * sanitizer freexl returns an error; under one the parsing child dies.
 * Either way the file is refused with an error naming it, and the next
 * file still reads. */
static void test_freexl_overread(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    char path[4096];

    (void)state;
    fixture_named(path, sizeof(path), "freexl-1.0.6-iconv-stack-overread.xls");
    assert_int_equal(ds_read_open(path, NULL, &r, &err), DS_EPARSE);
    assert_null(r);
    assert_string_equal(err.file, path);
    assert_non_null(strstr(err.msg, "XLS: "));
    fixture(path, sizeof(path));
    assert_int_equal(ds_read_open(path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[0], "1001");
    ds_read_close(&r);
}

/* Closing the reader before the end stops the parsing child. */
static void test_close_early(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    char path[4096];

    (void)state;
    fixture(path, sizeof(path));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(ds_read_open(path, NULL, &r, &err), 0);
        ds_read_close(&r);
    }
    /* Every child was reaped: none is left for this process to wait for. */
    assert_false(ds_os_children_left());
}

/* Writes the first n bytes of data (or the bytes themselves) to a file. */
static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Copies the fixture to dst. */
static void copy_fixture(const char *dst)
{
    char src[4096];
    char buf[65536];
    FILE *in;
    FILE *out;
    size_t n;

    fixture(src, sizeof(src));
    in = fopen(src, "rb");
    out = fopen(dst, "wb");
    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* The parsing child reads the file the caller opened, not whatever is
 * under its name by then: the workbook is moved away after it was opened
 * and a garbage file takes its name. The hinted sheet reaches the child. */
static void test_opened_file(void **state)
{
    static const char garbage[] = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 not a workbook";
    struct ds_read_hints sheet = {.sheet = "patients"};
    struct ds_read_hints other = {.sheet = "p\xc3\xa4tients \"x\" 'y' \\ %s"};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    char dir[1024];
    char path[4096];
    char moved[4096];
    char fd_path[4096];
    struct stat sb;
    int fd;

    (void)state;
    assert_int_equal(ds_test_mkdtemp("ds-test-xls-dir", dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/export.xls", dir);
    snprintf(moved, sizeof(moved), "%s/moved.xls", dir);
    copy_fixture(path);
    /* Opened as the agent opens an export (on Windows sharing delete, so
     * that it can be moved while open). */
    fd = ds_os_open_read(path);
    assert_true(fd >= 0);
    assert_int_equal(rename(path, moved), 0);
    write_file(path, garbage, sizeof(garbage) - 1);
    /* The child opens the path of its descriptor: where that path names the
     * file by its name at the open (wine's GetFinalPathNameByHandleW does
     * not follow a rename, Windows' and Linux's /proc/self/fd do), what is
     * checked here cannot hold, and the test says so instead. */
    ds_os_fd_path(fd, fd_path, sizeof(fd_path));
    if (stat(fd_path, &sb) != 0 || sb.st_size == (off_t)(sizeof(garbage) - 1)) {
        print_message("skipped: the path of an open file (%s) does not follow its rename here\n",
                      fd_path);
        close(fd);
        ds_test_rmtree(dir);
        skip();
    }
    assert_int_equal(ds_read_open_fd(fd, path, &sheet, &r, &err), 0);
    assert_string_equal(ds_read_dialect(r)->sheet, "patients");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[0], "1001");
    ds_read_close(&r);
    /* A sheet name no workbook has, with quotes and a backslash. */
    assert_int_equal(ds_read_open_fd(fd, path, &other, &r, &err), DS_ENOTFOUND);
    assert_string_equal(err.field, "sheet");
    assert_null(r);
    close(fd);
    ds_test_rmtree(dir);
}

static void test_damaged(void **state)
{
    static const unsigned char ole[] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
    unsigned char buf[8192];
    struct ds_reader *r = NULL;
    struct ds_error err;
    char path[4096];
    char dir[1024];
    char tmp[4096];
    FILE *f;
    size_t n;

    (void)state;
    assert_int_equal(ds_test_mkdtemp("ds-test-xls", dir, sizeof(dir)), 0);
    snprintf(tmp, sizeof(tmp), "%s/damaged.xls", dir);
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
    ds_test_rmtree(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),         cmocka_unit_test(test_hints),
        cmocka_unit_test(test_damaged),         cmocka_unit_test(test_title_trailer),
        cmocka_unit_test(test_freexl_overread), cmocka_unit_test(test_close_early),
        cmocka_unit_test(test_opened_file),
    };

    ds_read_child_dispatch(argc, argv); /* the parser's child runs this program */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
