/*
 * test_read_xlsx.c — the XLSX reader on workbooks written by a real writer
 * (libxlsxwriter, as Excel-like software writes them): shared and inline
 * strings, numbers, booleans, dates, times and date-times by their number
 * format in both date systems, gaps, the sheet hint; and on hostile
 * archives: not a zip, truncated, a zip bomb, an encrypted entry, a
 * document type declaration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/map/detect_sheet.h"
#include "agent/read/read.h"
#include "config/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zip.h>

struct tmp {
    char path[64];
};

static void tmp_name(struct tmp *t)
{
    int fd;

    snprintf(t->path, sizeof(t->path), "/tmp/ds-test-xlsx-XXXXXX");
    fd = mkstemp(t->path);
    assert_true(fd >= 0);
    close(fd);
}

/* Writes the fixture workbook: sheet "Patients" (the first) and "Other".
 * constant_memory makes libxlsxwriter write inline strings. */
static void make_workbook(const char *path, int inline_strings)
{
    lxw_workbook_options opt = {.constant_memory = (uint8_t)inline_strings, .tmpdir = NULL};
    lxw_workbook *wb = workbook_new_opt(path, &opt);
    lxw_worksheet *ws;
    lxw_format *date;
    lxw_format *dt;
    lxw_format *tm;
    lxw_format *money;
    lxw_format *builtin;
    lxw_datetime d1 = {2024, 3, 27, 0, 0, 0};
    lxw_datetime d2 = {1931, 7, 4, 15, 45, 30};
    lxw_datetime t1 = {0, 0, 0, 9, 30, 0};

    assert_non_null(wb);
    ws = workbook_add_worksheet(wb, "Patients");
    date = workbook_add_format(wb);
    format_set_num_format(date, "yyyy\\-mm\\-dd");
    dt = workbook_add_format(wb);
    format_set_num_format(dt, "dd/mm/yyyy hh:mm");
    tm = workbook_add_format(wb);
    format_set_num_format(tm, "h:mm AM/PM");
    money = workbook_add_format(wb);
    format_set_num_format(money, "\"$\"#,##0.00;[Red]-\"$\"#,##0.00");
    builtin = workbook_add_format(wb);
    format_set_num_format_index(builtin, 14);
    worksheet_write_string(ws, 0, 0, "Patient ID", NULL);
    worksheet_write_string(ws, 0, 1, "Name", NULL);
    worksheet_write_string(ws, 0, 2, "DOB", NULL);
    worksheet_write_string(ws, 0, 3, "Seen", NULL);
    worksheet_write_string(ws, 0, 4, "At", NULL);
    worksheet_write_string(ws, 0, 5, "Balance", NULL);
    worksheet_write_string(ws, 0, 6, "Active", NULL);
    worksheet_write_string(ws, 0, 7, "Visit", NULL);
    worksheet_write_number(ws, 1, 0, 1001, NULL);
    worksheet_write_string(ws, 1, 1, "Zo\xc3\xab \"Z\" <&>", NULL);
    worksheet_write_datetime(ws, 1, 2, &d1, date);
    worksheet_write_datetime(ws, 1, 3, &d2, dt);
    worksheet_write_datetime(ws, 1, 4, &t1, tm);
    worksheet_write_number(ws, 1, 5, -12.5, money);
    worksheet_write_boolean(ws, 1, 6, 1, NULL);
    worksheet_write_datetime(ws, 1, 7, &d1, builtin);
    /* Row 3 is empty; row 4 has a gap and stops early. */
    worksheet_write_number(ws, 3, 0, 1002, NULL);
    worksheet_write_string(ws, 3, 2, "", NULL);
    worksheet_write_string(ws, 3, 3, "line\nbreak", NULL);
    worksheet_write_boolean(ws, 3, 6, 0, NULL);
    ws = workbook_add_worksheet(wb, "Other");
    worksheet_write_string(ws, 1, 1, "K", NULL);
    worksheet_write_string(ws, 2, 1, "v", NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
}

static void check_fixture(const char *path)
{
    static const char *const h[] = {"Patient ID", "Name",    "DOB",    "Seen",
                                    "At",         "Balance", "Active", "Visit"};
    static const char *const r1[] = {"1001",       "Zo\xc3\xab \"Z\" <&>",
                                     "2024-03-27", "1931-07-04T15:45:30",
                                     "09:30:00",   "-12.5",
                                     "TRUE",       "2024-03-27"};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;

    assert_int_equal(ds_read_open(path, NULL, &r, &err), 0);
    assert_string_equal(ds_read_dialect(r)->format, "xlsx");
    assert_string_equal(ds_read_dialect(r)->sheet, "Patients");
    assert_int_equal(ds_read_header(r)->nfields, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(ds_read_header(r)->fields[i], h[i]);
    }
    assert_int_equal(ds_read_header(r)->line, 1);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.row, 1);
    assert_int_equal(row.line, 2);
    assert_int_equal(row.nfields, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(row.fields[i], r1[i]);
        assert_int_equal(row.lens[i], strlen(r1[i]));
    }
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 4);
    assert_int_equal(row.nfields, 8);
    assert_string_equal(row.fields[7], "");
    assert_string_equal(row.fields[0], "1002");
    assert_string_equal(row.fields[1], "");
    assert_string_equal(row.fields[2], "");
    assert_string_equal(row.fields[3], "line\nbreak");
    assert_string_equal(row.fields[6], "FALSE");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(ds_read_dialect(r)->ragged_rows, 0);
    ds_read_close(&r);
}

