/*
 * test_map_dates.c — date_order auto: each date column is read in the
 * order its whole column tells (ds_map_date_vote over every row, then
 * ds_map_date_decide), a column that cannot tell follows the file's other
 * date columns, an inconsistent column is not guessed and its failures
 * carry the "set date_order = DMY" suggestion; an order the practice or the
 * template fixes is kept, with the suggestion when the column contradicts
 * it. For a caller that maps while the rows vote (preview): a vote says
 * when it was the first of its kind, ds_map_date_unchanged says exactly when the votes
 * changed what was decided before them, and once it has it stays so;
 * ds_map_forget lets the rows be mapped again.
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

static void test_vote_says_when_it_is_a_first(void **state)
{
    static const char *const rows[][3] = {
        {"1", "1980-01-02", "2020-01-01 08:00"}, /* ISO: no vote */
        {"2", "03/04/1980", ""},                 /* both orders read it */
        {"3", "13/02/1990", ""},                 /* only DD/MM */
        {"4", "", "02/13/2020"},                 /* only MM/DD */
    };
    size_t lens[3];
    struct ds_row r;
    struct file f;

    (void)state;
    open_file(&f, NULL, DS_DATE_AUTO);
    r = make_row(rows[0], lens);
    assert_int_equal(ds_map_date_vote(f.m, &r), 0);
    r = make_row(rows[1], lens);
    assert_int_equal(ds_map_date_vote(f.m, &r), 0);
    r = make_row(rows[2], lens);
    assert_int_equal(ds_map_date_vote(f.m, &r), 1);
    r = make_row(rows[3], lens);
    assert_int_equal(ds_map_date_vote(f.m, &r), 1);
    /* The same kinds again: nothing new to tell. */
    r = make_row(rows[2], lens);
    assert_int_equal(ds_map_date_vote(f.m, &r), 0);
    r = make_row(rows[3], lens);
    assert_int_equal(ds_map_date_vote(f.m, &r), 0);
    close_file(&f);
}

/* Preview decides before the votes and maps the first rows with it: a
 * later row only DD/MM/YYYY reads changes how an earlier one reads, and
 * ds_map_date_unchanged says so from that row on. */
static void test_later_rows_change_the_order(void **state)
{
    static const char *const rows[][3] = {
        {"1", "1980-01-02", ""}, {"2", "03/04/1980", ""}, {"3", "02/13/1990", ""},
        {"4", "13/02/1990", ""}, {"5", "02/14/1990", ""},
    };
    size_t lens[3];
    struct ds_row r;
    struct file f;

    (void)state;
    open_file(&f, NULL, DS_DATE_AUTO);
    ds_map_date_decide(f.m);
    assert_int_equal(ds_map_field_date_order(f.m, 1), DS_DATE_MDY);
    for (size_t i = 0; i < 3; i++) {
        r = make_row(rows[i], lens);
        ds_map_date_vote(f.m, &r);
        /* ISO, both orders, only MM/DD: nothing the decision before the
         * votes did not already say. */
        assert_true(ds_map_date_unchanged(f.m));
    }
    /* Row 2 as preview would show it while it holds its output. */
    expect_dates(&f, (const char *const[]){"2", "03/04/1980", "2020-01-05"}, "1980-03-04",
                 "2020-01-05");
    r = make_row(rows[3], lens);
    ds_map_date_vote(f.m, &r);
    assert_false(ds_map_date_unchanged(f.m));
    r = make_row(rows[4], lens);
    ds_map_date_vote(f.m, &r);
    assert_false(ds_map_date_unchanged(f.m));
    close_file(&f);
}

/* The dates of row v as the mapper reads them now, into got: "order
 * hint", the order of each date column and whether a date no order reads
 * gets a date_order hint. */
static void decision_of(struct file *f, char *got, size_t size)
{
    static const char *const bad[] = {"9", "40/40/1980", "40/40/2020"};
    struct ds_mapped out;

    map(f, bad, &out);
    snprintf(got, size, "%d %d %d %d", (int)ds_map_field_date_order(f->m, 1),
             (int)ds_map_field_date_order(f->m, 2),
             strstr(out.errors[0].message, "date_order") != NULL,
             out.nerrors > 1 && strstr(out.errors[1].message, "date_order") != NULL);
    ds_mapped_close(&out);
}

