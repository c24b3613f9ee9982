/*
 * test_detect.c — template detection (agent/map/detect.c): every sample
 * export is recognised as the template it was made for, with and without
 * the folder's import type; a header no template knows is not matched and
 * the explanation names the closest templates and the unknown columns.
 */
#include "agent/map/detect.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sample {
    const char *file;     /* under the source tree */
    const char *type;     /* its import type */
    const char *template; /* the template detection must choose */
};

static const struct sample samples[] = {
    {"samples/patients.csv", "patients", "generic-patients"},
    {"samples/pms/opendental-patients-raw.csv", "patients", "opendental-patients"},
    {"samples/pms/opendental-appointments-raw.csv", "appointments", "opendental-appointments"},
    {"samples/pms/opendental-appointments-human.csv", "appointments", "opendental-appointments"},
    {"samples/pms/opendental-procedures-raw.csv", "treatments", "opendental-procedures"},
    {"samples/pms/opendental-payments-raw.csv", "financial", "opendental-payments"},
    {"samples/pms/dentrix-appointments.csv", "appointments", "dentrix-appointments"},
    {"samples/pms/dentrix-ledger.txt", "treatments", "dentrix-ledger-treatments"},
    {"samples/pms/opendental-patients-human.csv", "patients", "opendental-patients"},
    {"samples/pms/opendental-procedures-human.csv", "treatments", "opendental-procedures"},
    {"samples/pms/opendental-payments-human.csv", "financial", "opendental-payments"},
    {"samples/pms/dentrix-patients.csv", "patients", "dentrix-patients"},
    {"samples/pms/dentrix-ledger.txt", "financial", "dentrix-ledger-financial"},
    {"samples/pms/eaglesoft-patients.csv", "patients", "eaglesoft-patients"},
    {"samples/pms/eaglesoft-appointments.csv", "appointments", "eaglesoft-appointments"},
    {"samples/pms/eaglesoft-services.csv", "treatments", "eaglesoft-services"},
    {"samples/pms/softdent-patients.txt", "patients", "softdent-patients"},
    {"samples/pms/softdent-appointments.txt", "appointments", "softdent-appointments"},
    {"samples/pms/softdent-transactions.txt", "treatments", "softdent-transactions-treatments"},
    {"samples/pms/softdent-transactions.txt", "financial", "softdent-transactions-financial"},
    {"samples/pms/generic-appointments.csv", "appointments", "generic-appointments"},
    {"samples/pms/generic-treatments.csv", "treatments", "generic-treatments"},
    {"samples/pms/generic-financial.csv", "financial", "generic-financial"},
    {"samples/pms/uk-patients.csv", "patients", "generic-patients"},
    {"samples/pms/dentrix-appointments-status.csv", "appointments", "dentrix-appointments"},
};

static void detect_file(const char *rel, const char *type, struct ds_template **list, size_t n,
                        struct ds_detection *d)
{
    const char *src = getenv("DS_TEST_SRCDIR");
    struct ds_reader *r = NULL;
    struct ds_error err;
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", src != NULL ? src : ".", rel);
    assert_int_equal(ds_read_open(path, NULL, &r, &err), 0);
    assert_int_equal(ds_detect_template(list, n, type, ds_read_header(r), d), 0);
    ds_read_close(&r);
}

static void test_samples(void **state)
{
    struct ds_template **list = NULL;
    struct ds_detection d;
    struct ds_error err;
    size_t n = 0;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        detect_file(samples[i].file, samples[i].type, list, n, &d);
        if (!d.matched || strcmp(ds_template_id(d.best[0].t), samples[i].template) != 0) {
            print_error("%s: chose %s (%.1f), want %s\n", samples[i].file,
                        d.nbest > 0 ? ds_template_id(d.best[0].t) : "-",
                        d.nbest > 0 ? d.best[0].score : 0.0, samples[i].template);
            fail();
        }
        /* Without the folder's import type the file's own shape still wins,
         * but for the ledgers, which two templates read alike. */
        if (strstr(samples[i].file, "ledger") == NULL &&
            strstr(samples[i].file, "transactions") == NULL) {
            detect_file(samples[i].file, NULL, list, n, &d);
            assert_true(d.matched);
            assert_string_equal(ds_template_id(d.best[0].t), samples[i].template);
        }
    }
    ds_template_list_free(&list, n);
}

static void test_unknown_header(void **state)
{
    static const char *const names[] = {"Visit No", "When", "Chair", "Mood"};
    static const size_t lens[] = {8, 4, 5, 4};
    struct ds_template **list = NULL;
    struct ds_detection d;
    struct ds_error err;
    struct ds_row h = {4, names, lens, 0, 1, NULL, 0, 0, 0, "", 0};
    char msg[768];
    size_t n = 0;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    assert_int_equal(ds_detect_template(list, n, "appointments", &h, &d), 0);
    assert_false(d.matched);
    assert_int_equal(d.nbest, 3);
    /* Chair is a column generic-appointments reads: known, not listed. */
    assert_string_equal(d.unmatched, "Visit No, When, Mood");
    ds_detect_explain(&d, msg, sizeof(msg));
    assert_non_null(strstr(msg, "closest: "));
    assert_non_null(strstr(msg, "Visit No, When, Mood"));
    assert_non_null(strstr(msg, ds_template_id(d.best[2].t)));
    ds_template_list_free(&list, n);
}

/* A file without a header row: its first line is a patient. None of its
 * values may reach the held reason. */
static void test_data_line_is_not_echoed(void **state)
{
    static const char *const values[] = {"Okafor", "Adaeze", "1984-07-02", "a.okafor@example.com",
                                         "(312) 555-0147"};
    static const size_t lens[] = {6, 6, 10, 20, 14};
    struct ds_template **list = NULL;
    struct ds_detection d;
    struct ds_error err;
    struct ds_row h = {5, values, lens, 0, 1, NULL, 0, 0, 0, "", 0};
    char msg[768];
    size_t n = 0;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    assert_int_equal(ds_detect_template(list, n, "patients", &h, &d), 0);
    assert_false(d.matched);
    assert_int_equal(d.known, 0);
    assert_string_equal(d.unmatched, "");
    ds_detect_explain(&d, msg, sizeof(msg));
    assert_non_null(strstr(msg, "none of the 5 columns is a name any template knows"));
    for (size_t i = 0; i < 5; i++) {
        assert_null(strstr(msg, values[i]));
    }
    ds_template_list_free(&list, n);
}

/* Beside known names, a column that looks like a value is not echoed. */
static void test_value_like_column_is_not_echoed(void **state)
{
    static const char *const names[] = {"Patient ID", "Last Name", "jo@example.com", "5550147"};
    static const size_t lens[] = {10, 9, 14, 7};
    struct ds_template **list = NULL;
    struct ds_detection d;
    struct ds_error err;
    struct ds_row h = {4, names, lens, 0, 1, NULL, 0, 0, 0, "", 0};
    size_t n = 0;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    assert_int_equal(ds_detect_template(list, n, "patients", &h, &d), 0);
    assert_true(d.known >= 2);
    assert_null(strstr(d.unmatched, "jo@example.com"));
    assert_null(strstr(d.unmatched, "5550147"));
    ds_template_list_free(&list, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_unknown_header),
        cmocka_unit_test(test_data_line_is_not_echoed),
        cmocka_unit_test(test_value_like_column_is_not_echoed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