static void test_shared_strings(void **state)
{
    struct tmp t;

    (void)state;
    tmp_name(&t);
    make_workbook(t.path, 0);
    check_fixture(t.path);
    unlink(t.path);
}

static void test_inline_strings(void **state)
{
    struct tmp t;

    (void)state;
    tmp_name(&t);
    make_workbook(t.path, 1);
    check_fixture(t.path);
    unlink(t.path);
}

static void test_sheet_hint(void **state)
{
    struct ds_read_hints other = {.sheet = "Other"};
    struct ds_read_hints none = {.sheet = "Missing"};
    struct ds_read_hints line = {.header_line = 3};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;

    (void)state;
    tmp_name(&t);
    make_workbook(t.path, 0);
    assert_int_equal(ds_read_open(t.path, &other, &r, &err), 0);
    assert_string_equal(ds_read_dialect(r)->sheet, "Other");
    assert_int_equal(ds_read_header(r)->nfields, 2);
    assert_string_equal(ds_read_header(r)->fields[1], "K");
    assert_int_equal(ds_read_header(r)->line, 2);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[1], "v");
    ds_read_close(&r);
    assert_int_equal(ds_read_open(t.path, &none, &r, &err), DS_ENOTFOUND);
    assert_string_equal(err.field, "sheet");
    assert_int_equal(ds_read_open(t.path, &line, &r, &err), DS_EPARSE);
    assert_string_equal(err.field, "header_line");
    unlink(t.path);
}

/* The workbook of samples/pms/multi-sheet.xlsx: a cover sheet of notes
 * first, then patients and their appointments (generic columns; the
 * patients are none of samples/patients.csv's, made up like them). Run
 * with DS_WRITE_SAMPLE=PATH to write the sample again. */
