/*
 * test_map_dates.c — date_order auto: each date column is read in the
 * order its whole column tells (ds_map_date_vote over every row, then
 * ds_map_date_decide), a column that cannot tell follows the file's other
 * date columns, an inconsistent column is not guessed and its failures
 * carry the "set date_order = DMY" suggestion; an order the practice or the
 * template fixes is kept, with the suggestion when the column contradicts
 * it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/map/map.h"
#include "config/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPL_HEAD                                                                                   \
    "{\"id\":\"t\",\"import_type\":\"patients\",\"recognition\":{\"required\":[\"ID\"]},"
#define TPL_FIELDS                                                                                 \
    "\"fields\":{\"external_id\":{\"columns\":[\"ID\"]},"                                          \
    "\"date_of_birth\":{\"columns\":[\"DOB\"],\"transform\":\"date\"},"                            \
    "\"first_visit_date\":{\"columns\":[\"First\"],\"transform\":\"date\"}}}"

static const char *const header[] = {"ID", "DOB", "First"};

struct file {
    struct ds_template *t;
    struct ds_mapper *m;
};

static struct ds_row make_row(const char *const *v, size_t *lens)
{
    struct ds_row r;

    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < 3; i++) {
        lens[i] = strlen(v[i]);
    }
    r.nfields = 3;
    r.fields = v;
    r.lens = lens;
    r.row = 1;
    r.raw = "";
    return r;
}

/* Binds the template (with an optional dialect) and sets the order. */
static void open_file(struct file *f, const char *dialect, enum ds_date_order order)
{
    char json[1024];
    struct ds_norm_opts o;
    struct ds_error err;
    size_t lens[3];
    struct ds_row h = make_row(header, lens);

    snprintf(json, sizeof(json), "%s%s%s", TPL_HEAD, dialect != NULL ? dialect : "", TPL_FIELDS);
    assert_int_equal(ds_template_parse(json, strlen(json), "test", &f->t, &err), 0);
    assert_int_equal(ds_map_new(f->t, &h, &f->m, &err), 0);
    memset(&o, 0, sizeof(o));
    o.date_order = order;
    ds_map_set_options(f->m, &o);
}

static void close_file(struct file *f)
{
    ds_map_free(&f->m);
    ds_template_free(&f->t);
}

/* Votes rows[0..n) (3 values each), then decides. */
static void vote(struct file *f, const char *const (*rows)[3], size_t n)
{
    size_t lens[3];

    for (size_t i = 0; i < n; i++) {
        struct ds_row r = make_row(rows[i], lens);

        ds_map_date_vote(f->m, &r);
    }
    ds_map_date_decide(f->m);
}

/* Maps one row; out is closed by the caller. */
static void map(struct file *f, const char *const *v, struct ds_mapped *out)
{
    size_t lens[3];
    struct ds_row r = make_row(v, lens);

    assert_int_equal(ds_map_row(f->m, &r, out), 0);
}

static void expect_dates(struct file *f, const char *const *v, const char *dob, const char *first)
{
    struct ds_mapped out;
    char want[160];

    map(f, v, &out);
    if (!out.valid) {
        fail_msg("row %s: %s", v[0], out.error);
    }
    snprintf(want, sizeof(want), "\"date_of_birth\":\"%s\"", dob);
    assert_non_null(strstr(out.record_json, want));
    snprintf(want, sizeof(want), "\"first_visit_date\":\"%s\"", first);
    assert_non_null(strstr(out.record_json, want));
    ds_mapped_close(&out);
}

static void test_column_tells_dmy(void **state)
{
    /* Row 3's 25 can only be a day: the column is DMY, and row 1's
     * 03/04/1980 is the 3rd of April. First visit: 1/2 and 2/1 cannot tell,
     * 7/13 can only be MDY; its own column decides it, not the other. */
    static const char *const rows[][3] = {
        {"1", "03/04/1980", "01/02/2020"},
        {"2", "1975-01-13", "02/01/2020"},
        {"3", "25/12/1980", "07/13/2020"},
    };
    struct file f;

    (void)state;
    open_file(&f, NULL, DS_DATE_AUTO);
    assert_true(ds_map_wants_date_votes(f.m));
    vote(&f, rows, 3);
    assert_int_equal(ds_map_field_date_order(f.m, 1), DS_DATE_DMY);
    assert_int_equal(ds_map_field_date_order(f.m, 2), DS_DATE_MDY);
    expect_dates(&f, rows[0], "1980-04-03", "2020-01-02");
    expect_dates(&f, rows[2], "1980-12-25", "2020-07-13");
    close_file(&f);
}