/* Over many sequences of votes in each order: ds_map_date_unchanged is 1
 * exactly when deciding after the votes gives what deciding before them
 * gave, and once 0 it stays 0 (preview stops holding its output there). */
static void test_unchanged_is_exact_and_stays(void **state)
{
    static const char *const values[] = {"",           "1980-01-02", "03/04/1980", "13/02/1990",
                                         "02/13/1990", "31/12/1999", "12/31/1999", "2/3/04"};
    static const enum ds_date_order orders[] = {DS_DATE_AUTO, DS_DATE_MDY, DS_DATE_DMY,
                                                DS_DATE_YMD};
    unsigned long x = 12345;

    (void)state;
    for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
        for (int run = 0; run < 300; run++) {
            char before[64];
            char after[64];
            size_t n;
            int unchanged = 1;
            struct file f;

            open_file(&f, NULL, orders[o]);
            ds_map_date_decide(f.m);
            decision_of(&f, before, sizeof(before));
            x = x * 6364136223846793005ul + 1442695040888963407ul;
            n = (size_t)(x >> 60) % 7;
            for (size_t i = 0; i < n; i++) {
                const char *v[3];
                size_t lens[3];
                struct ds_row r;

                x = x * 6364136223846793005ul + 1442695040888963407ul;
                v[0] = "1";
                v[1] = values[(x >> 40) % 8];
                v[2] = values[(x >> 50) % 8];
                r = make_row(v, lens);
                if (!ds_map_date_vote(f.m, &r)) {
                    /* No first vote of a kind: the answer cannot change. */
                    assert_int_equal(ds_map_date_unchanged(f.m), unchanged);
                }
                if (!unchanged) {
                    assert_false(ds_map_date_unchanged(f.m));
                }
                unchanged = ds_map_date_unchanged(f.m);
            }
            ds_map_date_decide(f.m);
            decision_of(&f, after, sizeof(after));
            if (unchanged != (strcmp(before, after) == 0)) {
                fail_msg("order %d run %d: unchanged %d, before %s, after %s", (int)orders[o], run,
                         unchanged, before, after);
            }
            close_file(&f);
        }
    }
}

/* A field that must be unique: its second row fails, and after
 * ds_map_forget the rows map as for a new mapper. */
static void test_forget_lets_the_rows_map_again(void **state)
{
    static const char *const tpl =
        "{\"id\":\"t\",\"import_type\":\"patients\",\"recognition\":{\"required\":[\"ID\"]},"
        "\"fields\":{\"external_id\":{\"columns\":[\"ID\"],\"unique\":true},"
        "\"date_of_birth\":{\"columns\":[\"DOB\"],\"transform\":\"date\"}}}";
    static const char *const row[] = {"7", "1980-01-02", ""};
    struct ds_mapped out;
    struct ds_error err;
    size_t lens[3];
    struct ds_row h = make_row(header, lens);
    struct file f;

    (void)state;
    assert_int_equal(ds_template_parse(tpl, strlen(tpl), "test", &f.t, &err), 0);
    assert_int_equal(ds_map_new(f.t, &h, &f.m, &err), 0);
    map(&f, row, &out);
    assert_true(out.valid);
    ds_mapped_close(&out);
    map(&f, row, &out);
    assert_false(out.valid);
    assert_non_null(strstr(out.error, "not unique in the file"));
    ds_mapped_close(&out);
    ds_map_forget(f.m);
    map(&f, row, &out);
    assert_true(out.valid);
    ds_mapped_close(&out);
    close_file(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_column_tells_dmy),
        cmocka_unit_test(test_undecided_column_follows_the_file),
        cmocka_unit_test(test_inconsistent_column_suggests),
        cmocka_unit_test(test_fixed_order_is_kept),
        cmocka_unit_test(test_vote_says_when_it_is_a_first),
        cmocka_unit_test(test_later_rows_change_the_order),
        cmocka_unit_test(test_unchanged_is_exact_and_stays),
        cmocka_unit_test(test_forget_lets_the_rows_map_again),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