static void make_multi_sheet(const char *path)
{
    static const char *const first[] = {"Ines", "Tomas", "Keiko", "Samuel"};
    static const char *const last[] = {"Varga", "Lindqvist", "Abe", "Mensah"};
    static const char *const email[] = {"ines.varga31@example.com", "", "keiko.abe33@example.org",
                                        ""};
    static const char *const phone[] = {"", "(617) 555-0131", "", "415.555.0134"};
    static const char *const status[] = {"scheduled", "confirmed", "completed", "cancelled",
                                         "scheduled"};
    lxw_workbook *wb = workbook_new(path);
    lxw_worksheet *ws;
    lxw_format *date;

    assert_non_null(wb);
    date = workbook_add_format(wb);
    format_set_num_format(date, "mm/dd/yyyy");
    ws = workbook_add_worksheet(wb, "Read me");
    worksheet_write_string(ws, 0, 0, "Synthetic practice export: patients and appointments", NULL);
    worksheet_write_string(ws, 1, 0, "Printed 12/01/2026 by the front desk", NULL);
    ws = workbook_add_worksheet(wb, "Patients");
    worksheet_write_string(ws, 0, 0, "Patient ID", NULL);
    worksheet_write_string(ws, 0, 1, "First Name", NULL);
    worksheet_write_string(ws, 0, 2, "Last Name", NULL);
    worksheet_write_string(ws, 0, 3, "Date of Birth", NULL);
    worksheet_write_string(ws, 0, 4, "Email", NULL);
    worksheet_write_string(ws, 0, 5, "Mobile Phone", NULL);
    for (int i = 0; i < 4; i++) {
        lxw_datetime dob = {1950 + 9 * i, 1 + 3 * i, 3 + 5 * i, 0, 0, 0};

        worksheet_write_number(ws, (lxw_row_t)(1 + i), 0, 3001 + i, NULL);
        worksheet_write_string(ws, (lxw_row_t)(1 + i), 1, first[i], NULL);
        worksheet_write_string(ws, (lxw_row_t)(1 + i), 2, last[i], NULL);
        worksheet_write_datetime(ws, (lxw_row_t)(1 + i), 3, &dob, date);
        if (email[i][0] != '\0') {
            worksheet_write_string(ws, (lxw_row_t)(1 + i), 4, email[i], NULL);
        }
        if (phone[i][0] != '\0') {
            worksheet_write_string(ws, (lxw_row_t)(1 + i), 5, phone[i], NULL);
        }
    }
    ws = workbook_add_worksheet(wb, "Appointments");
    worksheet_write_string(ws, 0, 0, "appointment_id", NULL);
    worksheet_write_string(ws, 0, 1, "patient_id", NULL);
    worksheet_write_string(ws, 0, 2, "start", NULL);
    worksheet_write_string(ws, 0, 3, "duration", NULL);
    worksheet_write_string(ws, 0, 4, "status", NULL);
    worksheet_write_string(ws, 0, 5, "provider", NULL);
    worksheet_write_string(ws, 0, 6, "operatory", NULL);
    for (int i = 0; i < 5; i++) {
        char id[16];
        char start[32];

        snprintf(id, sizeof(id), "WB%d", i + 1);
        snprintf(start, sizeof(start), "2027-03-%02d %02d:30", 1 + i, 9 + i);
        worksheet_write_string(ws, (lxw_row_t)(1 + i), 0, id, NULL);
        worksheet_write_number(ws, (lxw_row_t)(1 + i), 1, 3001 + i % 4, NULL);
        worksheet_write_string(ws, (lxw_row_t)(1 + i), 2, start, NULL);
        worksheet_write_number(ws, (lxw_row_t)(1 + i), 3, 30 + 15 * (i % 3), NULL);
        worksheet_write_string(ws, (lxw_row_t)(1 + i), 4, status[i], NULL);
        worksheet_write_string(ws, (lxw_row_t)(1 + i), 5, "DR9", NULL);
        worksheet_write_string(ws, (lxw_row_t)(1 + i), 6, "Chair 9", NULL);
    }
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
}

/* sheet_index: the sheet at a position, its name and position in the
 * dialect; past the last one DS_ENOTFOUND. */
static void test_sheet_index(void **state)
{
    static const char *const names[] = {"Read me", "Patients", "Appointments"};
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct tmp t;

    (void)state;
    tmp_name(&t);
    make_multi_sheet(t.path);
    for (int k = 1; k <= 3; k++) {
        struct ds_read_hints h = {.sheet = "Appointments", .sheet_index = k};

        assert_int_equal(ds_read_open(t.path, &h, &r, &err), 0);
        assert_string_equal(ds_read_dialect(r)->sheet, names[k - 1]);
        assert_int_equal(ds_read_dialect(r)->sheet_index, k);
        ds_read_close(&r);
    }
    {
        struct ds_read_hints h = {.sheet_index = 4};

        assert_int_equal(ds_read_open(t.path, &h, &r, &err), DS_ENOTFOUND);
        assert_string_equal(err.field, "sheet");
    }
    unlink(t.path);
}