static void test_undecided_column_follows_the_file(void **state)
{
    /* DOB cannot tell (every value fits both ways); First tells DMY. */
    static const char *const rows[][3] = {
        {"1", "03/04/1980", "31/01/2020"},
        {"2", "05/06/1975", "02/01/2020"},
    };
    static const char *const none[][3] = {
        {"1", "03/04/1980", "02/01/2020"},
        {"2", "05/06/1975", ""},
    };
    struct file f;

    (void)state;
    open_file(&f, NULL, DS_DATE_AUTO);
    vote(&f, rows, 2);
    assert_int_equal(ds_map_field_date_order(f.m, 1), DS_DATE_DMY);
    expect_dates(&f, rows[0], "1980-04-03", "2020-01-31");
    close_file(&f);
    /* Nothing in the file tells: MDY, the documented default. */
    open_file(&f, NULL, DS_DATE_AUTO);
    vote(&f, none, 2);
    assert_int_equal(ds_map_field_date_order(f.m, 1), DS_DATE_MDY);
    expect_dates(&f, none[0], "1980-03-04", "2020-02-01");
    close_file(&f);
}

static void test_inconsistent_column_suggests(void **state)
{
    /* Three values read only as DMY, one only as MDY: the column is not
     * guessed; its DMY-only rows fail with the suggestion, never the value. */
    static const char *const rows[][3] = {
        {"1", "25/12/1980", ""},
        {"2", "13/02/1990", ""},
        {"3", "30/06/1985", ""},
        {"4", "02/13/1990", ""},
    };
    struct ds_mapped out;
    struct file f;

    (void)state;
    open_file(&f, NULL, DS_DATE_AUTO);
    vote(&f, rows, 4);
    assert_int_equal(ds_map_field_date_order(f.m, 1), DS_DATE_MDY);
    map(&f, rows[0], &out);
    assert_false(out.valid);
    assert_string_equal(out.error, "date_of_birth: not a valid date; does not fit MM/DD/YYYY; 3 "
                                   "rows in this column only read as DD/MM/YYYY \xe2\x80\x94 set "
                                   "date_order = DMY");
    assert_null(strstr(out.error, "25/12"));
    ds_mapped_close(&out);
    map(&f, rows[3], &out);
    assert_true(out.valid);
    ds_mapped_close(&out);
    close_file(&f);
}

static void test_fixed_order_is_kept(void **state)
{
    static const char *const rows[][3] = {
        {"1", "25/12/1980", ""},
        {"2", "03/04/1980", ""},
    };
    struct ds_mapped out;
    struct file f;

    (void)state;
    /* The practice says MDY: the votes do not overrule it, they explain. */
    open_file(&f, NULL, DS_DATE_MDY);
    assert_false(ds_map_wants_date_votes(f.m));
    vote(&f, rows, 2);
    assert_int_equal(ds_map_field_date_order(f.m, 1), DS_DATE_MDY);
    map(&f, rows[0], &out);
    assert_false(out.valid);
    assert_non_null(strstr(out.error, "1 rows in this column only read as DD/MM/YYYY"));
    ds_mapped_close(&out);
    expect_dates(&f, (const char *const[]){"2", "03/04/1980", "01/02/2020"}, "1980-03-04",
                 "2020-01-02");
    close_file(&f);
    /* The template's dialect wins over an auto practice: no votes needed. */
    open_file(&f, "\"dialect\":{\"date_order\":\"DMY\"},", DS_DATE_AUTO);
    assert_false(ds_map_wants_date_votes(f.m));
    expect_dates(&f, (const char *const[]){"2", "03/04/1980", "01/02/2020"}, "1980-04-03",
                 "2020-02-01");
    close_file(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_column_tells_dmy),
        cmocka_unit_test(test_undecided_column_follows_the_file),
        cmocka_unit_test(test_inconsistent_column_suggests),
        cmocka_unit_test(test_fixed_order_is_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