struct skips {
    char text[512];
    int n;
};

static void note_skip(void *arg, const char *sheet, const char *reason)
{
    struct skips *s = arg;
    size_t len = strlen(s->text);

    snprintf(s->text + len, sizeof(s->text) - len, "%s%s: %s", s->n > 0 ? "; " : "", sheet, reason);
    s->n++;
}

/* Which sheets are read: by default the first whose header a template of
 * the type matches (the sheets before it noticed), the first when none
 * does (nothing noticed: the file is held for it); "*" every matching
 * sheet with its own template, each other one noticed; a file that is no
 * workbook has no sheets to choose. */
static void test_sheet_selection(void **state)
{
    struct ds_sheet_choice ch[DS_SHEETS_MAX];
    struct ds_template **list = NULL;
    struct ds_error err;
    struct skips sk;
    struct tmp t;
    size_t nlist = 0;
    size_t n = 0;
    int fd;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &nlist, &err), 0);
    tmp_name(&t);
    make_multi_sheet(t.path);
    fd = open(t.path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);

    memset(&sk, 0, sizeof(sk));
    assert_int_equal(ds_detect_sheets(fd, t.path, NULL, NULL, list, nlist, "patients", ch, &n,
                                      note_skip, &sk, &err),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(ch[0].index, 2);
    assert_string_equal(ch[0].name, "Patients");
    assert_string_equal(ds_template_id(ch[0].tpl), "generic-patients");
    assert_string_equal(sk.text, "Read me: no template matches its header");

    memset(&sk, 0, sizeof(sk));
    assert_int_equal(ds_detect_sheets(fd, t.path, NULL, NULL, list, nlist, "appointments", ch, &n,
                                      note_skip, &sk, &err),
                     0);
    assert_int_equal(ch[0].index, 3);
    assert_string_equal(ds_template_id(ch[0].tpl), "generic-appointments");
    assert_string_equal(sk.text, "Read me: no template matches its header; "
                                 "Patients: no template matches its header");

    memset(&sk, 0, sizeof(sk));
    assert_int_equal(ds_detect_sheets(fd, t.path, NULL, NULL, list, nlist, "financial", ch, &n,
                                      note_skip, &sk, &err),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(ch[0].index, 1);
    assert_null(ch[0].tpl);
    assert_int_equal(sk.n, 0);

    memset(&sk, 0, sizeof(sk));
    assert_int_equal(
        ds_detect_sheets(fd, t.path, "*", NULL, list, nlist, NULL, ch, &n, note_skip, &sk, &err),
        0);
    assert_int_equal(n, 2);
    assert_int_equal(ch[0].index, 2);
    assert_string_equal(ds_template_id(ch[0].tpl), "generic-patients");
    assert_int_equal(ch[1].index, 3);
    assert_string_equal(ch[1].name, "Appointments");
    assert_string_equal(ds_template_id(ch[1].tpl), "generic-appointments");
    assert_string_equal(sk.text, "Read me: no template matches its header");
    close(fd);
    unlink(t.path);

    /* Not a workbook: one choice without a sheet. */
    {
        FILE *f;

        tmp_name(&t);
        f = fopen(t.path, "w");
        assert_non_null(f);
        fputs("Patient ID,First Name,Last Name\n1,Ann,Lee\n", f);
        fclose(f);
        fd = open(t.path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(ds_detect_sheets(fd, t.path, "*", NULL, list, nlist, NULL, ch, &n,
                                          note_skip, &sk, &err),
                         0);
        assert_int_equal(n, 1);
        assert_int_equal(ch[0].index, 0);
        close(fd);
        unlink(t.path);
    }
    ds_template_list_free(&list, nlist);
}

/* samples/pms/multi-sheet.xlsx is this workbook: its sheets and every
 * row's fields are the generator's. */
static void test_multi_sheet_sample(void **state)
{
    const char *src = getenv("DS_TEST_SRCDIR");
    const char *out = getenv("DS_WRITE_SAMPLE");
    char path[4096];
    struct tmp t;

    (void)state;
    if (out != NULL) {
        make_multi_sheet(out);
    }
    snprintf(path, sizeof(path), "%s/samples/pms/multi-sheet.xlsx", src != NULL ? src : ".");
    tmp_name(&t);
    make_multi_sheet(t.path);
    for (int k = 1; k <= 4; k++) {
        struct ds_read_hints h = {.sheet_index = k};
        struct ds_reader *a = NULL;
        struct ds_reader *b = NULL;
        struct ds_error err;
        struct ds_row ra;
        struct ds_row rb;
        int rca = ds_read_open(t.path, &h, &a, &err);
        int rcb = ds_read_open(path, &h, &b, &err);
        int more = 1;

        assert_int_equal(rca, rcb);
        if (rca != 0) {
            assert_int_equal(k, 4);
            break;
        }
        assert_string_equal(ds_read_dialect(a)->sheet, ds_read_dialect(b)->sheet);
        while (more) {
            rca = ds_read_next_row(a, &ra, &err);
            rcb = ds_read_next_row(b, &rb, &err);
            assert_int_equal(rca, rcb);
            more = rca == 1;
            for (size_t i = 0; more && i < ra.nfields; i++) {
                assert_int_equal(ra.nfields, rb.nfields);
                assert_string_equal(ra.fields[i], rb.fields[i]);
            }
        }
        ds_read_close(&a);
        ds_read_close(&b);
    }
    unlink(t.path);
}

/* A report as practice software exports it: a title and a "printed" line
 * above the header, a blank row, then a "Total" row and a lone sum under
 * its column. The titles and trailers are skipped with a notice each; a
 * sparse last data row (three of five cells) is kept. */
static void test_title_trailer(void **state)
{
    static const long lines[] = {5, 6, 8};
    const struct ds_read_notice *notices;
    struct ds_read_hints keep = {.keep_trailers = 1};
    struct ds_read_hints line = {.header_line = 4};
    lxw_workbook *wb;
    lxw_worksheet *ws;
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    size_t n = 0;

    (void)state;
    tmp_name(&t);
    wb = workbook_new(t.path);
    assert_non_null(wb);
    ws = workbook_add_worksheet(wb, "Report");
    worksheet_write_string(ws, 0, 0, "Patient balances", NULL);
    worksheet_write_string(ws, 1, 0, "Printed 2024-03-27 by Front Desk", NULL);
    worksheet_write_string(ws, 3, 0, "ID", NULL);
    worksheet_write_string(ws, 3, 1, "Name", NULL);
    worksheet_write_string(ws, 3, 2, "Balance", NULL);
    worksheet_write_string(ws, 3, 3, "City", NULL);
    worksheet_write_string(ws, 3, 4, "Note", NULL);
    for (int i = 0; i < 2; i++) {
        worksheet_write_number(ws, 4 + i, 0, 2001 + i, NULL);
        worksheet_write_string(ws, 4 + i, 1, i == 0 ? "Ann" : "Bob", NULL);
        worksheet_write_number(ws, 4 + i, 2, 10 + i, NULL);
        worksheet_write_string(ws, 4 + i, 3, "Springfield", NULL);
        worksheet_write_string(ws, 4 + i, 4, "n", NULL);
    }
    worksheet_write_number(ws, 7, 0, 2003, NULL);
    worksheet_write_string(ws, 7, 1, "Cy", NULL);
    worksheet_write_number(ws, 7, 2, 0, NULL);
    worksheet_write_string(ws, 8, 0, "Total", NULL);
    worksheet_write_number(ws, 8, 2, 21, NULL);
    worksheet_write_number(ws, 9, 2, 21, NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);

    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_header(r)->line, 4);
    assert_int_equal(ds_read_header(r)->nfields, 5);
    assert_int_equal(ds_read_dialect(r)->title_lines, 2);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ds_read_next_row(r, &row, &err), 1);
        assert_int_equal(row.row, (long)i + 1);
        assert_int_equal(row.line, lines[i]);
        assert_int_equal(row.nfields, 5);
    }
    assert_string_equal(row.fields[1], "Cy");
    assert_string_equal(row.fields[4], "");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 2);
    assert_int_equal(ds_read_dialect(r)->blank_lines, 2);
    notices = ds_read_notices(r, &n, NULL);
    assert_int_equal(n, 4);
    assert_int_equal(notices[0].kind, DS_READ_NOTICE_TITLE);
    assert_int_equal(notices[0].line, 1);
    assert_int_equal(notices[1].kind, DS_READ_NOTICE_TITLE);
    assert_int_equal(notices[1].line, 2);
    assert_int_equal(notices[2].kind, DS_READ_NOTICE_TRAILER);
    assert_int_equal(notices[2].line, 9);
    assert_int_equal(notices[3].kind, DS_READ_NOTICE_TRAILER);
    assert_int_equal(notices[3].line, 10);
    ds_read_close(&r);

    /* keep_trailers: the last two rows are data. */
    assert_int_equal(ds_read_open(t.path, &keep, &r, &err), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    }
    assert_int_equal(row.line, 10);
    assert_string_equal(row.fields[2], "21");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);

    /* A header_line hint skips every row above it, each with a notice. */
    assert_int_equal(ds_read_open(t.path, &line, &r, &err), 0);
    assert_int_equal(ds_read_dialect(r)->title_lines, 2);
    assert_string_equal(ds_read_header(r)->fields[0], "ID");
    ds_read_close(&r);

    /* A data row between trailer-like rows keeps them all as data. */
    wb = workbook_new(t.path);
    assert_non_null(wb);
    ws = workbook_add_worksheet(wb, "Report");
    for (int c = 0; c < 4; c++) {
        worksheet_write_string(ws, 0, (lxw_col_t)c, "h", NULL);
        worksheet_write_string(ws, 1, (lxw_col_t)c, "v", NULL);
        worksheet_write_string(ws, 3, (lxw_col_t)c, "w", NULL);
    }
    worksheet_write_string(ws, 2, 0, "Total", NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[0], "Total");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[0], "w");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(ds_read_dialect(r)->trailer_lines, 0);
    ds_read_close(&r);
    unlink(t.path);
}

/* Reads entry name of the archive into a new string. */
static char *zip_read_all(zip_t *za, const char *name)
{
    zip_stat_t st;
    zip_file_t *zf;
    char *s;

    assert_int_equal(zip_stat(za, name, 0, &st), 0);
    s = calloc(1, st.size + 1);
    assert_non_null(s);
    zf = zip_fopen(za, name, 0);
    assert_non_null(zf);
    assert_int_equal(zip_fread(zf, s, st.size), (zip_int64_t)st.size);
    zip_fclose(zf);
    return s;
}

/* Replaces entry name of the archive at path with text. */
static void zip_put(const char *path, const char *name, const char *text, size_t len)
{
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_CREATE, &zerr);
    zip_source_t *src;

    assert_non_null(za);
    src = zip_source_buffer(za, text, len, 0);
    assert_non_null(src);
    assert_true(zip_file_add(za, name, src, ZIP_FL_OVERWRITE) >= 0);
    assert_int_equal(zip_close(za), 0);
}

static void test_date1904(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    zip_t *za;
    char *wb;
    char *p;
    char *patched;
    int zerr = 0;

    (void)state;
    tmp_name(&t);
    make_workbook(t.path, 0);
    za = zip_open(t.path, ZIP_RDONLY, &zerr);
    assert_non_null(za);
    wb = zip_read_all(za, "xl/workbook.xml");
    zip_discard(za);
    p = strstr(wb, "<workbookPr ");
    assert_non_null(p);
    patched = malloc(strlen(wb) + 32);
    assert_non_null(patched);
    memcpy(patched, wb, (size_t)(p - wb));
    snprintf(patched + (p - wb), strlen(wb) + 32 - (size_t)(p - wb),
             "<workbookPr date1904=\"1\" %s", p + strlen("<workbookPr "));
    zip_put(t.path, "xl/workbook.xml", patched, strlen(patched));
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    /* The same serial, 45378, counted from 1904-01-01. */
    assert_string_equal(row.fields[2], "2028-03-28");
    assert_string_equal(row.fields[4], "09:30:00");
    ds_read_close(&r);
    free(patched);
    free(wb);
    unlink(t.path);
}

static void test_not_a_workbook(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct tmp t;
    FILE *f;
    long size;
    char *data;

    (void)state;
    /* A zip signature and nothing else. */
    tmp_name(&t);
    f = fopen(t.path, "wb");
    assert_non_null(f);
    fputs("PK\x03\x04 not really", f);
    fclose(f);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "XLSX"));
    assert_string_equal(err.file, t.path);
    assert_null(r);
    /* A real workbook cut in half. */
    make_workbook(t.path, 0);
    f = fopen(t.path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    data = malloc((size_t)size);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    f = fopen(t.path, "wb");
    assert_non_null(f);
    fwrite(data, 1, (size_t)size / 2, f);
    fclose(f);
    free(data);
    assert_true(ds_read_open(t.path, NULL, &r, &err) < 0);
    assert_non_null(strstr(err.msg, "XLSX"));
    assert_null(r);
    /* A zip that is not a workbook. */
    unlink(t.path);
    zip_put(t.path, "hello.txt", "hi", 2);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), DS_ENOTFOUND);
    assert_non_null(strstr(err.msg, "xl/workbook.xml"));
    unlink(t.path);
}

static void test_hostile(void **state)
{
    static const char doctype[] =
        "<?xml version=\"1.0\"?><!DOCTYPE lol [<!ENTITY a \"aaaaaaaaaa\">]>"
        "<workbook><sheets><sheet name=\"&a;\" r:id=\"rId1\"/></sheets></workbook>";
    size_t big = (size_t)40 << 20;
    char *zeros = calloc(1, big);
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct tmp t;
    int zerr = 0;
    zip_t *za;

    (void)state;
    assert_non_null(zeros);
    tmp_name(&t);
    /* A zip bomb: 40 MiB of NULs as the workbook part. */
    unlink(t.path);
    zip_put(t.path, "xl/workbook.xml", zeros, big);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), DS_ETOOBIG);
    assert_non_null(strstr(err.msg, "zip bomb"));
    free(zeros);
    /* Entity declarations are refused. */
    unlink(t.path);
    zip_put(t.path, "xl/workbook.xml", doctype, strlen(doctype));
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "document type"));
    /* An encrypted entry (when libzip can write one). */
    unlink(t.path);
    za = zip_open(t.path, ZIP_CREATE, &zerr);
    assert_non_null(za);
    {
        zip_source_t *src = zip_source_buffer(za, doctype, strlen(doctype), 0);
        zip_int64_t idx = zip_file_add(za, "xl/workbook.xml", src, 0);

        assert_true(idx >= 0);
        if (!zip_encryption_method_supported(ZIP_EM_AES_256, 1) ||
            zip_file_set_encryption(za, (zip_uint64_t)idx, ZIP_EM_AES_256, "secret") != 0) {
            zip_discard(za);
            unlink(t.path);
            return;
        }
    }
    assert_int_equal(zip_close(za), 0);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "encrypted"));
    unlink(t.path);
}

/* Appends text to a growing string. */
static void put(char **s, size_t *n, const char *text, size_t len)
{
    *s = realloc(*s, *n + len + 1);
    assert_non_null(*s);
    memcpy(*s + *n, text, len);
    *n += len;
    (*s)[*n] = '\0';
}

static void put_str(char **s, size_t *n, const char *text)
{
    put(s, n, text, strlen(text));
}

/* Reads a workbook whose sheet is header ID, Note, X; rows "1", "2" (over
 * a cap: mid is row 3's cells after its A3) and "3": rows 1 and 3 read
 * normally, row 2 comes back cut with the error. sst (may be NULL)
 * replaces the shared strings. */
static void three_rows(const char *mid, const char *sst, size_t sst_len, int error, size_t field)
{
    static const char *const head =
        "<?xml version=\"1.0\"?><worksheet "
        "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>"
        "<row r=\"1\"><c t=\"inlineStr\"><is><t>ID</t></is></c><c t=\"inlineStr\"><is><t>Note</t>"
        "</is></c><c t=\"inlineStr\"><is><t>X</t></is></c></row>"
        "<row r=\"2\"><c><v>1</v></c><c t=\"inlineStr\"><is><t>a</t></is></c></row>"
        "<row r=\"3\"><c><v>2</v></c>";
    static const char *const tail =
        "</row><row r=\"4\"><c><v>3</v></c><c t=\"inlineStr\"><is><t>d</t></is></c></row>"
        "</sheetData></worksheet>";
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    lxw_workbook *wb;
    struct tmp t;
    char *xml = NULL;
    size_t n = 0;

    tmp_name(&t);
    wb = workbook_new(t.path);
    assert_non_null(wb);
    worksheet_write_string(workbook_add_worksheet(wb, "Sheet1"), 0, 0, "x", NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
    put_str(&xml, &n, head);
    put_str(&xml, &n, mid);
    put_str(&xml, &n, tail);
    zip_put(t.path, "xl/worksheets/sheet1.xml", xml, n);
    if (sst != NULL) {
        zip_put(t.path, "xl/sharedStrings.xml", sst, sst_len);
    }
    ds_error_clear(&err);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.error, DS_READ_ROW_OK);
    assert_int_equal(row.row, 1);
    assert_string_equal(row.fields[0], "1");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 3);
    assert_int_equal(row.error, error);
    assert_int_equal(row.error_field, field);
    assert_true(row.error_msg[0] != '\0');
    assert_true(row.nfields >= 1 && row.nfields < field);
    assert_string_equal(row.fields[0], "2");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.error, DS_READ_ROW_OK);
    assert_int_equal(row.row, 3);
    assert_string_equal(row.fields[0], "3");
    assert_string_equal(row.fields[1], "d");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);
    free(xml);
    unlink(t.path);
}

static void test_caps(void **state)
{
    size_t big = (size_t)DS_READ_MAX_FIELD + 1;
    char *s = NULL;
    char *sst = NULL;
    size_t n = 0;
    size_t sn = 0;
    char *x = malloc(big);

    (void)state;
    assert_non_null(x);
    memset(x, 'x', big);
    /* An inline cell one past the field cap, then one more cell. */
    put_str(&s, &n, "<c t=\"inlineStr\"><is><t>");
    put(&s, &n, x, big);
    put_str(&s, &n, "</t></is></c><c t=\"inlineStr\"><is><t>c</t></is></c>");
    three_rows(s, NULL, 0, DS_READ_ROW_FIELD_TOO_LONG, 2);
    /* A shared string that long: the cell using it cuts its row. */
    put_str(&sst, &sn, "<?xml version=\"1.0\"?><sst><si><t>ok</t></si><si><t>");
    put(&sst, &sn, x, big);
    put_str(&sst, &sn, "</t></si></sst>");
    three_rows("<c t=\"s\"><v>0</v></c><c t=\"s\"><v>1</v></c>", sst, sn,
               DS_READ_ROW_FIELD_TOO_LONG, 3);
    /* Cells past the column cap. */
    free(s);
    s = NULL;
    n = 0;
    for (int i = 0; i < DS_READ_MAX_FIELDS + 3; i++) {
        put_str(&s, &n, "<c><v>7</v></c>");
    }
    three_rows(s, NULL, 0, DS_READ_ROW_TOO_MANY_COLUMNS, (size_t)DS_READ_MAX_FIELDS + 1);
    /* Cells at the field cap, more of them than a row holds. */
    free(s);
    s = NULL;
    n = 0;
    for (int i = 0; i < 70; i++) {
        put_str(&s, &n, "<c t=\"inlineStr\"><is><t>");
        put(&s, &n, x, (size_t)DS_READ_MAX_FIELD);
        put_str(&s, &n, "</t></is></c>");
    }
    three_rows(s, NULL, 0, DS_READ_ROW_TOO_LARGE, 65);
    free(s);
    free(sst);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_strings),     cmocka_unit_test(test_inline_strings),
        cmocka_unit_test(test_sheet_hint),         cmocka_unit_test(test_date1904),
        cmocka_unit_test(test_not_a_workbook),     cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_title_trailer),      cmocka_unit_test(test_caps),
        cmocka_unit_test(test_sheet_index),        cmocka_unit_test(test_sheet_selection),
        cmocka_unit_test(test_multi_sheet_sample),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
